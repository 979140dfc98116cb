//! `report`: where it writes, where its links point, and that `report --from` reproduces its
//! own output byte for byte (so docs/results can be regenerated from the committed bench.json).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The committed run: input for `report --from`.
fn committed_json() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/results/bench.json")
}

fn report(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .current_dir(cwd)
        .arg("report")
        .arg("--from")
        .arg(committed_json())
        .args(args)
        .output()
        .expect("host-runner runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A workspace like baresync's: a `[workspace]` manifest, `host-runner/`, `docs/` with the
/// guide and the design notes the results page links to.
fn fake_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"x\"\n\n[workspace]\nmembers = [\"host-runner\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("host-runner/src")).unwrap();
    std::fs::write(root.join("host-runner/Cargo.toml"), "[package]\n").unwrap();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/README.md"), "guide\n").unwrap();
    std::fs::write(root.join("docs/design.md"), "design\n").unwrap();
    dir
}

/// Every relative link of a markdown page (not `#anchors`, not URLs).
fn relative_links(page: &str) -> Vec<String> {
    page.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(l, _)| l.to_string()))
        .filter(|l| !l.starts_with('#') && !l.contains("://"))
        .collect()
}

fn assert_links_resolve(dir: &Path) {
    let page = std::fs::read_to_string(dir.join("README.md")).expect("README.md written");
    let links = relative_links(&page);
    assert!(
        links.iter().any(|l| l.ends_with("README.md")),
        "no link to the guide in {links:?}"
    );
    for l in links {
        assert!(
            dir.join(&l).exists(),
            "link {l} from {} points nowhere",
            dir.display()
        );
    }
}

#[test]
fn default_output_is_the_workspace_docs_results_from_any_subdirectory() {
    let ws = fake_workspace();
    let o = report(&ws.path().join("host-runner/src"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let results = ws.path().join("docs/results");
    assert!(results.join("bench.json").is_file(), "{}", text(&o));
    assert!(!ws.path().join("host-runner/src/docs").exists());
    assert!(!ws.path().join("host-runner/docs").exists());
    assert_links_resolve(&results);
}

#[test]
fn outside_a_workspace_out_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let o = report(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--out"),
        "{}",
        text(&o)
    );
    assert!(!dir.path().join("docs").exists(), "wrote without --out");
    // With --out it writes there; there is no guide to link to, so nothing links nowhere.
    let out = dir.path().join("here");
    let o = report(dir.path(), &["--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    for l in relative_links(&page) {
        assert!(out.join(&l).exists(), "link {l} points nowhere");
    }
}

#[test]
fn links_follow_out_elsewhere() {
    let ws = fake_workspace();
    let out = ws.path().join("some/where/else");
    let o = report(ws.path(), &["--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_links_resolve(&out);
}

#[test]
fn report_from_its_own_json_reproduces_every_file_byte_for_byte() {
    let ws = fake_workspace();
    let first = ws.path().join("docs/results");
    let o = report(ws.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Regenerate from what the first run wrote, into a sibling directory at the same depth
    // (so relative links are the same).
    let second = ws.path().join("docs/again");
    let o = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .current_dir(ws.path())
        .args(["report", "--from"])
        .arg(first.join("bench.json"))
        .arg("--out")
        .arg(&second)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut n = 0;
    for entry in std::fs::read_dir(&first).unwrap() {
        let name = entry.unwrap().file_name();
        let a = std::fs::read(first.join(&name)).unwrap();
        let b = std::fs::read(second.join(&name)).unwrap_or_default();
        assert!(a == b, "{name:?} differs when regenerated");
        n += 1;
    }
    assert!(n >= 10, "only {n} files");
}

/// The `lockdep` group compares two builds; a `--lockdep-bin` that is not the build with the
/// checker (here, this very build) is refused before the bench runs, not merged as if it were.
#[cfg(not(feature = "lockdep"))]
#[test]
fn lockdep_group_refuses_a_build_without_the_checker() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .current_dir(dir.path())
        .args(["report", "--smoke", "--no-progress", "--out"])
        .arg(dir.path().join("results"))
        .arg("--lockdep-bin")
        .arg(env!("CARGO_BIN_EXE_host-runner"))
        .output()
        .expect("host-runner runs");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("is not the build with lockdep on"), "{t}");
    assert!(!dir.path().join("results").exists(), "{t}");
}

/// A build with the checker on does not measure the other groups (every primitive would be
/// checked); only `report --from` works there.
#[cfg(feature = "lockdep")]
#[test]
fn report_refuses_to_measure_in_a_lockdep_build() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_host-runner"))
        .current_dir(dir.path())
        .args(["report", "--smoke", "--no-progress", "--out"])
        .arg(dir.path().join("results"))
        .output()
        .expect("host-runner runs");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("built with feature lockdep"), "{t}");
}
