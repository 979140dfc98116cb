//! Loom models of `SpinBarrier`.
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release --test loom_spin_barrier`.
//!
//! What is checked: each party's writes before `wait` are visible to every party after it
//! (each writes its own `loom::cell::UnsafeCell` slot before the barrier and reads the others'
//! after: a missing happens-before is reported by loom), over two generations, so that a fast
//! party re-entering the next generation while the slow one is still leaving is covered;
//! exactly one leader per generation; with more threads than parties (one party, two threads
//! calling twice), an arrival that comes before an earlier leader's advance is counted in its
//! own generation and nothing is lost.
//!
//! Two threads only: `SpinBarrier`'s waiters poll, and loom cannot bound two pollers yielding
//! to each other (three parties, or two generations waiting at once, exceed any branch limit:
//! tried with 100 000 branches, still exceeded after 5 minutes). Three parties and more threads
//! than parties are checked by `tests/spin_barrier.rs`, natively and under Miri.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::SpinBarrier;
use loom::cell::UnsafeCell;
use std::sync::Arc;

struct Shared {
    barrier: SpinBarrier,
    /// One slot per party and generation, written by its party before the barrier.
    slots: Vec<UnsafeCell<usize>>,
}

// SAFETY: slot `i * gens + g` is written only by party `i` before generation `g`'s barrier
// and read by the others after it (what the models check).
unsafe impl Sync for Shared {}
// SAFETY: as above.
unsafe impl Send for Shared {}

/// `parties` threads go through `gens` generations; asserts inside.
fn generations(parties: usize, gens: usize) {
    model(move || {
        let s = Arc::new(Shared {
            barrier: SpinBarrier::new(parties),
            slots: (0..parties * gens).map(|_| UnsafeCell::new(0)).collect(),
        });
        let party = move |s: &Shared, me: usize| {
            let mut leaders = 0;
            for g in 0..gens {
                // SAFETY: only party `me` writes this slot, before the barrier.
                s.slots[me * gens + g].with_mut(|p| unsafe { *p = g + 1 });
                leaders += usize::from(s.barrier.wait().is_leader());
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
        assert_eq!(s.barrier.n_waiting(), 0);
    });
}

#[test]
fn two_parties_two_generations() {
    generations(2, 2);
}

/// One party, two threads calling twice each: every call is a leader; a second leader may
/// advance before the first (arrivals outrun advances), and nothing is lost.
#[test]
fn one_party_two_threads_twice() {
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
