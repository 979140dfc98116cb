//! The command line, run as a process: exit codes and output.

use std::process::{Command, Output};

fn host_runner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .args(args)
        .output()
        .expect("running host-runner")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn unknown_primitive_is_a_usage_error() {
    let o = host_runner(&["stress", "--primitive", "nosuchlock"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown primitive 'nosuchlock'"), "{err}");
    assert!(
        err.contains("SpinLock, TicketLock, McsLock, FairLock, Mutex, ReentrantLock"),
        "{err}"
    );
    assert!(err.contains("Barrier, Queue, JoinableQueue"), "{err}");
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["stress", "--duration", "soon"][..],
        &["stress", "--backend", "carrier-pigeon"],
        &["stress", "--threads", "0"],
        &["stress", "--ops", "0"],
        &["stress", "--cpus", "3-1"],
        &["stress", "--cpus", "100000"],
        &["topology", "--cpus", "x"],
        &["bench", "--smoke", "--rounds", "0", "--group", "barrier"],
        &["frobnicate"],
    ] {
        let o = host_runner(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
}

#[test]
fn topology_prints_the_pinning() {
    let o = host_runner(&["topology", "--threads", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for want in ["logical CPUs:", "physical cores:", "SMT:", "w4", "-> cpu"] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

#[test]
fn short_stress_passes_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let o = host_runner(&[
        "stress",
        "--primitive",
        "spinlock",
        "--primitive",
        "TicketLock",
        "--backend",
        "spin",
        "--duration",
        "150ms",
        "--seed",
        "7",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("seed 0x7"), "{out}");
    assert!(out.contains("control caught"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["control_caught"], true);
    assert_eq!(report["config"]["seed"], 7);
    // 150 ms is shorter than three progress limits: extended, with a warning.
    let limit = report["config"]["progress_limit_secs"].as_f64().unwrap();
    let duration = report["config"]["duration_secs"].as_f64().unwrap();
    assert!(limit >= 0.1, "{limit}");
    assert!(
        (duration - 3.0 * limit).abs() < 1e-9,
        "{duration} vs {limit}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("too short to see a worker stuck"),
        "{}",
        text(&o)
    );
    assert_eq!(report["scenarios"][0]["verdict"], "PASS");
    assert_eq!(report["scenarios"][2]["verdict"], "CAUGHT");
    let names: Vec<&str> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    // Only the controls of the selected primitives run: those of the locks, not the
    // event's or the barrier's.
    let controls: Vec<String> = host_runner::stress::controls_for(&["SpinLock", "TicketLock"])
        .iter()
        .map(|c| c.info().name)
        .collect();
    assert_eq!(names[..2], ["SpinLock", "TicketLock<Spin>"]);
    assert_eq!(names[2..], controls);
    assert!(controls.len() < host_runner::stress::controls().len());
    for name in [
        "control: no lock",
        "control: Mutex as FIFO",
        "control: TicketLock<NoopWake>",
    ] {
        assert!(names.contains(&name), "{name} not run");
    }
    for name in [
        "control: Event<NoopWake>",
        "control: Barrier with two leaders",
    ] {
        assert!(!names.contains(&name), "{name} run for locks only");
    }
    assert!(report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .skip(2)
        .all(|s| s["verdict"] == "CAUGHT"));
}

#[test]
fn one_worker_warns_which_checks_cannot_fail() {
    let o = host_runner(&[
        "stress",
        "--threads",
        "1",
        "--primitive",
        "mutex",
        "--backend",
        "spin",
        "--duration",
        "100ms",
        "--no-progress",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning: --threads 1"), "{}", text(&o));
    assert!(
        err.contains("Mutex: mutual exclusion, lost updates"),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("result: PASS, with one worker"), "{out}");
    // Two workers: no such warning.
    let o = host_runner(&[
        "stress",
        "--threads",
        "2",
        "--primitive",
        "mutex",
        "--backend",
        "spin",
        "--duration",
        "100ms",
        "--no-progress",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("single worker"), "{}", text(&o));
}

#[test]
fn long_runs_number_their_scenarios_with_the_time_left() {
    let o = host_runner(&[
        "stress",
        "--primitive",
        "mutex",
        "--duration",
        "2s",
        "--no-progress",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("stress: scenario "))
        .collect();
    // Three backends of Mutex, then the controls that cover it: each announced once, in order.
    assert!(lines.len() >= 4, "{err}");
    let n = lines.len();
    for (k, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!("stress: scenario {} of {n}: ", k + 1)),
            "{line}"
        );
        assert!(line.ends_with(" left"), "{line}");
    }
    assert!(lines[0].contains("Mutex<Spin>"), "{}", lines[0]);
}
