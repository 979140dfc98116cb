//! Loom models of `Semaphore<W>` and `BoundedSemaphore<W>`.
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release -p baresync --test loom_semaphore`.
//!
//! What is checked:
//! - holders never exceed the permits, and each acquire happens-after the release whose permit
//!   it took: with one permit the protected data is a `loom::cell::UnsafeCell`, so two holders
//!   at once, or a missing Acquire/Release edge, is reported by loom; with two permits an
//!   occupancy counter is checked;
//! - no lost wake-up: [`LoomFutex`] really sleeps, so a release that forgets to wake leaves a
//!   thread asleep forever, which loom reports as a deadlock. Models: a release racing an
//!   acquire; one `release(2)` with two sleepers (a release must wake more than one); a waiter
//!   for two permits and a waiter for one;
//! - `acquire_until` racing a release takes the permit or leaves it, nothing in between;
//! - a bounded release racing a permit's drop never takes the count above the bound.
//!
//! The `negative_*` models break one thing each (a backend that never wakes, a sleeping backend
//! that claims `WAKE_IS_NOOP`) and must make loom fail.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::sync::atomic::{AtomicU32, Ordering::SeqCst};
use baresync::{BoundedSemaphore, Semaphore, Spin, Wait};
use loom::cell::UnsafeCell;
use loom::thread;
// std's Arc, not loom's: see tests/loom_lock.rs (a deadlock panic in a negative model must
// not drop loom objects while unwinding).
use std::sync::Arc;

/// A semaphore and the data its single permit protects.
struct Shared<W> {
    sem: Semaphore<W>,
    data: UnsafeCell<u32>,
}

// SAFETY: `data` is only accessed while holding the semaphore's one permit (what the models
// check), or after every other thread has been joined.
unsafe impl<W> Sync for Shared<W> {}
// SAFETY: as above; the fields are `Send`.
unsafe impl<W> Send for Shared<W> {}

impl<W: Wait> Shared<W> {
    fn new(permits: u32) -> Arc<Self> {
        Arc::new(Shared {
            sem: Semaphore::with_wait(permits),
            data: UnsafeCell::new(0),
        })
    }

    /// Takes the one permit, increments the data, releases.
    fn increment(&self) {
        let _permit = self.sem.acquire();
        // SAFETY: the permit excludes other holders; if it does not, loom reports it.
        self.data.with_mut(|p| unsafe { *p += 1 });
    }

    fn value(&self) -> u32 {
        // SAFETY: every other thread was joined.
        self.data.with(|p| unsafe { *p })
    }
}

/// `threads` threads (main included) take the only permit in turn.
fn one_permit_excludes<W: Wait + Send + Sync + 'static>(threads: u32) {
    model(move || {
        let s = Shared::<W>::new(1);
        let handles: Vec<_> = (1..threads)
            .map(|_| spawn_with(&s, move |s| s.increment()))
            .collect();
        s.increment();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(s.value(), threads);
        assert_eq!(s.sem.available(), 1);
    });
}

/// A thread acquires from an empty semaphore while the main thread releases one permit.
fn release_races_acquire<W: Wait + Send + Sync + 'static>() {
    model(|| {
        let s = Shared::<W>::new(0);
        let t = spawn_with(&s, move |s| s.increment());
        // The release publishes this write to the acquirer.
        // SAFETY: nobody holds a permit yet, so nobody else touches `data`.
        s.data.with_mut(|p| unsafe { *p = 10 });
        s.sem.release(1);
        t.join().unwrap();
        assert_eq!(s.value(), 11);
        assert_eq!(s.sem.available(), 1);
    });
}

#[test]
fn spin_one_permit_excludes_2() {
    one_permit_excludes::<Spin>(2);
}

#[test]
fn spin_release_races_acquire() {
    release_races_acquire::<Spin>();
}

#[test]
fn futex_one_permit_excludes_3_and_sleeps() {
    reset_counters();
    one_permit_excludes::<LoomFutex>(3);
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

#[test]
fn futex_release_races_acquire() {
    reset_counters();
    release_races_acquire::<LoomFutex>();
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// Two sleepers on an empty semaphore, one `release(2)`: both must get through.
fn release_2_wakes_two<W: Wait + Send + Sync + 'static>() {
    model(|| {
        let sem = Arc::new(Semaphore::<W>::with_wait(0));
        let handles: Vec<_> = (0..2)
            .map(|_| spawn_with(&sem, move |sem| sem.acquire().forget()))
            .collect();
        sem.release(2);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(sem.available(), 0);
    });
}

#[test]
fn futex_release_2_wakes_two_sleepers() {
    reset_counters();
    release_2_wakes_two::<LoomFutex>();
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// Two permits; the main thread holds one while a thread waits for both and the main thread
/// takes and returns the other: the waiter for two is never given one permit to sit on, gets
/// both once the main thread is done, and the holders never exceed two permits.
fn many_and_one<W: Wait + Send + Sync + 'static>() {
    model(|| {
        let sem = Arc::new(Semaphore::<W>::with_wait(2));
        let held = Arc::new(AtomicU32::new(0));
        let hold = |sem: &Semaphore<W>, held: &AtomicU32, n: u32| {
            let p = sem.acquire_many(n);
            // ORDERING: SeqCst: a plain occupancy count, checked against the permits.
            assert!(
                held.fetch_add(n, SeqCst) + n <= 2,
                "more than 2 permits held"
            );
            held.fetch_sub(n, SeqCst);
            drop(p);
        };
        let first = sem.acquire();
        held.fetch_add(1, SeqCst);
        let t = {
            let (sem, held) = (Arc::clone(&sem), Arc::clone(&held));
            thread::spawn(move || hold(&sem, &held, 2))
        };
        hold(&sem, &held, 1);
        held.fetch_sub(1, SeqCst);
        drop(first);
        t.join().unwrap();
        assert_eq!(sem.available(), 2);
    });
}

#[test]
fn futex_acquire_many_and_acquire_one() {
    reset_counters();
    many_and_one::<LoomFutex>();
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

#[test]
fn spin_acquire_many_and_acquire_one() {
    many_and_one::<Spin>();
}

/// `acquire_until` with a deadline that expires at the first poll, racing a release: it either
/// takes the permit or leaves it for someone else; the count always adds up.
fn acquire_until_races_release<W: Wait + Send + Sync + 'static>() {
    reset_counters();
    model(|| {
        let sem = Arc::new(Semaphore::<W>::with_wait(0));
        let t = spawn_with(&sem, move |sem| {
            let got = sem.acquire_until(|| true);
            got.map(|p| {
                p.forget();
            })
            .is_some()
        });
        sem.release(1);
        let got = t.join().unwrap();
        record_outcome(got);
        assert_eq!(sem.available(), u32::from(!got));
    });
    let (ok, timed_out) = OUTCOMES.with(std::cell::Cell::get);
    assert!(ok && timed_out, "both outcomes must be explored");
}

#[test]
fn spin_acquire_until_races_release() {
    acquire_until_races_release::<Spin>();
}

#[test]
fn futex_acquire_until_races_release() {
    acquire_until_races_release::<LoomFutex>();
}

/// A bounded semaphore of 1: a thread acquires and drops its permit while the main thread makes
/// an unmatched release. The count never exceeds the bound, and ends at it.
#[test]
fn bounded_release_races_permit_drop() {
    model(|| {
        let sem = Arc::new(BoundedSemaphore::<LoomFutex>::with_wait(1));
        let t = spawn_with(&sem, move |sem| {
            let p = sem.acquire();
            assert!(sem.available() <= 1);
            drop(p);
        });
        // Succeeds only while the permit is out; either way the bound holds.
        let _ = sem.release(1);
        assert!(sem.available() <= 1);
        t.join().unwrap();
        assert_eq!(sem.available(), 1);
        assert!(sem.release(1).is_err());
    });
}

// ---------------------------------------------------------------------------------------------
// Negative controls: each breaks one thing and must make loom fail
// ---------------------------------------------------------------------------------------------

/// A backend whose wakes do nothing: the sleeping acquirer is never woken.
#[test]
#[should_panic(expected = "deadlock")]
fn negative_release_without_wake_deadlocks() {
    release_races_acquire::<Park<false, false>>();
}

/// A sleeping backend that claims `WAKE_IS_NOOP`: no sleeper flag, no wake, a waiter sleeps
/// forever.
#[test]
#[should_panic(expected = "deadlock")]
fn negative_wake_is_noop_with_sleeping_backend_deadlocks() {
    release_2_wakes_two::<Park<true, true>>();
}
