//! `stress --processes [--kill]` end to end: the forked workers' scenarios pass and their
//! controls are caught (exit status 0), on Linux.
#![cfg(target_os = "linux")]

use std::process::Command;

/// The JSON file at `path`, parsed.
fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The scenarios of a `stress --processes --json` report and their names, after checking that
/// every one passed, and that a scenario is a control exactly when it has violations (a
/// control passes by failing its checks).
fn passed_scenarios(v: &serde_json::Value) -> (&Vec<serde_json::Value>, Vec<&str>) {
    let scenarios = v["scenarios"].as_array().unwrap();
    for s in scenarios {
        assert_eq!(s["passed"], true, "{s}");
        assert_eq!(
            s["control"].as_bool().unwrap(),
            !s["violations"].as_array().unwrap().is_empty(),
            "{s}"
        );
    }
    let names = scenarios
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    (scenarios, names)
}

fn stress(extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .args([
            "stress",
            "--processes",
            "--threads",
            "2",
            "--duration",
            "500ms",
            "--seed",
            "7",
        ])
        .args(extra)
        .output()
        .expect("run host-runner");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Every scenario and control without `--kill`, in the table and in `--json`; each new
/// control is caught by the check it exists for.
#[test]
fn processes_pass_and_the_control_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stress.json");
    let (code, out) = stress(&["--json", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "robust-mutex",
        "queue",
        "shared-mutex",
        "semaphore",
        "barrier",
        "rwlock",
        "event",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(line) && l.ends_with(": PASS")),
            "{line}: {out}"
        );
    }
    let controls = [
        "control: no lock",
        "control: one permit too many",
        "control: one party short",
        "control: unlocked reads",
        "control: not waiting",
        "control: set wakes nobody",
    ];
    for control in controls {
        assert!(
            out.lines()
                .any(|l| l.starts_with(control) && l.ends_with("(control caught)")),
            "{control}: {out}"
        );
    }
    let v = read_json(&json);
    assert_eq!(v["mode"], "processes");
    assert_eq!(v["kill"], false);
    assert_eq!(v["ok"], true);
    let (scenarios, names) = passed_scenarios(&v);
    for name in [
        "robust-mutex",
        "queue",
        "shared-mutex",
        "semaphore",
        "barrier",
        "rwlock",
        "event",
    ]
    .into_iter()
    .chain(controls)
    {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    assert_eq!(names.len(), 13, "{names:?}");
    for (control, check) in [
        ("control: unlocked reads", "consistent-read"),
        ("control: not waiting", "released-after-set"),
        ("control: set wakes nobody", "every-waiter-released"),
        ("control: set wakes nobody", "hang"),
    ] {
        let s = scenarios.iter().find(|s| s["name"] == control).unwrap();
        assert!(
            s["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v.as_str().unwrap().starts_with(check)),
            "{control} not caught by {check}: {s}"
        );
    }
}

#[test]
fn killed_workers_are_survived_and_every_death_reported() {
    let (code, out) = stress(&["--kill"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("robust-mutex") && l.contains("killed")),
        "{out}"
    );
    for control in ["control: death ignored", "control: late acks"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(control) && l.ends_with("(control caught)")),
            "{control}: {out}"
        );
    }
}

/// `--json` is honoured with `--processes`: every scenario and control, with its verdict.
#[test]
fn processes_json_lists_every_scenario_and_control() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stress.json");
    let (code, out) = stress(&["--kill", "--jitter", "--json", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let v = read_json(&json);
    assert_eq!(v["mode"], "processes");
    assert_eq!(v["kill"], true);
    assert_eq!(v["jitter"], true);
    assert_eq!(v["ok"], true);
    let (scenarios, names) = passed_scenarios(&v);
    assert_eq!(
        names,
        [
            "robust-mutex",
            "queue",
            "control: death ignored",
            "control: late acks"
        ]
    );
    for s in scenarios {
        assert!(s["kills"].as_u64().unwrap() > 0, "{s}");
    }
}

#[test]
fn kill_needs_processes() {
    let out = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .args(["stress", "--kill"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
}

/// `bench --processes` runs the processes group only, every case with its libc baseline, and
/// the owner-death rows report one latency per kill (a death not reported would be missing).
#[test]
fn bench_processes_measures_every_case_next_to_libc() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .args(["bench", "--smoke", "--processes", "--no-progress", "--json"])
        .arg(&json)
        .output()
        .expect("run host-runner");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = read_json(&json);
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "only the processes group");
    assert_eq!(groups[0]["name"], "processes");
    let rows = groups[0]["rows"].as_array().unwrap();
    let reference = host_runner::bench::processes::REFERENCE;
    for case in [
        "mutex, uncontended",
        "mutex, contended",
        "semaphore",
        "queue",
        "barrier",
        "event",
        "owner death",
    ] {
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r["case"].as_str().unwrap().starts_with(case))
            .collect();
        assert!(mine.len() >= 2, "case {case}: {mine:?}");
        assert!(
            mine.iter().any(|r| r["implementation"] == reference),
            "{case}"
        );
        assert!(
            mine.iter().any(|r| r["implementation"]
                .as_str()
                .unwrap()
                .starts_with("baresync::")),
            "{case}"
        );
    }
    // The group's windows are at least 25 ms even in a smoke run, so every row measures
    // something (a 4 ms window could end before a pipe's consumer or a condition variable's
    // waiter first ran).
    for r in rows {
        assert!(
            r["median"].as_f64().is_some_and(|m| m > 0.0),
            "no value: {r}"
        );
    }
    let deaths: Vec<_> = rows
        .iter()
        .filter(|r| r["case"].as_str().unwrap().starts_with("owner death"))
        .collect();
    for r in deaths {
        // Every kill reported "owner died" to the waiter (the smoke window makes 3 kills).
        assert_eq!(r["events"], 3, "{r}");
        assert!(r["latency"]["max"].as_f64().is_some_and(|m| m > 0.0), "{r}");
    }
}
