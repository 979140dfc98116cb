//! Loom models of the raw locks: `RawSpinLock`, `RawTicketLock<W>` and `RawMutex<W>`.
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_lock`
//! (without `LOOM_MAX_PREEMPTIONS` the models below default to a bound of 2).
//!
//! What is checked:
//! - mutual exclusion and happens-before between owners: the protected data is a
//!   `loom::cell::UnsafeCell`, so two owners at once, or an owner whose acquire does not
//!   synchronize with the previous release, is reported by loom; the final count must equal
//!   the number of acquisitions;
//! - `try_lock` racing `lock`, and `lock_until` (a deadline counting its polls) racing an
//!   unlock: the lock must be usable and unlocked afterwards, whether the deadline fired or not;
//! - no lost wake-up: [`Park`] is a `Wait` backend on loom's own `Mutex` and thread parking
//!   that really sleeps, so a wake-up the lock forgets to make leaves a thread asleep forever,
//!   which loom reports as a deadlock.
//!
//! The `negative_*` models break one thing each (a backend that never wakes, a backend that
//! claims `WAKE_IS_NOOP` but sleeps, a lock that does not lock, a spin lock with Relaxed
//! orderings) and must make loom panic: they show that the models above can fail.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::sync::atomic::{
    AtomicBool,
    Ordering::{Acquire, Relaxed, Release},
};
use baresync::{RawLock, RawMutex, RawSpinLock, RawTicketLock, Spin};
use loom::thread;
use std::cell::Cell;
// std's Arc, not loom's: when loom reports a deadlock (the negative models), the panic unwinds
// the blocked thread's stack with no active loom thread, and dropping a loom object there
// (loom's Arc, a loom MutexGuard) panics again and aborts the whole test binary. Joins give
// the happens-before edges the models need; leak checking of the Arc itself is not needed.
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Model bodies, generic over the raw lock
// ---------------------------------------------------------------------------------------------

/// `threads` threads (the model's main thread included) each lock, increment, unlock.
fn mutual_exclusion<R: RawLock + Send + Sync + 'static>(threads: usize) {
    model(move || {
        locked_increments::<R>(threads);
    });
}

/// `lockers` threads call `lock` while `tryers` threads (the main thread included) call
/// `try_lock` once; every successful `try_lock` must exclude the others, and a free lock must
/// be taken by `try_lock` afterwards.
fn try_lock_races_lock<R: RawLock + Send + Sync + 'static>(lockers: usize, tryers: usize) {
    model(move || {
        let s = Shared::<R>::new();
        let try_once = |s: &Shared<R>| {
            let got = s.raw.try_lock();
            if got {
                s.critical();
                s.unlock();
            }
            usize::from(got)
        };
        let lockers: Vec<_> = (0..lockers)
            .map(|_| {
                spawn_with(&s, move |s| {
                    s.locked_increment();
                    1
                })
            })
            .collect();
        let tryers: Vec<_> = (1..tryers)
            .map(|_| spawn_with(&s, move |s| try_once(s)))
            .collect();
        let mut acquired = try_once(&s);
        for t in lockers.into_iter().chain(tryers) {
            acquired += t.join().unwrap();
        }
        assert_eq!(s.value(), acquired);
        assert!(!s.raw.is_locked());
        assert!(s.raw.try_lock());
        s.unlock();
    });
}

/// The main thread holds the lock; another thread calls `lock_until` with a deadline that
/// expires after `polls` polls, racing the main thread's unlock (and, with `third`, a plain
/// `lock` on a third thread). Whatever the outcome, the lock must end up unlocked and usable:
/// a timed-out `lock_until` must leave no state that blocks or strands another waiter.
fn lock_until_races_unlock<R: RawLock + Send + Sync + 'static>(polls: usize, third: bool) {
    reset_counters();
    model(move || {
        let s = Shared::<R>::new();
        s.raw.lock();
        let timed = spawn_with(&s, move |s| {
            let got = s.raw.lock_until(&mut expires_after(polls));
            if got {
                s.critical();
                s.unlock();
            }
            got
        });
        let plain = third.then(|| spawn_with(&s, |s| s.locked_increment()));
        s.critical();
        s.unlock();
        let got = timed.join().unwrap();
        record_outcome(got);
        if let Some(p) = plain {
            p.join().unwrap();
        }
        // Not left in a bad state: it can be taken and released again.
        s.locked_increment();
        assert_eq!(s.value(), 2 + usize::from(got) + usize::from(third));
        assert!(!s.raw.is_locked());
    });
}

/// Both `lock_until` outcomes were explored by the last `lock_until_races_unlock`.
fn assert_both_outcomes() {
    let (ok, timed_out) = OUTCOMES.with(Cell::get);
    assert!(ok, "no execution acquired the lock with lock_until");
    assert!(timed_out, "no execution timed out in lock_until");
}

// Shapes the models keep, because of two limits of loom 0.7:
// - two threads that spin (yield in a loop) at the same time make loom's exploration diverge
//   (tokio-rs/loom#53: it can alternate between the two spinners forever), so at most one
//   thread spins without bound at a time; a third thread uses `try_lock`, or sleeps;
// - a deadline of 0 polls is what makes `lock_until` time out: a thread that yields is not
//   rescheduled before the others have moved, so the owner's unlock always comes first.

// ---------------------------------------------------------------------------------------------
// 1. Mutual exclusion, try_lock, lock_until: spinning backends
// ---------------------------------------------------------------------------------------------

// `RawSpinLock` and loom 0.7.3: loom does not keep a read-modify-write atomic with respect to a
// plain store (tokio-rs/loom#254, fix proposed in #391). A waiter's failed `swap(true)` and the
// owner's `store(false)` in `unlock` end up unordered, and the waiter may then read its own
// `true` forever, so every contended model exceeds loom's branch limit (even a textbook
// swap/yield lock does). So under `cfg(baresync_loom)` `unlock` is a `swap(false, Release)`,
// the same release for the model; these models check the rest of the protocol.

#[test]
fn spin_lock_excludes_2() {
    mutual_exclusion::<RawSpinLock>(2);
}

#[test]
fn spin_lock_try_lock_races_lock() {
    try_lock_races_lock::<RawSpinLock>(1, 2);
}

#[test]
fn spin_lock_lock_until_races_unlock() {
    lock_until_races_unlock::<RawSpinLock>(0, false);
    assert_both_outcomes();
}

#[test]
fn ticket_spin_excludes_2() {
    mutual_exclusion::<RawTicketLock<Spin>>(2);
}

#[test]
fn ticket_spin_try_lock_races_lock() {
    try_lock_races_lock::<RawTicketLock<Spin>>(1, 1);
}

#[test]
fn ticket_spin_two_try_locks_race_lock() {
    try_lock_races_lock::<RawTicketLock<Spin>>(1, 2);
}

#[test]
fn ticket_spin_lock_until_races_unlock() {
    lock_until_races_unlock::<RawTicketLock<Spin>>(0, false);
    assert_both_outcomes();
}

#[test]
fn mutex_spin_excludes_2() {
    mutual_exclusion::<RawMutex<Spin>>(2);
}

#[test]
fn mutex_spin_try_lock_races_lock() {
    try_lock_races_lock::<RawMutex<Spin>>(1, 1);
}

#[test]
fn mutex_spin_two_try_locks_race_lock() {
    try_lock_races_lock::<RawMutex<Spin>>(1, 2);
}

#[test]
fn mutex_spin_lock_until_races_unlock() {
    lock_until_races_unlock::<RawMutex<Spin>>(0, false);
    assert_both_outcomes();
}

// ---------------------------------------------------------------------------------------------
// 2. No lost wake-up: a backend that really sleeps
// ---------------------------------------------------------------------------------------------

#[test]
fn ticket_futex_excludes_2() {
    mutual_exclusion::<RawTicketLock<LoomFutex>>(2);
}

/// Three threads: the thread two tickets back sets SLEEPERS and sleeps; every execution must
/// finish (a lost wake-up is a loom deadlock), and some must really have slept.
#[test]
fn ticket_futex_excludes_3_and_wakes_sleepers() {
    reset_counters();
    mutual_exclusion::<RawTicketLock<LoomFutex>>(3);
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// Two `lock`s: the second ticket holder waits with ahead == 1 and spins, the try_lock never
/// queues; and when the try_lock wins, the ticket two back sleeps.
#[test]
fn ticket_futex_try_lock_races_two_locks() {
    try_lock_races_lock::<RawTicketLock<LoomFutex>>(2, 1);
}

#[test]
fn ticket_futex_lock_until_races_unlock_and_lock() {
    lock_until_races_unlock::<RawTicketLock<LoomFutex>>(0, true);
    assert_both_outcomes();
}

/// A timed waiter that reaches the sleeping path: the owner's unlock may fall between the
/// waiter's look at the counter and its announcing `fetch_or`. It must then not sleep on a free
/// lock (loom's `Park` never times out, so that would be a deadlock). Found in review: the
/// 0-poll model above gives up before it ever gets there.
#[test]
fn ticket_futex_lock_until_sleeps_then_unlock() {
    lock_until_races_unlock::<RawTicketLock<LoomFutex>>(2, false);
}

#[test]
fn mutex_futex_excludes_2() {
    mutual_exclusion::<RawMutex<LoomFutex>>(2);
}

#[test]
fn mutex_futex_two_try_locks_race_lock() {
    try_lock_races_lock::<RawMutex<LoomFutex>>(1, 2);
}

/// Only the "acquired" outcome is reachable under loom today: `lock_until` spins in
/// `spin_then_try` until the lock is free (see `mutex_futex_reaches_sleeping_path`).
#[test]
fn mutex_futex_lock_until_races_unlock() {
    lock_until_races_unlock::<RawMutex<LoomFutex>>(0, false);
}

/// Whether the models reach `RawMutex`'s sleeping path (state CONTENDED, `W::wait`).
///
/// Under loom `Backoff::spin` yields once and completes the backoff, so `spin_then_try` gives
/// up after one look and the sleeping protocol (the part a lost wake-up would break) is
/// explored. (Before that was so, no model reached state CONTENDED and two mutations of the
/// wake path went unnoticed; this test keeps it so.)
#[test]
fn mutex_futex_reaches_sleeping_path() {
    reset_counters();
    mutual_exclusion::<RawMutex<LoomFutex>>(3);
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

// ---------------------------------------------------------------------------------------------
// 3. Negative controls: each breaks one thing and must make loom fail
// ---------------------------------------------------------------------------------------------

/// A backend whose wakes do nothing: the ticket lock's third thread sleeps forever.
#[test]
#[should_panic(expected = "deadlock")]
fn negative_ticket_lost_wakeup_deadlocks() {
    mutual_exclusion::<RawTicketLock<Park<false, false>>>(3);
}

/// A sleeping backend that claims `WAKE_IS_NOOP`: the mutex unlocks with a plain store and
/// never wakes, so a waiter sleeps forever.
#[test]
#[should_panic(expected = "deadlock")]
fn negative_mutex_wake_is_noop_with_sleeping_backend_deadlocks() {
    mutual_exclusion::<RawMutex<Park<true, true>>>(2);
}

/// The same misconfiguration on the ticket lock.
#[test]
#[should_panic(expected = "deadlock")]
fn negative_ticket_wake_is_noop_with_sleeping_backend_deadlocks() {
    mutual_exclusion::<RawTicketLock<Park<true, true>>>(3);
}

/// A "lock" that does not lock: loom reports the concurrent accesses to the data.
struct NoLock;

// SAFETY: it is not a lock; only for the negative model, which expects loom to catch it.
unsafe impl RawLock for NoLock {
    fn init() -> Self {
        NoLock
    }
    fn lock(&self) {}
    fn try_lock(&self) -> bool {
        true
    }
    unsafe fn unlock(&self) {}
    fn is_locked(&self) -> bool {
        false
    }
}

#[test]
#[should_panic(expected = "Causality violation")]
fn negative_no_lock_races() {
    mutual_exclusion::<NoLock>(2);
}

/// A compare-and-swap lock (not a swap: see `SPIN_LOCK_LOOM_BUG`) that excludes, but with
/// Relaxed orderings: the next owner's accesses are not ordered after the previous owner's,
/// and loom reports it.
struct RelaxedSpinLock(AtomicBool);

// SAFETY: it is not a correct lock (no happens-before between owners); only for the negative
// model, which expects loom to catch it.
unsafe impl RawLock for RelaxedSpinLock {
    fn init() -> Self {
        RelaxedSpinLock(AtomicBool::new(false))
    }
    fn lock(&self) {
        while self
            .0
            .compare_exchange(false, true, Relaxed, Relaxed)
            .is_err()
        {
            thread::yield_now();
        }
    }
    fn try_lock(&self) -> bool {
        self.0
            .compare_exchange(false, true, Relaxed, Relaxed)
            .is_ok()
    }
    unsafe fn unlock(&self) {
        self.0.store(false, Relaxed);
    }
    fn is_locked(&self) -> bool {
        self.0.load(Relaxed)
    }
}

#[test]
#[should_panic(expected = "Causality violation")]
fn negative_relaxed_spin_lock_races() {
    mutual_exclusion::<RelaxedSpinLock>(2);
}

/// The positive twin of the negative model above, so that its failure is the orderings' doing
/// and not the harness's: the same lock with Acquire/Release passes.
struct AcqRelSpinLock(AtomicBool);

// SAFETY: Acquire compare-exchange / Release store: one owner at a time, each acquire
// synchronizes with the previous release.
unsafe impl RawLock for AcqRelSpinLock {
    fn init() -> Self {
        AcqRelSpinLock(AtomicBool::new(false))
    }
    fn lock(&self) {
        while self
            .0
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_err()
        {
            thread::yield_now();
        }
    }
    fn try_lock(&self) -> bool {
        self.0
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_ok()
    }
    unsafe fn unlock(&self) {
        self.0.store(false, Release);
    }
    fn is_locked(&self) -> bool {
        self.0.load(Relaxed)
    }
}

#[test]
fn control_acq_rel_spin_lock_excludes() {
    mutual_exclusion::<AcqRelSpinLock>(2);
}

/// `waiters()` never wraps below zero: while another thread locks and unlocks, an observer
/// sees at most one holder or waiter. Its `serving` load must be Acquire (pairing with
/// `unlock`'s Release), so that the `next` it reads afterwards is at least the `serving` it
/// read; with Relaxed, `next - serving` wraps to about 2^31. Found by the ordering-mutant run.
#[test]
fn ticket_waiters_never_wraps() {
    model(|| {
        let lock = Arc::new(RawTicketLock::<Spin>::with_wait());
        let t = spawn_with(&lock, move |lock| {
            lock.lock();
            // SAFETY: locked just above, on this thread.
            unsafe { lock.unlock() };
        });
        let waiters = lock.waiters();
        assert!(waiters <= 1, "waiters() = {waiters}");
        t.join().unwrap();
    });
}

/// A timed waiter does not take a free lock for held. `lock_until` decides whether to wait from
/// a load of `serving` and then one of `next`. While another thread locks and unlocks twice, a
/// `serving` read without synchronizing with the unlock that wrote it may be followed by an
/// older `next`, below it: the lock looks held, and with `Spin` (whose wait ends only when
/// `serving` moves) the waiter waits forever on a free lock, which loom reports. The `serving`
/// load is Acquire for this. (Found by Miri: `tickets_wrap_around_under_contention` did not
/// finish for some seeds; see docs/design.md.)
#[test]
fn ticket_spin_timed_waiter_sees_free_lock() {
    model(|| {
        let lock = Arc::new(RawTicketLock::<Spin>::with_wait());
        let t = spawn_with(&lock, |lock| {
            for _ in 0..2 {
                lock.lock();
                // SAFETY: locked just above, on this thread.
                unsafe { lock.unlock() };
            }
        });
        assert!(
            lock.lock_until(&mut || false),
            "a deadline that never expires expired"
        );
        // SAFETY: locked just above, on this thread.
        unsafe { lock.unlock() };
        t.join().unwrap();
    });
}
