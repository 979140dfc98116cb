//! Every feature-gated public item says which feature it needs, in its own documentation (read
//! in a default `cargo doc`) and as a `doc(cfg)` badge (read on docs.rs): issue 12. Reads the
//! sources; a new gated item without either fails here.

use std::fs;
use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

/// The feature a `#[cfg(...)]` line gates on (`std`, `critical-section`, `lock_api`), if it
/// is a plain feature gate (or one combined with `not(baresync_loom)`).
fn gated_feature(line: &str) -> Option<&str> {
    let line = line.trim();
    if !line.starts_with("#[cfg(")
        || line.contains("test")
        || line.contains("not(feature")
        || line.contains("not(all(feature")
    {
        return None;
    }
    let start = line.find("feature = \"")? + "feature = \"".len();
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

#[test]
#[cfg_attr(miri, ignore = "reads the source tree; nothing for Miri to check")]
fn gated_public_items_name_their_feature() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut missing = Vec::new();
    let mut checked = 0;
    for (file, text) in &files {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(feature) = gated_feature(line) else {
                continue;
            };
            // The item the gate applies to: the next line that is not an attribute.
            let mut j = i + 1;
            while j < lines.len() && lines[j].trim_start().starts_with("#[") {
                j += 1;
            }
            let item = lines.get(j).map_or("", |l| l.trim_start());
            let public = ["pub fn", "pub struct", "pub type", "pub enum", "pub trait"]
                .iter()
                .any(|p| item.starts_with(p));
            // Defined in every build, differently with and without the feature.
            let both_ways = ["DefaultWait", "FairDefault"]
                .iter()
                .any(|n| item.contains(n));
            if !public || both_ways {
                continue;
            }
            checked += 1;
            let badge = format!("doc(cfg(feature = \"{feature}\"))");
            let has_badge = lines[i..j].iter().any(|l| l.contains(&badge))
                || lines[..i]
                    .iter()
                    .rev()
                    .take_while(|l| l.trim_start().starts_with("#["))
                    .any(|l| l.contains(&badge));
            // The doc block above the attributes.
            let mut k = i;
            while k > 0 && lines[k - 1].trim_start().starts_with("#[") {
                k -= 1;
            }
            let doc_end = k;
            while k > 0 && lines[k - 1].trim_start().starts_with("///") {
                k -= 1;
            }
            let says = lines[k..doc_end]
                .iter()
                .any(|l| l.contains(&format!("feature `{feature}`")));
            if !has_badge || !says {
                missing.push(format!(
                    "{file}:{}: `{item}` (feature `{feature}`): badge {has_badge}, sentence {says}",
                    j + 1
                ));
            }
        }
    }
    assert!(
        checked >= 15,
        "only {checked} gated items found: is the scan broken?"
    );
    assert!(
        missing.is_empty(),
        "gated items that do not say their feature:\n{}",
        missing.join("\n")
    );
}
