//! Loom models of `RawFairLock<W>` (in the loom build its hard bypass limit K is 2 and its
//! gate closes after 1 bypass, so that both the gate and the hard limit are reached).
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_fair`.
//!
//! What is checked:
//! - mutual exclusion and happens-before between owners (the data is a loom `UnsafeCell`),
//!   with 2 and 3 threads, so that one waiter is the head of the queue and one waits behind it;
//! - no lost wake-up with a backend that really sleeps ([`LoomFutex`]): the head sleeping on
//!   the state word, a waiter sleeping on its ticket's turn slot, a timed waiter sleeping;
//! - the per-waiter wake: with [`KeyedFutex`], whose wake reaches only the sleepers of the
//!   word it is given (as the kernel's futex does), passing the turn must wake the slot the
//!   next ticket sleeps on (the loom build has two slots, ticket parity), not the whole queue;
//! - the bound's protocol: with a waiter queued, at most K acquisitions by bargers happen
//!   before the queued waiter's, in every interleaving (including those where the head runs
//!   and closes the gate, and those where it does not run until the hard limit is reached).
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use baresync::{RawFairLock, RawLock, Spin, Wait};
use loom::thread;
use std::sync::Arc;

fn mutual_exclusion<W: Wait + Send + Sync + 'static>(threads: usize) {
    model(move || {
        let s = locked_increments::<RawFairLock<W>>(threads);
        assert_eq!(s.raw.waiters(), 0);
    });
}

/// [`mutual_exclusion`] with at least 3 preemptions (unless the environment asks for more):
/// the sleeping models with three threads need them to reach a head that announces itself
/// asleep on the state word between the two releases of an owner that came from the queue
/// (LOCKED, then WAKE_NEXT); a release of WAKE_NEXT that did not re-read SLEEPERS lost
/// that wake-up, and only 3 preemptions found it (a few seconds).
fn mutual_exclusion_3_preemptions<W: Wait + Send + Sync + 'static>(threads: usize) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.unwrap_or(0).max(3));
    builder.check(move || {
        let s = locked_increments::<RawFairLock<W>>(threads);
        assert_eq!(s.raw.waiters(), 0);
    });
}

#[test]
fn fair_spin_excludes_2() {
    mutual_exclusion::<Spin>(2);
}

#[test]
fn fair_spin_excludes_3() {
    mutual_exclusion::<Spin>(3);
}

#[test]
fn fair_futex_excludes_2() {
    mutual_exclusion::<LoomFutex>(2);
}

/// Three threads with a sleeping backend: the head sleeps on the state word, the waiter
/// behind it on the queue word; every execution must finish (a lost wake-up is a loom
/// deadlock), and some must really have slept.
#[test]
fn fair_futex_excludes_3_and_wakes_sleepers() {
    reset_counters();
    mutual_exclusion_3_preemptions::<LoomFutex>(3);
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// Three threads with the keyed backend: a waiter behind the head sleeps on its ticket's
/// slot, and only a wake of that slot gets it out; every execution must finish.
#[test]
fn fair_keyed_futex_excludes_3_and_wakes_by_slot() {
    reset_counters();
    mutual_exclusion_3_preemptions::<KeyedFutex>(3);
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// The keyed backend can fail a model: a waker that wakes another word than the one its
/// sleeper sleeps on leaves it asleep (loom reports the deadlock).
#[test]
#[should_panic]
fn negative_keyed_futex_catches_a_wake_of_the_wrong_word() {
    model(|| {
        let words = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
        let sleeper = spawn_with(&words, move |words| {
            // ORDERING: Relaxed: the word is the whole protocol.
            while words[0].load(Relaxed) == 0 {
                KeyedFutex::wait(&words[0], 0);
            }
        });
        // ORDERING: Relaxed, as above.
        words[0].store(1, Relaxed);
        KeyedFutex::wake_all(&words[1]);
        sleeper.join().unwrap();
    });
}

/// `try_lock` (a barging attempt) racing a thread that locks and unlocks: when it succeeds
/// after the other's critical section, it must see that section's write (loom checks the
/// cell), and the lock ends free with nobody queued.
fn try_lock_races_lock<W: Wait + Send + Sync + 'static>() {
    model(|| {
        let s = Shared::<RawFairLock<W>>::new();
        let locker = spawn_with(&s, |s| s.locked_increment());
        let mut got = 0;
        for _ in 0..2 {
            if s.raw.try_lock() {
                s.critical();
                s.unlock();
                got += 1;
            }
        }
        locker.join().unwrap();
        assert_eq!(s.value(), 1 + got);
        assert!(!s.raw.is_locked());
        assert_eq!(s.raw.waiters(), 0);
    });
}

#[test]
fn fair_spin_try_lock_races_lock() {
    try_lock_races_lock::<Spin>();
}

#[test]
fn fair_futex_try_lock_races_lock() {
    try_lock_races_lock::<LoomFutex>();
}

/// A timed waiter against a `lock` caller and the owner: the timed waiter may sleep on the
/// state word; the lock must be usable and free afterwards whatever the outcome.
#[test]
fn fair_futex_lock_until_races_lock() {
    reset_counters();
    model(|| {
        let s = Shared::<RawFairLock<LoomFutex>>::new();
        s.raw.lock();
        let locker = spawn_with(&s, |s| s.locked_increment());
        let timed = spawn_with(&s, move |s| {
            let got = s.raw.lock_until(&mut expires_after(2));
            if got {
                s.critical();
                s.unlock();
            }
            record_outcome(got);
        });
        s.critical();
        s.unlock();
        locker.join().unwrap();
        timed.join().unwrap();
        assert!(!s.raw.is_locked());
        assert_eq!(s.raw.waiters(), 0);
        assert!(s.raw.try_lock());
        s.unlock();
    });
}

/// The bound's protocol (K = 2 here, the gate after 1): the main thread holds the lock until
/// a second thread has queued, then releases it and tries to take it again three times. Of the main
/// thread's acquisitions, at most K may come before the queued thread's (it records, inside
/// its critical section, that it has acquired; the main thread reads that inside its own).
fn bound_holds<W: Wait + Send + Sync + 'static>() {
    model(|| {
        let s = Shared::<RawFairLock<W>>::new();
        let queued_got_it = Arc::new(AtomicBool::new(false));
        s.raw.lock();
        let queued = {
            let (s, got) = (s.clone(), queued_got_it.clone());
            thread::spawn(move || {
                s.raw.lock();
                s.critical();
                // ORDERING: Relaxed: read only under the lock, which orders it.
                got.store(true, Relaxed);
                s.unlock();
            })
        };
        while s.raw.waiters() == 0 {
            thread::yield_now();
        }
        s.unlock();
        let mut bypasses = 0;
        for _ in 0..3 {
            if s.raw.try_lock() {
                s.critical();
                // ORDERING: Relaxed: under the lock, see above.
                if !queued_got_it.load(Relaxed) {
                    bypasses += 1;
                }
                s.unlock();
            }
        }
        assert!(
            bypasses <= RawFairLock::<W>::MAX_BYPASSES,
            "the queued waiter was bypassed {bypasses} times"
        );
        queued.join().unwrap();
        assert!(!s.raw.is_locked());
        assert_eq!(s.raw.waiters(), 0);
    });
}

#[test]
fn fair_spin_bound_holds() {
    bound_holds::<Spin>();
}

#[test]
fn fair_futex_bound_holds() {
    bound_holds::<LoomFutex>();
}

/// The model above can fail: the same protocol over a lock without the bypass count (a
/// compare-and-swap spin lock, which lets the main thread take it three times in a row).
#[test]
#[should_panic(expected = "bypassed")]
fn negative_unbounded_lock_fails_the_bound_model() {
    model(|| {
        let word = Arc::new(AtomicU32::new(0));
        let waiting = Arc::new(AtomicU32::new(0));
        let queued_got_it = Arc::new(AtomicBool::new(false));
        let try_lock = |w: &AtomicU32| {
            w.compare_exchange(0, 1, baresync::sync::atomic::Ordering::Acquire, Relaxed)
                .is_ok()
        };
        let unlock = |w: &AtomicU32| w.store(0, baresync::sync::atomic::Ordering::Release);
        assert!(try_lock(&word));
        let queued = {
            let (word, waiting, got) = (word.clone(), waiting.clone(), queued_got_it.clone());
            thread::spawn(move || {
                waiting.store(1, Relaxed);
                while !try_lock(&word) {
                    thread::yield_now();
                }
                got.store(true, Relaxed);
                unlock(&word);
            })
        };
        while waiting.load(Relaxed) == 0 {
            thread::yield_now();
        }
        unlock(&word);
        let mut bypasses = 0;
        for _ in 0..3 {
            if try_lock(&word) {
                if !queued_got_it.load(Relaxed) {
                    bypasses += 1;
                }
                unlock(&word);
            }
        }
        assert!(
            bypasses <= 1,
            "the queued waiter was bypassed {bypasses} times"
        );
        queued.join().unwrap();
    });
}
