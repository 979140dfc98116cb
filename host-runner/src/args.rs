//! What every subcommand shares, below all of them: exit statuses, [`UsageError`], and the
//! parsers of argument values (`--duration`, `--window`, `--seed`, `--cpus`).
//!
//! [`cli`](crate::cli) (the command line) and the subcommands' modules ([`stress`](crate::stress),
//! [`bench`](mod@crate::bench)) import from here; nothing here imports them, so the layers
//! read top-down: `cli` → subcommands → `args`, `topology`, `pin`.

use crate::topology::parse_cpu_list;
use std::time::Duration;

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: an invariant broke, or a negative control was not caught.
pub const EXIT_VIOLATION: i32 = 1;
/// Exit status: bad arguments.
pub const EXIT_USAGE: i32 = 2;

/// A usage error: printed, then exit status [`EXIT_USAGE`].
#[derive(Debug)]
pub struct UsageError(pub String);

/// A parsed `--cpus` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

/// Parses a `--cpus` list like `0,2-3` (clap's value parser).
///
/// # Errors
///
/// A message for a malformed list.
pub fn parse_cpus_arg(s: &str) -> Result<CpuList, String> {
    parse_cpu_list(s).map(CpuList)
}

/// Parses `2s`, `500ms`, `1.5s`, `250us`, `1m`; a bare number is seconds.
///
/// # Errors
///
/// A message for a malformed, negative, zero or unknown-unit duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (expected e.g. 2s, 500ms)"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        "m" | "min" => 60.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (use ns, us, ms, s, m)"
            ))
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e7 {
        return Err(format!("duration {s:?} must be positive and sane"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a seed in decimal or `0x` hex.
///
/// # Errors
///
/// A message for anything else.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    }
    .map_err(|_| format!("bad seed {s:?} (decimal or 0x-hex u64)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn seeds() {
        assert_eq!(parse_seed("42").unwrap(), 42);
        assert_eq!(parse_seed("0x2A").unwrap(), 42);
        assert!(parse_seed("-1").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpus_arg("0,2-3").unwrap(), CpuList(vec![0, 2, 3]));
        assert!(parse_cpus_arg("3-1").is_err());
    }
}
