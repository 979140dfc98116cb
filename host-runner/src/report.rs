//! The end-of-run table and the machine-readable JSON report.

use crate::pin::Plan;
use crate::stress::{Config, ScenarioResult, Verdict};
use crate::topology::Topology;
use comfy_table::Table;
use serde::Serialize;

/// Everything a stress run produced, as written by `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The host as detected.
    pub topology: Topology,
    /// Settings of the run.
    pub config: Config,
    /// The workers of the negative controls (at least two, so a race is possible).
    pub control_plan: Plan,
    /// One entry per scenario, primitives first, then the controls.
    pub scenarios: Vec<ScenarioResult>,
    /// Every negative control was caught by every check it must trip.
    pub control_caught: bool,
    /// No primitive broke an invariant and every control was caught: exit status 0.
    pub ok: bool,
}

impl RunReport {
    /// Builds the report and its overall verdict.
    pub fn new(
        topology: Topology,
        config: Config,
        control_plan: Plan,
        scenarios: Vec<ScenarioResult>,
    ) -> Self {
        let controls: Vec<&ScenarioResult> = scenarios
            .iter()
            .filter(|s| matches!(s.verdict, Verdict::Caught | Verdict::Missed))
            .collect();
        let control_caught =
            !controls.is_empty() && controls.iter().all(|s| s.verdict == Verdict::Caught);
        let ok = control_caught && scenarios.iter().all(|s| s.verdict.ok());
        RunReport {
            topology,
            config,
            control_plan,
            scenarios,
            control_caught,
            ok,
        }
    }
}

/// Formats an operation rate with a metric suffix: `12.3M`.
pub fn human_rate(r: f64) -> String {
    if r >= 1e9 {
        format!("{:.2}G", r / 1e9)
    } else if r >= 1e6 {
        format!("{:.2}M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1}k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

/// The results table: primitive, threads, ops, ops/s, violations, verdict.
pub fn table(results: &[ScenarioResult]) -> Table {
    let header: Vec<String> = [
        "primitive",
        "threads",
        "ops",
        "ops/s",
        "violations",
        "verdict",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    for r in results {
        let violations = if r.violations.is_empty() {
            "0".to_string()
        } else {
            r.violations
                .iter()
                .map(|v| format!("{}: {}", v.check, v.count))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut ops = r.ops.to_string();
        if r.hit_time_limit {
            ops.push_str(" (time limit)");
        }
        rows.push(vec![
            r.info.name.clone(),
            r.threads.to_string(),
            ops,
            human_rate(r.ops_per_sec),
            violations,
            r.verdict.to_string(),
        ]);
    }
    crate::term::table(&header, &rows, &[1, 2, 3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(human_rate(12.0), "12");
        assert_eq!(human_rate(12_345.0), "12.3k");
        assert_eq!(human_rate(12_345_678.0), "12.35M");
    }
}
