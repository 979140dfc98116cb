//! Was the machine busy? A measurement taken while other processes compete for the cores is
//! not a measurement of the primitive: the core-to-core floor goes up (a quick run on a busy
//! 2-vCPU VM saw 152 ns against 34–65 ns idle) and ratios drift far from an idle run's.
//!
//! Two signs are recorded and flagged, never corrected for:
//! - the system's load average before and after the run (`/proc/loadavg`, Linux): before the
//!   run, the bench's own threads are not in it, so a one-minute load above
//!   [`LOADED_PER_CPU`] per logical CPU means someone else is running;
//! - each row's core-to-core floor (measured before each of its rounds) against the run's own
//!   lowest: a row whose median floor is more than [`LOADED_FLOOR_FACTOR`] times the lowest was
//!   measured while its cores were shared, whatever the load average said.

use super::{BenchReport, Row};
use serde::{Deserialize, Serialize};

/// A row whose median per-round floor exceeds the run's lowest by this factor is loaded.
pub const LOADED_FLOOR_FACTOR: f64 = 2.0;
/// A run that starts with a one-minute load average above this per logical CPU is loaded.
pub const LOADED_PER_CPU: f64 = 0.5;

/// The load a run saw, as recorded in `bench.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// The 1-, 5- and 15-minute load averages just before the run (`None` where the OS does
    /// not tell).
    pub before: Option<[f64; 3]>,
    /// The same just after the run (it includes the bench's own threads).
    pub after: Option<[f64; 3]>,
    /// The lowest per-round core-to-core floor of the run, ns: what the rows are held against.
    pub floor_min_ns: Option<f64>,
    /// Rows flagged as loaded ([`Row::loaded`]).
    pub loaded_rows: usize,
    /// Why the run as a whole is flagged; empty when it is not.
    pub reasons: Vec<String>,
}

impl Load {
    /// Whether the run as a whole is flagged.
    pub fn loaded(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// The 1-, 5- and 15-minute load averages, on Linux.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    parse_loadavg(&text)
}

/// The first three fields of `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|x| x.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Flags the loaded rows of `report` and says whether the run was loaded, from the load
/// averages `before` and `after` the run and each row's per-round floors.
pub fn assess(report: &mut BenchReport, before: Option<[f64; 3]>, after: Option<[f64; 3]>) {
    let floor_min_ns = report
        .groups
        .iter()
        .flat_map(|g| &g.rows)
        .flat_map(|r| r.floors_ns.iter().copied())
        .filter(|f| f.is_finite() && *f > 0.0)
        .reduce(f64::min);
    let mut loaded_rows = 0;
    for row in report.groups.iter_mut().flat_map(|g| &mut g.rows) {
        row.loaded = row_loaded(row, floor_min_ns);
        loaded_rows += usize::from(row.loaded);
    }
    let cpus = report.machine.logical_cpus.max(1);
    let mut reasons = Vec::new();
    if let Some([one, _, _]) = before {
        if one > LOADED_PER_CPU * cpus as f64 {
            reasons.push(format!(
                "load average {one:.2} before the run on {cpus} logical CPUs (above \
                 {LOADED_PER_CPU} per CPU): other processes were running"
            ));
        }
    }
    if loaded_rows > 0 {
        reasons.push(format!(
            "{loaded_rows} row(s) measured with a core-to-core floor above \
             {LOADED_FLOOR_FACTOR}× the run's lowest ({})",
            floor_min_ns.map_or_else(|| "–".into(), super::output::human_ns)
        ));
    }
    report.load = Some(Load {
        before,
        after,
        floor_min_ns,
        loaded_rows,
        reasons,
    });
}

/// Whether `row`'s median floor is above [`LOADED_FLOOR_FACTOR`] times `floor_min_ns`.
pub fn row_loaded(row: &Row, floor_min_ns: Option<f64>) -> bool {
    match (row.floor_ns, floor_min_ns) {
        (Some(f), Some(lo)) if lo > 0.0 => f > LOADED_FLOOR_FACTOR * lo,
        _ => false,
    }
}

/// One line on the run's load, for the terminal and the results page.
pub fn summary(load: &Load, cpus: usize) -> String {
    let avg = |v: Option<[f64; 3]>| {
        v.map_or_else(
            || "unknown".into(),
            |[a, b, c]| format!("{a:.2} / {b:.2} / {c:.2}"),
        )
    };
    format!(
        "load average (1 / 5 / 15 min) before {}, after {} on {cpus} logical CPUs; lowest \
         core-to-core floor {}; {} row(s) above {LOADED_FLOOR_FACTOR}× it{}",
        avg(load.before),
        avg(load.after),
        load.floor_min_ns
            .map_or_else(|| "–".into(), super::output::human_ns),
        load.loaded_rows,
        if load.loaded() { ": LOADED" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_fields() {
        assert_eq!(
            parse_loadavg("0.52 1.10 0.98 2/345 6789\n"),
            Some([0.52, 1.10, 0.98])
        );
        assert_eq!(parse_loadavg("garbage"), None);
    }

    /// The committed run, with every per-round floor set to `idle` ns but those of one row.
    fn run_with_one_slow_row(idle: f64, slow: f64) -> BenchReport {
        let mut r: BenchReport =
            serde_json::from_str(include_str!("../../../docs/results/bench.json")).unwrap();
        for row in r.groups.iter_mut().flat_map(|g| &mut g.rows) {
            row.floors_ns = vec![idle; 3];
            row.floor_ns = Some(idle);
        }
        let row = &mut r.groups[0].rows[0];
        row.floors_ns = vec![slow; 3];
        row.floor_ns = Some(slow);
        r
    }

    #[test]
    fn a_row_whose_floor_rose_is_flagged_and_shown() {
        let mut r = run_with_one_slow_row(40.0, 150.0);
        assess(&mut r, Some([0.1, 0.1, 0.1]), None);
        let load = r.load.clone().unwrap();
        assert_eq!(load.floor_min_ns, Some(40.0));
        assert_eq!(load.loaded_rows, 1);
        assert!(r.groups[0].rows[0].loaded);
        assert!(load.loaded(), "{load:?}");
        let g = &r.groups[0];
        let cells = super::super::output::cells(&g.rows[0], &g.reference);
        assert!(cells.iter().any(|c| c.ends_with("(loaded)")), "{cells:?}");
        let page = super::super::report::markdown(&r, None, Some(".."));
        assert!(page.contains("**Loaded run.**"), "no loaded paragraph");
        assert!(page.contains(" (loaded) |"), "no row marked");
        // The flag survives bench.json.
        let back: BenchReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert!(back.groups[0].rows[0].loaded);
        assert_eq!(back.load, r.load);
    }

    #[test]
    fn an_idle_run_is_not_flagged() {
        // Within the factor: not loaded, and an idle load average.
        let mut r = run_with_one_slow_row(40.0, 70.0);
        assess(&mut r, Some([0.2, 0.1, 0.1]), Some([1.9, 0.5, 0.2]));
        let load = r.load.clone().unwrap();
        assert_eq!(load.loaded_rows, 0);
        assert!(!load.loaded(), "{load:?}");
        let page = super::super::report::markdown(&r, None, Some(".."));
        // No row marked (the method section explains the mark in any case).
        assert!(!page.contains(" (loaded) |") && !page.contains("Loaded run"));
        // A busy machine before the run flags the run even when the floors held.
        assess(&mut r, Some([8.0, 4.0, 2.0]), None);
        assert!(r.load.unwrap().loaded());
    }
}
