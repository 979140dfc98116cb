//! `ReentrantLock` through its public API, from many threads.

use baresync::{Futex, ReentrantLock, Spin, StdThreadId, Wait, Yield};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Acquisitions per thread.
const M: usize = if cfg!(miri) { 30 } else { 5_000 };

fn cores() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// The data: a non-atomic counter (a `Cell`, mutated through `&`) and an occupancy count of
/// threads inside the outermost guard.
struct Shared {
    count: Cell<usize>,
    inside: AtomicUsize,
}

/// `threads` threads each take the lock `M` times, nesting it `depth` deep each time; inside,
/// they check that nobody else is inside and bump a plain counter with a read-pause-write that
/// loses updates if two threads ever own the lock at once.
fn exclusion<W: Wait + Send + Sync + 'static>(threads: usize, depth: usize) {
    let lock: Arc<ReentrantLock<Shared, StdThreadId, W>> =
        Arc::new(ReentrantLock::with_identity(Shared {
            count: Cell::new(0),
            inside: AtomicUsize::new(0),
        }));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                for _ in 0..M {
                    let outer = lock.lock();
                    assert_eq!(outer.inside.fetch_add(1, SeqCst), 0, "two owners at once");
                    let guards: Vec<_> = (1..depth).map(|_| lock.lock()).collect();
                    assert_eq!(lock.lock_count(), depth);
                    let v = std::hint::black_box(outer.count.get());
                    std::hint::spin_loop();
                    guards.last().unwrap_or(&outer).count.set(v + 1);
                    drop(guards);
                    assert_eq!(lock.lock_count(), 1);
                    outer.inside.fetch_sub(1, SeqCst);
                }
                assert!(!lock.is_owned_by_current());
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(lock.lock().count.get(), threads * M);
    assert!(!lock.is_locked());
}

#[test]
fn exclusion_one_thread_per_core_spin() {
    exclusion::<Spin>(if cfg!(miri) { 2 } else { cores() }, 3);
}

#[test]
fn exclusion_oversubscribed_futex() {
    exclusion::<Futex>(if cfg!(miri) { 3 } else { 4 * cores() }, 4);
}

#[test]
fn exclusion_oversubscribed_yield() {
    exclusion::<Yield>(if cfg!(miri) { 3 } else { 4 * cores() }, 2);
}

/// Deep nesting in one thread, then another thread can take the lock only once every guard
/// is gone.
#[test]
fn deep_nesting_then_release() {
    static LOCK: ReentrantLock<(), StdThreadId, Futex> = ReentrantLock::with_identity(());
    let depth = if cfg!(miri) { 100 } else { 10_000 };
    let guards: Vec<_> = (0..depth).map(|_| LOCK.lock()).collect();
    assert_eq!(LOCK.lock_count(), depth);
    let other = thread::spawn(|| LOCK.try_lock().is_some());
    assert!(!other.join().unwrap());
    drop(guards);
    assert_eq!(LOCK.lock_count(), 0);
    let other = thread::spawn(|| LOCK.try_lock().is_some());
    assert!(other.join().unwrap());
}

/// Another thread's `lock_until` gives up while the lock is held, whatever the owner's depth.
#[test]
fn lock_until_gives_up_while_held() {
    let lock: Arc<ReentrantLock<u32, StdThreadId, Futex>> = Arc::new(ReentrantLock::new(1));
    let held = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let owner = {
        let (lock, held, release) = (Arc::clone(&lock), Arc::clone(&held), Arc::clone(&release));
        thread::spawn(move || {
            let _a = lock.lock();
            let _b = lock.lock();
            held.store(true, SeqCst);
            while !release.load(SeqCst) {
                thread::yield_now();
            }
        })
    };
    while !held.load(SeqCst) {
        thread::yield_now();
    }
    assert!(lock.is_locked());
    assert!(!lock.is_owned_by_current());
    assert_eq!(lock.lock_count(), 0);
    if cfg!(miri) {
        let mut polls = 0;
        assert!(lock
            .lock_until(|| {
                polls += 1;
                polls > 20
            })
            .is_none());
    } else {
        let start = Instant::now();
        assert!(lock.lock_timeout(Duration::from_millis(20)).is_none());
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
    release.store(true, SeqCst);
    owner.join().unwrap();
    assert_eq!(*lock.lock_until(|| false).unwrap(), 1);
}

/// A thread that exits (here: panics) while holding guards releases the lock as they drop.
#[test]
fn panic_releases_every_level() {
    let lock: Arc<ReentrantLock<(), StdThreadId>> = Arc::new(ReentrantLock::new(()));
    let l2 = Arc::clone(&lock);
    let r = thread::spawn(move || {
        let _a = l2.lock();
        let _b = l2.lock();
        panic!("deliberate panic while holding the lock twice");
    })
    .join();
    assert!(r.is_err());
    assert!(!lock.is_locked());
    assert!(lock.try_lock().is_some());
}

/// A thread that forgets its guard and exits keeps the lock held; a new thread (a fresh id)
/// is not mistaken for the dead owner.
#[test]
fn dead_owner_is_not_confused_with_a_new_thread() {
    let lock: Arc<ReentrantLock<(), StdThreadId>> = Arc::new(ReentrantLock::new(()));
    let l2 = Arc::clone(&lock);
    thread::spawn(move || std::mem::forget(l2.lock()))
        .join()
        .unwrap();
    for _ in 0..if cfg!(miri) { 3 } else { 50 } {
        let l = Arc::clone(&lock);
        let got = thread::spawn(move || l.try_lock().is_some())
            .join()
            .unwrap();
        assert!(!got, "a new thread was taken for the dead owner");
    }
}

#[test]
fn statics_and_debug() {
    static LOCK: ReentrantLock<u8, StdThreadId> = ReentrantLock::new(1);
    assert_eq!(format!("{LOCK:?}"), "ReentrantLock { data: 1, .. }");
    let g = LOCK.lock();
    assert_eq!(format!("{LOCK:?}"), "ReentrantLock { data: 1, .. }");
    let other = thread::spawn(|| format!("{LOCK:?}")).join().unwrap();
    assert_eq!(other, "ReentrantLock { data: <locked>, .. }");
    drop(g);
}
