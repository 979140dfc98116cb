//! `Semaphore` and `BoundedSemaphore` through the public API, from many threads.

use baresync::{BoundedSemaphore, Futex, Permit, Semaphore, Spin, Wait, Yield};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Acquisitions per thread.
const M: u32 = if cfg!(miri) { 20 } else { 5_000 };

fn cores() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// More threads than cores (fewer under Miri, which runs them one at a time anyway).
fn oversubscribed() -> usize {
    if cfg!(miri) {
        3
    } else {
        4 * cores()
    }
}

/// Joins every thread, failing the test if they have not all finished within `limit` (a lost
/// wake-up shows up as a failure, not as a hung test run).
fn join_within<T>(handles: Vec<JoinHandle<T>>, limit: Duration) -> Vec<T> {
    let start = Instant::now();
    while !handles.iter().all(JoinHandle::is_finished) {
        assert!(
            start.elapsed() < limit,
            "threads still blocked after {limit:?}: lost wake-up?"
        );
        thread::sleep(Duration::from_millis(1));
    }
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 60 });

/// Waits until `count` reaches `n`, then a little longer so that the threads that counted
/// themselves have gone on into `acquire` (and, with a sleeping backend, to sleep).
fn until_blocked(count: &AtomicU32, n: u32) {
    while count.load(SeqCst) < n {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 30 }));
}

/// Tracks how many holders are inside at once.
#[derive(Default)]
struct Occupancy {
    inside: AtomicU32,
    max: AtomicU32,
}

impl Occupancy {
    fn enter(&self, n: u32, permits: u32) {
        let now = self.inside.fetch_add(n, SeqCst) + n;
        assert!(
            now <= permits,
            "{now} permits held at once, only {permits} exist"
        );
        self.max.fetch_max(now, SeqCst);
        // Stay inside a moment so that overlaps happen.
        for _ in 0..8 {
            std::hint::spin_loop();
        }
    }

    fn leave(&self, n: u32) {
        self.inside.fetch_sub(n, SeqCst);
    }
}

/// `threads` threads take `want(thread index)` permits `per_thread` times from a semaphore of
/// `permits`; the holders never exceed the permits, and every permit comes back.
fn holders_never_exceed_permits<W: Wait + Send + Sync + 'static>(
    threads: usize,
    permits: u32,
    per_thread: u32,
    want: fn(usize) -> u32,
) {
    let sem = Arc::new(Semaphore::<W>::with_wait(permits));
    let occ = Arc::new(Occupancy::default());
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (sem, occ) = (Arc::clone(&sem), Arc::clone(&occ));
            thread::spawn(move || {
                let n = want(i);
                for _ in 0..per_thread {
                    let permit = sem.acquire_many(n);
                    assert_eq!(permit.permits(), n);
                    occ.enter(n, permits);
                    occ.leave(n);
                    drop(permit);
                }
            })
        })
        .collect();
    join_within(handles, LIMIT);
    assert_eq!(sem.available(), permits);
    assert!(occ.max.load(SeqCst) >= 1);
}

fn one(_: usize) -> u32 {
    1
}

fn one_or_two(i: usize) -> u32 {
    1 + (i % 2) as u32
}

#[test]
fn holders_never_exceed_permits_spin_one_thread_per_core() {
    let threads = if cfg!(miri) { 2 } else { cores() };
    holders_never_exceed_permits::<Spin>(threads, 2, M, one);
}

/// Spinning waiters, more threads than cores: a small load, which must finish.
#[test]
fn holders_never_exceed_permits_spin_oversubscribed() {
    holders_never_exceed_permits::<Spin>(oversubscribed(), 2, M / 10, one_or_two);
}

#[test]
fn holders_never_exceed_permits_yield_oversubscribed() {
    holders_never_exceed_permits::<Yield>(oversubscribed(), 3, M, one_or_two);
}

#[test]
fn holders_never_exceed_permits_futex_oversubscribed() {
    holders_never_exceed_permits::<Futex>(oversubscribed(), 3, M, one_or_two);
}

/// One permit: a semaphore is a lock, and a plain read-modify-write under it must not lose
/// updates.
#[test]
fn one_permit_excludes() {
    let sem = Arc::new(Semaphore::<Futex>::with_wait(1));
    let counter = Arc::new(AtomicU32::new(0));
    let threads = oversubscribed();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (sem, counter) = (Arc::clone(&sem), Arc::clone(&counter));
            thread::spawn(move || {
                for _ in 0..M {
                    let _permit = sem.acquire();
                    // Non-atomic increment in two steps: an overlap loses an update.
                    let v = counter.load(SeqCst);
                    std::hint::spin_loop();
                    counter.store(v + 1, SeqCst);
                }
            })
        })
        .collect();
    join_within(handles, LIMIT);
    assert_eq!(counter.load(SeqCst), threads as u32 * M);
}

/// Starts one thread per entry of `wants`, each taking that many permits from `sem` (with
/// `acquire` for one, `acquire_many` for more; then forgetting them), waits until all have started, and returns the threads with a counter of
/// those that got through.
fn spawn_acquirers<W: Wait + Send + Sync + 'static>(
    sem: &Arc<Semaphore<W>>,
    wants: &[u32],
) -> (Vec<JoinHandle<()>>, Arc<AtomicU32>) {
    let ready = Arc::new(AtomicU32::new(0));
    let through = Arc::new(AtomicU32::new(0));
    let handles = wants
        .iter()
        .map(|&n| {
            let (sem, ready, through) = (Arc::clone(sem), Arc::clone(&ready), Arc::clone(&through));
            thread::spawn(move || {
                ready.fetch_add(1, SeqCst);
                let permit = if n == 1 {
                    sem.acquire()
                } else {
                    sem.acquire_many(n)
                };
                permit.forget();
                through.fetch_add(1, SeqCst);
            })
        })
        .collect();
    until_blocked(&ready, wants.len() as u32);
    (handles, through)
}

/// `release(7)` on a semaphore with 7 blocked waiters wakes all 7 (not just one).
fn release_wakes_all_waiters<W: Wait + Send + Sync + 'static>() {
    let waiters = 7;
    let sem = Arc::new(Semaphore::<W>::with_wait(0));
    let (handles, through) = spawn_acquirers(&sem, &[1; 7]);
    assert_eq!(through.load(SeqCst), 0, "nobody passes without a permit");
    sem.release(waiters);
    join_within(handles, LIMIT);
    assert_eq!(through.load(SeqCst), waiters);
    assert_eq!(sem.available(), 0);
}

#[test]
fn release_7_wakes_7_spin() {
    release_wakes_all_waiters::<Spin>();
}

#[test]
fn release_7_wakes_7_yield() {
    release_wakes_all_waiters::<Yield>();
}

#[test]
fn release_7_wakes_7_futex() {
    release_wakes_all_waiters::<Futex>();
}

/// Waiters for different numbers of permits, all asleep: one `release` of the total lets every
/// one of them through (a wake given to a waiter that cannot use it must not be lost).
#[test]
fn release_wakes_mixed_waiters_futex() {
    let sem = Arc::new(Semaphore::<Futex>::with_wait(0));
    let wants = [3u32, 1, 2, 1];
    let (handles, through) = spawn_acquirers(&sem, &wants);
    sem.release(wants.iter().sum());
    join_within(handles, LIMIT);
    assert_eq!(through.load(SeqCst), wants.len() as u32);
    assert_eq!(sem.available(), 0);
}

/// Single releases, one at a time, with sleepers: each release lets one more waiter through.
#[test]
fn single_releases_wake_sleepers_one_by_one_futex() {
    let n = 5;
    let sem = Arc::new(Semaphore::<Futex>::with_wait(0));
    let (handles, through) = spawn_acquirers(&sem, &[1; 5]);
    for i in 1..=n {
        sem.release(1);
        let start = Instant::now();
        while through.load(SeqCst) < i {
            assert!(start.elapsed() < LIMIT, "release {i} woke nobody");
            thread::yield_now();
        }
    }
    join_within(handles, LIMIT);
}

/// Two threads that each want 2 of 3 permits, over and over: all-or-nothing means neither can
/// hold one while waiting for a second, so they never deadlock, and never hold 4 at once.
fn acquire_many_is_all_or_nothing<W: Wait + Send + Sync + 'static>() {
    let sem = Arc::new(Semaphore::<W>::with_wait(3));
    let occ = Arc::new(Occupancy::default());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (sem, occ) = (Arc::clone(&sem), Arc::clone(&occ));
            thread::spawn(move || {
                for _ in 0..M {
                    let p = sem.acquire_many(2);
                    occ.enter(2, 3);
                    occ.leave(2);
                    drop(p);
                }
            })
        })
        .collect();
    join_within(handles, LIMIT);
    assert_eq!(occ.max.load(SeqCst), 2);
    assert_eq!(sem.available(), 3);
}

#[test]
fn acquire_many_all_or_nothing_spin() {
    acquire_many_is_all_or_nothing::<Spin>();
}

#[test]
fn acquire_many_all_or_nothing_futex() {
    acquire_many_is_all_or_nothing::<Futex>();
}

/// A bounded semaphore's count never goes above its bound, whoever releases: threads use
/// permits while another keeps making unmatched releases, which succeed only while some
/// permits are out (the bound is on the count, not on who releases) and fail otherwise.
#[test]
fn bounded_count_never_exceeds_the_bound() {
    let bound = 3;
    let sem = Arc::new(BoundedSemaphore::<Futex>::with_wait(bound));
    let stop = Arc::new(AtomicBool::new(false));
    let users: Vec<_> = (0..oversubscribed())
        .map(|_| {
            let sem = Arc::clone(&sem);
            thread::spawn(move || {
                for _ in 0..M / 4 {
                    let p = sem.acquire();
                    assert!(sem.available() <= bound);
                    drop(p);
                }
            })
        })
        .collect();
    let meddler = {
        let (sem, stop) = (Arc::clone(&sem), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop.load(SeqCst) {
                if let Err(e) = sem.release(1) {
                    assert_eq!((e.bound(), e.released()), (bound, 1));
                    assert_eq!(e.available(), bound, "refused below the bound");
                }
                assert!(sem.available() <= bound);
                thread::yield_now();
            }
        })
    };
    join_within(users, LIMIT);
    stop.store(true, SeqCst);
    join_within(vec![meddler], LIMIT);
    // Every permit is home; the meddler's extra ones were absorbed at the bound.
    assert_eq!(sem.available(), bound);
    assert!(sem.release(1).is_err());
    assert_eq!(sem.available(), bound);
}

#[test]
fn bounded_over_release_is_err_and_count_unchanged() {
    let sem: BoundedSemaphore = BoundedSemaphore::new(2);
    let p = sem.acquire();
    let err = sem.release(2).unwrap_err();
    assert_eq!((err.available(), err.released(), err.bound()), (1, 2, 2));
    assert_eq!(sem.available(), 1);
    let _: &dyn std::error::Error = &err;
    assert!(err.to_string().contains("above its bound of 2"));
    drop(p);
    assert_eq!(sem.available(), 2);
    assert!(sem.release(1).is_err());
    assert_eq!(sem.available(), 2);
}

/// A permit taken on one thread and released on another: the waiting thread gets it.
#[test]
fn permit_released_by_another_thread_wakes_a_waiter() {
    static SEM: Semaphore<Futex> = Semaphore::with_wait(1);
    let permit = SEM.acquire();
    let waiter = thread::spawn(|| SEM.acquire().permits());
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 10 }));
    let releaser = thread::spawn(move || drop(permit));
    releaser.join().unwrap();
    assert_eq!(join_within(vec![waiter], LIMIT), [1]);
    assert_eq!(SEM.available(), 1);
}

fn acquire_until_times_out<W: Wait + Send + Sync + 'static>() {
    let sem = Semaphore::<W>::with_wait(1);
    let held = sem.acquire();
    if cfg!(miri) {
        let mut polls = 0;
        assert!(sem
            .acquire_until(|| {
                polls += 1;
                polls > 20
            })
            .is_none());
    } else {
        let start = Instant::now();
        assert!(sem
            .acquire_until(start + Duration::from_millis(20))
            .is_none());
        assert!(
            start.elapsed() >= Duration::from_millis(20),
            "gave up before the deadline"
        );
        let start = Instant::now();
        assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());
        assert!(start.elapsed() >= Duration::from_millis(10));
        assert!(sem
            .acquire_many_timeout(2, Duration::from_millis(1))
            .is_none());
    }
    assert_eq!(sem.available(), 0, "a timed-out acquire takes nothing");
    drop(held);
    assert!(sem.acquire_timeout(Duration::ZERO).is_some());
}

#[test]
fn acquire_until_times_out_spin() {
    acquire_until_times_out::<Spin>();
}

#[test]
fn acquire_until_times_out_yield() {
    acquire_until_times_out::<Yield>();
}

#[test]
fn acquire_until_times_out_futex() {
    acquire_until_times_out::<Futex>();
}

/// `Duration::MAX` means "wait forever": no panic, and the release from another thread lets it
/// through.
#[test]
fn duration_max_timeout_waits_and_does_not_panic() {
    let sem = Arc::new(Semaphore::<Futex>::with_wait(0));
    let bounded = Arc::new(BoundedSemaphore::<Futex>::with_wait(1));
    let held = bounded.acquire();
    let waiter = {
        let (sem, bounded) = (Arc::clone(&sem), Arc::clone(&bounded));
        thread::spawn(move || {
            let a = sem.acquire_timeout(Duration::MAX).map(|p| p.permits());
            let b = bounded
                .acquire_many_timeout(1, Duration::MAX)
                .map(|p| p.permits());
            (a, b)
        })
    };
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 10 }));
    sem.release(1);
    drop(held);
    assert_eq!(join_within(vec![waiter], LIMIT), [(Some(1), Some(1))]);
}

/// A waiter that times out while others sleep must not leave them stranded: the next release
/// still reaches them.
#[test]
fn timed_out_waiter_does_not_strand_sleepers() {
    let sem = Arc::new(Semaphore::<Futex>::with_wait(0));
    let ready = Arc::new(AtomicU32::new(0));
    let sleepers: Vec<_> = (0..3)
        .map(|_| {
            let (sem, ready) = (Arc::clone(&sem), Arc::clone(&ready));
            thread::spawn(move || {
                ready.fetch_add(1, SeqCst);
                sem.acquire().forget();
            })
        })
        .collect();
    until_blocked(&ready, 3);
    assert!(sem.acquire_timeout(Duration::from_millis(5)).is_none());
    sem.release(3);
    join_within(sleepers, LIMIT);
    assert_eq!(sem.available(), 0);
}

#[test]
fn statics_and_const_construction() {
    static A: Semaphore = Semaphore::new(1);
    static B: Semaphore<Futex> = Semaphore::with_wait(2);
    static C: BoundedSemaphore<Yield> = BoundedSemaphore::with_wait(3);
    let (a, b, c) = (A.acquire(), B.acquire_many(2), C.try_acquire_many(3));
    assert_eq!(a.permits() + b.permits() + c.map_or(0, |p| p.permits()), 6);
    assert_eq!(A.available() + B.available() + C.available(), 3);
}

#[test]
fn permit_is_send() {
    fn send<T: Send>(_: &T) {}
    let sem: Semaphore = Semaphore::new(1);
    let p: Permit<'_> = sem.acquire();
    send(&p);
}
