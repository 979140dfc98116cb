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
    assert!(
        out.contains("control: death ignored") && out.contains("(control caught)"),
        "{out}"
    );
}

#[test]
fn kill_needs_processes() {
    let out = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .args(["stress", "--kill"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
}
