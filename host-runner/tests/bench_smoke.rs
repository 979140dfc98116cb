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
    // Issue 11: the event, condvar and barrier groups have a polled and an asleep case, and
    // every row of them carries CPU time per operation and its event count.
    let group = |name: &str| -> &Vec<serde_json::Value> {
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .and_then(|g| g["rows"].as_array())
            .expect("the group's rows")
    };
    for name in ["event", "condvar", "barrier"] {
        let rows = group(name);
        for kind in ["polled", "asleep"] {
            assert!(
                rows.iter()
                    .any(|r| r["case"].as_str().is_some_and(|c| c.contains(kind))),
                "group {name} has no {kind} case"
            );
        }
        for r in rows {
            assert!(
                r.get("cpu_ns_per_op").is_some() && r.get("events").is_some(),
                "{name} row without CPU time or events: {r}"
            );
            if r["median"].as_f64().is_some() {
                assert!(
                    r["cpu_ns_per_op"].as_f64().is_some_and(|c| c >= 0.0),
                    "{name} row measured a value but no CPU time: {r}"
                );
                assert!(r["events"].as_u64().is_some_and(|n| n > 0), "{r}");
            }
            // No ratio from a window with too few events.
            if r["events"]
                .as_u64()
                .is_some_and(|n| n < host_runner::bench::FEW_EVENTS)
            {
                assert!(r["speedup"].is_null(), "a ratio from too few events: {r}");
            }
        }
    }
    // Locks: hand-off by forced alternation, two threads, one hand-off per acquisition, with
    // its sample count; contended rows with work, each with acquisitions per hand-off.
    let locks = group("locks");
    let handoffs: Vec<_> = locks
        .iter()
        .filter(|r| r["case"] == host_runner::bench::lock::HANDOFF)
        .collect();
    assert!(!handoffs.is_empty(), "no forced-alternation hand-off rows");
    for r in handoffs {
        assert_eq!(r["threads"], 2);
        if r["median"].as_f64().is_some() {
            assert!(r["events"].as_u64().is_some_and(|n| n > 0), "{r}");
            let acq = r["acq_per_handoff"].as_f64().expect("acq/hand-off");
            // Every acquisition but the very first is a hand-off.
            assert!((1.0..1.01).contains(&acq), "not alternating: {r}");
        }
    }
    let work: Vec<_> = locks
        .iter()
        .filter(|r| r["case"] == host_runner::bench::lock::CONTENDED_WORK)
        .collect();
    assert!(!work.is_empty(), "no contended rows with work");
    for r in locks.iter().filter(|r| {
        r["case"] == host_runner::bench::lock::CONTENDED
            || r["case"] == host_runner::bench::lock::CONTENDED_WORK
    }) {
        // A window in which one thread never got the lock (a smoke run on a loaded machine
        // can starve a thread for a whole short window) has no change of owner, so no
        // acquisitions per hand-off; any row in which every thread got it must have one.
        let everyone_got_it = r["min_ops"].as_u64().is_some_and(|n| n > 0);
        if r["threads"].as_u64() > Some(1) && r["median"].as_f64().is_some() && everyone_got_it {
            assert!(
                r["acq_per_handoff"].as_f64().is_some_and(|a| a >= 1.0),
                "a contended row without acquisitions per hand-off: {r}"
            );
        }
    }
    // The semaphore reference is the waiter-counting one.
    assert!(text.contains(host_runner::bench::semaphore::REFERENCE));
    // Ratios keep significant figures: never "0.00×".
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("0.00×"), "a ratio printed as 0.00×");
    for column in [
        "CPU/op",
        "events/window",
        "acq/hand-off",
        "acquire p50 · p99 · p99.9 · max",
    ] {
        assert!(stdout.contains(column), "the table lacks {column}");
    }

    let csv = std::fs::read_to_string(&csv).expect("the CSV file");
    assert!(csv.starts_with("group,case,threads"));
    assert!(
        csv.lines().next().unwrap().ends_with(
            "cpu_ns_per_op,events,latency_p50_ns,latency_p99_ns,latency_p999_ns,latency_max_ns"
        ),
        "CSV header lacks the new columns"
    );
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
        // No two lines of a plot carry the same label.
        let labels: Vec<&str> = text
            .split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>').and_then(|(_, r)| r.split_once("</text>")))
            .map(|(t, _)| t.trim())
            .filter(|t| t.contains("::") || t.starts_with("std "))
            .collect();
        for (i, l) in labels.iter().enumerate() {
            assert!(!labels[..i].contains(l), "{svg}: label {l} twice");
        }
    }
    let event = std::fs::read_to_string(results.join("event-release.svg")).unwrap();
    assert!(
        event.contains("waiter"),
        "event-release.svg gives no waiter count"
    );
    for want in [
        "CPU model",
        "core-to-core floor",
        "## Sizes",
        "## Run-to-run spread",
        "## locks",
        "## queue",
        "**One machine.**",
        "**Baselines.**",
        "notify_one` only when a waiter is counted",
        "**Polled and asleep.**",
        "## What carries over to another machine",
        "CPU/op",
        host_runner::bench::report::COMPARE_JSON,
    ] {
        assert!(readme.contains(want), "README.md lacks {want}");
    }
    assert!(!readme.contains("0.00×"), "a ratio written as 0.00×");
    // The compared run is kept next to the page, so the page can be regenerated from it.
    let kept = std::fs::read_to_string(results.join(host_runner::bench::report::COMPARE_JSON))
        .expect("the compared JSON is kept");
    assert!(serde_json::from_str::<serde_json::Value>(&kept).is_ok());
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

#[test]
fn tables_fit_the_width_and_drop_empty_columns() {
    let out = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .args(["bench", "--smoke", "--group", "barrier", "--no-progress"])
        .env("COLUMNS", "120")
        .output()
        .expect("host-runner runs");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let table: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with(['┌', '│', '╞', '├', '└']))
        .collect();
    assert!(table.len() > 5, "no table in\n{stdout}");
    for line in &table {
        assert!(line.chars().count() <= 120, "wider than 120:\n{line}");
    }
    // The barrier group measures no fairness and no hand-offs: those columns are gone.
    let header = table[..4].join("\n");
    assert!(header.contains("median"), "{header}");
    for gone in ["fairness", "acq/"] {
        assert!(
            !header.contains(gone),
            "empty column {gone} kept:\n{header}"
        );
    }
}
