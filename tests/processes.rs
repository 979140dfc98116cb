//! Primitives shared by forked processes through one `MAP_SHARED` mapping.
#![cfg(all(target_os = "linux", feature = "std", not(baresync_loom)))]

#[path = "../examples/process_support/mod.rs"]
mod process_support;
use process_support::*;

use baresync::{Mutex, ProcessThreadId, ReentrantLock, Semaphore, SharedFutex, ThreadIdentity};

const N: u64 = 20_000;

#[test]
#[cfg_attr(miri, ignore = "fork")]
fn shared_futex_mutex_excludes_across_processes() {
    let map = Mapping::new(4096);
    let m: &Mutex<u64, SharedFutex> = map.at(0);
    let children: Vec<_> = (0..2)
        .map(|_| {
            fork(|| {
                for _ in 0..N {
                    // A read-modify-write that is not atomic: lost updates if the lock failed.
                    let mut g = m.lock();
                    let v = *g;
                    std::hint::black_box(());
                    *g = v + 1;
                }
                true
            })
        })
        .collect();
    for _ in 0..N {
        *m.lock() += 1;
    }
    for c in children {
        assert!(join(c));
    }
    assert_eq!(*m.lock(), 3 * N);
}

#[test]
#[cfg_attr(miri, ignore = "fork")]
fn a_sleeper_in_another_process_is_woken() {
    let map = Mapping::new(4096);
    let s: &Semaphore<SharedFutex> = map.at(0);
    // The child blocks (sleeps in the kernel without a timeout: no permits) until the
    // parent releases; a wake that does not cross processes leaves it asleep for ever.
    let child = fork(|| {
        drop(s.acquire());
        true
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    s.release(1);
    let woken = join_within(child, std::time::Duration::from_secs(5));
    assert_eq!(
        woken,
        Some(true),
        "the child was not woken by the parent's release"
    );
}

#[test]
#[cfg_attr(miri, ignore = "fork")]
fn process_thread_ids_differ_across_processes_and_reentrant_lock_excludes() {
    let map = Mapping::new(4096);
    let ids: &[baresync::sync::atomic::AtomicUsize; 2] = map.at(0);
    let lock: &ReentrantLock<u32, ProcessThreadId, SharedFutex> = map.at(64);
    let held = lock.lock();
    let child = fork(|| {
        ids[0].store(
            ProcessThreadId::current().get(),
            core::sync::atomic::Ordering::SeqCst,
        );
        // Not the owner: its id differs from the parent's, so no reentry.
        lock.try_lock().is_none()
    });
    assert!(join(child));
    let child_id = ids[0].load(core::sync::atomic::Ordering::SeqCst);
    assert_ne!(child_id, 0);
    assert_ne!(child_id, ProcessThreadId::current().get());
    drop(held);
}
