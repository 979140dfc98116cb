//! `host-runner report`: runs a bench (or reads its JSON with `--from`) and writes
//! `docs/results/`: `README.md` (the machine, the floor, a table per group and the
//! oversubscription summary), SVG plots, and the run's `bench.json` and `bench.csv`.
//!
//! Every number under `docs/` comes from here; nothing is typed by hand.

use super::output::{self, human_ns};
use super::{plot, BenchArgs, BenchReport, GroupResult};
use crate::args::{UsageError, EXIT_OK, EXIT_VIOLATION};
use crate::topology::Topology;
use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Options of `report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Where to write README.md, the SVG plots, bench.json and bench.csv (default: the
    /// workspace's docs/results, found from the current directory up; required outside it).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Read a bench's JSON (from `bench --json`) instead of running one.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Run a `bench --quick` (about a minute) instead of the full bench.
    #[arg(long, conflicts_with = "smoke")]
    pub quick: bool,
    /// Run a `bench --smoke` (a few seconds; numbers not meaningful, for tests).
    #[arg(long)]
    pub smoke: bool,
    /// Also compare the ratios with another bench's JSON (say, the run just before) and
    /// report how far each moved: the run-to-run spread. The file is copied into the output
    /// directory as `bench-compare.json`, so the page can be regenerated from what is
    /// committed.
    #[arg(long, value_name = "FILE")]
    pub compare: Option<PathBuf>,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// The build with the lock-order checker for the `lockdep` group (default: build
    /// `host-runner-lockdep` with cargo in the workspace).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["from", "no_lockdep"])]
    pub lockdep_bin: Option<PathBuf>,
    /// Leave out the `lockdep` group (the checker's cost, which needs a second build).
    #[arg(long, conflicts_with = "from")]
    pub no_lockdep: bool,
}

fn read_json(path: &Path) -> Result<BenchReport, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str::<BenchReport>(&text)
        .map_err(|e| UsageError(format!("{} is not a bench JSON: {e}", path.display())))
}

/// The root of the workspace that holds host-runner: the nearest directory, from `from` up,
/// with a `Cargo.toml` that declares `[workspace]` and a `host-runner/Cargo.toml` beside it.
/// `None` outside such a workspace.
pub fn workspace_root(from: &Path) -> Option<PathBuf> {
    from.ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|toml| {
                toml.lines().any(|l| l.trim() == "[workspace]")
                    && dir.join("host-runner").join("Cargo.toml").is_file()
            })
        })
        .map(Path::to_path_buf)
}

/// The directory `report` writes to: `--out`, else the workspace's `docs/results`.
///
/// # Errors
///
/// No `--out` and `cwd` is not inside the workspace.
pub fn out_dir(out: Option<&Path>, cwd: &Path) -> Result<PathBuf, UsageError> {
    match (out, workspace_root(cwd)) {
        (Some(dir), _) => Ok(dir.to_path_buf()),
        (None, Some(root)) => Ok(root.join("docs").join("results")),
        (None, None) => Err(UsageError(format!(
            "{} is not inside the baresync workspace, so there is no docs/results to write \
             to: name a directory with --out DIR (this build's workspace was {})",
            cwd.display(),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")))
                .display()
        ))),
    }
}

/// The path from directory `from` to directory `to`, `/`-separated, for a markdown link
/// (`..` for the parent); `None` when either does not exist.
pub fn relative_link(from: &Path, to: &Path) -> Option<String> {
    let from = std::fs::canonicalize(from).ok()?;
    let to = std::fs::canonicalize(to).ok()?;
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = from
        .components()
        .skip(common)
        .map(|_| "..".to_string())
        .collect();
    parts.extend(
        to.components()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Some(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
}

/// How far a ratio may move between two runs and still count as reproduced.
pub const SPREAD_LIMIT: f64 = 0.20;

/// The run-to-run spread section: each candidate's speed ratio to its group's reference in
/// `this` run against `other`.
pub fn spread(this: &BenchReport, other: &BenchReport) -> String {
    let key =
        |g: &str, r: &super::Row| format!("{g}|{}|{}|{}", r.case, r.threads, r.implementation);
    let mut before = std::collections::HashMap::new();
    // Each row's own median in the other run, to tell a candidate that moved from a reference
    // that moved under it.
    let mut medians_before = std::collections::HashMap::new();
    for g in &other.groups {
        for r in &g.rows {
            if let Some(x) = r.speedup {
                before.insert(key(&g.name, r), x);
            }
            if let Some(m) = r.median {
                medians_before.insert(key(&g.name, r), m);
            }
        }
    }
    let moved_by = |g: &str, r: &super::Row| match (r.median, medians_before.get(&key(g, r))) {
        (Some(now), Some(&then)) if then > 0.0 => format!("{:+.0}%", (now / then - 1.0) * 100.0),
        _ => "–".into(),
    };
    let cores = this.machine.cpus.len();
    let mut per_group: Vec<(String, usize, usize)> = Vec::new();
    // [one thread per core at most, more threads than cores]: (within, total).
    let mut by_load = [(0usize, 0usize); 2];
    let mut moved = Vec::new();
    for g in &this.groups {
        let (mut within, mut total) = (0, 0);
        for r in g.rows.iter().filter(|r| r.implementation != g.reference) {
            let (Some(now), Some(then)) = (r.speedup, before.get(&key(&g.name, r))) else {
                continue;
            };
            let load = &mut by_load[usize::from(r.threads > cores)];
            total += 1;
            load.1 += 1;
            let change = now / then - 1.0;
            if change.abs() <= SPREAD_LIMIT {
                within += 1;
                load.0 += 1;
            } else {
                moved.push((change, g.name.clone(), r, *then, now));
            }
        }
        per_group.push((g.name.clone(), within, total));
    }
    let (w, t) = per_group
        .iter()
        .fold((0, 0), |(w, t), g| (w + g.1, t + g.2));
    let mut s = format!(
        "Speed ratios of this run against the run of {} ({} profile): {w} of {t} moved by at \
         most ±{:.0}%.\n\n",
        other.machine.date,
        other.profile.name,
        SPREAD_LIMIT * 100.0
    );
    let _ = writeln!(
        s,
        "By load: {} of {} with at most one thread per core, {} of {} with more threads than \
         cores (those follow the scheduler more than the primitive).\n",
        by_load[0].0, by_load[0].1, by_load[1].0, by_load[1].1
    );
    s.push_str(&md_row(&["group".into(), "ratios within the limit".into()]));
    s.push_str(&md_row(&vec!["---".to_string(); 2]));
    for (g, w, t) in &per_group {
        s.push_str(&md_row(&[g.clone(), format!("{w} / {t}")]));
    }
    if !moved.is_empty() {
        moved.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
        s.push_str(
            "\nThe ratios that moved more. *own median* and *reference median* are how far each \
             side's absolute value moved between the runs: a ratio moves when either does.\n\n",
        );
        s.push_str(&md_row(&[
            "group".into(),
            "case".into(),
            "threads".into(),
            "implementation".into(),
            "other run".into(),
            "this run".into(),
            "change".into(),
            "own median".into(),
            "reference median".into(),
        ]));
        s.push_str(&md_row(&vec!["---".to_string(); 9]));
        for (change, g, r, then, now) in moved {
            let reference = this
                .groups
                .iter()
                .find(|x| x.name == g)
                .and_then(|x| {
                    x.rows.iter().find(|o| {
                        o.implementation == x.reference
                            && o.case == r.case
                            && o.threads == r.threads
                    })
                })
                .map_or_else(|| "–".into(), |o| moved_by(&g, o));
            s.push_str(&md_row(&[
                g.clone(),
                r.case.clone(),
                r.threads.to_string(),
                r.implementation.clone(),
                output::ratio(then),
                output::ratio(now),
                format!("{:+.0}%", change * 100.0),
                moved_by(&g, r),
                reference,
            ]));
        }
    }
    s
}

/// The name under which `--compare`'s JSON is kept next to `bench.json`.
pub const COMPARE_JSON: &str = "bench-compare.json";

/// The plots: file name, what it shows.
pub const PLOTS: [(&str, &str); 10] = [
    (
        "locks-throughput.svg",
        "contended throughput vs threads, per lock",
    ),
    ("locks-fairness.svg", "fairness vs throughput, per lock"),
    ("locks-uncontended.svg", "uncontended lock + unlock latency"),
    ("queue-throughput.svg", "queue throughput, SPSC and MPMC"),
    (
        "barrier-round.svg",
        "barrier: round time (polled), release latency (asleep)",
    ),
    (
        "event-release.svg",
        "event: set → every waiter released, polled and asleep",
    ),
    (
        "condvar-ping-pong.svg",
        "condition variable: ping-pong round trip (polled), one wake-up (asleep)",
    ),
    (
        "rwlock-read-mostly.svg",
        "reader-writer locks: 99 % reads at every thread count",
    ),
    (
        "locks-acquire-latency.svg",
        "acquire latency p50 / p99 / p99.9 / max per lock, one thread per core and 4x",
    ),
    (
        "locks-one-core.svg",
        "two threads pinned to one core: contended throughput per lock",
    ),
];

/// `host-runner report`.
///
/// # Errors
///
/// A JSON file that cannot be read or parsed, or bad bench arguments.
pub fn main(topo: &Topology, args: &ReportArgs) -> Result<i32, UsageError> {
    // Resolve the output first, so a missing --out fails before minutes of work.
    let cwd = std::env::current_dir()
        .map_err(|e| UsageError(format!("cannot read the current directory: {e}")))?;
    let out = out_dir(args.out.as_deref(), &cwd)?;
    let compare = args.compare.as_deref().map(read_json).transpose()?;
    let report = match &args.from {
        Some(path) => read_json(path)?,
        None => {
            if super::lockdep::ON {
                return Err(UsageError(
                    "this host-runner is built with feature lockdep, so every primitive would \
                     be measured with the checker on: run report from a build without it \
                     (it builds host-runner-lockdep itself for the lockdep group)"
                        .into(),
                ));
            }
            // The checker's cost needs the second build: make (or find) it before minutes of
            // work.
            let builds = if args.no_lockdep {
                None
            } else {
                let off = std::env::current_exe()
                    .map_err(|e| UsageError(format!("cannot find this program: {e}")))?;
                let on = match &args.lockdep_bin {
                    Some(bin) => bin.clone(),
                    None => {
                        let root = workspace_root(&cwd).ok_or_else(|| {
                            UsageError(format!(
                                "{} is not inside the baresync workspace, so \
                                 host-runner-lockdep cannot be built for the lockdep group: \
                                 name it with --lockdep-bin FILE, or leave the group out \
                                 with --no-lockdep",
                                cwd.display()
                            ))
                        })?;
                        super::lockdep::build_on(&root).map_err(UsageError)?
                    }
                };
                Some(super::lockdep::Builds { off, on })
            };
            let bench = BenchArgs {
                quick: args.quick,
                smoke: args.smoke,
                no_progress: args.no_progress,
                // The lockdep group is measured in both builds, first (a build that is not
                // what it should be fails before minutes of work).
                groups: super::GROUPS
                    .iter()
                    .filter(|g| **g != "lockdep")
                    .map(|g| g.to_string())
                    .collect(),
                ..BenchArgs::default()
            };
            let lockdep = match &builds {
                Some(builds) => Some(
                    super::lockdep::compare(
                        builds,
                        &super::Profile::from_args(&bench),
                        Some(&topo.core_cpus()),
                    )
                    .map_err(UsageError)?,
                ),
                None => None,
            };
            let mut r = super::run(topo, &bench)?;
            r.groups.extend(lockdep);
            output::print(&r);
            r
        }
    };
    if let Some(other) = &compare {
        println!("\n{}", spread(&report, other));
    }
    let docs = workspace_root(&cwd).map(|root| root.join("docs"));
    match write(&report, compare.as_ref(), &out, docs.as_deref()) {
        Ok(files) => {
            println!("\nreport: wrote {} files to {}", files.len(), out.display());
            Ok(EXIT_OK)
        }
        Err(e) => {
            eprintln!("error: writing the report to {}: {e}", out.display());
            Ok(EXIT_VIOLATION)
        }
    }
}

/// Writes everything into `dir`; returns the files written. `docs` is the workspace's
/// `docs/` directory, which the page links to (the guide, the design notes) by a path relative
/// to `dir`; without it the page names them without a link.
///
/// # Errors
///
/// An I/O or plotting error.
pub fn write(
    report: &BenchReport,
    compare: Option<&BenchReport>,
    dir: &Path,
    docs: Option<&Path>,
) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let docs_link = docs.and_then(|d| relative_link(dir, d));
    let mut files = Vec::new();
    let mut out = |name: &str| {
        let p = dir.join(name);
        files.push(p.clone());
        p
    };
    plot::lock_scaling(report, &out(PLOTS[0].0))?;
    plot::fairness_scatter(report, &out(PLOTS[1].0))?;
    let thr = |r: &super::Row| format!("{}, {} thr", r.implementation, r.threads);
    let case_thr = |r: &super::Row| format!("{} ({}, {} thr)", r.implementation, r.case, r.threads);
    let (items, unit) = plot::items(report, "locks", &["uncontended"], thr);
    plot::dots(
        &out(PLOTS[2].0),
        "Uncontended lock + unlock, one thread (whiskers: min–max of the rounds)",
        "ns per lock + unlock",
        unit,
        &items,
        None,
    )?;
    let (items, unit) = plot::items(report, "queue", &["spsc", "mpmc"], case_thr);
    plot::dots(
        &out(PLOTS[3].0),
        "Bounded queue throughput (whiskers: min–max of the rounds)",
        "items per second",
        unit,
        &items,
        None,
    )?;
    let barrier = [super::barrier::POLLED, super::barrier::ASLEEP];
    let (items, unit) = plot::items(report, "barrier", &barrier, |r| {
        format!("{} ({}, {} parties)", r.implementation, r.case, r.threads)
    });
    plot::dots(
        &out(PLOTS[4].0),
        "Barrier: round while polling, release once asleep",
        "time per round / to release",
        unit,
        &items,
        plot::polling_note(report, "barrier", super::barrier::POLLED).as_deref(),
    )?;
    let event = [super::event::CASES[0].1, super::event::CASES[1].1];
    let (items, unit) = plot::items(report, "event", &event, |r| {
        let waiters = r.threads.saturating_sub(1);
        format!(
            "{} ({}, {waiters} waiter{})",
            r.implementation,
            r.case.rsplit(", ").next().unwrap_or(&r.case),
            if waiters == 1 { "" } else { "s" }
        )
    });
    plot::dots(
        &out(PLOTS[5].0),
        "Event: set → every waiter released, while they poll and once asleep",
        "latency",
        unit,
        &items,
        plot::polling_note(report, "event", super::event::CASES[0].1).as_deref(),
    )?;
    let condvar = [super::condvar::POLLED, super::condvar::ASLEEP];
    let (items, unit) = plot::items(report, "condvar", &condvar, case_thr);
    plot::dots(
        &out(PLOTS[6].0),
        "Condition variable: round trip while polling, one wake-up once asleep",
        "time per round trip / per wake-up",
        unit,
        &items,
        plot::polling_note(report, "condvar", super::condvar::POLLED).as_deref(),
    )?;
    let (items, unit) = plot::items(report, "rwlock", &["99% reads"], thr);
    plot::dots(
        &out(PLOTS[7].0),
        "Reader-writer locks, 99 % reads: throughput per thread count (whiskers: min–max)",
        "operations per second",
        unit,
        &items,
        None,
    )?;
    plot::acquire_latency(report, &out(PLOTS[8].0))?;
    let (items, unit) = plot::items(report, "locks", &[super::lock::ONE_CORE], thr);
    plot::dots(
        &out(PLOTS[9].0),
        "Two threads pinned to one core, contended lock + unlock (whiskers: min–max)",
        "lock + unlock per second (both threads)",
        unit,
        &items,
        None,
    )?;
    let json = out("bench.json");
    std::fs::write(&json, serde_json::to_string_pretty(report)? + "\n")?;
    if let Some(other) = compare {
        let json = out(COMPARE_JSON);
        std::fs::write(&json, serde_json::to_string_pretty(other)? + "\n")?;
    }
    let csv = out("bench.csv");
    std::fs::write(&csv, output::csv(report))?;
    let readme = out("README.md");
    std::fs::write(&readme, markdown(report, compare, docs_link.as_deref()))?;
    Ok(files)
}

fn md_row(cells: &[String]) -> String {
    let escaped: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
    format!("| {} |\n", escaped.join(" | "))
}

/// A group's table in markdown, without the columns no row of the group fills.
fn md_table(g: &GroupResult) -> String {
    let headers = output::headers(&g.reference);
    let rows: Vec<Vec<String>> = g
        .rows
        .iter()
        .map(|r| output::cells(r, &g.reference))
        .collect();
    let keep = crate::term::kept_columns(headers.len(), &rows);
    let (headers, rows) = crate::term::select_columns(&headers, &rows, &keep);
    let mut s = md_row(&headers);
    s.push_str(&md_row(&vec!["---".to_string(); headers.len()]));
    for r in &rows {
        s.push_str(&md_row(r));
    }
    s
}

/// Each lock's throughput with 2× and 4× threads per core, against its own at one thread per
/// core: the oversubscription summary.
pub fn oversubscription(report: &BenchReport) -> String {
    let cores = report.machine.cpus.len();
    let Some(locks) = report.groups.iter().find(|g| g.name == "locks") else {
        return String::new();
    };
    let row = |name: &str, t: usize| {
        locks.rows.iter().find(|r| {
            r.case == super::lock::CONTENDED && r.threads == t && r.implementation == name
        })
    };
    let at = |name: &str, t: usize| row(name, t).and_then(|r| r.median);
    let acq = |name: &str, t: usize| {
        row(name, t)
            .and_then(|r| r.acq_per_handoff)
            .map_or_else(|| "–".into(), output::sig3)
    };
    let names = super::Row::implementations(&locks.rows);
    let mut s = md_row(&[
        "lock".into(),
        format!("{cores} threads (1 per core)"),
        format!("{} threads", 2 * cores),
        format!("{} threads", 4 * cores),
        format!("{} thr / {cores} thr", 4 * cores),
        format!("acq/hand-off at {cores} / {} thr", 4 * cores),
        "verdict".into(),
    ]);
    s.push_str(&md_row(&vec!["---".to_string(); 7]));
    for name in names {
        let base = at(name, cores);
        let four = at(name, 4 * cores);
        let ratio = match (base, four) {
            (Some(b), Some(f)) if b > 0.0 => Some(f / b),
            _ => None,
        };
        let rate = |v: Option<f64>| {
            v.map_or_else(|| "–".into(), |v| output::human(super::Unit::OpsPerSec, v))
        };
        s.push_str(&md_row(&[
            name.to_string(),
            rate(base),
            rate(at(name, 2 * cores)),
            rate(four),
            ratio.map_or_else(|| "–".into(), output::ratio),
            format!("{} / {}", acq(name, cores), acq(name, 4 * cores)),
            match ratio {
                Some(r) if r < 0.5 => "**collapses** (below 0.5×)".into(),
                Some(_) => "holds (≥ 0.5×)".into(),
                None => "–".into(),
            },
        ]));
    }
    s
}

/// The text of `docs/results/README.md`; `docs` is the path from the page to the workspace's
/// `docs/` directory (`..` for `docs/results`), `None` when the page is written outside the
/// workspace.
pub fn markdown(report: &BenchReport, compare: Option<&BenchReport>, docs: Option<&str>) -> String {
    let link = |text: &str, file: &str| match docs {
        Some(d) => format!("[{text}]({d}/{file})"),
        None => format!("{text} (baresync's `docs/{file}`)"),
    };
    let m = &report.machine;
    let p = &report.profile;
    let mut s = String::new();
    let _ = writeln!(s, "# Measured results\n");
    let _ = writeln!(
        s,
        "Generated by `host-runner report` from one `host-runner bench` run: do not edit by \
         hand; run `cargo run --release -p host-runner -- report` (add `--quick` for a \
         one-minute run) to measure your own machine, or `report --from bench.json` to \
         regenerate this page from the committed run. The raw data is in \
         [`bench.json`](bench.json) and [`bench.csv`](bench.csv). How to read it, and which \
         primitive to choose: {}.\n",
        link("the guide", "README.md")
    );
    let _ = writeln!(s, "## Machine\n");
    let floor = report
        .floor_ns()
        .map_or_else(|| "– (one CPU)".into(), human_ns);
    let pairs = |v: &[super::PairLatency]| {
        v.iter()
            .map(|p| format!("{}↔{}: {}", p.a, p.b, human_ns(p.ns)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    s.push_str("| | |\n| --- | --- |\n");
    for (k, v) in [
        ("date (UTC)", m.date.clone()),
        ("host", m.hostname.clone()),
        ("CPU model", m.cpu_model.clone()),
        ("kernel", m.kernel.clone()),
        ("logical CPUs", m.logical_cpus.to_string()),
        ("physical cores", m.physical_cores.to_string()),
        ("pinned to CPUs", crate::topology::format_cpu_list(&m.cpus)),
        (
            "profile",
            format!(
                "{}: {} round(s) of {:?} windows per experiment, run time {:.0} s",
                p.name, p.rounds, p.window, report.seconds
            ),
        ),
        ("core-to-core floor (one way, median)", floor),
        ("floor per pair, before", pairs(&report.floor_before)),
        ("floor per pair, after", pairs(&report.floor_after)),
    ] {
        s.push_str(&md_row(&[k.into(), v]));
    }
    if let Some(load) = &report.load {
        s.push_str(&md_row(&[
            "load".into(),
            super::load::summary(load, m.logical_cpus),
        ]));
        if load.loaded() {
            let _ = writeln!(
                s,
                "\n**Loaded run.** This run was measured while other processes competed for the \
                 cores: {}; its values and ratios are not an idle machine's.",
                load.reasons.join("; "),
            );
        }
        if load.loaded_rows > 0 {
            let _ = writeln!(
                s,
                "\n**Rows marked *(loaded)*** ({} of them) had a core-to-core floor above {}× \
                 the run's lowest ({}, its 5th percentile): their two cores were shared with \
                 other work, or, on a VM, placed farther apart by the hypervisor for a while. \
                 Compare them with rows of the same floor.",
                load.loaded_rows,
                super::load::LOADED_FLOOR_FACTOR,
                load.floor_min_ns
                    .map_or_else(|| "–".into(), super::output::human_ns),
            );
        }
    }
    let _ = writeln!(
        s,
        "\n**One machine.** Every number on this page comes from the one run on the machine \
         above ({} logical CPUs, {} physical cores{}), where the core-to-core floor, the \
         scheduler and the cost of a sleep/wake are this machine's. Ratios of the rows \
         that depend on them have moved by more than an order of magnitude between two VMs of \
         the same size; see [What carries over to another machine](#what-carries-over-to-another-machine) \
         before quoting one.\n",
        m.logical_cpus,
        m.physical_cores,
        match m.hypervisor {
            Some(true) => format!("; a virtual machine with {} vCPUs", m.logical_cpus),
            _ => String::new(),
        }
    );
    let _ = writeln!(
        s,
        "## How it was measured\n\n\
         Every measurement runs its threads, pinned one per physical core (round-robin when \
         there are more threads than cores, marked *(over)*), for a fixed window and counts \
         the operations done, so a lock that collapses shows it instead of hanging the run. \
         An operation that completes after the window's stop signal is counted together with \
         the time it took: each thread is timed to the end of its last operation. Each \
         experiment runs every candidate once per round, in alternating order, after a \
         warm-up; a value is the median of the rounds, with the min–max. *speed vs …* is the \
         median over rounds of the ratio to the group's reference measured in the same round \
         (above 1 is faster; three significant figures). The core-to-core floor (a cache line \
         bounced between two pinned cores, half the round trip) is measured before every \
         round; *× c2c floor* divides a latency by it, and a row whose floor was above {}× \
         the run's lowest (5th percentile) is marked *(loaded)*: its cores were shared with \
         other work, or a hypervisor had placed them farther apart. *CPU/op* \
         is the CPU time of every \
         thread of the row (`CLOCK_THREAD_CPUTIME_ID`), summed and divided by the row's \
         operations: wall time says how soon, CPU time what the polling for it cost. \
         *fairness* is fewest / most operations of one thread (1.00 is even); *acq/hand-off* \
         is acquisitions per change of owner (1.0 is strict alternation, high is one thread \
         keeping the lock, which an empty critical section rewards: read every contended \
         throughput next to it). *events/window* is the number of hand-offs or rounds a value \
         is made of, fewest over the rounds; below {} it is marked *(few)* and no ratio is \
         given. Every measured object is aligned to a cache line, so no candidate gains or \
         loses from where it happened to be placed.\n\n\
         **Polled and asleep.** A waiter of baresync with a sleeping backend (`Futex`) polls \
         for a while before it sleeps (64 backoff rounds, tens of µs); std's waiters sleep at \
         once. So the event, condvar and barrier groups measure two cases: *polled*, where \
         the signal comes within that budget (baresync's waiters are still polling), and \
         *asleep*, where it comes {} ms later (every waiter that can sleep is asleep, so a \
         wake-up is measured against a wake-up). Only the second compares like with like for \
         latency; the first shows what polling buys and, in *CPU/op*, what it costs.\n\n\
         **Baselines.** Each is what a competent user of that crate would write:\n\n\
         - locks: `std::sync::Mutex`, `parking_lot::Mutex` / `ReentrantMutex`, \
         `spin::mutex::SpinMutex` / `TicketMutex`, each through its own guard, as documented.\n\
         - semaphore: std has none; the reference is `Mutex<(permits, waiters)>` + `Condvar` \
         where a waiter counts itself and a release calls `notify_one` only when a waiter is \
         counted (no futex wake system call on a release nobody waits for).\n\
         - event: `Mutex<bool>` + `Condvar`, `wait_while` to wait and `notify_all` after \
         setting the flag.\n\
         - condvar: `std::sync::Condvar` over `std::sync::Mutex` and `parking_lot::Condvar` \
         over `parking_lot::Mutex`, with `wait_while` and `notify_one` after unlocking, the \
         same code for every pair.\n\
         - rwlock: `std::sync::RwLock` (the reference), `parking_lot::RwLock` and \
         `spin::RwLock`, `read`/`write` through their guards; a read sums four words, a write \
         increments them.\n\
         - barrier: `std::sync::Barrier` and `spin::Barrier`, `wait` as documented.\n\
         - queue: `crossbeam_queue::ArrayQueue`, `heapless::spsc` / `mpmc` and \
         `std::sync::mpsc::sync_channel`, each with its own blocking or retry idiom.\n\n\
         **Locks.** *contended* has an empty critical section and rewards batching; \
         *contended, work in + between* does {} rounds of a multiply-add inside the critical \
         section and {} between two, as a program that uses its lock does; *hand-off (forced \
         alternation)* has two threads take the lock strictly in turns (each asks again only \
         once the other has had it, and the other asks while it holds it), so every \
         acquisition is a hand-off and the value is the median over all of them.\n",
        super::load::LOADED_FLOOR_FACTOR,
        super::FEW_EVENTS,
        super::event::SETTLE_ASLEEP.as_millis(),
        super::lock::WORK_INSIDE,
        super::lock::WORK_BETWEEN,
    );
    let _ = writeln!(
        s,
        "## What carries over to another machine\n\n\
         - Stable in ratio across machines: the uncontended rows (one thread, no other core \
         involved: the instruction path and its atomics), the *asleep* rows (a wake-up \
         against a wake-up: both pay the OS), *CPU/op* of the asleep rows, and \
         *acq/hand-off* as a property of each lock (barging or FIFO).\n\
         - Follow the machine: the *polled* rows (they measure core-to-core latency against \
         the OS's sleep/wake cost, whose ratio differs between hosts, virtualized or not), \
         the contended rows (the host's cache coherence and how long the hypervisor lets a \
         vCPU run), the hand-off latencies (a multiple of the floor, given beside them), and \
         every row marked *(over)* (the scheduler's time slice decides them).\n"
    );
    let _ = writeln!(
        s,
        "## Sizes\n\n`size_of` / `align_of` in this build of host-runner ({} {}). The wait \
         backend `W` is a zero-sized type: it does not change a size.\n",
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    s.push_str(&md_row(&["type".into(), "bytes".into(), "align".into()]));
    s.push_str(&md_row(&vec!["---".to_string(); 3]));
    for t in &report.sizes {
        s.push_str(&md_row(&[
            format!("`{}`", t.name),
            t.bytes.to_string(),
            t.align.to_string(),
        ]));
    }
    let _ = writeln!(
        s,
        "\n## Oversubscription\n\nEach lock's contended throughput with more threads than cores, \
         against its own with one thread per core. With feature `std`, the backend a type gets \
         when none is named is `Futex` (`Mutex`, `ReentrantLock`) or `Yield` (`TicketLock`), \
         and `SpinLock` yields once a waiter's backoff is spent; `Spin` rows are the pure \
         spinners, for threads that own their cores. No strict FIFO lock (`TicketLock`, \
         `spin::TicketMutex`) can hold here whatever its backend: most hand-offs go to a \
         thread that is not running ({}, \"The FIFO floor\").\n\n{}",
        link("design.md", "design.md"),
        oversubscription(report)
    );
    if let Some(other) = compare {
        let _ = writeln!(
            s,
            "## Run-to-run spread\n\nThe other run is kept as [`{COMPARE_JSON}`]({COMPARE_JSON}); \
             the page is regenerated, this section included, by `cargo run --release -p \
             host-runner -- report --from docs/results/bench.json --compare \
             docs/results/{COMPARE_JSON}`.\n\n{}",
            spread(report, other)
        );
    }
    for g in &report.groups {
        let _ = writeln!(s, "## {}\n\n{}.\n", g.name, g.title);
        for (file, what) in PLOTS {
            if file.starts_with(g.name.as_str()) {
                let _ = writeln!(s, "![{what}]({file})\n");
            }
        }
        let _ = writeln!(s, "{}", md_table(g));
    }
    s
}
