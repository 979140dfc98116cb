//! Short stress runs: every primitive passes, every negative control is caught by every check.

use host_runner::pin::Plan;
use host_runner::stress::{
    self, checks, run_scenario, Config, Expect, Outcome, RunCtx, Scenario, ScenarioInfo,
    ScenarioResult, Verdict,
};
use host_runner::topology::Topology;
use std::sync::Mutex;
use std::time::Duration;

/// Stress tests share two cores; run them one at a time so each gets the machine.
static SERIAL: Mutex<()> = Mutex::new(());

fn config(duration: Duration, jitter: bool) -> Config {
    let topo = Topology::detect();
    // At least two workers; three when there is room, to get real queues behind the holder.
    let threads = topo.cores.len().clamp(2, 4);
    Config {
        plan: Plan::new(&topo, Some(threads), None).unwrap(),
        duration,
        ops: None,
        seed: 0x5eed,
        jitter,
        hang_grace: stress::HANG_GRACE,
        progress: false,
    }
}

/// Runs `s` and asserts that it passes in less than `limit` (a bound that catches a hang, not
/// a speed target: spinning workers must finish even when they outnumber cores).
fn assert_passes_within(s: &dyn Scenario, cfg: &Config, limit: Duration) -> ScenarioResult {
    let start = std::time::Instant::now();
    let r = run_scenario(s, cfg);
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{} ({} threads): {:?}",
        r.info.name,
        r.threads,
        r.violations
    );
    assert!(
        start.elapsed() < limit,
        "{} ({} threads) took {:?}",
        r.info.name,
        r.threads,
        start.elapsed()
    );
    r
}

fn run(name: &str, cfg: &Config) -> ScenarioResult {
    let all = stress::scenarios().into_iter().chain(stress::controls());
    let s = all
        .into_iter()
        .find(|s| s.info().name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"));
    run_scenario(s.as_ref(), cfg)
}

#[test]
fn every_lock_passes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cfg = config(Duration::from_millis(250), false);
    for s in stress::scenarios() {
        let r = run_scenario(s.as_ref(), &cfg);
        assert_eq!(
            r.verdict,
            Verdict::Pass,
            "{}: {:?}",
            r.info.name,
            r.violations
        );
        assert!(r.ops > 0, "{}: no operations", r.info.name);
        assert!(r.violations.is_empty());
        assert_eq!(r.threads, cfg.plan.threads());
    }
}

#[test]
fn every_lock_passes_with_jitter_and_oversubscription() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let topo = Topology::detect();
    let mut cfg = config(Duration::from_millis(200), true);
    cfg.plan = Plan::new(&topo, Some(topo.cores.len() * 2 + 1), None).unwrap();
    assert!(cfg.plan.oversubscribed);
    for s in stress::scenarios() {
        assert_passes_within(s.as_ref(), &cfg, Duration::from_secs(5));
    }
}

#[test]
fn ops_bound_is_exact() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = config(Duration::from_secs(30), false);
    cfg.ops = Some(10_001);
    let r = run("TicketLock<Futex>", &cfg);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.violations);
    assert_eq!(r.ops, 10_001);
    assert!(!r.hit_time_limit);
}

#[test]
fn unsynchronized_control_fails_both_checks() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cfg = config(Duration::from_millis(300), false);
    let r = run("control: no lock", &cfg);
    assert!(matches!(r.info.expect, Expect::Fail(_)));
    let fired = |check: &str| r.violations.iter().any(|v| v.check == check && v.count > 0);
    assert!(
        fired(checks::MUTUAL_EXCLUSION),
        "occupancy check missed: {r:?}"
    );
    assert!(fired(checks::LOST_UPDATES), "counter check missed: {r:?}");
    assert_eq!(r.verdict, Verdict::Caught);
    assert!(!r.verdict.ok() || r.verdict == Verdict::Caught);
}

#[test]
fn fifo_check_catches_an_unfair_lock() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cfg = config(Duration::from_millis(300), false);
    let r = run("control: Mutex as FIFO", &cfg);
    assert!(
        r.violations
            .iter()
            .any(|v| v.check == checks::FIFO && v.count > 0),
        "{r:?}"
    );
    assert_eq!(r.verdict, Verdict::Caught);
    // The unfair lock still excludes: only the FIFO check may fire.
    assert!(
        r.violations.iter().all(|v| v.check == checks::FIFO),
        "{r:?}"
    );
}

/// A scenario whose first worker never finishes: the watchdog must report a hang instead of
/// waiting forever.
struct Stuck;

impl Scenario for Stuck {
    fn info(&self) -> ScenarioInfo {
        ScenarioInfo {
            name: "stuck".into(),
            primitive: "stuck",
            backend: None,
            expect: Expect::Pass,
        }
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let finished = ctx.run_workers(|w| {
            if w.index == 0 {
                // Stands for a worker stuck in `lock()`; it is abandoned when the test ends.
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            while w.next_op() {}
        });
        assert!(!finished);
        Outcome::default()
    }
}

#[test]
fn watchdog_reports_a_hang() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = config(Duration::from_millis(50), false);
    cfg.hang_grace = Duration::from_millis(200);
    let start = std::time::Instant::now();
    let r = run_scenario(&Stuck, &cfg);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.violations.len(), 1, "{r:?}");
    assert_eq!(r.violations[0].check, checks::HANG);
    assert_eq!(r.violations[0].count, 1);
}

/// Asserts that the control `name` is caught and that each of `want` fired.
fn assert_caught(name: &str, want: &[&str], threads: Option<usize>) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = config(Duration::from_millis(300), false);
    if let Some(t) = threads {
        cfg.plan = Plan::new(&Topology::detect(), Some(t), None).unwrap();
    }
    let r = run(name, &cfg);
    for check in want {
        assert!(
            r.violations
                .iter()
                .any(|v| v.check == *check && v.count > 0),
            "{name}: {check} did not fire: {r:?}"
        );
    }
    assert_eq!(r.verdict, Verdict::Caught, "{r:?}");
}

#[test]
fn holders_check_catches_a_semaphore_granting_too_many() {
    assert_caught(
        "control: Semaphore granting too many",
        &[checks::HOLDERS, checks::PERMITS_BACK],
        None,
    );
}

#[test]
fn early_release_check_catches_an_event_that_does_not_wait() {
    assert_caught("control: Event not waiting", &[checks::EARLY_RELEASE], None);
}

#[test]
fn generation_check_catches_a_barrier_letting_one_through() {
    assert_caught(
        "control: Barrier letting one through",
        &[checks::GENERATIONS],
        Some(3),
    );
}

#[test]
fn delivery_checks_catch_a_queue_dropping_items() {
    assert_caught(
        "control: Queue dropping items",
        &[checks::EXACTLY_ONCE, checks::CHECKSUM],
        None,
    );
}

#[test]
fn new_scenarios_pass_oversubscribed_with_futex() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = config(Duration::from_millis(200), true);
    cfg.plan = Plan::new(&Topology::detect(), Some(8), None).unwrap();
    for s in stress::scenarios() {
        let info = s.info();
        if info.primitive.contains("Lock") || info.primitive == "Mutex" {
            continue;
        }
        assert_passes_within(s.as_ref(), &cfg, Duration::from_secs(5));
    }
}

#[test]
fn condvar_scenarios_pass_quickly_and_oversubscribed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let quick = config(Duration::from_millis(250), false);
    let mut over = config(Duration::from_millis(250), true);
    over.plan = Plan::new(&Topology::detect(), Some(8), None).unwrap();
    let condvars: Vec<_> = stress::scenarios()
        .into_iter()
        .filter(|s| s.info().primitive == "Condvar")
        .collect();
    // A buffer and a notify(n) scenario per backend.
    assert_eq!(condvars.len(), 6);
    for (cfg, limit) in [
        (&quick, Duration::from_secs(1)),
        (&over, Duration::from_secs(5)),
    ] {
        for s in &condvars {
            let r = assert_passes_within(s.as_ref(), cfg, limit);
            assert!(r.ops > 0, "{}: no operations", r.info.name);
        }
    }
}

#[test]
fn notify_count_check_catches_a_condvar_releasing_all() {
    // Two workers: the scenario adds a helper waiter so that n < waiting can happen.
    assert_caught(
        "control: Condvar notify(n) releasing all",
        &[checks::NOTIFY_COUNT],
        Some(2),
    );
    assert_caught(
        "control: Condvar notify(n) releasing all",
        &[checks::NOTIFY_COUNT],
        Some(4),
    );
}

#[test]
fn buffer_check_catches_a_condvar_buffer_dropping_items() {
    assert_caught(
        "control: Condvar buffer dropping items",
        &[checks::EXACTLY_ONCE],
        None,
    );
}

#[test]
fn depth_check_catches_a_reentrant_lock_that_stops_counting() {
    assert_caught(
        "control: ReentrantLock depth stuck at 2",
        &[checks::DEPTH],
        None,
    );
}

#[test]
fn over_release_check_catches_a_bounded_semaphore_accepting_it() {
    assert_caught(
        "control: BoundedSemaphore accepting over-release",
        &[checks::OVER_RELEASE],
        None,
    );
}

#[test]
fn join_check_catches_a_join_that_does_not_wait() {
    assert_caught(
        "control: JoinableQueue join not waiting",
        &[checks::JOIN],
        None,
    );
}

#[test]
fn lost_wakeup_check_catches_a_buffer_that_never_notifies() {
    assert_caught(
        "control: Condvar buffer losing wake-ups",
        &[checks::LOST_WAKEUP],
        None,
    );
}
