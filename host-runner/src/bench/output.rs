//! What `bench` prints and writes: a table per group, `--json`, `--csv`.

use super::{BenchReport, GroupResult, Row, Unit};
use crate::args::UsageError;
use crate::report::human_rate;
use comfy_table::Table;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

/// Creates an output file named by option `flag`, if given.
///
/// # Errors
///
/// The file cannot be created.
pub fn create(path: Option<&PathBuf>, flag: &str) -> Result<Option<File>, UsageError> {
    path.map(|p| {
        File::create(p)
            .map_err(|e| UsageError(format!("cannot create {flag} file {}: {e}", p.display())))
    })
    .transpose()
}

/// A time in ns with a readable unit: `12.3 ns`, `4.56 µs`, `36.1 ms`.
pub fn human_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// A value in `unit`, readable.
pub fn human(unit: Unit, v: f64) -> String {
    match unit {
        Unit::OpsPerSec => format!("{}/s", human_rate(v)),
        Unit::NsPerOp | Unit::Ns => human_ns(v),
    }
}

/// A ratio with three significant figures and a `×`: `132×`, `8.56×`, `0.00123×` (never
/// `0.00×`).
pub fn ratio(x: f64) -> String {
    format!("{}×", sig3(x))
}

/// `x` with three significant figures, without exponent.
pub fn sig3(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".into();
    }
    let mut magnitude = x.abs().log10().floor() as i32;
    // 0.99996 rounds to 1.00, not 1.000.
    let scale = 10f64.powi(magnitude - 2);
    if ((x.abs() / scale).round() * scale).log10().floor() as i32 > magnitude {
        magnitude += 1;
    }
    let decimals = usize::try_from(2 - magnitude).unwrap_or(0);
    format!("{x:.decimals$}")
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "–".to_string(), f)
}

/// The cells of a row, shared by the terminal table and the markdown report.
pub fn cells(r: &Row, reference: &str) -> Vec<String> {
    let range = match (r.min, r.max) {
        (Some(lo), Some(hi)) => format!("{} – {}", human(r.unit, lo), human(r.unit, hi)),
        _ => "–".into(),
    };
    let fairness = match (r.min_ops, r.max_ops, r.fairness()) {
        (Some(lo), Some(hi), Some(f)) => format!("{} ({lo}/{hi})", sig3(f)),
        _ => "–".into(),
    };
    vec![
        r.case.clone(),
        format!(
            "{}{}",
            r.threads,
            if r.oversubscribed { " (over)" } else { "" }
        ),
        r.implementation.clone(),
        opt(r.median, |v| human(r.unit, v)),
        range,
        if r.implementation == reference {
            "1 (ref)".into()
        } else if r.few_events() {
            "– (few events)".into()
        } else {
            opt(r.speedup, ratio)
        },
        opt(r.cpu_ns_per_op, human_ns),
        fairness,
        opt(r.acq_per_handoff, sig3),
        match r.events {
            Some(n) if r.few_events() => format!("{n} (few)"),
            Some(n) => n.to_string(),
            None => "–".into(),
        },
        opt(r.x_floor, ratio),
        match r.floor_ns {
            Some(f) if r.loaded => format!("{} (loaded)", human_ns(f)),
            f => opt(f, human_ns),
        },
        match r.latency {
            Some(p) => format!(
                "{} · {} · {} · {}",
                human_ns(p.p50),
                human_ns(p.p99),
                human_ns(p.p999),
                human_ns(p.max)
            ),
            None => "–".into(),
        },
    ]
}

/// Column titles matching [`cells`].
pub fn headers(reference: &str) -> Vec<String> {
    vec![
        "case".into(),
        "threads".into(),
        "implementation".into(),
        "median".into(),
        "min – max".into(),
        format!("speed vs {reference}"),
        "CPU/op".into(),
        "fairness min/max".into(),
        "acq/hand-off".into(),
        "events/window".into(),
        "× c2c floor".into(),
        "c2c floor".into(),
        "acquire p50 · p99 · p99.9 · max".into(),
    ]
}

/// The table of one group, fitted to the terminal, without the columns no row of the group
/// fills.
pub fn table(g: &GroupResult) -> Table {
    let rows: Vec<Vec<String>> = g.rows.iter().map(|r| cells(r, &g.reference)).collect();
    crate::term::table(
        &headers(&g.reference),
        &rows,
        &[1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    )
}

/// Prints the floor and every group's table.
pub fn print(report: &BenchReport) {
    println!();
    print_floor(report);
    print_load(report);
    for g in &report.groups {
        println!("\n{}: {}", g.name, g.title);
        println!("{}", table(g));
    }
    println!(
        "\nspeed > 1: faster than the reference (more ops/s, or less time); CPU/op: CPU time of \
         every thread of the row per operation (per round, round trip, set or lock + unlock); \
         fairness: fewest/most operations of one thread; acq/hand-off: acquisitions per change \
         of owner (1.0 = strict alternation; high = one thread keeps the lock, which an empty \
         critical section rewards); events/window: the hand-offs or rounds a value is made of, \
         fewest over the rounds, (few) below {}; (over): more threads than cores; (loaded): \
         the row's core-to-core floor was above {}× the run's lowest (the cores were shared); \
         acquire p50 · p99 · p99.9 · max: time from calling lock to holding it, every \
         acquisition of the window (median over the rounds; max: the largest of any). Run \
         time {:.1} s.",
        super::FEW_EVENTS,
        super::load::LOADED_FLOOR_FACTOR,
        report.seconds
    );
}

fn print_load(report: &BenchReport) {
    let Some(load) = &report.load else { return };
    println!(
        "{}",
        super::load::summary(load, report.machine.logical_cpus)
    );
    for reason in &load.reasons {
        println!("warning: loaded run: {reason}; its numbers are not an idle machine's");
    }
}

fn print_floor(report: &BenchReport) {
    if report.floor_before.is_empty() {
        println!("core-to-core floor: fewer than two CPUs, not measured");
        return;
    }
    for (when, pairs) in [
        ("before", &report.floor_before),
        ("after", &report.floor_after),
    ] {
        let list: Vec<String> = pairs
            .iter()
            .map(|p| format!("{}↔{} {}", p.a, p.b, human_ns(p.ns)))
            .collect();
        println!("core-to-core floor (one way) {when}: {}", list.join(", "));
    }
}

/// Writes the JSON; returns false (after saying why) on failure.
pub fn write_json(mut f: File, report: &BenchReport) -> bool {
    let r = serde_json::to_writer_pretty(&mut f, report)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(f));
    r.map_err(|e| eprintln!("error: writing the JSON: {e}"))
        .is_ok()
}

/// The CSV text: a header, then one line per row.
pub fn csv(report: &BenchReport) -> String {
    let mut s = String::from(
        "group,case,threads,oversubscribed,implementation,baseline,unit,median,min,max,speedup,\
         floor_ns,x_floor,min_ops,max_ops,acq_per_handoff,cpu_ns_per_op,events,\
         latency_p50_ns,latency_p99_ns,latency_p999_ns,latency_max_ns\n",
    );
    let f = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v}"));
    let u = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
    for g in &report.groups {
        for r in &g.rows {
            let quote = |t: &str| {
                if t.contains([',', '"']) {
                    format!("\"{}\"", t.replace('"', "\"\""))
                } else {
                    t.to_string()
                }
            };
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                quote(&r.group),
                quote(&r.case),
                r.threads,
                r.oversubscribed,
                quote(&r.implementation),
                r.baseline,
                r.unit.label(),
                f(r.median),
                f(r.min),
                f(r.max),
                f(r.speedup),
                f(r.floor_ns),
                f(r.x_floor),
                u(r.min_ops),
                u(r.max_ops),
                f(r.acq_per_handoff),
                f(r.cpu_ns_per_op),
                u(r.events),
                f(r.latency.map(|p| p.p50)),
                f(r.latency.map(|p| p.p99)),
                f(r.latency.map(|p| p.p999)),
                f(r.latency.map(|p| p.max)),
            ));
        }
    }
    s
}

/// Writes the CSV; returns false (after saying why) on failure.
pub fn write_csv(mut f: File, report: &BenchReport) -> bool {
    f.write_all(csv(report).as_bytes())
        .map_err(|e| eprintln!("error: writing the CSV: {e}"))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(human_ns(12.34), "12.3 ns");
        assert_eq!(human_ns(4560.0), "4.56 µs");
        assert_eq!(human_ns(36_100_000.0), "36.1 ms");
    }

    #[test]
    fn ratios_keep_three_significant_figures() {
        assert_eq!(ratio(132.4), "132×");
        assert_eq!(ratio(8.564), "8.56×");
        assert_eq!(ratio(1.0), "1.00×");
        assert_eq!(ratio(0.00123), "0.00123×");
        assert_eq!(ratio(0.0456), "0.0456×");
        assert_ne!(ratio(0.001), "0.00×");
        assert_eq!(sig3(0.99996), "1.00");
        assert_eq!(sig3(99.96), "100");
    }
}
