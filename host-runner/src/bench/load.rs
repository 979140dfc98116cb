//! Was the machine busy? A measurement taken while other processes compete for the cores is
//! not a measurement of the primitive: the core-to-core floor goes up (a quick run on a busy
//! 2-vCPU VM saw 152 ns against 34–65 ns idle) and ratios drift far from an idle run's.
//!
//! Two signs are recorded and flagged, never corrected for:
//! - how busy the CPUs were just before the run: the busy time `/proc/stat` (Linux) counts over
//!   [`BUSY_SAMPLE`] before the first measurement, in CPUs; above [`LOADED_PER_CPU`] per
//!   logical CPU someone else is running, and the run as a whole is flagged. The one-minute load
//!   average is recorded too, but only decides where `/proc/stat` cannot be read: it decays
//!   over minutes, so it still counts a build (or a previous bench run) that has ended;
//! - each row's core-to-core floor (measured before each of its rounds) against the run's own
//!   lowest (its 5th percentile, so that a few outlier rounds do not set it): a row whose median
//!   floor is more than [`LOADED_FLOOR_FACTOR`] times that was measured while its cores were
//!   shared with other work, or, on a VM, while the hypervisor had placed the two vCPUs farther
//!   apart (an idle 2-vCPU VM here moved between floors of about 14, 32 and 170 ns within one
//!   run). Such rows are marked; they alone do not flag the run.

use super::{BenchReport, Row};
use serde::{Deserialize, Serialize};

/// A row whose median per-round floor exceeds the run's lowest by this factor is loaded.
pub const LOADED_FLOOR_FACTOR: f64 = 2.0;
/// A run that starts with more than this many busy CPUs per logical CPU is loaded.
pub const LOADED_PER_CPU: f64 = 0.5;
/// How long the CPUs' busy time is sampled before a run.
pub const BUSY_SAMPLE: std::time::Duration = std::time::Duration::from_millis(1000);

/// The load a run saw, as recorded in `bench.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// The 1-, 5- and 15-minute load averages just before the run (`None` where the OS does
    /// not tell).
    pub before: Option<[f64; 3]>,
    /// The same just after the run (it includes the bench's own threads).
    pub after: Option<[f64; 3]>,
    /// CPUs busy (summed over all logical CPUs) during the [`BUSY_SAMPLE`] just before the
    /// run, from `/proc/stat`; `None` where it cannot be read (and in older `bench.json`).
    #[serde(default)]
    pub busy_before: Option<f64>,
    /// The run's lowest per-round core-to-core floor (5th percentile), ns: what the rows are
    /// held against.
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

/// CPUs busy over `over`, summed over every logical CPU, from two reads of `/proc/stat`'s
/// `cpu` line (Linux): everything but idle and iowait, divided by the elapsed time per CPU.
pub fn busy_cpus(over: std::time::Duration) -> Option<f64> {
    fn read() -> Option<(u64, u64)> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        parse_stat(&text)
    }
    let (busy0, total0) = read()?;
    std::thread::sleep(over);
    let (busy1, total1) = read()?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let total = total1.checked_sub(total0)? as f64;
    (total > 0.0).then(|| busy1.saturating_sub(busy0) as f64 / total * cpus)
}

/// `(busy, total)` jiffies of `/proc/stat`'s aggregate `cpu` line.
pub fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = v.iter().take(8).sum();
    // Fields: user nice system idle iowait irq softirq steal.
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// The first three fields of `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|x| x.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Flags the loaded rows of `report` and says whether the run was loaded, from the load
/// averages `before` and `after` the run and each row's per-round floors.
pub fn assess(
    report: &mut BenchReport,
    before: Option<[f64; 3]>,
    busy_before: Option<f64>,
    after: Option<[f64; 3]>,
) {
    let mut floors: Vec<f64> = report
        .groups
        .iter()
        .flat_map(|g| &g.rows)
        .flat_map(|r| r.floors_ns.iter().copied())
        .filter(|f| f.is_finite() && *f > 0.0)
        .collect();
    floors.sort_by(f64::total_cmp);
    let floor_min_ns = floors.get(floors.len() / 20).copied();
    let mut loaded_rows = 0;
    for row in report.groups.iter_mut().flat_map(|g| &mut g.rows) {
        row.loaded = row_loaded(row, floor_min_ns);
        loaded_rows += usize::from(row.loaded);
    }
    let cpus = report.machine.logical_cpus.max(1);
    let limit = LOADED_PER_CPU * cpus as f64;
    let mut reasons = Vec::new();
    match (busy_before, before) {
        (Some(busy), _) if busy > limit => reasons.push(format!(
            "{busy:.2} CPUs busy in the {} s before the run on {cpus} logical CPUs (above \
             {LOADED_PER_CPU} per CPU): other processes were running",
            BUSY_SAMPLE.as_secs_f64()
        )),
        (None, Some([one, _, _])) if one > limit => reasons.push(format!(
            "load average {one:.2} before the run on {cpus} logical CPUs (above \
             {LOADED_PER_CPU} per CPU): other processes were running"
        )),
        _ => {}
    }
    report.load = Some(Load {
        before,
        after,
        busy_before,
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
        "CPUs busy before the run {}; load average (1 / 5 / 15 min) before {}, after {} on \
         {cpus} logical CPUs; lowest core-to-core floor (5th percentile) {}; {} row(s) above \
         {LOADED_FLOOR_FACTOR}× it{}",
        load.busy_before
            .map_or_else(|| "unknown".into(), |b| format!("{b:.2}")),
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
        assess(&mut r, Some([0.1, 0.1, 0.1]), Some(0.05), None);
        let load = r.load.clone().unwrap();
        assert_eq!(load.floor_min_ns, Some(40.0));
        assert_eq!(load.loaded_rows, 1);
        assert!(r.groups[0].rows[0].loaded);
        // A row's floor alone does not flag the run (a VM's vCPUs move); it marks the row.
        assert!(!load.loaded(), "{load:?}");
        let g = &r.groups[0];
        let cells = super::super::output::cells(&g.rows[0], &g.reference);
        assert!(cells.iter().any(|c| c.ends_with("(loaded)")), "{cells:?}");
        let page = super::super::report::markdown(&r, None, Some(".."));
        assert!(
            !page.contains("**Loaded run.**"),
            "floors alone flagged the run"
        );
        assert!(
            page.contains("**Rows marked *(loaded)***"),
            "no paragraph on marked rows"
        );
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
        assess(
            &mut r,
            Some([0.2, 0.1, 0.1]),
            Some(0.1),
            Some([1.9, 0.5, 0.2]),
        );
        let load = r.load.clone().unwrap();
        assert_eq!(load.loaded_rows, 0);
        assert!(!load.loaded(), "{load:?}");
        let page = super::super::report::markdown(&r, None, Some(".."));
        // No row marked (the method section explains the mark in any case).
        assert!(!page.contains(" (loaded) |") && !page.contains("Loaded run"));
        // A busy machine before the run flags the run even when the floors held.
        assess(&mut r, Some([0.2, 0.1, 0.1]), Some(1.5), None);
        assert!(r.load.clone().unwrap().loaded());
        // The sampled busy time decides over a load average still decaying from earlier work.
        assess(&mut r, Some([8.0, 4.0, 2.0]), Some(0.1), None);
        assert!(!r.load.clone().unwrap().loaded());
        // Without `/proc/stat`, the load average decides.
        assess(&mut r, Some([8.0, 4.0, 2.0]), None, None);
        assert!(r.load.unwrap().loaded());
    }

    #[test]
    fn stat_line_busy_and_total() {
        let text = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\n";
        // busy = user + nice + system + irq + softirq + steal; idle + iowait are not busy.
        assert_eq!(parse_stat(text), Some((160, 980)));
    }
}
