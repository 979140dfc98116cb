//! The lock-order checker's cost (feature `lockdep`): `SpinLock`, `Mutex`, `RwLock` (read and
//! write) and `Semaphore` in a host-runner built without the checker and in one built with it.
//!
//! Cargo builds `baresync` once per build, with or without `lockdep` (features unify), so one
//! process cannot hold both: `bench --group lockdep` measures the build it runs in, and names
//! every row `... (lockdep off)` or `... (lockdep on)`. [`compare`] (run by `report`) runs two
//! processes, this build and `host-runner-lockdep` (the same program built with the feature),
//! one round each, alternating which goes first, and merges their rows into one group whose
//! ratio is the speed with the checker on against the speed with it off, taken within each
//! round and reported as the median.
//!
//! - `uncontended`: one thread, acquire + release, ns per pair. With the checker, an
//!   acquisition with nothing held pushes onto the thread-local held stack.
//! - `nested`: one thread, acquire + release while holding an outer `SpinLock`: with the
//!   checker, every acquisition takes its global lock and looks the edge up.
//! - `contended`: one thread per core on one shared object, ops/s.
//! - `contended, nested`: one thread per core, each holding an outer lock of its own (one class
//!   per thread) while it takes the shared one: the checker's global lock is taken by every
//!   acquisition of every thread.
//!
//! `Semaphore` has no nested rows: a permit released under the lock it was acquired under is a
//! wait that needs that lock, which the checker rightly reports (docs/lockdep.md).
//!
//! Every object is a `static`, so one class for the whole run: a window's objects do not fill
//! the checker's class table with a new address each.

use super::{
    median, run_window, BenchReport, Candidate, Env, Experiment, Group, GroupResult, Row, Sample,
    Unit,
};
use baresync::{CachePadded, Mutex, RwLock, Semaphore, SpinLock};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Whether this build has the checker.
pub const ON: bool = cfg!(feature = "lockdep");

/// The suffix of this build's rows.
pub fn suffix() -> &'static str {
    suffix_of(ON)
}

/// The reference of the merged group's ratios: each row's own primitive with the checker off.
pub const REFERENCE: &str = "lockdep off";

/// The case of one thread with nothing else held.
pub const UNCONTENDED: &str = "uncontended";
/// The case of one thread holding an outer lock.
pub const NESTED: &str = "nested";
/// The case of one thread per core on one object.
pub const CONTENDED: &str = "contended";
/// The case of one thread per core on one object, each holding an outer lock of its own.
pub const CONTENDED_NESTED: &str = "contended, nested";

/// Outer locks, one per thread (threads beyond share them round-robin).
const OUTERS: usize = 64;
static OUTER: [CachePadded<SpinLock<u64>>; OUTERS] =
    [const { CachePadded::new(SpinLock::new(0)) }; OUTERS];
static SPIN: CachePadded<SpinLock<u64>> = CachePadded::new(SpinLock::new(0));
static MUTEX: CachePadded<Mutex<u64>> = CachePadded::new(Mutex::new(0));
static RW: CachePadded<RwLock<u64>> = CachePadded::new(RwLock::new(0));
static SEM: CachePadded<Semaphore> = CachePadded::new(Semaphore::new(1));

/// A measured primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prim {
    /// `baresync::SpinLock`.
    SpinLock,
    /// `baresync::Mutex` (its default backend).
    Mutex,
    /// `baresync::RwLock::read`.
    RwRead,
    /// `baresync::RwLock::write`.
    RwWrite,
    /// `baresync::Semaphore::acquire` and the permit's drop.
    Semaphore,
}

impl Prim {
    /// Every primitive, in row order.
    pub const ALL: [Prim; 5] = [
        Prim::SpinLock,
        Prim::Mutex,
        Prim::RwRead,
        Prim::RwWrite,
        Prim::Semaphore,
    ];

    /// The row's name, without the build's suffix.
    pub fn name(self) -> &'static str {
        match self {
            Prim::SpinLock => "baresync::SpinLock",
            Prim::Mutex => "baresync::Mutex",
            Prim::RwRead => "baresync::RwLock::read",
            Prim::RwWrite => "baresync::RwLock::write",
            Prim::Semaphore => "baresync::Semaphore",
        }
    }

    /// One acquire + release.
    #[inline]
    fn op(self) {
        match self {
            Prim::SpinLock => *SPIN.lock() += 1,
            Prim::Mutex => *MUTEX.lock() += 1,
            Prim::RwRead => {
                std::hint::black_box(*RW.read());
            }
            Prim::RwWrite => *RW.write() += 1,
            Prim::Semaphore => drop(SEM.acquire()),
        }
    }
}

/// `threads` threads doing `prim`'s acquire + release, each under its own outer lock when
/// `nested`; the value is ns per operation of the one thread (`threads == 1`) or ops/s.
fn measure(env: &Env, prim: Prim, threads: usize, nested: bool) -> Sample {
    let w = run_window(env, threads, |me, stop| {
        let outer = &OUTER[me % OUTERS];
        let mut n = 0u64;
        while !stop.load(Relaxed) {
            if nested {
                let _outer = outer.lock();
                for _ in 0..64 {
                    prim.op();
                }
            } else {
                for _ in 0..64 {
                    prim.op();
                }
            }
            n += 64;
        }
        n
    });
    let total: u64 = w.counts.iter().sum();
    let value = if threads == 1 {
        (total > 0).then(|| w.busy().as_nanos() as f64 / total as f64)
    } else {
        Some(total as f64 / w.busy().as_secs_f64())
    };
    Sample {
        value,
        cpu_ns_per_op: w.cpu_per_op(total),
        counts: if threads > 1 { w.counts } else { Vec::new() },
        ..Sample::default()
    }
}

/// The group for `cores` cores, measuring this build.
pub fn group(cores: usize) -> Group {
    let threads = cores.max(2);
    let cases = [
        (UNCONTENDED, 1, false),
        (NESTED, 1, true),
        (CONTENDED, threads, false),
        (CONTENDED_NESTED, threads, true),
    ];
    let experiments = cases
        .into_iter()
        .map(|(case, t, nested)| Experiment {
            case: case.into(),
            threads: t,
            unit: if t == 1 {
                Unit::NsPerOp
            } else {
                Unit::OpsPerSec
            },
            relative_to_floor: false,
            candidates: Prim::ALL
                .into_iter()
                .filter(|&p| !(nested && p == Prim::Semaphore))
                .map(|p| {
                    Candidate::new(&format!("{}{}", p.name(), suffix()), false, move |env| {
                        measure(env, p, t, nested)
                    })
                })
                .collect(),
        })
        .collect();
    Group {
        name: "lockdep",
        title: "the lock-order checker's cost (feature `lockdep`): acquire + release with \
                nothing held and under an outer lock, one thread and one per core, in a build \
                without the checker and one with it; speed with it on against off, measured \
                in alternating rounds of the two builds",
        reference: REFERENCE,
        experiments,
    }
}

/// The two builds [`compare`] runs.
#[derive(Clone, Debug)]
pub struct Builds {
    /// host-runner without the checker.
    pub off: PathBuf,
    /// host-runner with it (`host-runner-lockdep`).
    pub on: PathBuf,
}

/// The cargo to run: the one that ran us (`$CARGO`), else `cargo` from the `PATH`.
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Builds `host-runner-lockdep` (host-runner with feature `lockdep`, in the profile of this
/// build) in the workspace at `root` and returns the executable's path. Cargo's own output
/// (progress, errors) goes to stderr.
///
/// # Errors
///
/// Cargo cannot be run, the build fails, or cargo names no executable.
pub fn build_on(root: &Path) -> Result<PathBuf, String> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root).args([
        "build",
        "-p",
        "host-runner",
        "--features",
        "lockdep",
        "--bin",
        "host-runner-lockdep",
        "--message-format=json-render-diagnostics",
    ]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    eprintln!("report: building host-runner-lockdep (host-runner with feature lockdep)");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo to build host-runner-lockdep: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build of host-runner-lockdep failed ({})",
            out.status
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["reason"] == "compiler-artifact" && v["target"]["name"] == "host-runner-lockdep"
        })
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo built host-runner-lockdep but named no executable".into())
}

/// Runs `bench --group lockdep` for one round in `bin` and returns its rows; `on` says which
/// build it must be (checked against the rows' names).
fn one_round(
    bin: &Path,
    on: bool,
    window: Duration,
    cpus: Option<&[usize]>,
    round: usize,
) -> Result<Vec<Row>, String> {
    let json = std::env::temp_dir().join(format!(
        "host-runner-lockdep-{}-{round}-{}.json",
        std::process::id(),
        if on { "on" } else { "off" }
    ));
    let mut cmd = Command::new(bin);
    cmd.args([
        "bench",
        "--group",
        "lockdep",
        "--rounds",
        "1",
        "--no-progress",
    ])
    .arg("--window")
    .arg(format!("{}ms", window.as_millis().max(1)))
    .arg("--json")
    .arg(&json);
    if let Some(cpus) = cpus {
        cmd.arg("--cpus")
            .arg(crate::topology::format_cpu_list(cpus));
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()));
    let text = std::fs::read_to_string(&json);
    let _ = std::fs::remove_file(&json);
    let out = out?;
    if !out.status.success() {
        return Err(format!(
            "{} bench --group lockdep failed ({}):\n{}{}",
            bin.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = text.map_err(|e| format!("{} wrote no JSON: {e}", bin.display()))?;
    let report: BenchReport = serde_json::from_str(&text)
        .map_err(|e| format!("{} wrote bad JSON: {e}", bin.display()))?;
    let rows = report
        .groups
        .into_iter()
        .find(|g| g.name == "lockdep")
        .map(|g| g.rows)
        .unwrap_or_default();
    let want = if on {
        " (lockdep on)"
    } else {
        " (lockdep off)"
    };
    if rows.is_empty() || !rows.iter().all(|r| r.implementation.ends_with(want)) {
        return Err(format!(
            "{} is not the build with lockdep {}: its rows are not named `...{want}`",
            bin.display(),
            if on { "on" } else { "off" }
        ));
    }
    Ok(rows)
}

/// One row's rounds, both builds.
#[derive(Default)]
struct Pair {
    off: Vec<Row>,
    on: Vec<Row>,
}

/// Runs both builds' `lockdep` group for `profile.rounds` rounds, one process per build and
/// round, alternating which goes first (off on, on off, ...), and merges them into one group:
/// each primitive's row with the checker off (ratio 1) and on (the median over the rounds of
/// on's speed against off's in the same round).
///
/// # Errors
///
/// A build cannot be run, fails, or is not the build it should be.
pub fn compare(
    builds: &Builds,
    profile: &super::Profile,
    cpus: Option<&[usize]>,
) -> Result<GroupResult, String> {
    let mut pairs: Vec<((String, usize, String), Pair)> = Vec::new();
    let rounds = profile.rounds.max(1);
    for round in 0..rounds {
        eprintln!("report: lockdep off/on, round {} of {rounds}", round + 1);
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for on in order {
            let bin = if on { &builds.on } else { &builds.off };
            for row in one_round(bin, on, profile.window, cpus, round)? {
                let base = row
                    .implementation
                    .trim_end_matches(suffix_of(on))
                    .to_string();
                let key = (row.case.clone(), row.threads, base);
                let slot = match pairs.iter().position(|(k, _)| *k == key) {
                    Some(i) => &mut pairs[i].1,
                    None => {
                        pairs.push((key, Pair::default()));
                        &mut pairs.last_mut().expect("just pushed").1
                    }
                };
                if on {
                    slot.on.push(row);
                } else {
                    slot.off.push(row);
                }
            }
        }
    }
    let mut rows = Vec::new();
    for ((_, _, base), pair) in &pairs {
        let (Some(first_off), Some(_)) = (pair.off.first(), pair.on.first()) else {
            continue;
        };
        let unit = first_off.unit;
        // Ratios within each round: both builds ran one after the other.
        let ratios: Vec<f64> = pair
            .off
            .iter()
            .zip(&pair.on)
            .filter_map(|(off, on)| match (off.median, on.median) {
                (Some(a), Some(b)) if a > 0.0 && b > 0.0 => Some(if unit.higher_is_better() {
                    b / a
                } else {
                    a / b
                }),
                _ => None,
            })
            .collect();
        for (on, rounds) in [(false, &pair.off), (true, &pair.on)] {
            let values: Vec<f64> = rounds.iter().filter_map(|r| r.median).collect();
            let floors: Vec<f64> = rounds.iter().filter_map(|r| r.floor_ns).collect();
            let cpu: Vec<f64> = rounds.iter().filter_map(|r| r.cpu_ns_per_op).collect();
            rows.push(Row {
                group: "lockdep".into(),
                case: first_off.case.clone(),
                threads: first_off.threads,
                oversubscribed: first_off.oversubscribed,
                implementation: format!("{base}{}", suffix_of(on)),
                baseline: false,
                unit,
                median: median(&values),
                min: values.iter().copied().reduce(f64::min),
                max: values.iter().copied().reduce(f64::max),
                speedup: if on { median(&ratios) } else { Some(1.0) },
                floor_ns: median(&floors),
                floors_ns: floors,
                x_floor: None,
                min_ops: None,
                max_ops: None,
                acq_per_handoff: None,
                cpu_ns_per_op: median(&cpu),
                events: None,
                latency: None,
                samples: values,
                loaded: false,
            });
        }
    }
    let g = group(1);
    Ok(GroupResult {
        name: g.name.into(),
        title: g.title.into(),
        reference: REFERENCE.into(),
        rows,
    })
}

/// The suffix of the rows of the build with the checker `on` or off.
fn suffix_of(on: bool) -> &'static str {
    if on {
        " (lockdep on)"
    } else {
        " (lockdep off)"
    }
}
