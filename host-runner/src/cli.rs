//! The command line: `topology`, `stress`, and a short tour of both with no subcommand.
//!
//! Exit status: 0 success, 1 a broken invariant (or a negative control not caught), 2 bad
//! arguments.

// Re-exported so that paths through `cli` keep working; the modules below `cli` (bench,
// stress, report) import them from `crate::args`, never from here.
use crate::args::parse_cpus_arg;
pub use crate::args::{
    parse_duration, parse_seed, CpuList, UsageError, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION,
};
use crate::pin::{Plan, MIN_DEFAULT_WORKERS};
use crate::report::{table, RunReport};
use crate::stress::{self, Backend, Config, Scenario};
use crate::topology::{format_cpu_list, Topology};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Run the shared-memory scenarios with forked worker processes (one MAP_SHARED mapping)
    /// instead of threads (Linux).
    #[arg(long)]
    pub processes: bool,
    /// With --processes: SIGKILL workers at random points (robust lock, queue consumers); adds
    /// the controls a kill must expose (a death ignored, acknowledgements made late).
    #[arg(long, requires = "processes")]
    pub kill: bool,
    /// Run with baresync's lock-order checker on: any report is a violation, and a negative
    /// control (two locks taken in both orders, never at the same time) must be reported.
    /// Needs host-runner built with `--features lockdep`.
    #[arg(long, conflicts_with = "processes")]
    pub lockdep: bool,
}

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

/// The primitive families `--primitive` names (empty: all), as [`stress::primitive_names`]
/// spells them.
///
/// # Errors
///
/// An unknown primitive (the message lists the known ones).
pub fn selected_primitives(args: &StressArgs) -> Result<Vec<&'static str>, UsageError> {
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
    Ok(wanted)
}

/// The scenarios `args` selects.
///
/// # Errors
///
/// An unknown primitive (the message lists the known ones), or a selection that matches
/// nothing.
pub fn select(args: &StressArgs) -> Result<Vec<Box<dyn Scenario>>, UsageError> {
    let wanted = selected_primitives(args)?;
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
    #[cfg(target_os = "linux")]
    if args.processes {
        let plan = plan(topo, &args.plan)?;
        let duration = args.duration.unwrap_or(default_duration);
        let seed = args.seed.unwrap_or_else(clock_seed);
        // Open the JSON file first, so a bad path is a usage error before any work.
        let mut json = match &args.json {
            Some(path) => Some(std::fs::File::create(path).map_err(|e| {
                UsageError(format!("cannot create --json file {}: {e}", path.display()))
            })?),
            None => None,
        };
        return Ok(stress::process::main(
            &plan,
            duration,
            seed,
            args.kill,
            args.jitter,
            json.as_mut(),
        ));
    }
    if args.lockdep {
        if !stress::lockdep::AVAILABLE {
            return Err(UsageError(
                "--lockdep needs host-runner built with the checker: \
                 cargo run -p host-runner --features lockdep -- stress --lockdep"
                    .into(),
            ));
        }
        stress::lockdep::enable();
    }
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

    let blind = single_worker_warning(&chosen, cfg.plan.threads());
    if let Some(w) = &blind {
        eprintln!("warning: {w}");
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
    // Only the controls of the selected primitives: they show that those primitives' checks
    // can fail.
    let mut controls = stress::controls_for(&selected_primitives(args)?);
    if args.lockdep {
        controls.push(Box::new(stress::lockdep::InversionControl));
    }
    let runs: Vec<(&dyn Scenario, &Config)> = chosen
        .iter()
        .map(|s| (s.as_ref(), &cfg))
        .chain(controls.iter().map(|s| (s.as_ref(), &control_cfg)))
        .collect();
    // Each scenario's time bound is the estimate of how long it takes.
    let estimates: Vec<Duration> = runs.iter().map(|(_, c)| c.duration).collect();
    let mut eta = crate::term::Eta::new(&estimates);
    let mut results = Vec::new();
    for (k, (s, c)) in runs.iter().enumerate() {
        if let Some(line) = eta.line("scenario", k, &s.info().name) {
            eprintln!("stress: {line}");
        }
        results.push(run_one(*s, c));
        eta.done(k);
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
        match blind {
            Some(_) => println!(
                "result: PASS, with one worker: the checks the warning names were not exercised"
            ),
            None => println!("result: PASS"),
        }
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

/// With fewer than two workers, the warning that names the checks of `chosen` that cannot
/// fail (nothing contends); `None` with two or more.
pub fn single_worker_warning(chosen: &[Box<dyn Scenario>], workers: usize) -> Option<String> {
    if workers >= 2 {
        return None;
    }
    let mut families: Vec<&str> = Vec::new();
    for s in chosen {
        let p = s.info().primitive;
        if !families.contains(&p) && !stress::checks_needing_two_workers(p).is_empty() {
            families.push(p);
        }
    }
    let blind: Vec<String> = families
        .iter()
        .map(|p| format!("{p}: {}", stress::checks_needing_two_workers(p).join(", ")))
        .collect();
    Some(format!(
        "--threads {workers}: a single worker contends with nobody, so these checks cannot fail \
         in this run: {}. (The negative controls still run with {MIN_DEFAULT_WORKERS} workers.) \
         Use --threads 2 or more to check them.",
        if blind.is_empty() {
            "none named".to_string()
        } else {
            blind.join("; ")
        }
    ))
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
            err.contains("SpinLock, TicketLock, McsLock, FairLock, Mutex, ReentrantLock"),
            "{err}"
        );
        assert!(err.contains("Barrier, Queue, JoinableQueue"), "{err}");
    }

    #[test]
    fn every_primitive_has_its_own_controls() {
        let known = stress::primitive_names();
        let all = stress::controls();
        assert_eq!(stress::controls_for(&[]).len(), all.len());
        for c in &all {
            for p in c.covers() {
                assert!(known.contains(p), "{} covers unknown {p}", c.info().name);
            }
        }
        for p in &known {
            let mine = stress::controls_for(&[p]);
            assert!(
                mine.iter().any(|c| c.covers().contains(p)),
                "no control covers {p}"
            );
            assert!(mine.len() < all.len(), "{p} runs every control");
        }
    }
}
