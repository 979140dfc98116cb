//! Loom models of `RawMcsLock`, the MCS queue lock (K42 form).
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_mcs`.
//!
//! What is checked: mutual exclusion and happens-before between owners (the data is a loom
//! `UnsafeCell`) with 2 and 3 threads, so that a waiter links behind "held, nobody queued" and
//! one behind another waiter's stack node; every queued waiter is granted (a lost grant is a
//! loom deadlock or livelock); the lock ends free with no stale link; `try_lock` racing
//! `lock`. A waiter's node lives on its stack: loom reports a use after the waiter has left
//! (`lock` returned) as an access to a dropped atomic.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::{RawLock, RawMcsLock};

fn mutual_exclusion(threads: usize) {
    model(move || {
        let s = locked_increments::<RawMcsLock>(threads);
        assert!(s.raw.try_lock(), "free, nothing stale");
        s.unlock();
    });
}

#[test]
fn mcs_excludes_2() {
    mutual_exclusion(2);
}

#[test]
fn mcs_excludes_3() {
    mutual_exclusion(3);
}

/// The main thread holds the lock while two threads queue (one behind "held", one behind the
/// first waiter's node); then it releases: both are served, in turn.
#[test]
fn mcs_two_queued_behind_owner() {
    model(|| {
        let s = Shared::<RawMcsLock>::new();
        s.raw.lock();
        let handles: Vec<_> = (0..2)
            .map(|_| spawn_with(&s, |s| s.locked_increment()))
            .collect();
        s.critical();
        s.unlock();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(s.value(), 3);
        assert!(!s.raw.is_locked());
    });
}

#[test]
fn mcs_try_lock_races_lock() {
    model(|| {
        let s = Shared::<RawMcsLock>::new();
        let locker = spawn_with(&s, |s| s.locked_increment());
        let got = s.raw.try_lock();
        if got {
            s.critical();
            s.unlock();
        }
        locker.join().unwrap();
        assert_eq!(s.value(), 1 + usize::from(got));
        assert!(!s.raw.is_locked());
    });
}
