//! `RobustMutex`: owner death by a thread that ends holding it and by a SIGKILLed process;
//! the unrecoverable state; no false "owner died" while the owner lives.
#![cfg(all(target_os = "linux", feature = "std", not(baresync_loom)))]

#[path = "../examples/process_support/mod.rs"]
mod process_support;
use process_support::*;

use baresync::sync::atomic::{AtomicU32, Ordering::SeqCst};
use baresync::{RobustError, RobustMutex};
use std::time::{Duration, Instant};

/// A thread that ends while holding the guard (it forgets it) is a dead owner.
fn die_holding<T: Send>(m: &RobustMutex<T>) {
    std::thread::scope(|s| {
        s.spawn(|| core::mem::forget(m.lock().expect("acquired")));
    });
}

#[test]
#[cfg_attr(miri, ignore = "reads /proc")]
fn owner_died_hands_over_the_guard_and_mark_consistent_keeps_it_usable() {
    let m = RobustMutex::new([0u32; 2]);
    die_holding(&m);
    assert!(m.is_locked());
    match m.lock() {
        Err(RobustError::OwnerDied(mut g)) => {
            assert!(!g.is_consistent());
            g[1] = g[0];
            g.mark_consistent();
        }
        other => panic!("expected OwnerDied, got {other:?}"),
    }
    for _ in 0..3 {
        assert!(
            m.lock().unwrap().is_consistent(),
            "no second report of one death"
        );
    }
}

#[test]
#[cfg_attr(miri, ignore = "reads /proc")]
fn owner_died_not_marked_makes_every_later_lock_fail() {
    let m = RobustMutex::new(0u32);
    die_holding(&m);
    match m.lock() {
        Err(RobustError::OwnerDied(g)) => drop(g), // gives up on the data
        other => panic!("expected OwnerDied, got {other:?}"),
    }
    assert!(m.is_not_recoverable());
    assert!(matches!(m.lock(), Err(RobustError::NotRecoverable)));
    assert!(matches!(m.try_lock(), Err(RobustError::NotRecoverable)));
    assert!(matches!(
        m.lock_until(|| true),
        Err(RobustError::NotRecoverable)
    ));
}

#[test]
#[cfg_attr(miri, ignore = "reads /proc")]
fn waiters_of_a_dead_owner_see_one_death_and_exclude_each_other() {
    let m = RobustMutex::new(0u64);
    let deaths = AtomicU32::new(0);
    let holder_may_die = AtomicU32::new(0);
    let locked = AtomicU32::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let g = m.lock().unwrap();
            locked.store(1, SeqCst);
            // Let the waiters queue up behind a live owner, then die holding.
            while holder_may_die.load(SeqCst) < 3 {
                std::thread::yield_now();
            }
            core::mem::forget(g);
        });
        while locked.load(SeqCst) == 0 {
            std::thread::yield_now();
        }
        for _ in 0..3 {
            s.spawn(|| {
                holder_may_die.fetch_add(1, SeqCst);
                for _ in 0..200 {
                    let mut g = match m.lock() {
                        Ok(g) => g,
                        Err(RobustError::OwnerDied(mut g)) => {
                            deaths.fetch_add(1, SeqCst);
                            g.mark_consistent();
                            g
                        }
                        Err(e) => panic!("{e}"),
                    };
                    let v = *g;
                    std::hint::black_box(());
                    *g = v + 1;
                }
            });
        }
    });
    assert_eq!(deaths.load(SeqCst), 1, "one death, reported once");
    assert_eq!(*m.lock().unwrap(), 600);
}

#[test]
#[cfg_attr(miri, ignore = "reads /proc")]
fn a_live_owner_is_never_reported_dead() {
    let m = RobustMutex::new(0u32);
    let g = m.lock().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            // Several check intervals: each one asks /proc about the (live) owner.
            let until = Instant::now() + 5 * RobustMutex::<u32>::check_interval();
            let r = m.lock_until(until);
            assert!(matches!(r, Err(RobustError::WouldBlock)), "got {r:?}");
        });
    });
    drop(g);
}

#[test]
#[cfg_attr(miri, ignore = "fork")]
fn a_killed_process_holding_the_lock_is_reported_and_its_data_repaired() {
    let map = Mapping::new(4096);
    let m: &RobustMutex<[u32; 2]> = map.at(0);
    let phase: &AtomicU32 = map.at(64);
    let child = fork(|| {
        let mut g = m.lock().expect("first owner");
        g[0] = 1; // half of an update that keeps g[0] == g[1]
        phase.store(1, SeqCst);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    while phase.load(SeqCst) == 0 {
        std::thread::yield_now();
    }
    // SAFETY: our own child.
    assert_eq!(unsafe { libc::kill(child, libc::SIGKILL) }, 0);
    let killed = Instant::now();
    // Not reaped yet: the dead child is a zombie, which must already count as dead.
    let r = m.lock();
    let latency = killed.elapsed();
    match r {
        Err(RobustError::OwnerDied(mut g)) => {
            assert_eq!(*g, [1, 0], "the dead owner's half-update is visible");
            g[1] = g[0];
            g.mark_consistent();
        }
        other => panic!("expected OwnerDied, got {other:?}"),
    }
    // A measurement, not an assertion (the machine is noisy).
    eprintln!("owner death noticed {latency:?} after SIGKILL");
    assert_eq!(join_within(child, Duration::from_secs(10)), Some(false));
    assert_eq!(*m.lock().unwrap(), [1, 1]);
}

#[test]
#[cfg_attr(miri, ignore = "reads /proc")]
fn zeroed_memory_is_a_new_consistent_robust_mutex_and_the_layout_is_pinned() {
    assert_eq!(core::mem::size_of::<RobustMutex<u32>>(), 24);
    assert_eq!(core::mem::align_of::<RobustMutex<u32>>(), 8);
    let m: RobustMutex<u32> = baresync::shared::zeroed();
    assert!(!m.is_locked() && !m.is_not_recoverable());
    *m.lock().unwrap() += 1;
    assert_eq!(*m.lock().unwrap(), 1);
}

/// Red team S2: `lock` by the thread that already holds the lock used to wait for itself for
/// ever (its owner word is the caller's own id, alive, so never taken over). It panics with a
/// message that says so, and the unwind drops the outer guard: the lock is free again.
#[test]
#[cfg_attr(miri, ignore = "reads /proc")]
fn lock_by_its_own_holder_panics_instead_of_hanging() {
    static M: RobustMutex<u32> = RobustMutex::new(5);
    let (tx, rx) = std::sync::mpsc::channel();
    // Not scoped: a hung thread must not keep the test from failing.
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = M.lock().unwrap();
            let _again = M.lock();
        }));
        let msg = r
            .err()
            .and_then(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            })
            .unwrap_or_default();
        tx.send(msg).unwrap();
    });
    // A hang must become a failure: seconds, not a timing claim.
    let msg = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the second lock by the holder hung instead of panicking");
    assert!(msg.contains("already holds"), "panic message: {msg:?}");
    assert!(!M.is_locked(), "the unwind released the outer guard");
    assert_eq!(*M.lock().unwrap(), 5);
    // The same for `lock_until`: a deadline would only turn the self-deadlock into a timeout.
    let g = M.lock().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = M.lock_until(|| false);
    }));
    assert!(r.is_err(), "lock_until by the holder must panic too");
    drop(g);
    assert!(M.try_lock().is_ok());
}
