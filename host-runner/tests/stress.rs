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
    let plan = Plan::new(&topo, Some(threads), None).unwrap();
    Config {
        progress_limit: stress::progress_limit(duration, &plan),
        plan,
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
        if r.info.primitive == "TicketLock" {
            // The FIFO scenarios run at least three workers.
            assert_eq!(r.threads, cfg.plan.threads().max(3));
        } else {
            assert_eq!(r.threads, cfg.plan.threads());
        }
    }
}

#[test]
fn every_lock_passes_with_jitter_and_oversubscription() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let topo = Topology::detect();
    let mut cfg = config(Duration::from_millis(200), true);
    cfg.plan = Plan::new(&topo, Some(topo.cores.len() * 2 + 1), None).unwrap();
    cfg.progress_limit = stress::progress_limit(cfg.duration, &cfg.plan);
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
fn watchdog_reports_a_stuck_worker_and_abandons_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = config(Duration::from_secs(30), false);
    cfg.progress_limit = Duration::from_millis(100);
    let start = std::time::Instant::now();
    let r = run_scenario(&Stuck, &cfg);
    // Stopped at the stall, not at the 30 s time bound nor after the 10 s hang grace.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(r.verdict, Verdict::Fail);
    let count = |check: &str| {
        r.violations
            .iter()
            .find(|v| v.check == check)
            .map_or(0, |v| v.count)
    };
    assert_eq!(count(checks::PROGRESS), 1, "{r:?}");
    assert_eq!(count(checks::HANG), 1, "{r:?}");
    assert_eq!(r.violations.len(), 2, "{r:?}");
}

#[test]
fn watchdog_reports_a_hang_after_the_stop() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = config(Duration::from_millis(50), false);
    cfg.hang_grace = Duration::from_millis(200);
    // A limit longer than the grace: only the hang check can see it.
    cfg.progress_limit = Duration::from_secs(60);
    let start = std::time::Instant::now();
    let r = run_scenario(&Stuck, &cfg);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.violations.len(), 1, "{r:?}");
    assert_eq!(r.violations[0].check, checks::HANG);
    assert_eq!(r.violations[0].count, 1);
}

/// A scenario whose workers make progress for a while, then one waits on an `Event` that is
/// only ever set by the release action: the run must end by that action, without a stall.
struct ReleasedAtStop;

impl Scenario for ReleasedAtStop {
    fn info(&self) -> ScenarioInfo {
        ScenarioInfo {
            name: "released at stop".into(),
            primitive: "test",
            backend: None,
            expect: Expect::Pass,
        }
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let event = std::sync::Arc::new(baresync::Event::<baresync::Futex>::with_wait());
        let setter = std::sync::Arc::clone(&event);
        ctx.on_stop(move || setter.set());
        let finished = ctx.run_workers(move |w| {
            while w.next_op() {
                if w.index == 0 && w.ops() > 1000 && !w.stopping() {
                    // Parked until the harness stops the run: no progress meanwhile, but the
                    // time bound comes before the progress limit.
                    event.wait();
                }
            }
        });
        assert!(finished);
        Outcome::default()
    }
}

#[test]
fn release_action_ends_untimed_waits() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = config(Duration::from_millis(100), false);
    cfg.progress_limit = Duration::from_secs(5);
    let start = std::time::Instant::now();
    let r = run_scenario(&ReleasedAtStop, &cfg);
    assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

/// Asserts that the control `name` is caught and that each of `want` fired.
fn assert_caught(name: &str, want: &[&str], threads: Option<usize>) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = config(Duration::from_millis(300), false);
    if let Some(t) = threads {
        cfg.plan = Plan::new(&Topology::detect(), Some(t), None).unwrap();
        cfg.progress_limit = stress::progress_limit(cfg.duration, &cfg.plan);
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
fn every_control_is_caught_by_the_checks_it_names() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // As the CLI runs them: three progress limits (at least), the limit of the real runs.
    let topo = Topology::detect();
    let plan = Plan::new(&topo, Some(topo.cores.len().clamp(2, 4)), None).unwrap();
    let limit = stress::progress_limit(Duration::from_millis(400), &plan);
    let quick = config(Duration::from_millis(300), false);
    // Controls of a liveness check run long enough for it to fire; the others fire at once.
    let long = Config {
        duration: stress::min_duration_for(limit).max(Duration::from_millis(300)),
        progress_limit: limit,
        ..quick.clone()
    };
    let liveness = [
        checks::PROGRESS,
        checks::HANG,
        checks::NOT_RELEASED,
        checks::NOTIFY_RELEASED,
    ];
    let mut names = Vec::new();
    for s in stress::controls() {
        let info = s.info();
        let Expect::Fail(want) = info.expect else {
            panic!("{} is not a control", info.name);
        };
        let cfg = if want.iter().any(|c| liveness.contains(c)) {
            &long
        } else {
            &quick
        };
        let r = run_scenario(s.as_ref(), cfg);
        for check in want {
            assert!(
                r.violations
                    .iter()
                    .any(|v| v.check == *check && v.count > 0),
                "{}: {check} did not fire: {r:?}",
                info.name
            );
        }
        assert_eq!(r.verdict, Verdict::Caught, "{r:?}");
        names.push(info.name);
    }
    // The liveness controls of issue 10 are among them.
    for name in [
        "control: Event set releasing nobody",
        "control: Mutex<NoopWake>",
        "control: Condvar buffer losing wake-ups",
        "control: Condvar notify(n) releasing too few",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing");
    }
}

/// Every check name appears in the must-trip list of some control: none is left unproven.
#[test]
fn every_check_has_a_control() {
    let all = [
        checks::MUTUAL_EXCLUSION,
        checks::LOST_UPDATES,
        checks::FIFO,
        checks::HANG,
        checks::PROGRESS,
        checks::DEPTH,
        checks::HOLDERS,
        checks::PERMITS_BACK,
        checks::OVER_RELEASE,
        checks::EARLY_RELEASE,
        checks::NOT_RELEASED,
        checks::EXACTLY_ONCE,
        checks::PRODUCER_FIFO,
        checks::CHECKSUM,
        checks::NOTIFY_COUNT,
        checks::NOTIFY_RELEASED,
        checks::GENERATIONS,
        checks::ONE_LEADER,
        checks::ABORT_RESET,
        checks::JOIN,
    ];
    let controls = stress::controls();
    for check in all {
        assert!(
            controls
                .iter()
                .any(|c| matches!(c.info().expect, Expect::Fail(w) if w.contains(&check))),
            "no control for {check}"
        );
    }
}

#[test]
fn generation_check_catches_a_barrier_letting_one_through_with_three() {
    assert_caught(
        "control: Barrier letting one through",
        &[checks::GENERATIONS],
        Some(3),
    );
}

#[test]
fn new_scenarios_pass_oversubscribed_with_futex() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = config(Duration::from_millis(200), true);
    cfg.plan = Plan::new(&Topology::detect(), Some(8), None).unwrap();
    cfg.progress_limit = stress::progress_limit(cfg.duration, &cfg.plan);
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
    over.progress_limit = stress::progress_limit(over.duration, &over.plan);
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
fn fifo_scenarios_run_three_workers_and_see_queued_workers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = config(Duration::from_millis(300), false);
    cfg.plan = Plan::new(&Topology::detect(), Some(2), None).unwrap();
    let r = run("TicketLock<Futex>", &cfg);
    assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
    assert!(r.threads >= 3, "{r:?}");
    let note = r
        .notes
        .iter()
        .find(|n| n.starts_with("fifo order:"))
        .expect("a fifo note");
    let saw: u64 = note["fifo order: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(saw > 0, "{note}");
}
