//! `stress --processes [--kill]` end to end: the forked workers' scenarios pass and their
//! controls are caught (exit status 0), on Linux.
#![cfg(target_os = "linux")]

use std::process::Command;

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

#[test]
fn processes_pass_and_the_control_is_caught() {
    let (code, out) = stress(&[]);
    assert_eq!(code, 0, "{out}");
    for line in ["robust-mutex", "queue", "shared-mutex"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(line) && l.ends_with(": PASS")),
            "{out}"
        );
    }
    assert!(
        out.contains("control: no lock") && out.contains("(control caught)"),
        "{out}"
    );
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
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["mode"], "processes");
    assert_eq!(v["kill"], true);
    assert_eq!(v["jitter"], true);
    assert_eq!(v["ok"], true);
    let scenarios = v["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
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
        assert_eq!(s["passed"], true, "{s}");
        assert!(s["kills"].as_u64().unwrap() > 0, "{s}");
        // A control passes by failing its checks.
        assert_eq!(
            s["control"].as_bool().unwrap(),
            !s["violations"].as_array().unwrap().is_empty(),
            "{s}"
        );
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
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
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
