//! The command line: `topology`, `stress`, and a short tour of both with no subcommand.
//!
//! Exit status: 0 success, 1 a broken invariant (or a negative control not caught), 2 bad
//! arguments.

use crate::pin::{Plan, MIN_DEFAULT_WORKERS};
use crate::report::{table, RunReport};
use crate::stress::{self, Backend, Config, Scenario};
use crate::topology::{format_cpu_list, parse_cpu_list, Topology};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: an invariant broke, or a negative control was not caught.
pub const EXIT_VIOLATION: i32 = 1;
/// Exit status: bad arguments.
pub const EXIT_USAGE: i32 = 2;

/// Longest time a negative control runs, whatever `--duration` says.
const CONTROL_MAX_DURATION: Duration = Duration::from_secs(2);
/// A negative control runs at least this long (if `--duration` allows), or three progress
/// limits if that is longer: every check but the progress watchdog fires within
/// milliseconds.
const CONTROL_MIN_DURATION: Duration = Duration::from_millis(400);
/// Most operations a negative control runs, whatever `--ops` says.
const CONTROL_MAX_OPS: u64 = 2_000_000;

/// Time per scenario of `stress` when neither `--duration` nor `--ops` is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(1);
/// Time per scenario of the short stress run with no subcommand: three progress limits of a
/// run with one worker per core, so that a stalled worker is seen before the run ends.
pub const QUICK_DURATION: Duration = Duration::from_millis(300);

/// Validate and measure baresync's primitives on this machine's cores.
///
/// With no subcommand: prints the topology, then runs a short stress of every primitive.
#[derive(Debug, Parser)]
#[command(name = "host-runner", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: topology, then a short stress of everything).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show logical CPUs, packages, physical cores, SMT, and where each worker will be pinned.
    Topology(PlanArgs),
    /// Stress every primitive with pinned workers and check its invariants.
    Stress(StressArgs),
    /// Measure every primitive next to std, parking_lot, spin, crossbeam and heapless, pinned.
    Bench(crate::bench::BenchArgs),
    /// Run (or read with --from) a bench and write docs/results/: tables and SVG plots.
    Report(crate::bench::report::ReportArgs),
}

/// Which CPUs workers run on.
#[derive(Debug, Clone, Default, Args)]
pub struct PlanArgs {
    /// Number of workers (default: one per physical core, at least 2); more than the CPUs
    /// oversubscribes them, assigned round-robin.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// CPUs to use instead of one per physical core, as a list like `0,2-3`.
    #[arg(long, value_name = "LIST", value_parser = parse_cpus_arg)]
    pub cpus: Option<CpuList>,
}

/// A parsed `--cpus` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

fn parse_cpus_arg(s: &str) -> Result<CpuList, String> {
    parse_cpu_list(s).map(CpuList)
}

/// Options of `stress`.
#[derive(Debug, Clone, Default, Args)]
pub struct StressArgs {
    /// Workers and CPUs.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// A primitive to stress (repeatable; default: all). Case-insensitive.
    #[arg(long = "primitive", value_name = "NAME")]
    pub primitives: Vec<String>,
    /// Only scenarios waiting through this backend (repeatable; default: all).
    #[arg(long = "backend", value_enum, value_name = "BACKEND")]
    pub backends: Vec<Backend>,
    /// Time per scenario, like `2s`, `500ms`, `1.5s`, `1m` (default 1s; with only `--ops`,
    /// a 60s limit).
    #[arg(long, value_name = "TIME", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Operations per scenario, shared between the workers (the time bound still applies).
    #[arg(long, value_name = "N")]
    pub ops: Option<u64>,
    /// Seed of the jitter RNG (decimal or 0x-hex; default: from the clock, printed).
    #[arg(long, value_name = "SEED", value_parser = parse_seed)]
    pub seed: Option<u64>,
    /// Random delays (spins and yields) inside and outside critical sections.
    #[arg(long)]
    pub jitter: bool,
    /// Also write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

/// Parses `2s`, `500ms`, `1.5s`, `250us`, `1m`; a bare number is seconds.
///
/// # Errors
///
/// A message for a malformed, negative, zero or unknown-unit duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (expected e.g. 2s, 500ms)"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        "m" | "min" => 60.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (use ns, us, ms, s, m)"
            ))
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e7 {
        return Err(format!("duration {s:?} must be positive and sane"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a seed in decimal or `0x` hex.
///
/// # Errors
///
/// A message for anything else.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    }
    .map_err(|_| format!("bad seed {s:?} (decimal or 0x-hex u64)"))
}

/// A usage error: printed, then exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

/// Runs the command line; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` print to stdout with status 0; errors exit with 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let topo = Topology::detect();
    let result = match cli.command {
        Some(Command::Topology(args)) => topology(&topo, &args).map(|()| EXIT_OK),
        Some(Command::Stress(args)) => stress(&topo, &args, DEFAULT_DURATION),
        Some(Command::Bench(args)) => crate::bench::main(&topo, &args),
        Some(Command::Report(args)) => crate::bench::report::main(&topo, &args),
        None => topology(&topo, &PlanArgs::default()).and_then(|()| {
            println!();
            stress(&topo, &StressArgs::default(), QUICK_DURATION)
        }),
    };
    match result {
        Ok(code) => code,
        Err(UsageError(msg)) => {
            eprintln!("error: {msg}");
            eprintln!("\nFor more information, try '--help'.");
            EXIT_USAGE
        }
    }
}

fn plan(topo: &Topology, args: &PlanArgs) -> Result<Plan, UsageError> {
    Plan::new(
        topo,
        args.threads,
        args.cpus.as_ref().map(|c| c.0.as_slice()),
    )
    .map_err(UsageError)
}

/// `host-runner topology`.
fn topology(topo: &Topology, args: &PlanArgs) -> Result<(), UsageError> {
    let plan = plan(topo, args)?;
    println!("{topo}");
    println!("{plan}");
    Ok(())
}

/// The scenarios `args` selects.
///
/// # Errors
///
/// An unknown primitive (the message lists the known ones), or a selection that matches
/// nothing.
pub fn select(args: &StressArgs) -> Result<Vec<Box<dyn Scenario>>, UsageError> {
    let known = stress::primitive_names();
    let mut wanted = Vec::new();
    for name in &args.primitives {
        match known.iter().find(|k| k.eq_ignore_ascii_case(name.trim())) {
            Some(k) => wanted.push(*k),
            None => {
                return Err(UsageError(format!(
                    "unknown primitive '{name}'; known primitives: {}",
                    known.join(", ")
                )))
            }
        }
    }
    let chosen: Vec<Box<dyn Scenario>> = stress::scenarios()
        .into_iter()
        .filter(|s| {
            let info = s.info();
            (wanted.is_empty() || wanted.contains(&info.primitive))
                && (args.backends.is_empty()
                    || info.backend.is_some_and(|b| args.backends.contains(&b)))
        })
        .collect();
    if chosen.is_empty() {
        let backends: Vec<String> = args
            .backends
            .iter()
            .filter_map(|b| b.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect();
        return Err(UsageError(format!(
            "no scenario matches --primitive {} with --backend {} (SpinLock only spins)",
            args.primitives.join(","),
            backends.join(",")
        )));
    }
    Ok(chosen)
}

/// `host-runner stress`; `default_duration` applies when neither `--duration` nor `--ops`
/// is given.
fn stress(
    topo: &Topology,
    args: &StressArgs,
    default_duration: Duration,
) -> Result<i32, UsageError> {
    let chosen = select(args)?;
    let plan = plan(topo, &args.plan)?;
    // Controls need two workers to race, whatever --threads says.
    let control_plan = if plan.threads() < MIN_DEFAULT_WORKERS {
        Plan::new(
            topo,
            Some(MIN_DEFAULT_WORKERS),
            args.plan.cpus.as_ref().map(|c| c.0.as_slice()),
        )
        .map_err(UsageError)?
    } else {
        plan.clone()
    };
    if args.ops == Some(0) {
        return Err(UsageError("--ops must be at least 1".into()));
    }
    let duration = match (args.duration, args.ops) {
        (Some(d), _) => d,
        (None, Some(_)) => stress::OPS_TIME_LIMIT,
        (None, None) => default_duration,
    };
    // Open the JSON file now, so a bad path is a usage error before minutes of work.
    let mut json = match &args.json {
        Some(path) => Some(std::fs::File::create(path).map_err(|e| {
            UsageError(format!("cannot create --json file {}: {e}", path.display()))
        })?),
        None => None,
    };
    let seed = args.seed.unwrap_or_else(clock_seed);
    let progress_limit = stress::progress_limit(duration, &plan);
    let min_duration = stress::min_duration_for(progress_limit);
    let duration = if duration < min_duration {
        eprintln!(
            "warning: {duration:?} per scenario is too short to see a worker stuck for the \
             progress limit ({progress_limit:?} with these workers); running {min_duration:?} \
             per scenario"
        );
        min_duration
    } else {
        duration
    };
    let cfg = Config {
        plan,
        progress_limit,
        duration,
        ops: args.ops,
        seed,
        jitter: args.jitter,
        hang_grace: stress::HANG_GRACE,
        progress: !args.no_progress,
    };
    let bound = match cfg.ops {
        Some(ops) => format!("{ops} ops (time limit {duration:?})"),
        None => format!("{duration:?}"),
    };
    println!(
        "stress: {} workers on CPUs {}{}, {bound} per scenario, progress limit {:?}, seed \
         {seed:#x}, jitter {}",
        cfg.plan.threads(),
        format_cpu_list(&sorted(&cfg.plan.cpus)),
        if cfg.plan.oversubscribed {
            " (oversubscribed)"
        } else {
            ""
        },
        cfg.progress_limit,
        if cfg.jitter { "on" } else { "off" },
    );

    let mut results = Vec::new();
    for s in &chosen {
        results.push(run_one(s.as_ref(), &cfg));
    }
    // The controls only have to show that every check can fail, which they do within
    // milliseconds; a long soak of the real primitives need not soak the controls too.
    // They run with the progress limit the real scenarios have (that of their own plan, with
    // the run's duration), so a control that is caught shows the check fires in a run like
    // this one; and for long enough to see it.
    let control_limit = stress::progress_limit(cfg.duration, &control_plan);
    let control_duration = cfg
        .duration
        .min(CONTROL_MAX_DURATION)
        .min(stress::min_duration_for(control_limit).max(CONTROL_MIN_DURATION));
    let control_cfg = Config {
        plan: control_plan.clone(),
        duration: control_duration,
        ops: cfg.ops.map(|ops| ops.min(CONTROL_MAX_OPS)),
        progress_limit: control_limit,
        ..cfg.clone()
    };
    for s in stress::controls() {
        results.push(run_one(s.as_ref(), &control_cfg));
    }

    let report = RunReport::new(topo.clone(), cfg, control_plan, results);
    println!("{}", table(&report.scenarios));
    for r in &report.scenarios {
        for v in &r.violations {
            println!("  {}: {}: {}", r.info.name, v.check, v.detail);
        }
        for n in &r.notes {
            println!("  {}: note: {n}", r.info.name);
        }
    }
    if report.control_caught {
        println!(
            "negative controls: caught (every check failed on a broken primitive, as it must)"
        );
    } else {
        println!("negative controls: NOT caught: the checks could not see a broken primitive, so this run proves nothing");
    }
    let broken = report
        .scenarios
        .iter()
        .filter(|r| r.verdict == stress::Verdict::Fail)
        .count();
    if let Some(file) = json.as_mut() {
        let written = serde_json::to_writer_pretty(&mut *file, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(file));
        if let Err(e) = written {
            eprintln!("error: writing the JSON report: {e}");
            return Ok(EXIT_VIOLATION);
        }
    }
    if report.ok {
        println!("result: PASS");
        Ok(EXIT_OK)
    } else {
        println!(
            "result: FAIL ({broken} primitive scenario(s) broke an invariant{})",
            if report.control_caught {
                ""
            } else {
                "; negative control not caught"
            }
        );
        Ok(EXIT_VIOLATION)
    }
}

fn run_one(s: &dyn Scenario, cfg: &Config) -> stress::ScenarioResult {
    let r = stress::run_scenario(s, cfg);
    if !r.pin_failures.is_empty() {
        let workers: Vec<String> = r
            .pin_failures
            .iter()
            .map(|p| format!("{}->cpu {}", p.worker, p.cpu))
            .collect();
        eprintln!(
            "warning: {}: {} worker(s) could not be pinned and ran unpinned: {}",
            r.info.name,
            r.pin_failures.len(),
            workers.join(", ")
        );
    }
    r
}

fn sorted(v: &[usize]) -> Vec<usize> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn seeds() {
        assert_eq!(parse_seed("42").unwrap(), 42);
        assert_eq!(parse_seed("0x2A").unwrap(), 42);
        assert!(parse_seed("-1").is_err());
    }

    #[test]
    fn selection() {
        let all = select(&StressArgs::default()).unwrap();
        assert_eq!(all.len(), stress::scenarios().len());
        assert!(all.len() >= 28);
        let args = StressArgs {
            primitives: vec!["ticketlock".into()],
            backends: vec![Backend::Futex],
            ..Default::default()
        };
        let names: Vec<String> = select(&args)
            .unwrap()
            .iter()
            .map(|s| s.info().name)
            .collect();
        assert_eq!(names, vec!["TicketLock<Futex>"]);
        let bad = StressArgs {
            primitives: vec!["nope".into()],
            ..Default::default()
        };
        let err = select(&bad).err().unwrap().0;
        assert!(
            err.contains("SpinLock, TicketLock, FairLock, Mutex, ReentrantLock"),
            "{err}"
        );
        assert!(err.contains("Barrier, Queue, JoinableQueue"), "{err}");
    }
}
