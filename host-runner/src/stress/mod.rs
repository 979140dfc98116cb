//! The stress harness: pinned workers hammering one primitive while checks count every
//! broken invariant.
//!
//! A primitive's test is a [`Scenario`]: it builds its shared state, hands the harness a
//! per-worker body ([`RunCtx::run_workers`]), then checks what is left. The harness owns
//! everything common: spawning and pinning workers, starting them together, stopping them on
//! time or after their share of `--ops`, the progress bar, a watchdog for hangs, and the
//! verdict. Adding a primitive (semaphore, queue, barrier, ...) is one new file with a
//! `Scenario` impl and one line in [`scenarios`].
//!
//! Every check is shown to fail on a negative control ([`control`]), a scenario that is
//! expected to fail: a run whose control passes is invalid.

pub mod barrier;
pub mod condvar;
pub mod control;
pub mod event;
pub mod lock;
pub mod queue;
pub mod reentrant;
pub mod semaphore;

use crate::pin::{pin_current, PinFailure, Plan};
use crate::rng::XorShift;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a scenario may run when only `--ops` bounds it.
pub const OPS_TIME_LIMIT: Duration = Duration::from_secs(60);
/// How long past its time bound a scenario may take before its workers count as hung.
pub const HANG_GRACE: Duration = Duration::from_secs(10);

/// Names of the checks, shared by scenarios and controls so a control can name the checks it
/// must trip.
pub mod checks {
    /// Two workers inside a critical section at once (occupancy counter above 1).
    pub const MUTUAL_EXCLUSION: &str = "mutual exclusion";
    /// The non-atomic counter inside the lock differs from the number of acquisitions.
    pub const LOST_UPDATES: &str = "lost updates";
    /// A FIFO lock served a worker before one that was already queued ahead of it.
    pub const FIFO: &str = "fifo order";
    /// Workers did not finish within the time bound plus a grace period.
    pub const HANG: &str = "hang";
    /// A reentrant lock's `lock_count()` differed from the nesting depth.
    pub const DEPTH: &str = "reentrancy depth";
    /// More semaphore permits held at once than the semaphore has.
    pub const HOLDERS: &str = "holders above permits";
    /// The semaphore's `available()` is not its initial count once every permit is back.
    pub const PERMITS_BACK: &str = "permits back";
    /// A bounded semaphore accepted a release beyond its bound, or changed on a refused one.
    pub const OVER_RELEASE: &str = "over-release refused";
    /// An event waiter returned from `wait` before the `set` of its round.
    pub const EARLY_RELEASE: &str = "released before set";
    /// An event waiter of a round was not released by its `set`.
    pub const NOT_RELEASED: &str = "every waiter released";
    /// An item (or buffered id) was lost or delivered twice.
    pub const EXACTLY_ONCE: &str = "exactly once";
    /// Items of one producer were received out of order.
    pub const PRODUCER_FIFO: &str = "per-producer fifo";
    /// The checksum of the received ids differs from that of the sent ones.
    pub const CHECKSUM: &str = "checksum";
    /// A condition variable waiter gave up after a stall limit with nothing at all having
    /// happened to the shared state meanwhile: every party asleep, a wake-up was lost.
    pub const LOST_WAKEUP: &str = "no lost wake-up";
    /// `notify(n)` released more (or fewer) waiters than `min(n, waiting)`.
    pub const NOTIFY_COUNT: &str = "notify(n) count";
    /// A barrier party left generation g before every party had arrived in g (or before all
    /// had left g-1).
    pub const GENERATIONS: &str = "generations apart";
    /// A barrier generation had no leader or more than one.
    pub const ONE_LEADER: &str = "one leader";
    /// An aborted barrier generation completed, or reset did not restore it.
    pub const ABORT_RESET: &str = "abort/reset";
    /// `join` returned while a task put before it was not yet done.
    pub const JOIN: &str = "join after task_done";
}

/// Violations tallied by check while workers run: a count and the first detail of each.
#[derive(Default)]
pub struct Tally {
    seen: std::sync::Mutex<Vec<Violation>>,
}

impl Tally {
    /// Records one violation of `check`; `detail` is called only for the first one.
    pub fn hit(&self, check: &'static str, detail: impl FnOnce() -> String) {
        self.hit_n(check, 1, detail);
    }

    /// Records `count` violations of `check`.
    pub fn hit_n(&self, check: &'static str, count: u64, detail: impl FnOnce() -> String) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.iter_mut().find(|v| v.check == check) {
            Some(v) => v.count += count,
            None => seen.push(Violation {
                check,
                count,
                detail: detail(),
            }),
        }
    }

    /// The violations recorded so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A deadline for blocking calls inside a scenario: expires when the scenario's own `done`
/// flag is set (some worker finished, so partners may never come) or the harness asks workers
/// to stop. Sleeping backends re-check it at least every millisecond.
pub struct Until<'a> {
    done: &'a AtomicBool,
    signals: &'a Signals,
}

impl baresync::Deadline for Until<'_> {
    fn expired(&mut self) -> bool {
        // Relaxed: both flags are requests to give up; they publish no data.
        self.done.load(Ordering::Relaxed) || self.signals.stop.load(Ordering::Relaxed)
    }

    fn remaining(&self) -> Option<Duration> {
        Some(Duration::from_millis(1))
    }
}

/// Sets a flag when dropped: a worker that leaves its loop (or panics) tells its partners.
pub struct SetOnDrop<'a>(pub &'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        // Release: partners that see the flag also see what this worker did before leaving.
        self.0.store(true, Ordering::Release);
    }
}

/// A wait backend, for `--backend` and for labelling scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// `baresync::Spin` (and the spin-only `SpinLock`).
    Spin,
    /// `baresync::Yield`.
    Yield,
    /// `baresync::Futex`.
    Futex,
}

/// What a scenario is expected to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// A real primitive: every check must hold.
    Pass,
    /// A negative control: each named check must fail, or the run proves nothing.
    Fail(&'static [&'static str]),
}

/// What identifies a scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioInfo {
    /// Display name, e.g. `TicketLock<Futex>`.
    pub name: String,
    /// The primitive family `--primitive` selects, e.g. `TicketLock`.
    pub primitive: &'static str,
    /// The wait backend, if the primitive has one.
    pub backend: Option<Backend>,
    /// Pass for a primitive, Fail for a negative control.
    pub expect: Expect,
}

impl ScenarioInfo {
    /// The info of a scenario expected to pass (a real primitive); a negative control then
    /// sets `expect` (and possibly `primitive`).
    pub fn new(name: impl Into<String>, primitive: &'static str, backend: Option<Backend>) -> Self {
        ScenarioInfo {
            name: name.into(),
            primitive,
            backend,
            expect: Expect::Pass,
        }
    }
}

/// One kind of broken invariant, with how often it was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which check (one of [`checks`]).
    pub check: &'static str,
    /// How many times it fired.
    pub count: u64,
    /// What exactly was seen.
    pub detail: String,
}

/// What a scenario reports back to the harness.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Broken invariants; empty when all held.
    pub violations: Vec<Violation>,
}

/// A stress test of one primitive.
pub trait Scenario: Send + Sync {
    /// Name, family, backend, expectation.
    fn info(&self) -> ScenarioInfo;
    /// Runs the workers through `ctx.run_workers` and checks the invariants.
    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome;
}

/// Every scenario for a real primitive, in table order.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    let mut all = lock::scenarios();
    all.extend(reentrant::scenarios());
    all.extend(semaphore::scenarios());
    all.extend(event::scenarios());
    all.extend(condvar::scenarios());
    all.extend(barrier::scenarios());
    all.extend(queue::scenarios());
    all
}

/// The negative controls: scenarios that must be caught failing.
pub fn controls() -> Vec<Box<dyn Scenario>> {
    control::controls()
}

/// The primitive families known to `--primitive`, in table order.
pub fn primitive_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for s in scenarios() {
        let p = s.info().primitive;
        if !names.contains(&p) {
            names.push(p);
        }
    }
    names
}

/// Settings for a stress run.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// Workers and their CPUs.
    pub plan: Plan,
    /// Time bound per scenario.
    #[serde(rename = "duration_secs", serialize_with = "as_secs")]
    pub duration: Duration,
    /// Total operations per scenario, split between the workers (`None`: until `duration`).
    pub ops: Option<u64>,
    /// Seed of the jitter RNG.
    pub seed: u64,
    /// Random delays inside and outside critical sections.
    pub jitter: bool,
    /// How long past `duration` workers may take before they count as hung (normally
    /// [`HANG_GRACE`]).
    #[serde(skip)]
    pub hang_grace: Duration,
    /// Draw progress bars (they are hidden anyway when stderr is not a terminal).
    #[serde(skip)]
    pub progress: bool,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// A scenario's result, as printed and written to JSON.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    /// Which scenario.
    #[serde(flatten)]
    pub info: ScenarioInfo,
    /// Workers.
    pub threads: usize,
    /// Operations completed (lock acquisitions for a lock).
    pub ops: u64,
    /// Wall time from the start signal to the last worker finishing.
    pub seconds: f64,
    /// `ops / seconds`.
    pub ops_per_sec: f64,
    /// Broken invariants.
    pub violations: Vec<Violation>,
    /// Workers the OS refused to pin.
    pub pin_failures: Vec<PinFailure>,
    /// `--ops` was not reached because the time bound came first.
    pub hit_time_limit: bool,
    /// The verdict.
    pub verdict: Verdict,
}

/// The verdict on one scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// A primitive with every invariant intact.
    Pass,
    /// A primitive with a broken invariant.
    Fail,
    /// A negative control failing every check it must: the checks work.
    Caught,
    /// A negative control that got past a check: the run is invalid.
    Missed,
}

impl Verdict {
    /// Whether this verdict lets the run succeed.
    pub fn ok(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::Caught)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Caught => "FAIL (control caught)",
            Verdict::Missed => "PASSED (control missed: run invalid)",
        })
    }
}

/// The verdict for `violations` under `expect`.
pub fn verdict(expect: Expect, violations: &[Violation]) -> Verdict {
    match expect {
        Expect::Pass if violations.is_empty() => Verdict::Pass,
        Expect::Pass => Verdict::Fail,
        Expect::Fail(must) => {
            let tripped = |c: &&str| violations.iter().any(|v| v.check == *c && v.count > 0);
            if !must.is_empty() && must.iter().all(tripped) {
                Verdict::Caught
            } else {
                Verdict::Missed
            }
        }
    }
}

/// Runs one scenario under `cfg`, with a progress bar.
pub fn run_scenario(scenario: &dyn Scenario, cfg: &Config) -> ScenarioResult {
    let info = scenario.info();
    let bar = if cfg.progress {
        ProgressBar::new(match cfg.ops {
            Some(ops) => ops,
            None => cfg.duration.as_millis() as u64,
        })
    } else {
        ProgressBar::hidden()
    };
    let template = "{prefix:>22} [{bar:30}] {msg}";
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(info.name.clone());
    let mut ctx = RunCtx {
        cfg,
        bar: &bar,
        workers: None,
    };
    let mut outcome = scenario.run(&mut ctx);
    let workers = ctx.workers.take().unwrap_or_default();
    if workers.hung > 0 {
        outcome.violations.push(Violation {
            check: checks::HANG,
            count: workers.hung as u64,
            detail: format!(
                "{} of {} workers still running {:?} after the time bound",
                workers.hung,
                cfg.plan.threads(),
                cfg.hang_grace
            ),
        });
    }
    let seconds = workers.elapsed.as_secs_f64();
    let ops_per_sec = if seconds > 0.0 {
        workers.ops as f64 / seconds
    } else {
        0.0
    };
    let verdict = verdict(info.expect, &outcome.violations);
    bar.finish_with_message(format!(
        "{} ops, {:.0} ops/s, {verdict}",
        workers.ops, ops_per_sec
    ));
    ScenarioResult {
        info,
        threads: cfg.plan.threads(),
        ops: workers.ops,
        seconds,
        ops_per_sec,
        violations: outcome.violations,
        pin_failures: workers.pin_failures,
        hit_time_limit: workers.hit_time_limit,
        verdict,
    }
}

/// What the harness learned from running the workers.
#[derive(Clone, Debug, Default)]
pub struct WorkersOutcome {
    /// Operations completed, summed over the workers that finished.
    pub ops: u64,
    /// From the start signal to the last worker finishing.
    pub elapsed: Duration,
    /// Workers that could not be pinned.
    pub pin_failures: Vec<PinFailure>,
    /// Workers that had not finished when the watchdog gave up on them.
    pub hung: usize,
    /// `--ops` was not reached in time.
    pub hit_time_limit: bool,
}

/// The harness as a scenario sees it.
pub struct RunCtx<'a> {
    /// The run's settings.
    pub cfg: &'a Config,
    bar: &'a ProgressBar,
    workers: Option<WorkersOutcome>,
}

/// State shared by the harness and the workers.
struct Signals {
    /// Workers pinned and waiting for `go`.
    ready: AtomicUsize,
    go: AtomicBool,
    stop: AtomicBool,
    /// Operations done so far, flushed by workers in batches, for the progress bar.
    progress: AtomicU64,
}

/// One worker's view of the run: its identity, its jitter RNG, and when to stop.
pub struct Worker {
    /// Index in `0..threads`.
    pub index: usize,
    /// The CPU it was meant to be pinned to.
    pub cpu: usize,
    /// Whether pinning succeeded.
    pub pinned: bool,
    /// Number of workers in the run.
    pub threads: usize,
    /// This worker's jitter RNG (seeded from `--seed` and the index).
    pub rng: XorShift,
    jitter: bool,
    quota: u64,
    ops: u64,
    unflushed: u64,
    signals: Arc<Signals>,
}

/// Progress is published every this many operations, to keep the shared counter cold.
const FLUSH_EVERY: u64 = 256;

impl Worker {
    /// Whether to do another operation; counts it. Call once before each operation.
    #[inline]
    pub fn next_op(&mut self) -> bool {
        // Relaxed: `stop` is a request to finish soon, it publishes no data.
        if self.ops >= self.quota || self.signals.stop.load(Ordering::Relaxed) {
            return false;
        }
        self.ops += 1;
        self.unflushed += 1;
        if self.unflushed == FLUSH_EVERY {
            self.flush();
        }
        true
    }

    fn flush(&mut self) {
        // Relaxed: a counter for the progress bar only.
        self.signals
            .progress
            .fetch_add(self.unflushed, Ordering::Relaxed);
        self.unflushed = 0;
    }

    /// Whether the harness has asked workers to stop (the time bound passed).
    pub fn stopping(&self) -> bool {
        // Relaxed: a request to finish soon, it publishes no data.
        self.signals.stop.load(Ordering::Relaxed)
    }

    /// A deadline for blocking calls that expires when `done` is set or the harness stops.
    pub fn until<'a>(&'a self, done: &'a AtomicBool) -> Until<'a> {
        Until {
            done,
            signals: &self.signals,
        }
    }

    /// Operations counted so far.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// The delay inside a critical section that widens race windows; always on, longer and
    /// sometimes yielding with `--jitter`.
    #[inline]
    pub fn race_window(&mut self) {
        let spins = if self.jitter { 256 } else { 64 };
        for _ in 0..self.rng.below(spins) {
            std::hint::spin_loop();
        }
        if self.jitter && self.rng.one_in(1024) {
            thread::yield_now();
        }
    }

    /// With `--jitter`, a random delay outside the critical section (spins, sometimes a
    /// yield); nothing otherwise.
    #[inline]
    pub fn outside_jitter(&mut self) {
        if !self.jitter {
            return;
        }
        for _ in 0..self.rng.below(128) {
            std::hint::spin_loop();
        }
        if self.rng.one_in(64) {
            thread::yield_now();
        }
    }
}

impl RunCtx<'_> {
    /// Runs `body` on every worker, pinned, started together, and waits for them (or for the
    /// watchdog). Each body loops `while worker.next_op() { ... }`; roles can differ by
    /// `worker.index`. Call once per scenario.
    ///
    /// Returns whether every worker finished: when false (a hang), shared state may still be
    /// in use and final checks should be skipped.
    pub fn run_workers<F>(&mut self, body: F) -> bool
    where
        F: Fn(&mut Worker) + Send + Sync + 'static,
    {
        let cfg = self.cfg;
        let plan = &cfg.plan;
        let n = plan.threads();
        let body = Arc::new(body);
        let signals = Arc::new(Signals {
            ready: AtomicUsize::new(0),
            go: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            progress: AtomicU64::new(0),
        });
        let (time_bound, total_ops) = match cfg.ops {
            Some(ops) => (cfg.duration, ops),
            None => (cfg.duration, u64::MAX),
        };
        let mut handles = Vec::with_capacity(n);
        for (index, &cpu) in plan.workers.iter().enumerate() {
            let quota = if total_ops == u64::MAX {
                u64::MAX
            } else {
                total_ops / n as u64 + u64::from((index as u64) < total_ops % n as u64)
            };
            let body = Arc::clone(&body);
            let signals = Arc::clone(&signals);
            let seed = cfg.seed;
            let jitter = cfg.jitter;
            let handle = thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || {
                    let pinned = pin_current(cpu);
                    let mut w = Worker {
                        index,
                        cpu,
                        pinned,
                        threads: n,
                        rng: XorShift::new(seed, index as u64),
                        jitter,
                        quota,
                        ops: 0,
                        unflushed: 0,
                        signals: Arc::clone(&signals),
                    };
                    // Relaxed: only counts arrivals; nothing is published through it.
                    signals.ready.fetch_add(1, Ordering::Relaxed);
                    // ORDERING: Acquire pairs with the Release store of `go`, so the start
                    // time the harness took happens-before the work we measure.
                    while !signals.go.load(Ordering::Acquire) {
                        thread::yield_now();
                    }
                    body(&mut w);
                    w.flush();
                    (w.ops, Instant::now(), pinned)
                })
                .expect("spawning a worker thread");
            handles.push((index, cpu, Some(handle)));
        }
        // Relaxed: a count of workers waiting at the start line.
        while signals.ready.load(Ordering::Relaxed) < n {
            thread::yield_now();
        }
        let start = Instant::now();
        // ORDERING: Release pairs with the workers' Acquire loads of `go`.
        signals.go.store(true, Ordering::Release);

        let mut out = WorkersOutcome::default();
        let mut last_end = start;
        let mut stopped = false;
        loop {
            let now = Instant::now();
            let elapsed = now - start;
            if !stopped && elapsed >= time_bound {
                // Relaxed: a request to stop; workers publish results through `join`.
                signals.stop.store(true, Ordering::Relaxed);
                stopped = true;
            }
            for (index, cpu, slot) in handles.iter_mut() {
                if slot.as_ref().is_some_and(|h| h.is_finished()) {
                    let h = slot.take().expect("checked above");
                    match h.join() {
                        Ok((ops, end, pinned)) => {
                            out.ops += ops;
                            last_end = last_end.max(end);
                            if !pinned {
                                out.pin_failures.push(PinFailure {
                                    worker: *index,
                                    cpu: *cpu,
                                });
                            }
                        }
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
            }
            let running = handles.iter().filter(|(_, _, h)| h.is_some()).count();
            // Relaxed: progress display only.
            let done = signals.progress.load(Ordering::Relaxed);
            if cfg.ops.is_some() {
                self.bar.set_position(done.min(total_ops));
            } else {
                self.bar
                    .set_position((elapsed.as_millis() as u64).min(time_bound.as_millis() as u64));
            }
            self.bar.set_message(format!("{done} ops"));
            if running == 0 {
                break;
            }
            if elapsed >= time_bound + cfg.hang_grace {
                // The workers are left running; they hold `Arc`s to everything they use.
                out.hung = running;
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        out.pin_failures.sort_by_key(|p| p.worker);
        out.elapsed = last_end - start;
        out.hit_time_limit = cfg.ops.is_some_and(|o| out.ops < o);
        let finished = out.hung == 0;
        self.workers = Some(out);
        finished
    }

    /// Operations completed by the workers (after `run_workers`).
    pub fn ops(&self) -> u64 {
        self.workers.as_ref().map_or(0, |w| w.ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let v = |c| Violation {
            check: c,
            count: 1,
            detail: String::new(),
        };
        assert_eq!(verdict(Expect::Pass, &[]), Verdict::Pass);
        assert_eq!(
            verdict(Expect::Pass, &[v(checks::LOST_UPDATES)]),
            Verdict::Fail
        );
        let both: &'static [&'static str] = &[checks::MUTUAL_EXCLUSION, checks::LOST_UPDATES];
        assert_eq!(verdict(Expect::Fail(both), &[]), Verdict::Missed);
        assert_eq!(
            verdict(Expect::Fail(both), &[v(checks::LOST_UPDATES)]),
            Verdict::Missed
        );
        assert_eq!(
            verdict(
                Expect::Fail(both),
                &[v(checks::LOST_UPDATES), v(checks::MUTUAL_EXCLUSION)]
            ),
            Verdict::Caught
        );
    }

    #[test]
    fn primitive_names_are_listed_once() {
        assert_eq!(
            primitive_names(),
            vec![
                "SpinLock",
                "TicketLock",
                "Mutex",
                "ReentrantLock",
                "Semaphore",
                "BoundedSemaphore",
                "Event",
                "Condvar",
                "Barrier",
                "Queue",
                "JoinableQueue"
            ]
        );
    }
}
