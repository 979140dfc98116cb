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
//!
//! # Liveness
//!
//! Blocking calls in the scenarios wait without a time-based re-check: either untimed
//! (`wait()`, `acquire()`, `get()`, ...) or with an [`Until`] deadline whose `remaining()`
//! is an hour, so a sleeping backend re-checks it only when woken. A lost wake-up is
//! therefore a hang, not a millisecond's delay. Two things make a hang visible and still let
//! the run end:
//! - every worker publishes a progress counter (each [`Worker::next_op`], or
//!   [`Worker::progressed`]); the harness's watchdog reports [`checks::PROGRESS`] for a
//!   worker whose counter has not moved for [`Config::progress_limit`] (well below the run's
//!   duration, scaled by the load, see [`progress_limit`]; time during which the watchdog
//!   itself could not run is not counted) while it slept in one single wait, never woken
//!   (on Linux the OS tells: its state and its count of voluntary context switches; elsewhere
//!   any worker without progress counts), then stops the run early. Requiring the frozen
//!   sleep tells a lost wake-up from starvation: an unfair primitive can keep a waiter from
//!   progressing for longer than any limit, but it keeps waking it;
//! - the run is ended by actions, never by polling a deadline: the harness sets the stop flag
//!   and, from then on (or from the moment any worker has finished, since partners may then
//!   wait for it forever), calls the scenario's release action ([`RunCtx::on_stop`]: set the
//!   event, abort the barrier, notify everyone) on every tick until every worker is out.
//!   Workers still running [`STALL_GRACE_LIMITS`] progress limits after a stall (or
//!   [`Config::hang_grace`] after a normal stop) are abandoned and counted as
//!   [`checks::HANG`]: they sleep forever in a wait nobody will wake, holding `Arc`s to what
//!   they use.

pub mod barrier;
pub mod condvar;
pub mod control;
pub mod event;
pub mod lock;
pub mod once;
#[cfg(target_os = "linux")]
pub mod process;
pub mod queue;
pub mod reentrant;
pub mod rwlock;
pub mod semaphore;

use crate::pin::{pin_current, PinFailure, Plan};
use crate::rng::XorShift;
use baresync::CachePadded;
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
/// The shortest progress limit, for a run with at most one worker per CPU: a healthy worker
/// on an otherwise idle machine is never kept from progressing this long. Scaled up by the
/// number of workers per CPU ([`progress_limit`]).
pub const MIN_PROGRESS_LIMIT: Duration = Duration::from_millis(100);
/// The longest progress limit, whatever the duration.
pub const MAX_PROGRESS_LIMIT: Duration = Duration::from_secs(1);
/// A run must last at least this many progress limits for a stall to be seen before the
/// time bound ends it (the CLI extends shorter runs and says so).
pub const LIMITS_PER_RUN: u32 = 3;
/// After a stall is reported, the workers get this many progress limits to leave after the
/// release action before they are abandoned as hung.
pub const STALL_GRACE_LIMITS: u32 = 2;

/// The progress limit for a run of `duration` with `plan`: a fifth of the duration, but at
/// least [`MIN_PROGRESS_LIMIT`] times the load (a descheduled worker waits for its CPU longer
/// when more threads share it) and at most [`MAX_PROGRESS_LIMIT`] (unless the load asks for
/// more). The load is the larger of the workers per CPU of the plan and the machine's own
/// (the one-minute load average per online CPU, rounded down, on Linux), so that other
/// processes competing for the CPUs do not make healthy workers look stuck.
pub fn progress_limit(duration: Duration, plan: &crate::pin::Plan) -> Duration {
    let cpus = {
        let mut c = plan.workers.clone();
        c.sort_unstable();
        c.dedup();
        c.len().max(1)
    };
    let per_cpu = plan.threads().div_ceil(cpus).max(1) as u32;
    let load = per_cpu.max(machine_load());
    let floor = MIN_PROGRESS_LIMIT * load;
    (duration / 5).clamp(floor, MAX_PROGRESS_LIMIT.max(floor))
}

/// The one-minute load average per online CPU, rounded down, at least 1 (1 where unknown).
pub fn machine_load() -> u32 {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(1, |l| ((l / cpus).floor() as u32).clamp(1, 16))
}

/// The shortest run in which a stall can be reported under `limit`.
pub fn min_duration_for(limit: Duration) -> Duration {
    limit * LIMITS_PER_RUN
}

/// Names of the checks, shared by scenarios and controls so a control can name the checks it
/// must trip.
pub mod checks {
    /// Two workers inside a critical section at once (occupancy counter above 1).
    pub const MUTUAL_EXCLUSION: &str = "mutual exclusion";
    /// The non-atomic counter inside the lock differs from the number of acquisitions.
    pub const LOST_UPDATES: &str = "lost updates";
    /// A FIFO lock served a worker before one that was already queued ahead of it.
    pub const FIFO: &str = "fifo order";
    /// A lock with a starvation bound (`FairLock`) let more acquisitions overtake a queued
    /// worker than its bound allows.
    pub const STARVATION_BOUND: &str = "starvation bound";
    /// Workers did not finish within the time bound plus a grace period (or within a few
    /// progress limits after a stall) and were abandoned.
    pub const HANG: &str = "hang";
    /// A worker's progress counter did not move for the progress limit while it slept in a
    /// single wait (never woken meanwhile): a lost wake-up, a release that releases nobody.
    /// (A worker starved by an unfair primitive is woken again and again, and a polling one
    /// never sleeps; where the OS cannot tell, any worker without progress counts.)
    pub const PROGRESS: &str = "progress";
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
    /// `notify(n)` released (or claimed to release) more waiters than `min(n, waiting)`.
    pub const NOTIFY_COUNT: &str = "notify(n) count";
    /// `notify(n)` released fewer than `min(n, waiting)` waiters within the progress limit.
    pub const NOTIFY_RELEASED: &str = "notify(n) releases min(n, waiting)";
    /// A barrier party left generation g before every party had arrived in g (or before all
    /// had left g-1).
    pub const GENERATIONS: &str = "generations apart";
    /// A barrier generation had no leader or more than one.
    pub const ONE_LEADER: &str = "one leader";
    /// An aborted barrier generation completed, or reset did not restore it.
    pub const ABORT_RESET: &str = "abort/reset";
    /// `join` returned while a task put before it was not yet done.
    pub const JOIN: &str = "join after task_done";
    /// More (or fewer) than one initializer of a fresh `Once`/`OnceCell` ran.
    pub const ONE_INITIALIZER: &str = "one initializer";
    /// A reader of a `Once`/`OnceCell` saw a partial, stale or second value.
    pub const WHOLE_VALUE: &str = "whole value";

    /// A reader of a reader-writer lock saw a multi-word value half-updated.
    pub const CONSISTENT_READ: &str = "consistent read";
    /// A reader entered a reader-writer lock while a writer it had seen waiting had not yet
    /// written (the lock let a new reader overtake a waiting writer).
    pub const WRITER_PREFERENCE: &str = "writer preference";
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
/// to stop. It tells sleeping backends that an hour is left, so they re-check it only when
/// woken (a lost wake-up stays a hang): whoever sets a flag must also wake the waiters, which
/// the scenario's release action ([`RunCtx::on_stop`]) does. Polling backends check it on
/// every poll.
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
        Some(UNTIL_REMAINING)
    }
}

/// What [`Until`] tells a sleeping backend is left: long enough that no sleep ends by
/// timeout within a run.
pub const UNTIL_REMAINING: Duration = Duration::from_secs(3600);

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
    /// What the checks saw, for the report (e.g. how often the FIFO check had a queued
    /// worker to compare with).
    pub notes: Vec<String>,
}

impl Outcome {
    /// An outcome with these violations and no notes.
    pub fn new(violations: Vec<Violation>) -> Self {
        Outcome {
            violations,
            notes: Vec::new(),
        }
    }
}

/// A stress test of one primitive.
pub trait Scenario: Send + Sync {
    /// Name, family, backend, expectation.
    fn info(&self) -> ScenarioInfo;
    /// Runs the workers through `ctx.run_workers` and checks the invariants.
    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome;
    /// For a negative control: the primitive families whose checks it shows can fail (it
    /// runs when one of them is selected, see [`controls_for`]); empty (the default): it runs
    /// in every run.
    fn covers(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Every scenario for a real primitive, in table order.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    let mut all = lock::scenarios();
    all.extend(reentrant::scenarios());
    all.extend(rwlock::scenarios());
    all.extend(semaphore::scenarios());
    all.extend(event::scenarios());
    all.extend(condvar::scenarios());
    all.extend(barrier::scenarios());
    all.extend(queue::scenarios());
    all.extend(once::scenarios());
    all
}

/// The negative controls: scenarios that must be caught failing.
pub fn controls() -> Vec<Box<dyn Scenario>> {
    control::controls()
}

/// The negative controls a run of `primitives` needs: those that cover one of them (or
/// cover nothing in particular); every control when `primitives` is empty (all selected).
pub fn controls_for(primitives: &[&str]) -> Vec<Box<dyn Scenario>> {
    controls()
        .into_iter()
        .filter(|c| {
            let covers = c.covers();
            primitives.is_empty()
                || covers.is_empty()
                || covers.iter().any(|p| primitives.contains(p))
        })
        .collect()
}

/// The checks of `primitive`'s scenarios that cannot fail with a single worker (nothing
/// contends, nobody waits, every barrier party is its own leader); `stress --threads 1` names
/// them in a warning. The FIFO check runs its own workers and is not among them.
pub fn checks_needing_two_workers(primitive: &str) -> &'static [&'static str] {
    use checks::*;
    match primitive {
        "SpinLock" | "TicketLock" | "Mutex" | "ReentrantLock" => &[MUTUAL_EXCLUSION, LOST_UPDATES],
        "Semaphore" | "BoundedSemaphore" => &[HOLDERS],
        "Event" => &[EARLY_RELEASE, NOT_RELEASED],
        "Condvar" => &[NOTIFY_RELEASED, EXACTLY_ONCE, PRODUCER_FIFO],
        "Barrier" => &[GENERATIONS, ONE_LEADER],
        "Queue" | "JoinableQueue" => &[EXACTLY_ONCE, PRODUCER_FIFO, JOIN],
        "RwLock" => &[
            MUTUAL_EXCLUSION,
            CONSISTENT_READ,
            LOST_UPDATES,
            WRITER_PREFERENCE,
        ],
        "Once" => &[ONE_INITIALIZER, WHOLE_VALUE],
        _ => &[],
    }
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
    /// A worker whose progress counter does not move for this long is reported
    /// ([`checks::PROGRESS`]); normally [`progress_limit`] of the duration and plan. Scenario
    /// checks that wait for a release ("every waiter released", `notify(n)`) use it too.
    #[serde(rename = "progress_limit_secs", serialize_with = "as_secs")]
    pub progress_limit: Duration,
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
    /// What the checks saw (see [`Outcome::notes`]).
    pub notes: Vec<String>,
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
        min_workers: 0,
        release: None,
    };
    let mut outcome = scenario.run(&mut ctx);
    let threads = ctx.threads();
    let workers = ctx.workers.take().unwrap_or_default();
    if !workers.stalled.is_empty() {
        let first = &workers.stalled[0];
        outcome.violations.push(Violation {
            check: checks::PROGRESS,
            count: workers.stalled.len() as u64,
            detail: format!(
                "{} of {threads} workers made no progress for {:?} (first: worker {} after {} \
                 operations, {:?} into the run{})",
                workers.stalled.len(),
                cfg.progress_limit,
                first.worker,
                first.beats,
                first.at,
                if first.after_stop {
                    ", after the stop"
                } else {
                    ""
                }
            ),
        });
    }
    if workers.hung > 0 {
        outcome.violations.push(Violation {
            check: checks::HANG,
            count: workers.hung as u64,
            detail: format!(
                "{} of {threads} workers still running {:?} after the run was stopped and \
                 released; abandoned",
                workers.hung, workers.abandoned_after
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
        threads,
        ops: workers.ops,
        seconds,
        ops_per_sec,
        violations: outcome.violations,
        notes: outcome.notes,
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
    /// How long after the stop the watchdog waited before abandoning them.
    pub abandoned_after: Duration,
    /// Workers whose progress counter stood still for the progress limit, in the order seen.
    pub stalled: Vec<Stall>,
    /// `--ops` was not reached in time.
    pub hit_time_limit: bool,
}

/// A worker seen making no progress for the progress limit.
#[derive(Clone, Debug)]
pub struct Stall {
    /// Which worker.
    pub worker: usize,
    /// Its progress counter (operations and other progress) when it stalled.
    pub beats: u64,
    /// When it was reported, from the start of the run.
    pub at: Duration,
    /// Whether the run had already been stopped.
    pub after_stop: bool,
}

/// The harness as a scenario sees it.
pub struct RunCtx<'a> {
    /// The run's settings.
    pub cfg: &'a Config,
    bar: &'a ProgressBar,
    workers: Option<WorkersOutcome>,
    min_workers: usize,
    release: Option<Arc<dyn Fn() + Send + Sync>>,
}

/// State shared by the harness and the workers.
struct Signals {
    /// Workers pinned and waiting for `go`.
    ready: AtomicUsize,
    go: AtomicBool,
    stop: AtomicBool,
    /// Operations done so far, flushed by workers in batches, for the progress bar.
    progress: AtomicU64,
    /// Per worker: a counter it bumps on every operation (and other progress), which the
    /// watchdog reads.
    beats: Box<[CachePadded<AtomicU64>]>,
    /// Per worker: its OS thread id (0 where unknown), for [`Sleep::of`].
    tids: Box<[AtomicU64]>,
}

/// What the OS says about a worker thread (Linux: `/proc/self/task/<tid>/status`).
#[derive(Clone, Copy, Debug)]
struct Sleep {
    /// Blocked in the kernel (a futex wait, a sleep), not running or runnable.
    asleep: bool,
    /// Voluntary context switches so far: each time it went to sleep.
    wakes: u64,
}

impl Sleep {
    /// The state of thread `tid`; `None` where unknown (another OS, tid 0).
    ///
    /// The watchdog uses it to tell a lost wake-up from starvation: a worker whose wake-up was
    /// lost sleeps in one wait, its voluntary switch count frozen; a worker starved by an
    /// unfair primitive is woken again and again (and sleeps again: the count moves), and a
    /// polling one is never asleep. Only the first is reported as stuck.
    fn of(tid: u64) -> Option<Sleep> {
        if tid == 0 {
            return None;
        }
        let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        let state = field("State:")?;
        let wakes = field("voluntary_ctxt_switches:")?.parse().ok()?;
        Some(Sleep {
            asleep: state.starts_with('S') || state.starts_with('D'),
            wakes,
        })
    }
}

/// The calling thread's OS id (Linux: from `/proc/thread-self`), or 0 where unknown.
fn current_tid() -> u64 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
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
    beats: u64,
    unflushed: u64,
    signals: Arc<Signals>,
}

/// How often the watchdog looks at the workers.
const TICK: Duration = Duration::from_millis(10);
/// The most one watchdog tick adds to a worker's time without progress.
const TICK_CAP: Duration = Duration::from_millis(30);

/// Progress is published every this many operations, to keep the shared counter cold.
const FLUSH_EVERY: u64 = 256;

impl Worker {
    /// Whether to do another operation; counts it (and publishes progress). Call once before
    /// each operation.
    #[inline]
    pub fn next_op(&mut self) -> bool {
        // Relaxed: `stop` is a request to finish soon, it publishes no data.
        if self.ops >= self.quota || self.signals.stop.load(Ordering::Relaxed) {
            return false;
        }
        self.ops += 1;
        self.progressed();
        self.unflushed += 1;
        if self.unflushed == FLUSH_EVERY {
            self.flush();
        }
        true
    }

    /// Tells the watchdog this worker is not stuck, without counting an operation (a consumer
    /// draining after the stop, a waiter released by its round).
    #[inline]
    pub fn progressed(&mut self) {
        self.beats += 1;
        // Relaxed: the watchdog only compares successive values; our own cache line.
        self.signals.beats[self.index].store(self.beats, Ordering::Relaxed);
    }

    fn flush(&mut self) {
        // Relaxed: a counter for the progress bar only.
        self.signals
            .progress
            .fetch_add(self.unflushed, Ordering::Relaxed);
        self.unflushed = 0;
    }

    /// Whether the harness has asked workers to stop (the time bound passed, or a stall).
    pub fn stopping(&self) -> bool {
        // ORDERING: Acquire pairs with the harness's Release store of `stop`, which comes
        // before its release action: a worker woken by that action and then reading `stop`
        // sees it set.
        self.signals.stop.load(Ordering::Acquire)
    }

    /// A deadline for blocking calls that expires when `done` is set or the harness stops
    /// (see [`Until`]: it is re-checked by sleeping backends only when they are woken).
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
    /// Runs at least `n` workers, whatever the plan says (extra workers are assigned
    /// round-robin over the plan's CPUs). Call before [`run_workers`](Self::run_workers).
    pub fn require_workers(&mut self, n: usize) {
        self.min_workers = n;
    }

    /// The number of workers [`run_workers`](Self::run_workers) will start.
    pub fn threads(&self) -> usize {
        self.cfg.plan.threads().max(self.min_workers)
    }

    /// Sets the action that ends blocked waits: the harness calls it once the run is stopped
    /// (time bound, stall) or any worker has finished, and again on every tick until every
    /// worker is out. It must release every waiter of the primitive (set the event, abort the
    /// barrier, notify everyone under the lock) and may be called any number of times.
    /// Workers see [`Worker::stopping`] set before the first call made for a stop.
    pub fn on_stop(&mut self, release: impl Fn() + Send + Sync + 'static) {
        self.release = Some(Arc::new(release));
    }

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
        let n = self.threads();
        let cpu_of = |i: usize| plan.workers[i % plan.workers.len()];
        let body = Arc::new(body);
        let signals = Arc::new(Signals {
            ready: AtomicUsize::new(0),
            go: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            progress: AtomicU64::new(0),
            beats: (0..n)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
            tids: (0..n).map(|_| AtomicU64::new(0)).collect(),
        });
        let (time_bound, total_ops) = match cfg.ops {
            Some(ops) => (cfg.duration, ops),
            None => (cfg.duration, u64::MAX),
        };
        let mut handles = Vec::with_capacity(n);
        for index in 0..n {
            let cpu = cpu_of(index);
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
                        beats: 0,
                        unflushed: 0,
                        signals: Arc::clone(&signals),
                    };
                    // Relaxed: read by the watchdog, which tolerates 0 (unknown).
                    signals.tids[index].store(current_tid(), Ordering::Relaxed);
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

        let limit = cfg.progress_limit;
        let mut out = WorkersOutcome::default();
        let mut last_end = start;
        // When the run was stopped, and by how long after that it is abandoned.
        let mut stopped: Option<(Instant, Duration)> = None;
        let mut any_finished = false;
        // Per worker: the last progress counter seen, how long it has stood still (counted in
        // watchdog ticks, see below), whether reported.
        let mut seen: Vec<((u64, u64), Duration, bool)> = vec![((0, 0), Duration::ZERO, false); n];
        let mut last_tick = start;
        loop {
            let now = Instant::now();
            let elapsed = now - start;
            // A tick counts for at most `TICK_CAP`: when the watchdog itself was kept off its
            // CPU for longer, the machine was overloaded and that time proves nothing about
            // the workers.
            let tick = (now - last_tick).min(TICK_CAP);
            last_tick = now;
            for (index, cpu, slot) in handles.iter_mut() {
                if slot.as_ref().is_some_and(|h| h.is_finished()) {
                    let h = slot.take().expect("checked above");
                    any_finished = true;
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
            // The watchdog: a running worker whose counter stood still for the limit while it
            // slept in one wait (where the OS tells: see `Sleep`).
            let mut stalled_now = false;
            for (index, _, slot) in &handles {
                if slot.is_none() {
                    continue;
                }
                // Relaxed: compared with the previous value only.
                let beats = signals.beats[*index].load(Ordering::Relaxed);
                // Relaxed: written once by the worker before it reported ready.
                let sleep = Sleep::of(signals.tids[*index].load(Ordering::Relaxed));
                let (last, quiet, reported) = &mut seen[*index];
                let woken = sleep.is_some_and(|s| s.wakes != last.1);
                if beats != last.0 || woken {
                    *last = (beats, sleep.map_or(0, |s| s.wakes));
                    *quiet = Duration::ZERO;
                } else {
                    *quiet += tick;
                }
                let asleep = sleep.is_none_or(|s| s.asleep);
                if !*reported && *quiet >= limit && asleep {
                    *reported = true;
                    stalled_now = true;
                    out.stalled.push(Stall {
                        worker: *index,
                        beats,
                        at: elapsed,
                        after_stop: stopped.is_some(),
                    });
                }
            }
            let stop_grace = if stalled_now || !out.stalled.is_empty() {
                limit * STALL_GRACE_LIMITS
            } else {
                cfg.hang_grace
            };
            if stopped.is_none() && (elapsed >= time_bound || stalled_now) {
                // ORDERING: Release pairs with `Worker::stopping`'s Acquire: a worker that
                // the release action below wakes sees the flag.
                signals.stop.store(true, Ordering::Release);
                stopped = Some((now, stop_grace));
            } else if let Some((_, grace)) = &mut stopped {
                // A stall after a normal stop shortens the wait for the stuck workers.
                *grace = (*grace).min(stop_grace);
            }
            let running = handles.iter().filter(|(_, _, h)| h.is_some()).count();
            if running > 0 && (stopped.is_some() || any_finished) {
                if let Some(release) = &self.release {
                    release();
                }
            }
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
            if let Some((at, grace)) = stopped {
                if now - at >= grace {
                    // The workers are left running; they hold `Arc`s to everything they use.
                    out.hung = running;
                    out.abandoned_after = now - at;
                    break;
                }
            }
            thread::sleep(TICK);
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
    fn progress_limit_is_below_the_duration_and_scales_with_workers_per_cpu() {
        let topo = crate::topology::Topology::detect();
        let plan = |t| crate::pin::Plan::new(&topo, Some(t), Some(&[0])).unwrap();
        let load = machine_load();
        let one = progress_limit(Duration::from_secs(1), &plan(1));
        assert!(one >= MIN_PROGRESS_LIMIT * load);
        assert!(one >= Duration::from_millis(200));
        // Four workers on one CPU: at least four times the floor.
        let four = progress_limit(Duration::from_secs(1), &plan(4));
        assert!(four >= MIN_PROGRESS_LIMIT * 4, "{four:?}");
        // A long run: a fifth of it, capped.
        let long = progress_limit(Duration::from_secs(60), &plan(1));
        assert_eq!(long, MAX_PROGRESS_LIMIT.max(MIN_PROGRESS_LIMIT * load));
        // A run of three limits can see a stall.
        assert_eq!(min_duration_for(one), one * LIMITS_PER_RUN);
    }

    #[test]
    fn the_os_tells_a_sleeping_thread_from_a_running_one() {
        if current_tid() == 0 {
            return; // Not Linux: the watchdog falls back to the progress counter alone.
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let sleeper = thread::spawn(move || {
            tx.send(current_tid()).unwrap();
            thread::sleep(Duration::from_millis(300));
        });
        let tid = rx.recv().unwrap();
        thread::sleep(Duration::from_millis(100));
        let a = Sleep::of(tid).expect("status of a live thread");
        thread::sleep(Duration::from_millis(50));
        let b = Sleep::of(tid).expect("status of a live thread");
        assert!(a.asleep && b.asleep, "{a:?} {b:?}");
        assert_eq!(a.wakes, b.wakes, "one sleep, no wake-up");
        let me = Sleep::of(current_tid()).expect("own status");
        assert!(!me.asleep, "{me:?}");
        sleeper.join().unwrap();
    }

    #[test]
    fn primitive_names_are_listed_once() {
        assert_eq!(
            primitive_names(),
            vec![
                "SpinLock",
                "TicketLock",
                "McsLock",
                "FairLock",
                "Mutex",
                "ReentrantLock",
                "RwLock",
                "Semaphore",
                "BoundedSemaphore",
                "Event",
                "Condvar",
                "Barrier",
                "Queue",
                "JoinableQueue",
                "Once"
            ]
        );
    }
}
