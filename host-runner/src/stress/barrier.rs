//! Generations apart, one leader each, and abort/reset cycles, for `Barrier<W>`.
//!
//! All workers are parties of one barrier (`parties = threads`) and count generations
//! locally. Per generation `g`, in a ring of four slots (slot `g % 4`), each party increments
//! `arrived` before `wait`; on leaving it checks that `arrived` of `g` is `threads` (nobody
//! leaves `g` before every party has arrived in it) and that `left` of `g - 1` is `threads`
//! (every party left `g - 1` before anyone arrived in `g`, since each increments `left` before
//! arriving again); the leader increments `leaders`, then every party increments `left`. The
//! leader of `g` checks that `g - 1` had exactly one leader (zero for an aborted generation)
//! and clears slot `g + 2`: nobody can reach `g + 2` before the leader of `g` has arrived in
//! `g + 1`, and everyone still reading the slot's previous use (`g - 2`) has arrived in `g`.
//!
//! Every 64th generation is aborted: worker 0 arrives (counts itself), calls `abort()`
//! instead of `wait`, waits until every other party has seen `Err(Broken)` (no party may get
//! `Ok` from it), clears slot `g + 2`, calls `reset()` and publishes that it did; the others
//! go on only after that.
//!
//! Waits have no time-based re-check: `wait()`, or every other generation `wait_until` with
//! the scenario's [`Until`](super::Until) deadline. The run ends by the release action: the
//! harness calls `abort()` after setting its stop flag (or once a partner has left), and a
//! party that gets `Err(Broken)` then leaves.
//!
//! The negative controls: worker 1 skips the wait now and then (a barrier that lets a thread
//! through early); worker 1 now and then claims to lead a generation it does not (two
//! leaders); worker 0's `reset()` does nothing (an aborted barrier stays broken).

use super::{
    checks, Backend, Expect, Outcome, RunCtx, Scenario, ScenarioInfo, SetOnDrop, Tally, Worker,
};
use baresync::{Barrier, BarrierError, Futex, Spin, Wait, Yield};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// One generation in this many is aborted and reset.
const ABORT_EVERY: u64 = 64;

/// A stress scenario for `Barrier<W>`.
pub struct BarrierScenario<W> {
    info: ScenarioInfo,
    broken: bool,
    lying_leader: bool,
    broken_reset: bool,
    _w: PhantomData<fn() -> W>,
}

impl<W: Wait + Send + Sync + 'static> BarrierScenario<W> {
    /// A scenario for a real barrier.
    pub fn new(name: impl Into<String>, backend: Option<Backend>) -> Self {
        BarrierScenario {
            info: ScenarioInfo::new(name, "Barrier", backend),
            broken: false,
            lying_leader: false,
            broken_reset: false,
            _w: PhantomData,
        }
    }

    /// A negative control run with the real scenario (for a broken backend), expected to trip
    /// `checks`.
    pub fn expecting_failure(mut self, checks: &'static [&'static str]) -> Self {
        self.info.primitive = "control";
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The negative control: worker 1 sometimes passes without waiting.
    pub fn letting_through(mut self, checks: &'static [&'static str]) -> Self {
        self.broken = true;
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The negative control: worker 1 sometimes claims to be the leader when it is not.
    pub fn lying_about_the_leader(mut self, checks: &'static [&'static str]) -> Self {
        self.lying_leader = true;
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The negative control: `reset()` does nothing.
    pub fn not_resetting(mut self, checks: &'static [&'static str]) -> Self {
        self.broken_reset = true;
        self.info.expect = Expect::Fail(checks);
        self
    }
}

/// One scenario per backend.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(BarrierScenario::<Spin>::new(
            "Barrier<Spin>",
            Some(Backend::Spin),
        )),
        Box::new(BarrierScenario::<Yield>::new(
            "Barrier<Yield>",
            Some(Backend::Yield),
        )),
        Box::new(BarrierScenario::<Futex>::new(
            "Barrier<Futex>",
            Some(Backend::Futex),
        )),
    ]
}

#[derive(Default)]
struct Slot {
    arrived: AtomicUsize,
    left: AtomicUsize,
    leaders: AtomicUsize,
}

impl Slot {
    fn clear(&self) {
        self.arrived.store(0, SeqCst);
        self.left.store(0, SeqCst);
        self.leaders.store(0, SeqCst);
    }
}

struct State<W> {
    barrier: Barrier<W>,
    parties: usize,
    broken: bool,
    lying_leader: bool,
    broken_reset: bool,
    slots: [Slot; 4],
    /// Parties that got `Err(Broken)` in the current aborted generation.
    saw_broken: AtomicUsize,
    /// The last aborted generation that has been reset.
    reset_gen: AtomicU64,
    done: AtomicBool,
    tally: Tally,
}

impl<W: Wait + Send + Sync + 'static> Scenario for BarrierScenario<W> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let parties = ctx.threads();
        let state = Arc::new(State::<W> {
            barrier: Barrier::with_wait(parties),
            parties,
            broken: self.broken,
            lying_leader: self.lying_leader,
            broken_reset: self.broken_reset,
            slots: Default::default(),
            saw_broken: AtomicUsize::new(0),
            reset_gen: AtomicU64::new(0),
            done: AtomicBool::new(false),
            tally: Tally::default(),
        });
        let releaser = Arc::clone(&state);
        ctx.on_stop(move || {
            // ORDERING: SeqCst fence before the (Relaxed) abort, paired with the fence a party
            // makes after it sees `Broken`: the stop (or `done`) flag set before this is
            // visible to every party the abort breaks.
            std::sync::atomic::fence(SeqCst);
            releaser.barrier.abort();
        });
        let shared = Arc::clone(&state);
        ctx.run_workers(move |w| {
            let _leaving = SetOnDrop(&shared.done);
            worker(&shared, w);
        });
        Outcome::new(state.tally.violations())
    }
}

fn is_abort(g: u64) -> bool {
    g % ABORT_EVERY == ABORT_EVERY - 1
}

// Every atomic is SeqCst: the checks reason about the order of counter updates and barrier
// calls, and the barrier's own synchronization is what is under test.

fn worker<W: Wait>(s: &State<W>, w: &mut Worker) {
    let n = s.parties;
    let mut g: u64 = 0;
    while w.next_op() {
        w.outside_jitter();
        let slot = &s.slots[(g % 4) as usize];
        slot.arrived.fetch_add(1, SeqCst);
        if is_abort(g) {
            if !abort_round(s, w, g) {
                return;
            }
            g += 1;
            continue;
        }
        let result = if s.broken && w.index == 1 && w.rng.one_in(8) {
            Ok(false)
        } else {
            let r = if g.is_multiple_of(2) {
                s.barrier.wait()
            } else {
                s.barrier.wait_until(w.until(&s.done))
            };
            match r {
                Ok(r) => Ok(r.is_leader() || (s.lying_leader && w.index == 1 && w.rng.one_in(8))),
                Err(e) => Err(e),
            }
        };
        let leader = match result {
            Ok(leader) => leader,
            Err(e) => {
                // ORDERING: pairs with the fence of the release action (see `run`).
                std::sync::atomic::fence(SeqCst);
                if !(s.done.load(SeqCst) || w.stopping()) {
                    s.tally.hit(checks::ABORT_RESET, || {
                        format!("generation {g}: wait failed with {e:?} outside an abort")
                    });
                }
                return;
            }
        };
        let arrived = slot.arrived.load(SeqCst);
        if arrived != n {
            s.tally.hit(checks::GENERATIONS, || {
                format!("left generation {g} when {arrived} of {n} parties had arrived")
            });
        }
        if g > 0 {
            let prev = &s.slots[((g - 1) % 4) as usize];
            let left = prev.left.load(SeqCst);
            if left != n {
                s.tally.hit(checks::GENERATIONS, || {
                    format!(
                        "left generation {g} when {left} of {n} had left generation {}",
                        g - 1
                    )
                });
            }
            if leader {
                let want = usize::from(!is_abort(g - 1));
                let leaders = prev.leaders.load(SeqCst);
                if leaders != want {
                    s.tally.hit(checks::ONE_LEADER, || {
                        format!("generation {} had {leaders} leaders", g - 1)
                    });
                }
            }
        }
        if leader {
            slot.leaders.fetch_add(1, SeqCst);
            s.slots[((g + 2) % 4) as usize].clear();
        }
        slot.left.fetch_add(1, SeqCst);
        g += 1;
    }
}

/// After `reset()`, the barrier must no longer be broken.
fn check_reset<W: Wait>(s: &State<W>, g: u64) {
    if s.barrier.is_broken() {
        s.tally.hit(checks::ABORT_RESET, || {
            format!("generation {g}: still broken after reset()")
        });
    }
}

/// Generation `g` is aborted: worker 0 aborts and resets, the others must see `Broken`.
/// Returns false when the run is ending.
fn abort_round<W: Wait>(s: &State<W>, w: &mut Worker, g: u64) -> bool {
    let n = s.parties;
    let slot = &s.slots[(g % 4) as usize];
    let give_up = |w: &Worker| s.done.load(SeqCst) || w.stopping();
    if w.index == 0 {
        s.barrier.abort();
        if s.broken_reset {
            // The control's `reset` does nothing, so the state the check looks at is already
            // here: look now, not only after the others have reported `Broken` (on a loaded
            // machine they may not before the run ends, and the control would go unseen).
            check_reset(s, g);
        }
        slot.left.fetch_add(1, SeqCst);
        while s.saw_broken.load(SeqCst) < n - 1 {
            if give_up(w) {
                return false;
            }
            std::thread::yield_now();
        }
        s.saw_broken.store(0, SeqCst);
        s.slots[((g + 2) % 4) as usize].clear();
        if !s.broken_reset {
            s.barrier.reset();
        }
        check_reset(s, g);
        s.reset_gen.store(g + 1, SeqCst);
        return true;
    }
    let r = if w.rng.one_in(2) {
        s.barrier.wait()
    } else {
        s.barrier.wait_until(w.until(&s.done))
    };
    // ORDERING: pairs with the fence of the release action (see `run`).
    std::sync::atomic::fence(SeqCst);
    match r {
        Err(BarrierError::Broken) if give_up(w) => return false,
        Err(BarrierError::Broken) => {}
        Err(_) => return false,
        Ok(_) => {
            s.tally.hit(checks::ABORT_RESET, || {
                format!("generation {g} completed although worker 0 aborted it")
            });
            return false;
        }
    }
    slot.left.fetch_add(1, SeqCst);
    s.saw_broken.fetch_add(1, SeqCst);
    while s.reset_gen.load(SeqCst) < g + 1 {
        if give_up(w) {
            return false;
        }
        std::thread::yield_now();
    }
    true
}
