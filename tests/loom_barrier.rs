//! Loom models of `Barrier` and of the lean `SpinBarrier` (the shared generation model, plus
//! more threads than parties for `SpinBarrier`).
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release --test loom_barrier`.
//!
//! What is checked: each party's writes before `wait` are visible to every party after it
//! (each writes its own `loom::cell::UnsafeCell` slot before the barrier and reads the others'
//! after: a missing happens-before is reported by loom); a fast party re-entering the next
//! generation does not disturb the slow one; exactly one leader per generation; `abort` racing
//! `wait` releases the waiter; `abort`/`reset` cycles drain a held party; `reset` right after a
//! completion spares the completed party;
//! a sleeping backend loses no wake-up (loom reports a deadlock).
//! The negative models use a backend that never wakes, and one that sleeps while claiming
//! `WAKE_IS_NOOP`, and must deadlock.
#![cfg(baresync_loom)]

mod barrier_support;
mod loom_support;
use barrier_support::Phases;
use loom_support::*;

use baresync::{Barrier, BarrierError, SpinBarrier};
use loom::cell::UnsafeCell;
use loom::thread;
use std::sync::Arc;

struct Shared<B> {
    barrier: B,
    /// One slot per party and generation, written by its party before the barrier.
    slots: Vec<UnsafeCell<usize>>,
}

// SAFETY: slot `i * gens + g` is written only by party `i` before generation `g`'s barrier
// and read by the others after it (what the models check).
unsafe impl<B> Sync for Shared<B> {}
// SAFETY: as above.
unsafe impl<B> Send for Shared<B> {}

/// `parties` threads go through `gens` generations; returns nothing, asserts inside.
fn generations<B: Phases>(parties: usize, gens: usize) {
    model(move || {
        let s = Arc::new(Shared {
            barrier: B::with_parties(parties),
            slots: (0..parties * gens).map(|_| UnsafeCell::new(0)).collect(),
        });
        let party = move |s: &Shared<B>, me: usize| {
            let mut leaders = 0;
            for g in 0..gens {
                // SAFETY: only party `me` writes this slot, before the barrier.
                s.slots[me * gens + g].with_mut(|p| unsafe { *p = g + 1 });
                leaders += usize::from(s.barrier.wait_leader());
                for other in 0..parties {
                    // SAFETY: written before the barrier, which orders it before this read.
                    let v = s.slots[other * gens + g].with(|p| unsafe { *p });
                    assert_eq!(v, g + 1);
                }
            }
            leaders
        };
        let handles: Vec<_> = (1..parties)
            .map(|i| spawn_with(&s, move |s| party(s, i)))
            .collect();
        let mut leaders = party(&s, 0);
        for h in handles {
            leaders += h.join().unwrap();
        }
        assert_eq!(leaders, gens, "not exactly one leader per generation");
        s.barrier.assert_idle();
    });
}

#[test]
fn two_parties_two_generations() {
    reset_counters();
    generations::<Barrier<LoomFutex>>(2, 2);
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

#[test]
fn three_parties_one_generation() {
    generations::<Barrier<LoomFutex>>(3, 1);
}

/// `abort` racing a waiting party: the party returns `Broken` (or, never, hangs).
#[test]
fn abort_races_wait() {
    model(|| {
        let b = Arc::new(Barrier::<LoomFutex>::with_wait(2));
        let waiter = spawn_with(&b, |b| b.wait());
        b.abort();
        assert_eq!(waiter.join().unwrap(), Err(BarrierError::Broken));
        assert!(b.is_broken());
        b.reset();
        assert!(!b.is_broken());
    });
}

/// A timeout racing the last arrival: both complete, or the barrier breaks for both.
#[test]
fn timeout_races_last_arrival() {
    model(|| {
        let b = Arc::new(Barrier::<LoomFutex>::with_wait(2));
        let timed = spawn_with(&b, |b| b.wait_until(expires_after(1)));
        let mine = b.wait();
        match (mine, timed.join().unwrap()) {
            (Ok(a), Ok(t)) => assert!(a.is_leader() ^ t.is_leader()),
            (Err(BarrierError::Broken), Err(BarrierError::Timeout)) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    });
}

/// A timeout racing the last arrival, with data: a timed party that still gets `Ok` (its
/// generation completed before it could leave) sees what the other party wrote before `wait`.
#[test]
fn timeout_racing_last_arrival_synchronizes() {
    model(|| {
        let s = Arc::new(Shared {
            barrier: Barrier::<LoomFutex>::with_wait(2),
            slots: (0..2).map(|_| UnsafeCell::new(0)).collect(),
        });
        let timed = spawn_with(&s, |s| {
            // SAFETY: only this party writes slot 1, before the barrier.
            s.slots[1].with_mut(|p| unsafe { *p = 1 });
            // Expired from the start: no polling (no yields), so that the race of the
            // timeout with the last arrival is reached within two preemptions.
            let r = s.barrier.wait_until(|| true);
            if r.is_ok() {
                // SAFETY: written before the barrier, which an `Ok` orders before this.
                assert_eq!(s.slots[0].with(|p| unsafe { *p }), 1);
            }
            r.is_ok()
        });
        // SAFETY: only this party writes slot 0, before the barrier.
        s.slots[0].with_mut(|p| unsafe { *p = 1 });
        let mine = s.barrier.wait();
        if mine.is_ok() {
            // SAFETY: as above.
            assert_eq!(s.slots[1].with(|p| unsafe { *p }), 1);
        }
        assert_eq!(mine.is_ok(), timed.join().unwrap());
    });
}

/// Issue 10, defect 5 (the protocol behind its fix): a party broken by `abort` + `reset`
/// cycles leaves with `Broken` however it is scheduled against them; a caller that comes
/// during the drain (with an expired deadline) times out and breaks the barrier; afterwards
/// nobody is counted, and a `reset` gives a barrier that completes a full generation.
#[test]
fn abort_reset_cycles_drain_the_held_party() {
    model(|| {
        let b = Arc::new(Barrier::<LoomFutex>::with_wait(2));
        let held = spawn_with(&b, |b| b.wait());
        while b.n_waiting() == 0 {
            thread::yield_now();
        }
        b.abort();
        b.reset();
        b.abort();
        b.reset();
        assert_eq!(b.wait_until(|| true), Err(BarrierError::Timeout));
        assert_eq!(held.join().unwrap(), Err(BarrierError::Broken));
        assert!(b.is_broken());
        assert_eq!(b.n_waiting(), 0);
        b.reset();
        assert!(!b.is_broken());
        let other = spawn_with(&b, |b| b.wait().unwrap().is_leader());
        let me = b.wait().unwrap().is_leader();
        assert!(me ^ other.join().unwrap());
    });
}

/// Issue 10, defect 6: `reset` right after a generation completed, racing the leader's next
/// `wait`, never turns the completed party's `Ok` into `Broken`; the party waiting at the reset
/// gets `Broken` (or times out, breaking the barrier), and nobody is left counted.
#[test]
fn reset_after_completion_spares_the_completed_party() {
    model(|| {
        let b = Arc::new(Barrier::<LoomFutex>::with_wait(2));
        let slow = spawn_with(&b, |b| b.wait());
        // Let the other party arrive first (yields, not preemptions), so that it is the one
        // waiting when this one completes the generation.
        while b.n_waiting() == 0 {
            thread::yield_now();
        }
        assert!(b.wait().unwrap().is_leader());
        // Expired from the start (no polling): it arrives and at once breaks the barrier,
        // unless the reset breaks it first.
        let again = spawn_with(&b, |b| b.wait_until(|| true));
        // The reset comes once the leader's next `wait` has arrived.
        while b.n_waiting() == 0 && !b.is_broken() {
            thread::yield_now();
        }
        b.reset();
        assert!(
            slow.join().unwrap().is_ok(),
            "the completed party lost its Ok"
        );
        let r = again.join().unwrap();
        assert!(
            matches!(r, Err(BarrierError::Broken | BarrierError::Timeout)),
            "{r:?}"
        );
        b.reset();
        assert_eq!(b.n_waiting(), 0);
        assert!(!b.is_broken());
    });
}

#[test]
#[should_panic(expected = "deadlock")]
fn negative_no_wake_deadlocks() {
    generations::<Barrier<Park<false, false>>>(2, 1);
}

#[test]
#[should_panic(expected = "deadlock")]
fn negative_wake_is_noop_with_sleeping_backend_deadlocks() {
    generations::<Barrier<Park<true, true>>>(2, 1);
}

/// `SpinBarrier`, two parties over two generations: the same checks as for `Barrier` above.
/// Two threads only: its waiters poll, and loom cannot bound two pollers yielding to each
/// other (three parties, or two generations waiting at once, exceeded 100 000 branches after
/// 5 minutes); three parties and more threads than parties are checked by
/// `tests/spin_barrier.rs`, natively and under Miri.
#[test]
fn spin_barrier_two_parties_two_generations() {
    generations::<SpinBarrier>(2, 2);
}

/// `SpinBarrier` with one party, two threads calling twice each: every call is a leader; a
/// second leader may advance before the first (arrivals outrun advances), and nothing is lost.
#[test]
fn spin_barrier_one_party_two_threads_twice() {
    model(|| {
        let b = Arc::new(SpinBarrier::new(1));
        let t = spawn_with(&b, |b| b.wait().is_leader() && b.wait().is_leader());
        assert!(b.wait().is_leader() && b.wait().is_leader());
        assert!(t.join().unwrap());
        assert_eq!(
            format!("{:?}", *b),
            "SpinBarrier { parties: 1, arrived: 0, generation: 4 }"
        );
    });
}
