//! `host-runner bench`: baresync's primitives next to std, parking_lot, spin, crossbeam and
//! heapless, pinned, in the same run.
//!
//! Method, for noisy, shared, virtualized hosts where a virtual CPU can move between physical
//! cores mid-run:
//! - **Time-bounded windows.** Every measurement runs its threads for a fixed window and
//!   counts the operations done, instead of timing a fixed number of operations: a spinning
//!   FIFO lock with more threads than cores takes tens of milliseconds per hand-off, and the
//!   bench must show that collapse, not hang on it.
//! - **Interleaved rounds.** Each experiment (one case, one thread count) runs every candidate
//!   once per round, in alternating order (A B C, then C B A), for several rounds; a row is the
//!   median of its rounds with the min–max, and its ratio to the group's reference is the
//!   median of the ratios taken within each round (both saw the same host state).
//! - **The physical floor.** The core-to-core cache-line latency ([`floor`]) is measured for
//!   every pair of CPUs before and after the run, and for one pair before every round; rows
//!   carry the floor seen during their rounds, and hand-off latency is given as a multiple of it.
//! - A warm-up run of every candidate precedes each experiment.
//!
//! One file per group: [`lock`], [`rwlock`], [`semaphore`], [`event`], [`condvar`], [`barrier`],
//! [`queue`], [`once`], [`lockdep`] (the lock-order checker's cost), and on Linux `processes`
//! (the shared-memory primitives between forked processes, next to libc's); [`report`] turns a
//! run into `docs/results/`.

pub mod barrier;
pub mod condvar;
pub mod event;
pub mod floor;
pub mod load;
pub mod lock;
pub mod lockdep;
pub mod once;
pub mod output;
pub mod plot;
#[cfg(target_os = "linux")]
pub mod processes;
pub mod queue;
pub mod report;
pub mod rwlock;
pub mod semaphore;

use crate::args::{parse_cpus_arg, parse_duration, CpuList, UsageError, EXIT_OK, EXIT_VIOLATION};
use crate::pin::pin_current;
use crate::topology::{format_cpu_list, Topology};
use baresync::CachePadded;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Options of `bench`.
#[derive(Debug, Clone, Default, Args)]
pub struct BenchArgs {
    /// About a minute: 6 rounds of 50 ms windows.
    #[arg(long, conflicts_with = "smoke")]
    pub quick: bool,
    /// A few seconds, for CI: one short round of everything (numbers are not meaningful).
    #[arg(long)]
    pub smoke: bool,
    /// Rounds per experiment (overrides the profile).
    #[arg(long, value_name = "N")]
    pub rounds: Option<usize>,
    /// Length of one measurement window, like `50ms` (overrides the profile).
    #[arg(long, value_name = "TIME", value_parser = parse_duration)]
    pub window: Option<Duration>,
    /// A group to run (repeatable; default: all): locks, rwlock, semaphore, event, condvar, barrier,
    /// queue, once, lockdep, processes (Linux).
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,
    /// Only the shared-memory primitives between forked processes, next to libc's
    /// (`--group processes`; Linux).
    #[arg(long)]
    pub processes: bool,
    /// CPUs to use instead of one per physical core, as a list like `0,2-3`.
    #[arg(long, value_name = "LIST", value_parser = parse_cpus_arg)]
    pub cpus: Option<CpuList>,
    /// Also write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write the results as CSV (one line per row) to FILE.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

/// The names of the groups, in run order.
pub const GROUPS: [&str; 10] = [
    "locks",
    "rwlock",
    "semaphore",
    "event",
    "condvar",
    "barrier",
    "queue",
    "once",
    "lockdep",
    "processes",
];

/// How long and how often to measure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Profile {
    /// `smoke`, `quick`, `full` or `custom`.
    pub name: String,
    /// Rounds per experiment.
    pub rounds: usize,
    /// One measurement window.
    pub window: Duration,
    /// The per-round core-to-core floor measurement.
    pub floor_window: Duration,
}

impl Profile {
    /// The profile `args` selects.
    pub fn from_args(args: &BenchArgs) -> Profile {
        let (name, rounds, window, floor_window) = if args.smoke {
            (
                "smoke",
                1,
                Duration::from_millis(4),
                Duration::from_millis(1),
            )
        } else if args.quick {
            (
                "quick",
                6,
                Duration::from_millis(50),
                Duration::from_millis(3),
            )
        } else {
            (
                "full",
                7,
                Duration::from_millis(150),
                Duration::from_millis(10),
            )
        };
        let custom = args.rounds.is_some() || args.window.is_some();
        Profile {
            name: if custom { "custom" } else { name }.to_string(),
            rounds: args.rounds.unwrap_or(rounds),
            window: args.window.unwrap_or(window),
            floor_window,
        }
    }
}

/// What a measurement needs to know about the run.
#[derive(Clone, Debug)]
pub struct Env {
    /// The CPUs to pin to, one per physical core by default; worker `i` gets
    /// `cpus[i % cpus.len()]`.
    pub cpus: Vec<usize>,
    /// One measurement window.
    pub window: Duration,
    /// The clock origin for timestamps shared between threads.
    pub origin: Instant,
}

impl Env {
    /// Number of cores (CPUs) in use.
    pub fn cores(&self) -> usize {
        self.cpus.len()
    }
    /// The CPU worker `i` is pinned to.
    pub fn cpu(&self, i: usize) -> usize {
        self.cpus[i % self.cpus.len()]
    }
    /// Nanoseconds since the origin: a timestamp comparable between threads.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
    /// A copy with another window (the warm-up's).
    pub fn with_window(&self, window: Duration) -> Env {
        Env {
            window,
            ..self.clone()
        }
    }
}

/// The unit of a row's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Nanoseconds per operation of one thread (lower is better).
    NsPerOp,
    /// Operations per second, all threads together (higher is better).
    OpsPerSec,
    /// A latency in nanoseconds (lower is better).
    Ns,
}

impl Unit {
    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        self == Unit::OpsPerSec
    }
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Unit::NsPerOp => "ns/op",
            Unit::OpsPerSec => "ops/s",
            Unit::Ns => "ns",
        }
    }
}

/// What one window of one candidate produced.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// The value in the experiment's unit; `None` when nothing could be measured (no
    /// hand-off happened in the window, say).
    pub value: Option<f64>,
    /// Operations per thread, for fairness (empty when meaningless).
    pub counts: Vec<u64>,
    /// Times the lock changed owner, for acquisitions per hand-off.
    pub handoffs: Option<u64>,
    /// CPU time of every thread of the window, spent on the measured operations, ns, divided
    /// by the operations the value is per (`None` where not measured).
    pub cpu_ns_per_op: Option<f64>,
    /// The events the value is made of (latencies recorded, rounds timed), to flag a window
    /// with too few of them to mean anything (`None` where the value is a plain count).
    pub events: Option<u64>,
    /// The distribution of the window's latencies (acquire latency), where measured.
    pub latency: Option<Percentiles>,
}

/// A latency distribution: percentiles in ns, from a [`Histogram`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// The largest.
    pub max: f64,
    /// How many latencies.
    pub n: u64,
}

impl Percentiles {
    /// The per-field median of several windows' distributions (`max`: the largest).
    pub fn median_of(v: &[Percentiles]) -> Option<Percentiles> {
        let field = |f: fn(&Percentiles) -> f64| median(&v.iter().map(f).collect::<Vec<_>>());
        Some(Percentiles {
            p50: field(|p| p.p50)?,
            p99: field(|p| p.p99)?,
            p999: field(|p| p.p999)?,
            max: v.iter().map(|p| p.max).reduce(f64::max)?,
            n: v.iter().map(|p| p.n).min()?,
        })
    }
}

/// A log-linear histogram of nanosecond latencies: exact below 64 ns, then 32 buckets per
/// power of two (a bucket's width is at most 1/32 of its value, about 3 %), up to 2^40 ns.
/// Cheap enough to record every acquisition of a window, and mergeable between threads.
#[derive(Clone, Debug)]
pub struct Histogram {
    buckets: Vec<u64>,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    const EXACT: u64 = 64;
    const SUB: u32 = 32;
    const TOP: u32 = 40;

    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            buckets: vec![0; Self::index(1 << Self::TOP) + 1],
            max: 0,
        }
    }

    fn index(ns: u64) -> usize {
        let ns = ns.min((1 << Self::TOP) - 1);
        if ns < Self::EXACT {
            return ns as usize;
        }
        let e = 63 - ns.leading_zeros(); // 6..TOP
        let mantissa = (ns >> (e - 5)) & u64::from(Self::SUB - 1);
        Self::EXACT as usize + ((e - 6) * Self::SUB) as usize + mantissa as usize
    }

    /// The smallest value of bucket `i`.
    fn lower(i: usize) -> u64 {
        if (i as u64) < Self::EXACT {
            return i as u64;
        }
        let j = i - Self::EXACT as usize;
        let e = (j / Self::SUB as usize) as u32 + 6;
        let mantissa = (j % Self::SUB as usize) as u64;
        (1 << e) | (mantissa << (e - 5))
    }

    /// Records one latency.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.buckets[Self::index(ns)] += 1;
        self.max = self.max.max(ns);
    }

    /// Adds `other`'s latencies to this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.max = self.max.max(other.max);
    }

    /// Latencies recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The smallest recorded value (a bucket's lower bound) with at least a fraction `q` of
    /// the latencies at or below it.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Self::lower(i) as f64);
            }
        }
        Some(self.max as f64)
    }

    /// p50, p99, p99.9 and max.
    pub fn percentiles(&self) -> Option<Percentiles> {
        Some(Percentiles {
            p50: self.quantile(0.5)?,
            p99: self.quantile(0.99)?,
            p999: self.quantile(0.999)?,
            max: self.max as f64,
            n: self.count(),
        })
    }
}

/// One implementation in an experiment.
pub struct Candidate {
    /// `baresync::SpinLock`, `std::sync::Mutex`, ...
    pub name: String,
    /// From another crate (a baseline), not baresync.
    pub baseline: bool,
    /// Runs one window.
    pub run: Box<dyn Fn(&Env) -> Sample + Sync>,
}

impl Candidate {
    /// A candidate named `name`.
    pub fn new(name: &str, baseline: bool, run: impl Fn(&Env) -> Sample + Sync + 'static) -> Self {
        Candidate {
            name: name.to_string(),
            baseline,
            run: Box::new(run),
        }
    }
}

/// The candidates of one experiment, one per row of a group's table (`name`, `baseline`):
/// each runs `run(env, i)`, `i` being the row's position, which the group maps to a type (its
/// `dispatch!`). Every group that compares one set of types across several experiments
/// builds them here.
pub fn candidates(
    table: &[(&'static str, bool)],
    run: impl Fn(&Env, u8) -> Sample + Clone + Sync + 'static,
) -> Vec<Candidate> {
    table
        .iter()
        .zip(0u8..)
        .map(|(&(name, baseline), i)| {
            let run = run.clone();
            Candidate::new(name, baseline, move |env| run(env, i))
        })
        .collect()
}

/// One case at one thread count, every candidate.
pub struct Experiment {
    /// `uncontended`, `contended`, `hand-off`, ...
    pub case: String,
    /// Threads taking part.
    pub threads: usize,
    /// Unit of the values.
    pub unit: Unit,
    /// Divide values by the per-round floor (hand-off latencies).
    pub relative_to_floor: bool,
    /// The implementations, run interleaved.
    pub candidates: Vec<Candidate>,
}

/// A group of experiments with one reference for ratios.
pub struct Group {
    /// `locks`, `queue`, ...
    pub name: &'static str,
    /// What it measures, one line.
    pub title: &'static str,
    /// The candidate ratios are taken against.
    pub reference: &'static str,
    /// The experiments.
    pub experiments: Vec<Experiment>,
}

/// One line of the results: a candidate in an experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The group.
    pub group: String,
    /// The case.
    pub case: String,
    /// Threads taking part.
    pub threads: usize,
    /// More threads than cores.
    pub oversubscribed: bool,
    /// The implementation.
    pub implementation: String,
    /// From another crate.
    pub baseline: bool,
    /// Unit of `median`, `min`, `max`.
    pub unit: Unit,
    /// Median over the rounds.
    pub median: Option<f64>,
    /// Smallest round.
    pub min: Option<f64>,
    /// Largest round.
    pub max: Option<f64>,
    /// Speed relative to the group's reference, median of the per-round ratios: above 1 is
    /// faster (more ops/s, or fewer ns).
    pub speedup: Option<f64>,
    /// Core-to-core latency (ns, one way) seen before the rounds, median.
    pub floor_ns: Option<f64>,
    /// The floor seen before each round, ns.
    #[serde(default)]
    pub floors_ns: Vec<f64>,
    /// The value as a multiple of that round's floor, median (hand-off latencies).
    pub x_floor: Option<f64>,
    /// Fewest operations of one thread in the median round.
    pub min_ops: Option<u64>,
    /// Most operations of one thread in the median round.
    pub max_ops: Option<u64>,
    /// Acquisitions per change of owner in the median round (1.0 = strict alternation).
    pub acq_per_handoff: Option<f64>,
    /// CPU time per operation, all threads of the row together, ns: median over the rounds
    /// (wall time tells how soon; this tells what polling cost).
    #[serde(default)]
    pub cpu_ns_per_op: Option<f64>,
    /// Events per window behind the value (hand-offs, rounds), fewest over the rounds.
    #[serde(default)]
    pub events: Option<u64>,
    /// Latency distribution (acquire latency: from calling `lock` to holding the lock), the
    /// per-percentile median over the rounds; `max` is the largest of any round.
    #[serde(default)]
    pub latency: Option<Percentiles>,
    /// Every round's value.
    pub samples: Vec<f64>,
    /// Measured while the cores were shared: the row's floor was above
    /// [`load::LOADED_FLOOR_FACTOR`] times the run's lowest ([`load::assess`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loaded: bool,
}

impl Row {
    /// The implementations of `rows`, each once, in the order they first appear.
    pub fn implementations<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Vec<&'a str> {
        let mut names: Vec<&str> = Vec::new();
        for row in rows {
            if !names.contains(&row.implementation.as_str()) {
                names.push(&row.implementation);
            }
        }
        names
    }

    /// Fewer than [`FEW_EVENTS`] events in some window: the value means little.
    pub fn few_events(&self) -> bool {
        self.events.is_some_and(|n| n < FEW_EVENTS)
    }

    /// `min_ops / max_ops`: 1.0 is perfectly even.
    pub fn fairness(&self) -> Option<f64> {
        match (self.min_ops, self.max_ops) {
            (Some(lo), Some(hi)) if hi > 0 => Some(lo as f64 / hi as f64),
            _ => None,
        }
    }
}

/// A row whose windows held fewer events than this (hand-offs, rounds) is flagged.
pub const FEW_EVENTS: u64 = 20;

/// The results of one group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupResult {
    /// `locks`, ...
    pub name: String,
    /// What it measures.
    pub title: String,
    /// The reference of the ratios.
    pub reference: String,
    /// One row per candidate and experiment.
    pub rows: Vec<Row>,
}

/// The host a run was made on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    /// Host name.
    pub hostname: String,
    /// CPU model from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
    /// Usable logical CPUs.
    pub logical_cpus: usize,
    /// Physical cores.
    pub physical_cores: usize,
    /// The CPUs the bench pinned to.
    pub cpus: Vec<usize>,
    /// UTC, `YYYY-MM-DD HH:MM`.
    pub date: String,
    /// The CPU says it runs under a hypervisor (`hypervisor` in `/proc/cpuinfo`'s flags);
    /// `None` when unknown.
    #[serde(default)]
    pub hypervisor: Option<bool>,
}

/// Core-to-core latency between two CPUs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairLatency {
    /// One CPU.
    pub a: usize,
    /// The other.
    pub b: usize,
    /// One-way latency, ns (half a round trip), median of sub-windows.
    pub ns: f64,
}

/// Everything a bench run produced, as written by `--json` and read by `report --from`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchReport {
    /// The host.
    pub machine: Machine,
    /// Rounds and windows.
    pub profile: Profile,
    /// Every pair of CPUs, before the run.
    pub floor_before: Vec<PairLatency>,
    /// Every pair of CPUs, after the run.
    pub floor_after: Vec<PairLatency>,
    /// The groups that ran.
    pub groups: Vec<GroupResult>,
    /// Wall time of the whole run, seconds.
    pub seconds: f64,
    /// `size_of` each primitive and baseline in this build.
    #[serde(default)]
    pub sizes: Vec<TypeSize>,
    /// The load the run saw, and whether it is flagged ([`load::assess`]); `None` in runs
    /// recorded before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<load::Load>,
}

/// The size of a type in this build.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TypeSize {
    /// The type, as written.
    pub name: String,
    /// `size_of`, bytes.
    pub bytes: usize,
    /// `align_of`, bytes.
    pub align: usize,
    /// From another crate.
    pub baseline: bool,
}

/// `size_of` and `align_of` every primitive and baseline (protecting `()` or holding `u32`s).
pub fn sizes() -> Vec<TypeSize> {
    use baresync::{
        Barrier, BoundedSemaphore, Condvar, Event, FairLock, Futex, JoinableQueue, McsLock, Mutex,
        Queue, ReentrantLock, Semaphore, Spin, SpinBarrier, SpinLock, StdThreadId, TicketLock,
    };
    fn t<T>(name: &str, baseline: bool) -> TypeSize {
        TypeSize {
            name: name.to_string(),
            bytes: std::mem::size_of::<T>(),
            align: std::mem::align_of::<T>(),
            baseline,
        }
    }
    vec![
        t::<SpinLock<()>>("baresync::SpinLock<()>", false),
        t::<TicketLock<(), Spin>>("baresync::TicketLock<(), W>", false),
        t::<McsLock<()>>("baresync::McsLock<()>", false),
        t::<FairLock<(), Spin>>("baresync::FairLock<(), W>", false),
        t::<Mutex<(), Spin>>("baresync::Mutex<(), W>", false),
        t::<ReentrantLock<(), StdThreadId, Spin>>(
            "baresync::ReentrantLock<(), StdThreadId, W>",
            false,
        ),
        t::<Semaphore<Spin>>("baresync::Semaphore<W>", false),
        t::<BoundedSemaphore<Spin>>("baresync::BoundedSemaphore<W>", false),
        t::<Event<Spin>>("baresync::Event<W>", false),
        t::<Condvar<Futex>>("baresync::Condvar<W>", false),
        t::<Barrier<Spin>>("baresync::Barrier<W>", false),
        t::<SpinBarrier>("baresync::SpinBarrier", false),
        t::<Queue<u32, 8, Spin>>("baresync::Queue<u32, 8, W>", false),
        t::<JoinableQueue<u32, 8, Spin>>("baresync::JoinableQueue<u32, 8, W>", false),
        t::<std::sync::Mutex<()>>("std::sync::Mutex<()>", true),
        t::<std::sync::Condvar>("std::sync::Condvar", true),
        t::<std::sync::Barrier>("std::sync::Barrier", true),
        t::<parking_lot::Mutex<()>>("parking_lot::Mutex<()>", true),
        t::<parking_lot::ReentrantMutex<()>>("parking_lot::ReentrantMutex<()>", true),
        t::<spin::mutex::SpinMutex<()>>("spin::SpinMutex<()>", true),
        t::<spin::mutex::TicketMutex<()>>("spin::TicketMutex<()>", true),
        t::<spin::Barrier>("spin::Barrier", true),
        t::<heapless::spsc::Queue<u32, 8>>("heapless::spsc::Queue<u32, 8>", true),
        t::<heapless::mpmc::Q8<u32>>("heapless::mpmc::Q8<u32>", true),
        t::<crossbeam_queue::ArrayQueue<u32>>(
            "crossbeam_queue::ArrayQueue<u32> (handle; slots on the heap)",
            true,
        ),
    ]
}

impl BenchReport {
    /// The median one-way floor over every pair before and after, ns.
    pub fn floor_ns(&self) -> Option<f64> {
        let v: Vec<f64> = self
            .floor_before
            .iter()
            .chain(&self.floor_after)
            .map(|p| p.ns)
            .collect();
        median(&v)
    }
}

/// Median of the finite values; `None` if there are none.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// What a window of threads produced.
pub struct Window {
    /// Each thread's return value.
    pub counts: Vec<u64>,
    /// From the start signal to the stop signal.
    pub elapsed: Duration,
    /// From the start signal to the moment each thread's body returned, that is to the end of
    /// its last operation (which may have completed after the stop signal).
    pub ended: Vec<Duration>,
    /// Each thread's CPU time in its body, ns (`None` where the OS cannot say).
    pub cpu_ns: Vec<Option<u64>>,
}

impl Window {
    /// From the start to the end of the last thread's last operation: the time the counted
    /// operations took (every operation counted, and all the time they took).
    pub fn busy(&self) -> Duration {
        self.ended
            .iter()
            .copied()
            .max()
            .unwrap_or(self.elapsed)
            .max(self.elapsed)
    }

    /// Every thread's CPU time together divided by `ops`, ns.
    pub fn cpu_per_op(&self, ops: u64) -> Option<f64> {
        let total: Option<u64> = self.cpu_ns.iter().copied().sum();
        total.filter(|_| ops > 0).map(|t| t as f64 / ops as f64)
    }
}

/// The CPU time the calling thread has used so far, ns (`CLOCK_THREAD_CPUTIME_ID`); `None`
/// where the OS does not have it.
#[inline]
pub fn thread_cpu_ns() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the duration of the call, and
        // CLOCK_THREAD_CPUTIME_ID is a clock every supported Unix has.
        let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if r != 0 {
            return None;
        }
        Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Accumulates the calling thread's CPU time over chosen stretches (the measured calls only,
/// not the harness's own waiting or a settle pause).
#[derive(Debug, Default)]
pub struct CpuMeter {
    total: u64,
    started: Option<u64>,
    broken: bool,
}

impl CpuMeter {
    /// Starts a stretch.
    #[inline]
    pub fn start(&mut self) {
        self.started = thread_cpu_ns();
        self.broken |= self.started.is_none();
    }
    /// Ends the stretch begun by the last [`start`](Self::start).
    #[inline]
    pub fn stop(&mut self) {
        match (self.started.take(), thread_cpu_ns()) {
            (Some(a), Some(b)) => self.total += b.saturating_sub(a),
            _ => self.broken = true,
        }
    }
    /// The CPU time of every stretch, ns.
    pub fn total(&self) -> Option<u64> {
        (!self.broken).then_some(self.total)
    }
}

/// Runs `threads` pinned threads on `body(index, stop)` for one window of `env`: they start
/// together, `stop` turns true when the window ends, and each returns a count. Each thread's
/// CPU time over its whole body is in [`Window::cpu_ns`].
pub fn run_window<F>(env: &Env, threads: usize, body: F) -> Window
where
    F: Fn(usize, &AtomicBool) -> u64 + Sync,
{
    run_window_cpu(env, threads, |i, stop| {
        let before = thread_cpu_ns();
        let n = body(i, stop);
        let cpu = match (before, thread_cpu_ns()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        (n, cpu)
    })
}

/// [`run_window`] for a body that measures its own CPU time (with a [`CpuMeter`]) and
/// returns it next to its count.
pub fn run_window_cpu<F>(env: &Env, threads: usize, body: F) -> Window
where
    F: Fn(usize, &AtomicBool) -> (u64, Option<u64>) + Sync,
{
    let stop = CachePadded::new(AtomicBool::new(false));
    let start = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (stop, start, body) = (&*stop, &start, &body);
                let cpu = env.cpu(i);
                s.spawn(move || {
                    pin_current(cpu);
                    start.wait();
                    let (n, cpu) = body(i, stop);
                    (n, cpu, Instant::now())
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        std::thread::sleep(env.window);
        stop.store(true, Relaxed);
        let elapsed = t0.elapsed();
        let mut w = Window {
            counts: Vec::new(),
            elapsed,
            ended: Vec::new(),
            cpu_ns: Vec::new(),
        };
        for h in handles {
            let (n, cpu, end) = h.join().expect("a bench thread panicked");
            w.counts.push(n);
            w.cpu_ns.push(cpu);
            w.ended.push(end.saturating_duration_since(t0));
        }
        w
    })
}

/// Waits politely: spin hints first, then yields (so oversubscribed runs do not burn slices).
#[inline]
pub fn backoff(fails: &mut u32) {
    *fails += 1;
    if *fails < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Thread counts for a scaling curve: 1..=cores (powers of two and `cores` above 8 cores),
/// then 2× and 4× cores.
pub fn thread_counts(cores: usize) -> Vec<usize> {
    let mut v: Vec<usize> = if cores <= 8 {
        (1..=cores).collect()
    } else {
        let mut v: Vec<usize> = (0..).map(|i| 1 << i).take_while(|&t| t < cores).collect();
        v.push(cores);
        v
    };
    v.push(2 * cores);
    v.push(4 * cores);
    v
}

/// Every group, built for `cores` cores.
pub fn groups(cores: usize) -> Vec<Group> {
    vec![
        lock::group(cores),
        rwlock::group(cores),
        semaphore::group(cores),
        event::group(cores),
        condvar::group(cores),
        barrier::group(cores),
        queue::group(cores),
        once::group(cores),
        lockdep::group(cores),
        #[cfg(target_os = "linux")]
        processes::group(cores),
    ]
}

/// About how long `group` takes under `profile`: its windows, warm-ups and per-round floors
/// (thread start-up not counted; the time left shown scales it by the pace of the groups
/// done).
pub fn estimate(group: &Group, profile: &Profile) -> Duration {
    let warm = (profile.window / 2).max(Duration::from_millis(1));
    group
        .experiments
        .iter()
        .map(|e| {
            let n = e.candidates.len() as u32;
            let rounds = profile.rounds as u32;
            (profile.window * rounds + warm) * n + profile.floor_window * rounds
        })
        .sum()
}

/// Runs the experiments of a group, interleaved, with a progress bar.
pub fn run_group(group: &Group, env: &Env, profile: &Profile, progress: bool) -> GroupResult {
    let total: usize = group
        .experiments
        .iter()
        .map(|e| e.candidates.len() * (profile.rounds + 1))
        .sum();
    let bar = if progress {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(group.name);
    let warm = env.with_window((env.window / 2).max(Duration::from_millis(1)));
    let mut rows = Vec::new();
    for e in &group.experiments {
        let label = format!("{} T={}", e.case, e.threads);
        for c in &e.candidates {
            bar.set_message(format!("{label} warm-up {}", c.name));
            let _ = (c.run)(&warm);
            bar.inc(1);
        }
        let n = e.candidates.len();
        let mut samples: Vec<Vec<Sample>> = (0..n).map(|_| Vec::new()).collect();
        let mut floors = Vec::new();
        for round in 0..profile.rounds {
            floors.push(floor::round_floor(env, profile.floor_window));
            let order: Vec<usize> = if round % 2 == 0 {
                (0..n).collect()
            } else {
                (0..n).rev().collect()
            };
            for i in order {
                bar.set_message(format!("{label} {}", e.candidates[i].name));
                samples[i].push((e.candidates[i].run)(env));
                bar.inc(1);
            }
        }
        let reference = e.candidates.iter().position(|c| c.name == group.reference);
        for (i, c) in e.candidates.iter().enumerate() {
            rows.push(aggregate(
                group,
                e,
                c,
                &samples[i],
                reference.map(|r| &samples[r][..]),
                &floors,
                env.cores(),
            ));
        }
    }
    bar.finish_with_message("done");
    GroupResult {
        name: group.name.to_string(),
        title: group.title.to_string(),
        reference: group.reference.to_string(),
        rows,
    }
}

fn aggregate(
    group: &Group,
    e: &Experiment,
    c: &Candidate,
    samples: &[Sample],
    reference: Option<&[Sample]>,
    floors: &[Option<f64>],
    cores: usize,
) -> Row {
    let values: Vec<f64> = samples.iter().filter_map(|s| s.value).collect();
    let med = median(&values);
    let speedups: Vec<f64> = match reference {
        Some(r) => samples
            .iter()
            .zip(r)
            .filter_map(|(s, r)| match (s.value, r.value) {
                // No ratio from a window with too few events on either side.
                (Some(_), Some(_))
                    if s.events.is_some_and(|n| n < FEW_EVENTS)
                        || r.events.is_some_and(|n| n < FEW_EVENTS) =>
                {
                    None
                }
                (Some(a), Some(b)) if a > 0.0 && b > 0.0 => Some(if e.unit.higher_is_better() {
                    a / b
                } else {
                    b / a
                }),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    };
    let x_floor: Vec<f64> = samples
        .iter()
        .zip(floors)
        .filter_map(|(s, f)| match (s.value, f) {
            (Some(v), Some(f)) if *f > 0.0 => Some(v / f),
            _ => None,
        })
        .collect();
    let floor_vals: Vec<f64> = floors.iter().flatten().copied().collect();
    let cpu: Vec<f64> = samples.iter().filter_map(|s| s.cpu_ns_per_op).collect();
    let events = samples.iter().filter_map(|s| s.events).min();
    // The round whose value is the median (or nearest) gives fairness and hand-off counts.
    let mid = med.and_then(|m| {
        samples.iter().filter(|s| s.value.is_some()).min_by(|a, b| {
            let da = (a.value.unwrap_or(m) - m).abs();
            let db = (b.value.unwrap_or(m) - m).abs();
            da.total_cmp(&db)
        })
    });
    let (min_ops, max_ops, acq_per_handoff) = match mid {
        Some(s) if s.counts.len() > 1 => {
            let total: u64 = s.counts.iter().sum();
            (
                s.counts.iter().min().copied(),
                s.counts.iter().max().copied(),
                s.handoffs
                    .filter(|&h| h > 0)
                    .map(|h| total as f64 / h as f64),
            )
        }
        _ => (None, None, None),
    };
    Row {
        group: group.name.to_string(),
        case: e.case.clone(),
        threads: e.threads,
        oversubscribed: e.threads > cores,
        implementation: c.name.clone(),
        baseline: c.baseline,
        unit: e.unit,
        median: med,
        min: values.iter().copied().reduce(f64::min),
        max: values.iter().copied().reduce(f64::max),
        speedup: median(&speedups),
        floor_ns: median(&floor_vals),
        floors_ns: floor_vals.clone(),
        x_floor: if e.relative_to_floor {
            median(&x_floor)
        } else {
            None
        },
        min_ops,
        max_ops,
        acq_per_handoff,
        cpu_ns_per_op: median(&cpu),
        events,
        latency: Percentiles::median_of(
            &samples.iter().filter_map(|s| s.latency).collect::<Vec<_>>(),
        ),
        samples: values,
        loaded: false,
    }
}

/// Reads the host's description.
pub fn machine(topo: &Topology, cpus: &[usize]) -> Machine {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into())
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok();
    let hypervisor = cpuinfo.as_ref().map(|s| {
        s.lines()
            .filter(|l| l.starts_with("flags"))
            .any(|l| l.split_whitespace().any(|f| f == "hypervisor"))
    });
    let cpu_model = cpuinfo
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    Machine {
        hostname: read("/proc/sys/kernel/hostname"),
        cpu_model,
        kernel: read("/proc/sys/kernel/osrelease"),
        logical_cpus: topo.cpus.len(),
        physical_cores: topo.cores.len(),
        cpus: cpus.to_vec(),
        date: utc_now(),
        hypervisor,
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Formats UNIX seconds as `YYYY-MM-DD HH:MM` UTC (days-to-civil, proleptic Gregorian).
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Refuses arguments no measurement can be made with (`--rounds 0`), as `--threads 0` is
/// refused elsewhere, rather than quietly running something else.
///
/// # Errors
///
/// The first bad argument.
pub fn check_args(args: &BenchArgs) -> Result<(), UsageError> {
    if args.rounds == Some(0) {
        return Err(UsageError("--rounds must be at least 1".into()));
    }
    Ok(())
}

/// Runs the bench as `args` says and returns the report (no printing of tables).
///
/// # Errors
///
/// An unknown group or CPU.
pub fn run(topo: &Topology, args: &BenchArgs) -> Result<BenchReport, UsageError> {
    check_args(args)?;
    let profile = Profile::from_args(args);
    let cpus = match &args.cpus {
        Some(list) => {
            let bad: Vec<usize> = list
                .0
                .iter()
                .copied()
                .filter(|c| !topo.cpus.contains(c))
                .collect();
            if !bad.is_empty() {
                return Err(UsageError(format!(
                    "--cpus names CPUs this process cannot use: {}",
                    format_cpu_list(&bad)
                )));
            }
            list.0.clone()
        }
        None => topo.core_cpus(),
    };
    if cpus.is_empty() {
        return Err(UsageError("no CPU to run on".into()));
    }
    let mut wanted = args.groups.clone();
    if args.processes {
        if !cfg!(target_os = "linux") {
            return Err(UsageError("--processes needs Linux".into()));
        }
        wanted.push("processes".into());
    }
    for g in &wanted {
        if !GROUPS.iter().any(|k| k.eq_ignore_ascii_case(g.trim())) {
            return Err(UsageError(format!(
                "unknown group '{g}'; known groups: {}",
                GROUPS.join(", ")
            )));
        }
    }
    let env = Env {
        cpus: cpus.clone(),
        window: profile.window,
        origin: Instant::now(),
    };
    let progress = !args.no_progress;
    let load_before = load::load_average();
    let busy_before = load::busy_cpus(load::BUSY_SAMPLE);
    let t0 = Instant::now();
    let floor_before = floor::all_pairs(&cpus, profile.floor_window * 2);
    let chosen: Vec<Group> = groups(cpus.len())
        .into_iter()
        .filter(|g| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(g.name)))
        .collect();
    let estimates: Vec<Duration> = chosen.iter().map(|g| estimate(g, &profile)).collect();
    let mut eta = crate::term::Eta::new(&estimates);
    let mut results = Vec::new();
    for (k, g) in chosen.iter().enumerate() {
        if let Some(line) = eta.line("group", k, g.name) {
            eprintln!("bench: {line}");
        }
        results.push(run_group(g, &env, &profile, progress));
        eta.done(k);
    }
    let floor_after = floor::all_pairs(&cpus, profile.floor_window * 2);
    let mut report = BenchReport {
        machine: machine(topo, &cpus),
        profile,
        floor_before,
        floor_after,
        groups: results,
        seconds: t0.elapsed().as_secs_f64(),
        sizes: sizes(),
        load: None,
    };
    load::assess(&mut report, load_before, busy_before, load::load_average());
    Ok(report)
}

/// `host-runner bench`.
///
/// # Errors
///
/// Bad arguments, or an output file that cannot be created.
pub fn main(topo: &Topology, args: &BenchArgs) -> Result<i32, UsageError> {
    check_args(args)?;
    // Create the output files first, so a bad path fails before minutes of work.
    let json = output::create(args.json.as_ref(), "--json")?;
    let csv = output::create(args.csv.as_ref(), "--csv")?;
    let profile = Profile::from_args(args);
    println!(
        "bench: profile {}, {} round(s) of {:?} windows per experiment, CPUs {}",
        profile.name,
        profile.rounds,
        profile.window,
        format_cpu_list(
            &args
                .cpus
                .as_ref()
                .map_or_else(|| topo.core_cpus(), |c| c.0.clone())
        )
    );
    let report = run(topo, args)?;
    output::print(&report);
    let mut ok = true;
    if let Some(f) = json {
        ok &= output::write_json(f, &report);
    }
    if let Some(f) = csv {
        ok &= output::write_csv(f, &report);
    }
    Ok(if ok { EXIT_OK } else { EXIT_VIOLATION })
}

#[cfg(test)]
mod tests {
    /// Percentiles from the histogram are within one bucket (3 %) below the exact ones, and
    /// exact below 64 ns; the max is exact; merging adds counts.
    #[test]
    fn histogram_percentiles() {
        let mut h = Histogram::new();
        let mut exact: Vec<u64> = (0..10_000u64).map(|i| (i * 7919) % 100_000 + 1).collect();
        for &v in &exact {
            h.record(v);
        }
        exact.sort_unstable();
        for q in [0.5, 0.99, 0.999] {
            let want = exact[((q * exact.len() as f64).ceil() as usize).max(1) - 1] as f64;
            let got = h.quantile(q).unwrap();
            assert!(
                got <= want && got >= want * (1.0 - 1.0 / 32.0),
                "q{q}: {got} vs {want}"
            );
        }
        let p = h.percentiles().unwrap();
        assert_eq!(p.max, *exact.last().unwrap() as f64);
        assert_eq!(p.n, 10_000);
        let mut small = Histogram::new();
        for v in [3, 3, 5, 63] {
            small.record(v);
        }
        assert_eq!(small.quantile(0.5), Some(3.0));
        assert_eq!(small.quantile(1.0), Some(63.0));
        small.merge(&h);
        assert_eq!(small.count(), 10_004);
        assert!(Histogram::new().percentiles().is_none());
        let mut huge = Histogram::new();
        huge.record(u64::MAX);
        assert_eq!(huge.percentiles().unwrap().max, u64::MAX as f64);
    }

    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN]), None);
    }

    #[test]
    fn dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13");
    }

    #[test]
    fn windows_time_every_counted_operation() {
        let env = Env {
            cpus: vec![0],
            window: Duration::from_millis(2),
            origin: Instant::now(),
        };
        // A thread whose last operation ends well after the stop signal: its time counts.
        let w = run_window(&env, 1, |_, stop| {
            while !stop.load(Relaxed) {
                std::hint::spin_loop();
            }
            std::thread::sleep(Duration::from_millis(20));
            1
        });
        assert!(w.busy() >= Duration::from_millis(20), "{:?}", w.busy());
        assert!(w.busy() >= w.elapsed);
        // CPU time is measured (the sleep costs little of it; the spinning does).
        if thread_cpu_ns().is_some() {
            let cpu = w.cpu_per_op(1).expect("CPU time");
            assert!(cpu > 0.0);
        }
    }

    #[test]
    fn cpu_meter_adds_only_its_stretches() {
        let mut m = CpuMeter::default();
        m.start();
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(5) {
            std::hint::spin_loop();
        }
        m.stop();
        std::thread::sleep(Duration::from_millis(5));
        if let Some(total) = m.total() {
            assert!(total > 0);
        }
    }

    #[test]
    fn estimates_add_up_to_the_profiles_promise() {
        // `--quick` is documented as about a minute on a few cores: the estimate (windows
        // only, no start-up) must be of that order, or the time left shown means nothing.
        let quick = Profile::from_args(&BenchArgs {
            quick: true,
            ..BenchArgs::default()
        });
        let total: Duration = groups(2).iter().map(|g| estimate(g, &quick)).sum();
        assert!(
            (Duration::from_secs(20)..Duration::from_secs(180)).contains(&total),
            "{total:?}"
        );
    }

    #[test]
    fn thread_scaling() {
        assert_eq!(thread_counts(2), vec![1, 2, 4, 8]);
        assert_eq!(thread_counts(16), vec![1, 2, 4, 8, 16, 32, 64]);
    }
}
