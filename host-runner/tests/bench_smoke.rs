//! `bench --smoke --json` runs every group and writes JSON that says so.

use std::process::Command;

#[test]
fn smoke_bench_json_has_every_group() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let json = dir.path().join("bench.json");
    let csv = dir.path().join("bench.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .args(["bench", "--smoke", "--no-progress", "--json"])
        .arg(&json)
        .arg("--csv")
        .arg(&csv)
        .output()
        .expect("host-runner runs");
    assert!(
        out.status.success(),
        "bench --smoke failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("the JSON file");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let groups: Vec<&str> = v["groups"]
        .as_array()
        .expect("a groups array")
        .iter()
        .map(|g| g["name"].as_str().expect("a group name"))
        .collect();
    for want in host_runner::bench::GROUPS {
        assert!(
            groups.contains(&want),
            "group {want} missing from {groups:?}"
        );
    }
    for g in v["groups"].as_array().unwrap() {
        let rows = g["rows"].as_array().expect("rows");
        assert!(!rows.is_empty(), "group {} has no rows", g["name"]);
        for r in rows {
            assert!(r["implementation"].as_str().is_some_and(|s| !s.is_empty()));
        }
        // A smoke window is a few milliseconds on a possibly loaded machine, so a row may
        // measure nothing (no hand-off happened in it); a whole group may not.
        assert!(
            rows.iter().any(|r| r["median"].as_f64().is_some()),
            "group {} measured nothing",
            g["name"]
        );
    }
    // The baselines ran in the same run.
    for baseline in [
        "std::sync::Mutex",
        "parking_lot::Mutex",
        "spin::TicketMutex",
        "crossbeam_queue::ArrayQueue",
        "std::sync::Barrier",
    ] {
        assert!(text.contains(baseline), "{baseline} missing");
    }
    let csv = std::fs::read_to_string(&csv).expect("the CSV file");
    assert!(csv.starts_with("group,case,threads"));
    assert!(csv.lines().count() > 50, "too few CSV lines");

    // `report --from` turns that JSON into the results page and its plots (compared with
    // itself, every ratio is within the spread limit).
    let results = dir.path().join("results");
    let out = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .args(["report", "--from"])
        .arg(&json)
        .arg("--compare")
        .arg(&json)
        .arg("--out")
        .arg(&results)
        .output()
        .expect("host-runner runs");
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let readme = std::fs::read_to_string(results.join("README.md")).expect("README.md");
    for (svg, _) in host_runner::bench::report::PLOTS {
        let text = std::fs::read_to_string(results.join(svg)).expect("an SVG plot");
        assert!(
            text.contains("<svg") && text.contains("<text"),
            "{svg} has no text"
        );
        assert!(readme.contains(svg), "README.md does not show {svg}");
    }
    for want in [
        "CPU model",
        "core-to-core floor",
        "## Sizes",
        "## Run-to-run spread",
        "## locks",
        "## queue",
    ] {
        assert!(readme.contains(want), "README.md lacks {want}");
    }
}

#[test]
fn unknown_group_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .args(["bench", "--smoke", "--group", "nope"])
        .output()
        .expect("host-runner runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known groups"));
}
