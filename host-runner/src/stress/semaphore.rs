//! Holders never above the permits, for `Semaphore<W>` and `BoundedSemaphore<W>`.
//!
//! The semaphore starts with `p = max(1, threads / 2)` permits. A worker acquires one (with a
//! deadline, so partners that have left cannot strand it), increments a holders counter,
//! checks it is at most `p`, waits a random moment, decrements the counter and drops the
//! permit. Why a correct semaphore never trips it: every acquire synchronizes with the
//! release whose permit it took, and the releaser decremented the counter before releasing,
//! so that decrement precedes our increment in the counter's modification order; at any point
//! of that order at most `p` increments are unmatched. At the end, with every permit dropped,
//! `available()` must be `p` again.
//!
//! The bounded semaphore adds the over-release check: now and then a worker takes all `p`
//! permits at once (so nobody else can release anything), checks `available()` is 0, calls
//! `release(p + 1)`, which must be refused with `BoundExceeded`, and checks `available()` is
//! still 0.
//!
//! The over-release check's negative control is a plain `Semaphore` run as if it were bounded
//! ([`AcceptingOverRelease`]): it accepts the release beyond the bound.
//!
//! The negative control releases two permits for one now and then (a semaphore that grants
//! too many): holders exceed `p` and the count at the end is too high.
//!
//! Acquires wait with the scenario's [`Until`](super::Until) deadline, which sleeping
//! backends re-check only when woken, so a lost wake-up leaves a worker asleep for the
//! progress watchdog to report (the `Semaphore<NoopWake>` control); holders release their
//! permits after the stop, so no release action is needed.

use super::{
    checks, Backend, Expect, Outcome, RunCtx, Scenario, ScenarioInfo, SetOnDrop, Tally, Violation,
    Worker,
};
use baresync::semaphore::Counter;
use baresync::{BoundedSemaphore, CachePadded, Futex, Permit, Semaphore, Spin, Wait, Yield};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The two semaphores behind one interface.
pub trait Sem: Send + Sync + 'static {
    /// The wait backend.
    type W: Wait;
    /// A semaphore with `p` permits.
    fn with_permits(p: u32) -> Self;
    /// `acquire_many_until`.
    fn acquire_many_until<'a>(
        &'a self,
        n: u32,
        deadline: impl baresync::Deadline,
    ) -> Option<Permit<'a, Self::W>>;
    /// Releases `n` permits that nobody held; false when refused.
    fn release_extra(&self, n: u32) -> bool;
    /// `available()`.
    fn available(&self) -> u32;
    /// Whether `release` is checked against a bound.
    const BOUNDED: bool;
}

impl<W: Wait + Send + Sync + 'static> Sem for Semaphore<W> {
    type W = W;
    fn with_permits(p: u32) -> Self {
        Semaphore::with_wait(p)
    }
    fn acquire_many_until<'a>(
        &'a self,
        n: u32,
        deadline: impl baresync::Deadline,
    ) -> Option<Permit<'a, W>> {
        Counter::acquire_many_until(self, n, deadline)
    }
    fn release_extra(&self, n: u32) -> bool {
        self.release(n);
        true
    }
    fn available(&self) -> u32 {
        Counter::available(self)
    }
    const BOUNDED: bool = false;
}

impl<W: Wait + Send + Sync + 'static> Sem for BoundedSemaphore<W> {
    type W = W;
    fn with_permits(p: u32) -> Self {
        BoundedSemaphore::with_wait(p)
    }
    fn acquire_many_until<'a>(
        &'a self,
        n: u32,
        deadline: impl baresync::Deadline,
    ) -> Option<Permit<'a, W>> {
        Counter::acquire_many_until(self, n, deadline)
    }
    fn release_extra(&self, n: u32) -> bool {
        self.release(n).is_ok()
    }
    fn available(&self) -> u32 {
        Counter::available(self)
    }
    const BOUNDED: bool = true;
}

/// A "bounded" semaphore that accepts releases beyond its bound: a plain `Semaphore` claiming
/// to be bounded, the negative control of the over-release check.
pub struct AcceptingOverRelease<W>(Semaphore<W>);

impl<W: Wait + Send + Sync + 'static> Sem for AcceptingOverRelease<W> {
    type W = W;
    fn with_permits(p: u32) -> Self {
        AcceptingOverRelease(Semaphore::with_wait(p))
    }
    fn acquire_many_until<'a>(
        &'a self,
        n: u32,
        deadline: impl baresync::Deadline,
    ) -> Option<Permit<'a, W>> {
        self.0.acquire_many_until(n, deadline)
    }
    fn release_extra(&self, n: u32) -> bool {
        self.0.release(n);
        true
    }
    fn available(&self) -> u32 {
        self.0.available()
    }
    const BOUNDED: bool = true;
}

/// A stress scenario for the semaphore `S`.
pub struct SemaphoreScenario<S> {
    info: ScenarioInfo,
    /// Negative control: now and then release one permit more than was taken.
    leak_extra: bool,
    _s: PhantomData<fn() -> S>,
}

impl<S: Sem> SemaphoreScenario<S> {
    /// A scenario for a real semaphore.
    pub fn new(name: impl Into<String>, primitive: &'static str, backend: Option<Backend>) -> Self {
        SemaphoreScenario {
            info: ScenarioInfo::new(name, primitive, backend),
            leak_extra: false,
            _s: PhantomData,
        }
    }

    /// A negative control run with the real scenario (for a broken `S`), expected to trip
    /// `checks`.
    pub fn expecting_failure(mut self, checks: &'static [&'static str]) -> Self {
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The negative control: a semaphore that sometimes releases two permits for one.
    pub fn granting_too_many(mut self, checks: &'static [&'static str]) -> Self {
        self.leak_extra = true;
        self.info.expect = Expect::Fail(checks);
        self
    }
}

/// Both semaphores with each backend.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(SemaphoreScenario::<Semaphore<Spin>>::new(
            "Semaphore<Spin>",
            "Semaphore",
            Some(Backend::Spin),
        )),
        Box::new(SemaphoreScenario::<Semaphore<Yield>>::new(
            "Semaphore<Yield>",
            "Semaphore",
            Some(Backend::Yield),
        )),
        Box::new(SemaphoreScenario::<Semaphore<Futex>>::new(
            "Semaphore<Futex>",
            "Semaphore",
            Some(Backend::Futex),
        )),
        Box::new(SemaphoreScenario::<BoundedSemaphore<Spin>>::new(
            "BoundedSemaphore<Spin>",
            "BoundedSemaphore",
            Some(Backend::Spin),
        )),
        Box::new(SemaphoreScenario::<BoundedSemaphore<Yield>>::new(
            "BoundedSemaphore<Yield>",
            "BoundedSemaphore",
            Some(Backend::Yield),
        )),
        Box::new(SemaphoreScenario::<BoundedSemaphore<Futex>>::new(
            "BoundedSemaphore<Futex>",
            "BoundedSemaphore",
            Some(Backend::Futex),
        )),
    ]
}

struct State<S> {
    sem: S,
    permits: u32,
    leak_extra: bool,
    holders: CachePadded<AtomicU64>,
    done: AtomicBool,
    tally: Tally,
}

impl<S: Sem> Scenario for SemaphoreScenario<S> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let permits = (ctx.threads() / 2).max(1) as u32;
        let state = Arc::new(State {
            sem: S::with_permits(permits),
            permits,
            leak_extra: self.leak_extra,
            holders: CachePadded::new(AtomicU64::new(0)),
            done: AtomicBool::new(false),
            tally: Tally::default(),
        });
        let shared = Arc::clone(&state);
        let finished = ctx.run_workers(move |w| worker(&shared, w));
        let mut violations = state.tally.violations();
        if finished {
            let available = state.sem.available();
            if available != permits {
                violations.push(Violation {
                    check: checks::PERMITS_BACK,
                    count: 1,
                    detail: format!("available() is {available} at the end, not {permits}"),
                });
            }
        }
        Outcome::new(violations)
    }
}

fn worker<S: Sem>(state: &State<S>, w: &mut Worker) {
    let _leaving = SetOnDrop(&state.done);
    let p = state.permits;
    while w.next_op() {
        w.outside_jitter();
        let all = S::BOUNDED && w.rng.one_in(64);
        let n = if all { p } else { 1 };
        let Some(permit) = state.sem.acquire_many_until(n, w.until(&state.done)) else {
            break;
        };
        // ORDERING: AcqRel keeps the argument of the module doc simple; the modification order
        // of this one counter is what the check reads.
        let holders = state.holders.fetch_add(u64::from(n), Ordering::AcqRel) + u64::from(n);
        if holders > u64::from(p) {
            state.tally.hit(checks::HOLDERS, || {
                format!("{holders} permits held at once; the semaphore has {p}")
            });
        }
        if all {
            over_release(state);
        }
        w.race_window();
        state.holders.fetch_sub(u64::from(n), Ordering::AcqRel);
        drop(permit);
        if state.leak_extra && w.rng.one_in(16) {
            // The broken semaphore of the negative control: one release too many.
            let _ = state.sem.release_extra(1);
        }
    }
}

/// Holding every permit: a release beyond the bound must be refused and change nothing.
fn over_release<S: Sem>(state: &State<S>) {
    let p = state.permits;
    let before = state.sem.available();
    let refused = !state.sem.release_extra(p + 1);
    let after = state.sem.available();
    if before != 0 || after != 0 || !refused {
        state.tally.hit(checks::OVER_RELEASE, || {
            format!(
                "holding all {p} permits: available() {before} before release({}), {after} \
                 after; refused: {refused}",
                p + 1
            )
        });
    }
}
