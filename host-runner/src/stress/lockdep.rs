//! `stress --lockdep`: every scenario runs with baresync's lock-order checker on (host-runner
//! built with `--features lockdep`), and a report during a scenario is a violation of the
//! check [`LOCK_ORDER`](super::checks::LOCK_ORDER). The checker's order graph is cleared
//! before each scenario: scenarios allocate their primitives on the heap, and a lock freed by
//! one scenario and another allocated at its address by the next would otherwise be one class.
//!
//! The negative control ([`InversionControl`]) takes two locks in both orders, at times
//! arranged never to deadlock (one worker after the other): it must be reported.

use super::checks::LOCK_ORDER;
use super::{Expect, Outcome, RunCtx, Scenario, ScenarioInfo, Violation};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex as StdMutex;

/// Whether `--lockdep` is on for this run.
static ON: AtomicBool = AtomicBool::new(false);

/// The reports made since the scenario started (a std mutex: not itself checked).
static REPORTS: StdMutex<Vec<String>> = StdMutex::new(Vec::new());

/// Whether this host-runner was built with the checker (`--features lockdep`).
pub const AVAILABLE: bool = cfg!(feature = "lockdep");

/// Turns the checker's reports into violations for the rest of the run.
pub fn enable() {
    #[cfg(feature = "lockdep")]
    baresync::lockdep::set_handler(record);
    ON.store(true, Relaxed);
}

/// Whether `--lockdep` is on.
pub fn enabled() -> bool {
    ON.load(Relaxed)
}

#[cfg(feature = "lockdep")]
fn record(report: &baresync::lockdep::Report<'_>) {
    // Recorded, never panicking: a worker that unwound out of a primitive would break the
    // scenario's own checks; the report is the finding.
    let mut reports = REPORTS.lock().unwrap_or_else(|e| e.into_inner());
    if reports.len() < 100 {
        reports.push(report.to_string());
    }
}

/// Before a scenario: forget the classes of the previous one.
pub fn begin_scenario() {
    #[cfg(feature = "lockdep")]
    if enabled() {
        baresync::lockdep::clear_graph();
    }
    REPORTS.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// After a scenario: the reports made during it, as one violation.
pub fn end_scenario() -> Option<Violation> {
    let reports = std::mem::take(&mut *REPORTS.lock().unwrap_or_else(|e| e.into_inner()));
    let first = reports.first()?;
    Some(Violation {
        check: LOCK_ORDER,
        count: reports.len() as u64,
        detail: format!(
            "{} report(s); the first: {}",
            reports.len(),
            first.replace('\n', " ")
        ),
    })
}

/// The negative control: worker 1 takes `A` then `B` and finishes; only then worker 2 takes
/// `B` then `A`. The workers never overlap, so this never deadlocks, and the checker must
/// still report the inversion.
pub struct InversionControl;

impl Scenario for InversionControl {
    fn info(&self) -> ScenarioInfo {
        ScenarioInfo {
            expect: Expect::Fail(&[LOCK_ORDER]),
            ..ScenarioInfo::new("control: lock-order inversion", "control", None)
        }
    }

    fn run(&self, _ctx: &mut RunCtx<'_>) -> Outcome {
        let a = baresync::Mutex::new(0u64);
        let b = baresync::Mutex::new(0u64);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut a = a.lock();
                let mut b = b.lock();
                *a += 1;
                *b += 1;
            })
            .join()
            .expect("worker 1");
            s.spawn(|| {
                let mut b = b.lock();
                let mut a = a.lock();
                *a += 1;
                *b += 1;
            })
            .join()
            .expect("worker 2");
        });
        Outcome::new(Vec::new())
    }
}
