//! Tables for the terminal: as wide as the terminal at most, without the columns a table has
//! nothing in.
//!
//! The width is the terminal's when stdout is one (comfy-table asks it), else `COLUMNS` when
//! set (a shell exports it; CI logs and pipes have neither, and get the table unwrapped).
//! Cells too wide for their share of it wrap onto several lines.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ColumnConstraint, Table, Width};
use std::time::{Duration, Instant};

/// Whether a cell says nothing: empty or a dash.
pub fn is_blank(cell: &str) -> bool {
    matches!(cell.trim(), "" | "–" | "-")
}

/// The indices of the columns with something in some row (all of them when there are no
/// rows, so that an empty table keeps its header).
pub fn kept_columns(columns: usize, rows: &[Vec<String>]) -> Vec<usize> {
    (0..columns)
        .filter(|&c| rows.is_empty() || rows.iter().any(|r| r.get(c).is_some_and(|x| !is_blank(x))))
        .collect()
}

/// `header` and `rows` without the columns blank in every row; `keep` as from
/// [`kept_columns`].
pub fn select_columns(
    header: &[String],
    rows: &[Vec<String>],
    keep: &[usize],
) -> (Vec<String>, Vec<Vec<String>>) {
    let pick = |r: &[String]| -> Vec<String> {
        keep.iter()
            .map(|&c| r.get(c).cloned().unwrap_or_default())
            .collect()
    };
    (pick(header), rows.iter().map(|r| pick(r)).collect())
}

/// The width tables are fitted to when stdout is not a terminal: `COLUMNS`, if it is a
/// number of at least 20.
pub fn columns_env() -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()?
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|&w| w >= 20)
}

/// Widest line of `cells`, in characters.
fn widest<'a>(cells: impl IntoIterator<Item = &'a String>) -> usize {
    cells
        .into_iter()
        .flat_map(|x| x.lines())
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

/// The widths of the pieces a number cell may be wrapped into: a range `a – b` after its dash,
/// a note `x (few)` before its parenthesis; never inside a number and its unit.
fn number_parts(cell: &str) -> Vec<usize> {
    cell.lines()
        .flat_map(|l| l.split(" (").flat_map(|p| p.split_inclusive(" –")))
        .map(|p| p.trim().chars().count())
        .collect()
}

/// The content width of each column so that the table is at most `width` wide: `None` when
/// it fits unwrapped. Number columns get their widest cell (a header may wrap over it);
/// name columns share what is left in proportion to their widest cell, at least 8 each.
pub fn fit_widths(
    header: &[String],
    rows: &[Vec<String>],
    numbers: &[bool],
    width: usize,
) -> Option<Vec<usize>> {
    let n = header.len();
    let cells = |c: usize| rows.iter().filter_map(move |r| r.get(c));
    let natural: Vec<usize> = (0..n)
        .map(|c| widest(cells(c)).max(widest([&header[c]])))
        .collect();
    // Borders: one between and around the columns; padding: a space each side.
    let chrome = n + 1 + 2 * n;
    if natural.iter().sum::<usize>() + chrome <= width {
        return None;
    }
    let mut w: Vec<usize> = (0..n)
        .map(|c| {
            if numbers[c] {
                let longest_word = header[c]
                    .split_whitespace()
                    .map(|x| x.chars().count())
                    .max();
                let parts = cells(c).flat_map(|x| number_parts(x)).max();
                parts
                    .unwrap_or(0)
                    .max(longest_word.unwrap_or(0).min(6))
                    .max(1)
            } else {
                0
            }
        })
        .collect();
    let names: Vec<usize> = (0..n).filter(|&c| !numbers[c]).collect();
    let left = width.saturating_sub(chrome + w.iter().sum::<usize>());
    let want: usize = names.iter().map(|&c| natural[c]).sum::<usize>().max(1);
    for &c in &names {
        w[c] = (left * natural[c] / want).clamp(8.min(natural[c]), natural[c]);
    }
    Some(w)
}

/// A table of `header` and `rows`, columns blank in every row dropped, fitted to the terminal
/// width. The columns whose original index is in `numbers` are right-aligned and never split
/// (a number cut in two misleads); names and headers wrap instead.
pub fn table(header: &[String], rows: &[Vec<String>], numbers: &[usize]) -> Table {
    let keep = kept_columns(header.len(), rows);
    let (header, rows) = select_columns(header, rows, &keep);
    let is_number: Vec<bool> = keep.iter().map(|c| numbers.contains(c)).collect();
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let width = if t.is_tty() { t.width() } else { columns_env() };
    let widths = width.and_then(|w| fit_widths(&header, &rows, &is_number, w.into()));
    t.set_header(header);
    for r in rows {
        t.add_row(r);
    }
    for (i, number) in is_number.iter().enumerate() {
        let Some(c) = t.column_mut(i) else { continue };
        if *number {
            c.set_cell_alignment(CellAlignment::Right);
        }
        if let Some(w) = widths.as_ref().and_then(|w| w.get(i)) {
            // The constraint counts the padding.
            let w = u16::try_from(w + 2).unwrap_or(u16::MAX);
            c.set_constraint(ColumnConstraint::Absolute(Width::Fixed(w)));
        }
    }
    t
}

/// A run of this many estimated seconds or more announces each step with the time left.
pub const LONG_RUN: Duration = Duration::from_secs(5);

/// The time left in a run of steps whose durations are estimated beforehand: the estimate of
/// the steps left, scaled by how far the steps done so far took longer (or shorter) than
/// theirs.
pub struct Eta {
    estimates: Vec<Duration>,
    done_estimated: Duration,
    started: Instant,
}

impl Eta {
    /// A run of steps estimated to take `estimates`, starting now.
    pub fn new(estimates: &[Duration]) -> Self {
        Eta {
            estimates: estimates.to_vec(),
            done_estimated: Duration::ZERO,
            started: Instant::now(),
        }
    }

    /// Step `k` is done.
    pub fn done(&mut self, k: usize) {
        self.done_estimated += self.estimates.get(k).copied().unwrap_or_default();
    }

    /// The time left before step `k` starts, given the time spent so far.
    pub fn left(&self, k: usize, elapsed: Duration) -> Duration {
        let remaining: Duration = self.estimates.iter().skip(k).sum();
        if self.done_estimated.is_zero() {
            return remaining;
        }
        remaining.mul_f64(elapsed.as_secs_f64() / self.done_estimated.as_secs_f64())
    }

    /// `scenario 3 of 37: Mutex<Futex>, about 1m 20s left`, before step `k`; `None` when the
    /// whole run is estimated shorter than [`LONG_RUN`].
    pub fn line(&self, what: &str, k: usize, name: &str) -> Option<String> {
        let total: Duration = self.estimates.iter().sum();
        if total < LONG_RUN {
            return None;
        }
        Some(format!(
            "{what} {} of {}: {name}, about {} left",
            k + 1,
            self.estimates.len(),
            human_duration(self.left(k, self.started.elapsed()))
        ))
    }
}

/// `45s`, `3m 05s`, `1h 02m`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_millis(44_600)), "45s");
        assert_eq!(human_duration(Duration::from_secs(185)), "3m 05s");
        assert_eq!(human_duration(Duration::from_secs(3720)), "1h 02m");
    }

    #[test]
    fn time_left_follows_the_pace_of_the_steps_done() {
        let secs = Duration::from_secs;
        let mut eta = Eta::new(&[secs(1), secs(1), secs(2)]);
        // Nothing done: the estimate itself.
        assert_eq!(eta.left(0, secs(0)), secs(4));
        // One step done in twice its estimate: the rest takes twice theirs too.
        eta.done(0);
        assert_eq!(eta.left(1, secs(2)), secs(6));
        eta.done(1);
        assert_eq!(eta.left(2, secs(2)), secs(2));
        // Short runs say nothing; long ones number their steps.
        assert_eq!(eta.line("scenario", 0, "x"), None);
        let long = Eta::new(&[secs(3), secs(3)]);
        let line = long.line("scenario", 1, "Mutex<Futex>").unwrap();
        assert!(
            line.starts_with("scenario 2 of 2: Mutex<Futex>, about "),
            "{line}"
        );
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn blank_columns_go() {
        let header = s(&["a", "b", "c"]);
        let rows = vec![s(&["1", "–", "x"]), s(&["2", "", "–"])];
        let keep = kept_columns(3, &rows);
        assert_eq!(keep, vec![0, 2]);
        let (h, r) = select_columns(&header, &rows, &keep);
        assert_eq!(h, s(&["a", "c"]));
        assert_eq!(r[1], s(&["2", "–"]));
        // No rows: the header stays whole.
        assert_eq!(kept_columns(3, &[]), vec![0, 1, 2]);
    }

    #[test]
    fn fits_a_given_width() {
        let header = s(&[
            "implementation",
            "median",
            "min – max",
            "speed vs reference",
        ]);
        let rows: Vec<Vec<String>> = (0..4)
            .map(|i| {
                s(&[
                    "baresync::ReentrantLock<Futex> with a long name",
                    "12.3 ns",
                    "11.0 ns – 15.0 ns",
                    &format!("{i}.00×"),
                ])
            })
            .collect();
        let widths = fit_widths(&header, &rows, &[false, true, true, true], 60).unwrap();
        let mut t = table(&header, &rows, &[1, 2, 3]);
        for (i, w) in widths.iter().enumerate() {
            let w = u16::try_from(w + 2).unwrap();
            t.column_mut(i)
                .unwrap()
                .set_constraint(ColumnConstraint::Absolute(Width::Fixed(w)));
        }
        for line in t.to_string().lines() {
            assert!(line.chars().count() <= 60, "{line}");
        }
        // Wide enough: no widths imposed.
        assert_eq!(
            fit_widths(&header, &rows, &[false, true, true, true], 200),
            None
        );
        // Nothing dropped, and no number split: every one is on a line of its own.
        let text = t.to_string();
        assert!(text.contains("spee"), "{text}");
        for i in 0..4 {
            assert!(text.contains(&format!("{i}.00×")), "{text}");
        }
        assert!(text.contains("12.3 ns"), "{text}");
    }
}
