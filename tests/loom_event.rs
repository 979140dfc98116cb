//! Loom models of `Event<W>`.
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release -p baresync --test loom_event`.
//!
//! What is checked:
//! - a `wait` that returns happens-after the `set` that released it: the setter writes a
//!   `loom::cell::UnsafeCell` before `set`, the waiter reads it after `wait`, and loom reports
//!   the read if the two are not ordered;
//! - no lost wake-up: [`LoomFutex`] really sleeps, so a `set` that forgets to wake leaves a
//!   waiter asleep forever, which loom reports as a deadlock. Models: `set` racing one and two
//!   `wait`s; `set` then `clear` at once while one or two waiters sleep (the generation must
//!   release them, though they may never see the flag on); `wait_until` racing `set`.
//!
//! Not modelled: `set` + `clear` with the `Spin` backend. Nothing outside the event can tell
//! that a spinning waiter has started waiting, and one that starts after the `clear` rightly
//! waits forever; the spinning path is the sleeping one without the sleeper flag.
//!
//! The `negative_*` models must make loom fail: a backend that never wakes, and a flag-only
//! event (no generation) under `set` + `clear`, which shows that the generation is what makes
//! `set` + `clear` safe.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Release},
};
use baresync::{Event, Spin, Wait};
use loom::cell::UnsafeCell;
use loom::thread;
// std's Arc, not loom's: see tests/loom_lock.rs.
use std::sync::Arc;

/// What the models need of an event, so the negative flag-only event runs the same models.
trait ModelEvent: Send + Sync + 'static {
    fn create() -> Self;
    fn set(&self);
    fn clear(&self);
    fn wait(&self);
}

impl<W: Wait + 'static> ModelEvent for Event<W> {
    fn create() -> Self {
        Event::with_wait()
    }
    fn set(&self) {
        Event::set(self);
    }
    fn clear(&self) {
        Event::clear(self);
    }
    fn wait(&self) {
        Event::wait(self);
    }
}

/// An event and data published through it.
struct Shared<E> {
    event: E,
    data: UnsafeCell<u32>,
}

// SAFETY: `data` is written only before `set` and read only after `wait` returns (what the
// models check: loom reports any read not ordered after the write).
unsafe impl<E: Sync> Sync for Shared<E> {}
// SAFETY: as above; the fields are `Send`.
unsafe impl<E: Send> Send for Shared<E> {}

impl<E: ModelEvent> Shared<E> {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            event: E::create(),
            data: UnsafeCell::new(0),
        })
    }

    /// Waits, then reads the data the setter published.
    fn wait_and_read(&self) -> u32 {
        self.event.wait();
        // SAFETY: the write happened before `set`, which happens-before this read if `wait`
        // is correct; loom reports it otherwise.
        self.data.with(|p| unsafe { *p })
    }

    /// Publishes `value`, then sets the event (and clears it at once with `clear_after`).
    fn publish(&self, value: u32, clear_after: bool) {
        // SAFETY: waiters read only after `wait` returns, which needs the `set` below.
        self.data.with_mut(|p| unsafe { *p = value });
        self.event.set();
        if clear_after {
            self.event.clear();
        }
    }
}

/// `waiters` threads wait while the main thread publishes and sets: every waiter returns and
/// reads the published value.
fn set_releases_waiters<E: ModelEvent>(waiters: usize) {
    model(move || {
        let s = Shared::<E>::new();
        let handles: Vec<_> = (0..waiters)
            .map(|_| spawn_with(&s, move |s| s.wait_and_read()))
            .collect();
        s.publish(7, false);
        for h in handles {
            assert_eq!(h.join().unwrap(), 7);
        }
    });
}

/// `waiters` threads go to sleep in `wait`; then the main thread publishes, sets and at once
/// clears: every waiter was already waiting, so every one must return (and read the value),
/// although it may never see the flag on.
///
/// "Already waiting" is made certain by the main thread waiting until the sleeping backend has
/// counted `waiters` more sleeps (a side channel outside the model, used only for scheduling);
/// a waiter that started after the `clear` would rightly wait for the next `set`.
fn set_then_clear_releases_sleepers<E: ModelEvent>(waiters: usize) {
    reset_counters();
    model(move || {
        let asleep_before = sleeps();
        let s = Shared::<E>::new();
        let handles: Vec<_> = (0..waiters)
            .map(|_| spawn_with(&s, move |s| s.wait_and_read()))
            .collect();
        while sleeps() < asleep_before + waiters {
            thread::yield_now();
        }
        s.publish(7, true);
        for h in handles {
            assert_eq!(h.join().unwrap(), 7);
        }
    });
}

#[test]
fn spin_set_races_wait() {
    set_releases_waiters::<Event<Spin>>(1);
}

#[test]
fn futex_set_races_wait() {
    reset_counters();
    set_releases_waiters::<Event<LoomFutex>>(1);
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

#[test]
fn futex_set_races_two_waits() {
    set_releases_waiters::<Event<LoomFutex>>(2);
}

#[test]
fn futex_set_then_clear_releases_a_sleeper() {
    set_then_clear_releases_sleepers::<Event<LoomFutex>>(1);
}

#[test]
fn futex_set_then_clear_releases_two_sleepers() {
    set_then_clear_releases_sleepers::<Event<LoomFutex>>(2);
}

/// `wait_until` with a deadline that expires at its first poll, racing `set`: no timeout exactly
/// when released by the `set` (then the data is visible), `false` otherwise; both happen.
fn wait_until_races_set<W: Wait + Send + Sync + 'static>() {
    reset_counters();
    model(|| {
        let s = Shared::<Event<W>>::new();
        let t = spawn_with(&s, move |s| {
            let released = !s.event.wait_until(|| true).timed_out();
            if released {
                // SAFETY: released by the `set`, which follows the write.
                assert_eq!(s.data.with(|p| unsafe { *p }), 7);
            }
            released
        });
        s.publish(7, false);
        record_outcome(t.join().unwrap());
    });
    let (ok, timed_out) = OUTCOMES.with(std::cell::Cell::get);
    assert!(ok && timed_out, "both outcomes must be explored");
}

#[test]
fn spin_wait_until_races_set() {
    wait_until_races_set::<Spin>();
}

#[test]
fn futex_wait_until_races_set() {
    wait_until_races_set::<LoomFutex>();
}

// ---------------------------------------------------------------------------------------------
// Negative controls: each breaks one thing and must make loom fail
// ---------------------------------------------------------------------------------------------

/// A backend whose wakes do nothing: a sleeping waiter is never woken.
#[test]
#[should_panic(expected = "deadlock")]
fn negative_set_without_wake_deadlocks() {
    set_releases_waiters::<Event<Park<false, false>>>(1);
}

/// The event without its generation: a flag, with the waiter sleeping while it reads 0. A
/// `set` and `clear` that both happen before the waiter goes to sleep leave it asleep on a 0
/// it takes for "not yet set".
struct FlagOnlyEvent(AtomicU32);

impl ModelEvent for FlagOnlyEvent {
    fn create() -> Self {
        FlagOnlyEvent(AtomicU32::new(0))
    }
    fn set(&self) {
        // ORDERING: Release pairs with the Acquire load in `wait`.
        self.0.store(1, Release);
        LoomFutex::wake_all(&self.0);
    }
    fn clear(&self) {
        // ORDERING: Release: the flag's value orders nothing else here.
        self.0.store(0, Release);
    }
    fn wait(&self) {
        // ORDERING: Acquire pairs with the Release store in `set`.
        while self.0.load(Acquire) == 0 {
            LoomFutex::wait(&self.0, 0);
        }
    }
}

/// Its positive twin: with `set` alone the flag-only event works, so the failure below is the
/// `clear`'s doing.
#[test]
fn control_flag_only_event_without_clear_works() {
    set_releases_waiters::<FlagOnlyEvent>(1);
}

#[test]
#[should_panic(expected = "deadlock")]
fn negative_flag_only_event_set_then_clear_strands_a_sleeper() {
    set_then_clear_releases_sleepers::<FlagOnlyEvent>(1);
}

/// `is_set()` returning `true` publishes what the setter wrote before `set` (the Acquire of
/// its load pairs with `set`'s Release). The reader runs in a spawned thread: with the reader
/// on the model's main thread loom never showed it seeing the flag. Found by the
/// ordering-mutant run: `is_set`'s Acquire → Relaxed survived every other model.
#[test]
fn is_set_publishes_the_setters_writes() {
    struct Flagged {
        event: Event<Spin>,
        data: UnsafeCell<u32>,
    }
    // SAFETY: `data` is written before `set` and read only after `is_set` saw it; loom checks
    // exactly that ordering.
    unsafe impl Sync for Flagged {}
    model(|| {
        let s = Arc::new(Flagged {
            event: Event::new(),
            data: UnsafeCell::new(0),
        });
        let reader = spawn_with(&s, move |s| {
            if s.event.is_set() {
                // SAFETY: see `Flagged`.
                assert_eq!(s.data.with(|p| unsafe { *p }), 1);
            }
        });
        // SAFETY: see `Flagged`.
        s.data.with_mut(|p| unsafe { *p = 1 });
        s.event.set();
        reader.join().unwrap();
    });
}
