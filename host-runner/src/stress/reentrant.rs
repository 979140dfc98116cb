//! Mutual exclusion and nesting depth for `ReentrantLock<T, StdThreadId, W>`.
//!
//! Each operation locks the lock to a random depth of 1 to 4 (one guard per level) and checks
//! at every level that `lock_count()` equals the depth reached; at the innermost level it does
//! the lock scenario's two checks: an occupancy counter (entered once per outermost
//! acquisition) never above 1, and a plain counter, read and written back plus one around a
//! race window, that ends equal to the number of operations. After the last guard is dropped
//! `lock_count()` must be 0 again (the thread no longer owns the lock).
//!
//! The negative controls: one reads the depth through a wrapper whose count saturates at 2 (a
//! lock that stops counting nested acquisitions): the depth check must catch it; the other's
//! outermost acquisition now and then does not lock (depth 1, the depth check skipped), which
//! the occupancy and lost-update checks here must catch.

use super::{
    checks, Backend, Expect, Outcome, RunCtx, Scenario, ScenarioInfo, Tally, Violation, Worker,
};
use baresync::{CachePadded, Futex, ReentrantLock, Spin, StdThreadId, Wait, Yield};
use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The deepest nesting an operation uses.
const MAX_DEPTH: u32 = 4;

/// A stress scenario for `ReentrantLock<Cell<u64>, StdThreadId, W>`.
pub struct ReentrantScenario<W> {
    info: ScenarioInfo,
    saturating: bool,
    not_locking: bool,
    _w: PhantomData<fn() -> W>,
}

/// One scenario per backend.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(ReentrantScenario::<Spin>::new(Backend::Spin)),
        Box::new(ReentrantScenario::<Yield>::new(Backend::Yield)),
        Box::new(ReentrantScenario::<Futex>::new(Backend::Futex)),
    ]
}

impl<W: Wait + Send + Sync + 'static> ReentrantScenario<W> {
    fn new(backend: Backend) -> Self {
        ReentrantScenario {
            info: ScenarioInfo::new(
                format!("ReentrantLock<{backend:?}>"),
                "ReentrantLock",
                Some(backend),
            ),
            saturating: false,
            not_locking: false,
            _w: PhantomData,
        }
    }

    /// The negative control: an outermost `lock()` that now and then does not lock.
    pub fn not_locking(name: impl Into<String>, checks: &'static [&'static str]) -> Self {
        ReentrantScenario {
            info: ScenarioInfo {
                expect: Expect::Fail(checks),
                ..ScenarioInfo::new(name, "control", None)
            },
            saturating: false,
            not_locking: true,
            _w: PhantomData,
        }
    }

    /// The negative control: a lock whose `lock_count()` saturates at 2.
    pub fn saturating_at_two(name: impl Into<String>, checks: &'static [&'static str]) -> Self {
        ReentrantScenario {
            info: ScenarioInfo {
                expect: Expect::Fail(checks),
                ..ScenarioInfo::new(name, "control", None)
            },
            saturating: true,
            not_locking: false,
            _w: PhantomData,
        }
    }
}

struct State<W: Wait> {
    lock: ReentrantLock<Cell<u64>, StdThreadId, W>,
    occupancy: CachePadded<AtomicUsize>,
    saturating: bool,
    not_locking: bool,
    /// Where the lock's cell is (for the control's unlocked accesses).
    cell: AtomicUsize,
    tally: Tally,
}

impl<W: Wait> State<W> {
    /// `lock_count()`, or for the negative control a count that stops at 2.
    fn lock_count(&self) -> usize {
        let count = self.lock.lock_count();
        if self.saturating {
            count.min(2)
        } else {
            count
        }
    }
}

impl<W: Wait + Send + Sync + 'static> Scenario for ReentrantScenario<W> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let state = State::<W> {
            lock: ReentrantLock::with_identity(Cell::new(0)),
            occupancy: CachePadded::new(AtomicUsize::new(0)),
            saturating: self.saturating,
            not_locking: self.not_locking,
            cell: AtomicUsize::new(0),
            tally: Tally::default(),
        };
        let state = Arc::new(state);
        // Relaxed: published to the workers by their spawning.
        state
            .cell
            .store(state.lock.lock().as_ptr() as usize, Ordering::Relaxed);
        let shared = Arc::clone(&state);
        let finished = ctx.run_workers(move |w| {
            while w.next_op() {
                w.outside_jitter();
                if shared.not_locking && w.rng.one_in(4) {
                    // The broken lock of the control: this acquisition does not lock.
                    nest(&shared, w, 1, 1, false);
                    continue;
                }
                let depth = 1 + w.rng.below(MAX_DEPTH);
                nest(&shared, w, 1, depth, true);
                let after = shared.lock_count();
                if after != 0 {
                    shared.tally.hit(checks::DEPTH, || {
                        format!("lock_count() is {after} after every guard was dropped")
                    });
                }
            }
        });
        let mut violations = state.tally.violations();
        if finished {
            let ops = ctx.ops();
            let counter = state.lock.lock().get();
            if counter != ops {
                violations.push(Violation {
                    check: checks::LOST_UPDATES,
                    count: ops.abs_diff(counter),
                    detail: format!("counter is {counter} after {ops} operations"),
                });
            }
        }
        Outcome::new(violations)
    }
}

/// Takes the lock once more (level `level` of `depth`), checks the count, recurses. With
/// `locking` false (the negative control, depth 1 only), does the same without the lock.
fn nest<W: Wait>(state: &State<W>, w: &mut Worker, level: u32, depth: u32, locking: bool) {
    let guard = locking.then(|| state.lock.lock());
    let count = state.lock_count();
    if locking && count != level as usize {
        state.tally.hit(checks::DEPTH, || {
            format!("lock_count() is {count} at nesting level {level}")
        });
    }
    if level == 1 {
        // Relaxed, as in the lock scenario: with a correct lock the previous holder's decrement
        // happens-before this increment, so coherence makes us read 0.
        let before = state.occupancy.fetch_add(1, Ordering::Relaxed);
        if before != 0 {
            state.tally.hit(checks::MUTUAL_EXCLUSION, || {
                format!("{} holders at once", before + 1)
            });
        }
    }
    if level == depth {
        let cell: *mut u64 = match &guard {
            Some(guard) => guard.as_ptr(),
            // Relaxed: written before the workers were spawned.
            None => state.cell.load(Ordering::Relaxed) as *mut u64,
        };
        // SAFETY: the cell lives in the lock, valid and aligned; the lock's mutual exclusion
        // makes this thread the only one touching it (that is what is being checked; the
        // negative control breaks it on purpose, and that race is what it detects).
        let value = unsafe { ptr::read_volatile(cell) };
        w.race_window();
        // SAFETY: as above.
        unsafe { ptr::write_volatile(cell, value.wrapping_add(1)) };
    } else {
        nest(state, w, level + 1, depth, locking);
        let count = state.lock_count();
        if count != level as usize {
            state.tally.hit(checks::DEPTH, || {
                format!("lock_count() is {count} back at level {level}")
            });
        }
    }
    if level == 1 {
        state.occupancy.fetch_sub(1, Ordering::Relaxed);
    }
    drop(guard);
}
