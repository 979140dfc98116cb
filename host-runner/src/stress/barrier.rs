//! Generations apart, one leader each, and abort/reset cycles, for `Barrier<W>`; the same
//! checks without the abort/reset cycles for `SpinBarrier` (which has neither).
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
//! `SpinBarrier` cannot be aborted, so nothing can release a waiter: the run ends by agreement
//! instead. Worker 0 alone decides; when it is to stop before generation `g`, it publishes
//! "stop at `g + 1`" before it arrives in `g`, and every party reads that at the top of each
//! generation: the barrier orders the write before the reads of `g + 1` (and a party that
//! reads it in `g` still takes part in `g`). Its only `wait_until` is `wait`.
//!
//! The negative controls: worker 1 skips the wait now and then (a barrier that lets a thread
//! through early; with a barrier that cannot be aborted it waits afterwards, late, so that the
//! generations stay in step and the run can end); worker 1 now and then claims to lead a
//! generation it does not (two leaders); worker 0's `reset()` does nothing (an aborted barrier
//! stays broken).

use super::{
    checks, Backend, Expect, Outcome, RunCtx, Scenario, ScenarioInfo, SetOnDrop, Tally, Worker,
};
use baresync::{
    Barrier, BarrierError, BarrierWaitResult, Deadline, Futex, Spin, SpinBarrier, Wait, Yield,
};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// What the scenario needs of a barrier: `Barrier<W>` has it all; `SpinBarrier` has only
/// `wait`, so its scenario skips the abort/reset rounds and ends by agreement.
pub trait StressBarrier: Send + Sync + 'static {
    /// Whether `abort`, `reset` and `wait_until` exist (and a waiter can be released).
    const ABORTABLE: bool;
    /// A barrier for `parties` threads.
    fn create(parties: usize) -> Self;
    /// `wait`.
    fn wait(&self) -> Result<BarrierWaitResult, BarrierError>;
    /// `wait_until`, or `wait` where there is none.
    fn wait_until(&self, deadline: impl Deadline) -> Result<BarrierWaitResult, BarrierError>;
    /// `abort` (never called unless `ABORTABLE`).
    fn abort(&self);
    /// `reset` (never called unless `ABORTABLE`).
    fn reset(&self);
    /// `is_broken`.
    fn is_broken(&self) -> bool;
}

impl<W: Wait + Send + Sync + 'static> StressBarrier for Barrier<W> {
    const ABORTABLE: bool = true;
    fn create(parties: usize) -> Self {
        Barrier::with_wait(parties)
    }
    fn wait(&self) -> Result<BarrierWaitResult, BarrierError> {
        Barrier::wait(self)
    }
    fn wait_until(&self, deadline: impl Deadline) -> Result<BarrierWaitResult, BarrierError> {
        Barrier::wait_until(self, deadline)
    }
    fn abort(&self) {
        Barrier::abort(self)
    }
    fn reset(&self) {
        Barrier::reset(self)
    }
    fn is_broken(&self) -> bool {
        Barrier::is_broken(self)
    }
}

impl StressBarrier for SpinBarrier {
    const ABORTABLE: bool = false;
    fn create(parties: usize) -> Self {
        SpinBarrier::new(parties)
    }
    fn wait(&self) -> Result<BarrierWaitResult, BarrierError> {
        Ok(SpinBarrier::wait(self))
    }
    fn wait_until(&self, _: impl Deadline) -> Result<BarrierWaitResult, BarrierError> {
        Ok(SpinBarrier::wait(self))
    }
    fn abort(&self) {}
    fn reset(&self) {}
    fn is_broken(&self) -> bool {
        false
    }
}

/// One generation in this many is aborted and reset.
const ABORT_EVERY: u64 = 64;

/// A stress scenario for a barrier `B` (`Barrier<W>` or `SpinBarrier`).
pub struct BarrierScenario<B> {
    info: ScenarioInfo,
    broken: bool,
    lying_leader: bool,
    broken_reset: bool,
    _b: PhantomData<fn() -> B>,
}

impl<B: StressBarrier> BarrierScenario<B> {
    /// A scenario for a real barrier.
    pub fn new(name: impl Into<String>, backend: Option<Backend>) -> Self {
        BarrierScenario {
            info: ScenarioInfo::new(name, "Barrier", backend),
            broken: false,
            lying_leader: false,
            broken_reset: false,
            _b: PhantomData,
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
        Box::new(BarrierScenario::<Barrier<Spin>>::new(
            "Barrier<Spin>",
            Some(Backend::Spin),
        )),
        Box::new(BarrierScenario::<Barrier<Yield>>::new(
            "Barrier<Yield>",
            Some(Backend::Yield),
        )),
        Box::new(BarrierScenario::<Barrier<Futex>>::new(
            "Barrier<Futex>",
            Some(Backend::Futex),
        )),
        Box::new(BarrierScenario::<SpinBarrier>::new("SpinBarrier", None)),
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

struct State<B> {
    barrier: B,
    parties: usize,
    broken: bool,
    lying_leader: bool,
    broken_reset: bool,
    slots: [Slot; 4],
    /// Parties that got `Err(Broken)` in the current aborted generation.
    saw_broken: AtomicUsize,
    /// The last aborted generation that has been reset.
    reset_gen: AtomicU64,
    /// For a barrier that cannot be aborted: the generation at which every party stops
    /// (`u64::MAX` until worker 0 decides).
    stop_at: AtomicU64,
    done: AtomicBool,
    tally: Tally,
}

impl<B: StressBarrier> Scenario for BarrierScenario<B> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let parties = ctx.threads();
        let state = Arc::new(State::<B> {
            barrier: B::create(parties),
            parties,
            broken: self.broken,
            lying_leader: self.lying_leader,
            broken_reset: self.broken_reset,
            slots: Default::default(),
            saw_broken: AtomicUsize::new(0),
            reset_gen: AtomicU64::new(0),
            stop_at: AtomicU64::new(u64::MAX),
            done: AtomicBool::new(false),
            tally: Tally::default(),
        });
        let releaser = Arc::clone(&state);
        // (A barrier that cannot be aborted has no release action: its run ends by agreement.)
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

/// Whether to go on with generation `g`. A barrier that can be aborted: while `next_op` says
/// so (the release action frees the others). One that cannot: until the generation worker 0
/// chose when its `next_op` said stop, published before it arrives in `g` (see the module
/// doc).
fn go_on<B: StressBarrier>(s: &State<B>, w: &mut Worker, g: u64) -> bool {
    let more = w.next_op();
    if B::ABORTABLE {
        return more;
    }
    if g >= s.stop_at.load(SeqCst) {
        return false;
    }
    if w.index == 0 && !more {
        s.stop_at.store(g + 1, SeqCst);
    }
    true
}

fn worker<B: StressBarrier>(s: &State<B>, w: &mut Worker) {
    let n = s.parties;
    let mut g: u64 = 0;
    while go_on(s, w, g) {
        w.outside_jitter();
        let slot = &s.slots[(g % 4) as usize];
        slot.arrived.fetch_add(1, SeqCst);
        if B::ABORTABLE && is_abort(g) {
            if !abort_round(s, w, g) {
                return;
            }
            g += 1;
            continue;
        }
        let skipped = s.broken && w.index == 1 && w.rng.one_in(8);
        let result = if skipped {
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
                let want = usize::from(!(B::ABORTABLE && is_abort(g - 1)));
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
        if skipped && !B::ABORTABLE {
            // The control, late: keeps the generations in step so that the run can end.
            let _ = s.barrier.wait();
        }
        g += 1;
    }
}

/// After `reset()`, the barrier must no longer be broken.
fn check_reset<B: StressBarrier>(s: &State<B>, g: u64) {
    if s.barrier.is_broken() {
        s.tally.hit(checks::ABORT_RESET, || {
            format!("generation {g}: still broken after reset()")
        });
    }
}

/// Generation `g` is aborted: worker 0 aborts and resets, the others must see `Broken`.
/// Returns false when the run is ending.
fn abort_round<B: StressBarrier>(s: &State<B>, w: &mut Worker, g: u64) -> bool {
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
