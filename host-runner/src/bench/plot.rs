//! SVG plots for `report`, drawn with plotters' SVG backend only.
//!
//! Without a font feature plotters lays text out with its own metrics and writes `<text>`
//! elements, so no system fonts (fontconfig) are needed to produce the files; the viewer
//! picks the font.

use super::{BenchReport, Row, Unit};
use plotters::coord::combinators::IntoLogRange;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::path::Path;

const W: u32 = 960;

/// Shades per crate: baresync in blues, std in grays, each peer crate in its own hue, so that
/// a reader tells "ours" from "theirs" before reading a label.
const FAMILIES: [(&str, &[RGBColor]); 6] = [
    (
        "baresync",
        &[
            RGBColor(31, 119, 180),
            RGBColor(23, 190, 207),
            RGBColor(0, 63, 125),
            RGBColor(102, 153, 255),
            RGBColor(0, 128, 128),
            RGBColor(70, 90, 200),
            RGBColor(120, 190, 230),
            RGBColor(0, 100, 170),
        ],
    ),
    (
        "std",
        &[
            RGBColor(0, 0, 0),
            RGBColor(110, 110, 110),
            RGBColor(165, 165, 165),
        ],
    ),
    (
        "parking_lot",
        &[
            RGBColor(44, 160, 44),
            RGBColor(120, 200, 90),
            RGBColor(0, 100, 0),
        ],
    ),
    (
        "spin",
        &[
            RGBColor(255, 127, 14),
            RGBColor(214, 39, 40),
            RGBColor(230, 170, 0),
        ],
    ),
    (
        "crossbeam",
        &[RGBColor(148, 103, 189), RGBColor(200, 150, 230)],
    ),
    (
        "heapless",
        &[RGBColor(140, 86, 75), RGBColor(196, 130, 100)],
    ),
];
/// Crates not listed above.
const OTHER: RGBColor = RGBColor(227, 119, 194);

/// The crate an implementation's name comes from: `std::sync::Mutex` and `std Mutex<bool>+
/// Condvar` are `std`, `crossbeam_queue::ArrayQueue` is `crossbeam`.
pub fn crate_of(name: &str) -> &str {
    let end = name.find([':', ' ', '<']).unwrap_or(name.len());
    let head = &name[..end];
    FAMILIES
        .iter()
        .map(|(f, _)| *f)
        .find(|f| head == *f || head.starts_with(&format!("{f}_")))
        .unwrap_or(head)
}

/// A colour for each of `names`: the crate's hue, a different shade for each of its names in
/// order.
pub fn colors(names: &[&str]) -> Vec<RGBColor> {
    styles(names).into_iter().map(|(c, _)| c).collect()
}

/// [`colors`], each with its rank within its crate (0 for the crate's first name), which picks
/// the marker shape.
pub fn styles(names: &[&str]) -> Vec<(RGBColor, usize)> {
    let mut used: Vec<(&str, usize)> = Vec::new();
    names
        .iter()
        .map(|n| {
            let family = crate_of(n);
            let k = match used.iter_mut().find(|(f, _)| *f == family) {
                Some((_, k)) => {
                    *k += 1;
                    *k
                }
                None => {
                    used.push((family, 0));
                    0
                }
            };
            let c = FAMILIES
                .iter()
                .find(|(f, _)| *f == family)
                .map_or(OTHER, |(_, shades)| shades[k % shades.len()]);
            (c, k)
        })
        .collect()
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

fn rows<'a>(r: &'a BenchReport, group: &str, case: &str) -> Vec<&'a Row> {
    r.groups
        .iter()
        .filter(|g| g.name == group)
        .flat_map(|g| &g.rows)
        .filter(|row| row.case == case && row.median.is_some())
        .collect()
}

/// Draws a one-line note under a plot.
fn note_below<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    note: Option<&str>,
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    if let Some(note) = note {
        let (_, h) = root.dim_in_pixel();
        root.draw(&Text::new(
            note.to_string(),
            (12, h as i32 - 22),
            ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
        ))?;
    }
    Ok(())
}

/// Contended lock throughput against the thread count, one line per lock (log y axis), a
/// min–max whisker at each point; the x axis has a tick for each thread count measured and
/// nothing else. Colours: a family per crate; markers tell the shades apart.
pub fn lock_scaling(r: &BenchReport, path: &Path) -> PlotResult {
    let rs = rows(r, "locks", "contended");
    let names = Row::implementations(rs.iter().copied());
    let palette = styles(&names);
    let mut counts: Vec<usize> = rs.iter().map(|x| x.threads).collect();
    counts.sort_unstable();
    counts.dedup();
    let n = counts.len().max(1);
    let vals: Vec<f64> = rs
        .iter()
        .flat_map(|x| [x.min, x.median, x.max])
        .flatten()
        .collect();
    let (lo, hi) = bounds(&vals);
    let root = SVGBackend::new(path, (W, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let cores = r.machine.cpus.len();
    let (area, _) = root.split_vertically(610);
    let mut chart = ChartBuilder::on(&area)
        .caption(
            format!(
                "Contended lock + unlock throughput, empty critical section ({cores} cores; \
                 whiskers: min–max of the rounds)"
            ),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (0..n - 1).into_segmented(),
            (lo / 1.5..hi * 1.5).log_scale(),
        )?;
    let tick = |x: &SegmentValue<usize>| match x {
        SegmentValue::CenterOf(i) => counts.get(*i).map_or_else(String::new, |t| {
            if *t > cores {
                format!("{t} thr (over)")
            } else {
                format!("{t} thr")
            }
        }),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .x_desc("threads (over: more threads than cores)")
        .y_desc("lock + unlock per second (all threads)")
        .x_labels(n)
        .x_label_formatter(&tick)
        .y_label_formatter(&|y| crate::report::human_rate(*y))
        .draw()?;
    let at = |t: usize| SegmentValue::CenterOf(counts.iter().position(|c| *c == t).unwrap_or(0));
    for (i, name) in names.iter().enumerate() {
        let mine: Vec<&&Row> = rs.iter().filter(|x| x.implementation == *name).collect();
        let mut pts: Vec<(usize, f64)> = mine
            .iter()
            .filter_map(|x| Some((x.threads, x.median?)))
            .collect();
        pts.sort_by_key(|p| p.0);
        let (c, shape) = palette[i];
        let ours = crate_of(name) == "baresync";
        let style = ShapeStyle::from(&c).stroke_width(if ours { 2 } else { 1 });
        for x in &mine {
            if let (Some(a), Some(b)) = (x.min, x.max) {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(at(x.threads), a), (at(x.threads), b)],
                    c.mix(0.7).stroke_width(1),
                )))?;
            }
        }
        // Acquisitions per hand-off beside the throughput (an empty critical section rewards
        // a lock that lets one thread keep it), at one thread per core.
        let acq = mine
            .iter()
            .find(|x| x.threads == cores.max(2))
            .and_then(|x| x.acq_per_handoff)
            .map_or_else(String::new, |a| {
                format!(
                    ", {} acq/hand-off at {} thr",
                    super::output::sig3(a),
                    cores.max(2)
                )
            });
        let shown: Vec<String> = pts.iter().map(|p| p.0.to_string()).collect();
        chart
            .draw_series(LineSeries::new(pts.iter().map(|p| (at(p.0), p.1)), style))?
            .label(format!("{name} ({} thr{acq})", shown.join(", ")))
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (18, 0)], c)
                    + marker(shape, (9, 0), c)
            });
        for p in &pts {
            let (x, y) = (at(p.0), p.1);
            chart.draw_series(std::iter::once(
                EmptyElement::at((x, y)) + marker(shape, (0, 0), c),
            ))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .label_font(("sans-serif", 11))
        .draw()?;
    note_below(
        &root,
        Some("Blues: baresync; grays: std; greens: parking_lot; oranges: spin. Marker shapes tell shades of one crate apart."),
    )?;
    root.present()?;
    Ok(())
}

/// Marker `k` (a circle, a triangle, a square, a cross, in turn) at `at`, pixels.
fn marker<DB: DrawingBackend>(
    k: usize,
    at: (i32, i32),
    c: RGBColor,
) -> DynElement<'static, DB, (i32, i32)> {
    let (x, y) = at;
    match k % 4 {
        0 => Circle::new((x, y), 4, c.filled()).into_dyn(),
        1 => TriangleMarker::new((x, y), 5, c.filled()).into_dyn(),
        2 => Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], c.filled()).into_dyn(),
        _ => Cross::new((x, y), 4, c.stroke_width(2)).into_dyn(),
    }
}

/// Fairness (fewest/most acquisitions of one thread) against throughput, one point per lock,
/// at one thread per core and at 4× cores.
pub fn fairness_scatter(r: &BenchReport, path: &Path) -> PlotResult {
    let cores = r.machine.cpus.len();
    let rs: Vec<&Row> = rows(r, "locks", "contended")
        .into_iter()
        .filter(|x| (x.threads == cores.max(2) || x.threads == 4 * cores) && x.fairness().is_some())
        .collect();
    let vals: Vec<f64> = rs.iter().filter_map(|x| x.median).collect();
    let (lo, hi) = bounds(&vals);
    let root = SVGBackend::new(path, (W, 620)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Fairness vs throughput: ● {} threads, ▲ {} threads (oversubscribed)",
                cores.max(2),
                4 * cores
            ),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((lo / 2.0..hi * 2.0).log_scale(), -0.05f64..1.1)?;
    chart
        .configure_mesh()
        .x_desc("lock + unlock per second (all threads)")
        .y_desc("fairness: fewest / most acquisitions of one thread")
        .x_label_formatter(&|x| crate::report::human_rate(*x))
        .draw()?;
    let names = Row::implementations(rs.iter().copied());
    let palette = colors(&names);
    for (i, name) in names.iter().enumerate() {
        let c = palette[i];
        let mine: Vec<&&Row> = rs.iter().filter(|x| x.implementation == *name).collect();
        let mut first = true;
        for row in mine {
            let (Some(v), Some(f)) = (row.median, row.fairness()) else {
                continue;
            };
            let over = row.threads > cores;
            let series = if over {
                chart.draw_series(std::iter::once(TriangleMarker::new((v, f), 7, c.filled())))?
            } else {
                chart.draw_series(std::iter::once(Circle::new((v, f), 6, c.filled())))?
            };
            if first {
                series
                    .label(*name)
                    .legend(move |(x, y)| Circle::new((x + 6, y), 5, c.filled()));
                first = false;
            }
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Acquire-latency percentile bars: for each lock, at one thread per core and at 4× cores, a
/// line from p50 to max with a mark at p50 (●), p99 (▲), p99.9 (■) and max (|); log time axis.
pub fn acquire_latency(r: &BenchReport, path: &Path) -> PlotResult {
    let cores = r.machine.cpus.len().max(2);
    let mut rs: Vec<&Row> = rows(r, "locks", super::lock::ACQUIRE_LATENCY)
        .into_iter()
        .filter(|x| (x.threads == cores || x.threads == 4 * cores) && x.latency.is_some())
        .collect();
    rs.sort_by_key(|x| x.threads);
    let n = rs.len().max(1);
    let vals: Vec<f64> = rs
        .iter()
        .filter_map(|x| x.latency)
        .flat_map(|p| [p.p50, p.max])
        .collect();
    let (lo, hi) = bounds(&vals);
    let labels: Vec<String> = rs
        .iter()
        .map(|x| format!("{} ({} thr)", x.implementation, x.threads))
        .collect();
    let height = 110 + 22 * n as u32;
    let root = SVGBackend::new(path, (W, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let label_of = |y: &SegmentValue<usize>| match y {
        SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Acquire latency (call of lock to holding it): ● p50 ▲ p99 ■ p99.9 | max \
                 ({cores} and {} threads on {cores} cores)",
                4 * cores
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(360)
        .build_cartesian_2d(
            (lo.max(1.0) / 2.0..hi * 2.0).log_scale(),
            (0..n).into_segmented(),
        )?;
    chart
        .configure_mesh()
        .x_desc("ns from calling lock to holding it")
        .x_label_formatter(&|v| super::output::human_ns(*v))
        .y_label_formatter(&label_of)
        .y_labels(n)
        .draw()?;
    for (i, row) in rs.iter().enumerate() {
        let Some(p) = row.latency else { continue };
        let c = colors(&[&row.implementation])[0];
        let y = SegmentValue::CenterOf(i);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(p.p50, y.clone()), (p.max, y.clone())],
            c.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Circle::new(
            (p.p50, y.clone()),
            5,
            c.filled(),
        )))?;
        chart.draw_series(std::iter::once(TriangleMarker::new(
            (p.p99, y.clone()),
            6,
            RGBColor(255, 127, 14).filled(),
        )))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((p.p999, y.clone()))
                + Rectangle::new([(-4, -4), (4, 4)], RGBColor(214, 39, 40).filled()),
        ))?;
        chart.draw_series(std::iter::once(Cross::new(
            (p.max, y),
            5,
            BLACK.stroke_width(2),
        )))?;
    }
    root.present()?;
    Ok(())
}

/// One line of a [`dots`] plot.
pub struct Item {
    /// What it is: implementation, case, threads.
    pub label: String,
    /// The median, drawn as a dot (or a bar on a linear axis).
    pub median: f64,
    /// The smallest and largest round, drawn as a whisker.
    pub range: Option<(f64, f64)>,
    /// The implementation, for its colour.
    pub implementation: String,
    /// Items with the same section are drawn together; a line separates sections.
    pub section: String,
}

/// One line per item: a dot at the median with a min–max whisker. The value axis is
/// logarithmic when the values span more than two orders of magnitude, and then only dots
/// are drawn (a bar's length means nothing on a log axis); on a linear axis from zero the
/// dot sits at the end of a bar. `note`, if any, is written under the plot.
pub fn dots(
    path: &Path,
    title: &str,
    axis: &str,
    unit: Unit,
    items: &[Item],
    note: Option<&str>,
) -> PlotResult {
    let n = items.len().max(1);
    let vals: Vec<f64> = items
        .iter()
        .flat_map(|i| [Some(i.median), i.range.map(|r| r.0), i.range.map(|r| r.1)])
        .flatten()
        .collect();
    let (lo, hi) = bounds(&vals);
    let names: Vec<&str> = {
        let mut v: Vec<&str> = Vec::new();
        for i in items {
            if !v.contains(&i.implementation.as_str()) {
                v.push(&i.implementation);
            }
        }
        v
    };
    let palette = colors(&names);
    let color_of = |name: &str| palette[names.iter().position(|n| *n == name).unwrap_or(0)];
    let extra = if note.is_some() { 30 } else { 0 };
    let height = 90 + 26 * n as u32 + extra;
    let root = SVGBackend::new(path, (W, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (area, _) = root.split_vertically(height - extra);
    let labels: Vec<String> = items.iter().map(|i| i.label.clone()).collect();
    let fmt = move |v: &f64| super::output::human(unit, *v);
    let mut builder = ChartBuilder::on(&area);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(400);
    let label_of = |y: &SegmentValue<usize>| match y {
        SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let log = hi / lo.max(1e-12) > 100.0;
    let sections: Vec<usize> = (1..items.len())
        .filter(|&i| items[i].section != items[i - 1].section)
        .collect();
    macro_rules! draw {
        ($chart:expr, $base:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(if log {
                    format!("{axis} (log scale)")
                } else {
                    axis.to_string()
                })
                .x_label_formatter(&fmt)
                .y_label_formatter(&label_of)
                .y_labels(n)
                .draw()?;
            for &i in &sections {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![
                        ($base, SegmentValue::Exact(i)),
                        (hi * 1.5, SegmentValue::Exact(i)),
                    ],
                    BLACK.mix(0.5).stroke_width(2),
                )))?;
            }
            for (i, item) in items.iter().enumerate() {
                let c = color_of(&item.implementation);
                let y = SegmentValue::CenterOf(i);
                if !log {
                    // The bar: a thick line from zero to the median.
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![($base, y.clone()), (item.median, y.clone())],
                        c.mix(0.35).stroke_width(14),
                    )))?;
                }
                if let Some((a, b)) = item.range {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(a, y.clone()), (b, y.clone())],
                        c.stroke_width(2),
                    )))?;
                }
                chart.draw_series(std::iter::once(Circle::new(
                    (item.median, y),
                    5,
                    c.filled(),
                )))?;
            }
        }};
    }
    if log {
        draw!(
            builder.build_cartesian_2d(
                (lo / 2.0..hi * 1.5).log_scale(),
                (0..n - 1).into_segmented()
            )?,
            lo / 2.0
        );
    } else {
        draw!(
            builder.build_cartesian_2d(0f64..hi * 1.1, (0..n - 1).into_segmented())?,
            0.0
        );
    }
    note_below(&root, note)?;
    root.present()?;
    Ok(())
}

/// The items of every row of `group` whose case is in `cases`, labelled by `label`, in
/// sections by case and thread count.
pub fn items(
    r: &BenchReport,
    group: &str,
    cases: &[&str],
    label: impl Fn(&Row) -> String,
) -> (Vec<Item>, Unit) {
    let mut items = Vec::new();
    let mut unit = Unit::Ns;
    for case in cases {
        for row in rows(r, group, case) {
            unit = row.unit;
            items.push(Item {
                label: label(row),
                median: row.median.unwrap_or(0.0),
                range: row.min.zip(row.max),
                implementation: row.implementation.clone(),
                section: format!("{}|{}", row.case, row.threads),
            });
        }
    }
    (items, unit)
}

/// The note under a plot of `group`'s `case` when a baresync row is fast by polling: the one
/// whose CPU time per operation exceeds the reference's the most, if by more than twice (the
/// plot shows wall time; the CPU burnt for it is in the table's CPU/op).
pub fn polling_note(r: &BenchReport, group: &str, case: &str) -> Option<String> {
    let g = r.groups.iter().find(|g| g.name == group)?;
    let mut worst: Option<(f64, &Row, &Row)> = None;
    for row in g.rows.iter().filter(|x| x.case == case && !x.baseline) {
        let Some(reference) = g.rows.iter().find(|x| {
            x.case == case && x.threads == row.threads && x.implementation == g.reference
        }) else {
            continue;
        };
        // Only rows faster than the reference: a slow row's CPU time explains nothing. The
        // ratio where there is one, else (too few events for one) the medians.
        let faster = match (row.speedup, row.median, reference.median) {
            (Some(v), _, _) => v > 1.0,
            (None, Some(a), Some(b)) if row.unit.higher_is_better() => a > b,
            (None, Some(a), Some(b)) => a < b,
            _ => false,
        };
        if !faster {
            continue;
        }
        if let (Some(mine), Some(theirs)) = (row.cpu_ns_per_op, reference.cpu_ns_per_op) {
            let ratio = mine / theirs.max(1e-9);
            if ratio > 2.0 && worst.is_none_or(|w| ratio > w.0) {
                worst = Some((ratio, row, reference));
            }
        }
    }
    let (ratio, row, reference) = worst?;
    let human = super::output::human_ns;
    Some(format!(
        "Not shown: {} is fast here by polling: {} of CPU per operation against {}'s {} ({}× \
         at {} threads; CPU/op in the table).",
        row.implementation,
        human(row.cpu_ns_per_op.unwrap_or(0.0)),
        reference.implementation,
        human(reference.cpu_ns_per_op.unwrap_or(0.0)),
        super::output::sig3(ratio),
        row.threads
    ))
}

fn bounds(v: &[f64]) -> (f64, f64) {
    let lo = v
        .iter()
        .copied()
        .filter(|x| *x > 0.0)
        .fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    if lo.is_finite() && hi > 0.0 {
        (lo, hi)
    } else {
        (1.0, 10.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_crate_has_its_own_hue() {
        assert_eq!(crate_of("baresync::Mutex<Futex>"), "baresync");
        assert_eq!(crate_of("std Mutex<bool>+Condvar"), "std");
        assert_eq!(crate_of("std::sync::Mutex"), "std");
        assert_eq!(crate_of("crossbeam_queue::ArrayQueue"), "crossbeam");
        assert_eq!(crate_of("parking_lot::Mutex"), "parking_lot");
        let names = [
            "baresync::SpinLock",
            "baresync::Mutex<Spin>",
            "std::sync::Mutex",
            "parking_lot::Mutex",
            "spin::SpinMutex",
        ];
        let c = colors(&names);
        // Distinct colours, and ours in the baresync family only.
        for i in 0..c.len() {
            for j in 0..i {
                assert_ne!(c[i], c[j], "{} and {}", names[i], names[j]);
            }
        }
        let blues = FAMILIES[0].1;
        assert!(blues.contains(&c[0]) && blues.contains(&c[1]));
        assert!(c[2..].iter().all(|x| !blues.contains(x)));
    }

    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>').and_then(|(_, r)| r.split_once("</text>")))
            .map(|(t, _)| t.trim().to_string())
            .collect()
    }

    #[test]
    fn lock_scaling_ticks_only_the_measured_thread_counts() {
        let r: BenchReport =
            serde_json::from_str(include_str!("../../../docs/results/bench.json")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.svg");
        lock_scaling(&r, &path).unwrap();
        let texts = texts(&std::fs::read_to_string(&path).unwrap());
        let mut measured: Vec<usize> = r.groups[0]
            .rows
            .iter()
            .filter(|x| x.case == "contended")
            .map(|x| x.threads)
            .collect();
        measured.sort_unstable();
        measured.dedup();
        let ticks: Vec<&String> = texts
            .iter()
            .filter(|t| t.ends_with(" thr") || t.ends_with(" thr (over)"))
            .collect();
        assert_eq!(ticks.len(), measured.len(), "{ticks:?}");
        for (t, n) in ticks.iter().zip(&measured) {
            assert!(t.starts_with(&format!("{n} thr")), "{t}");
        }
        // Every lock's label names its thread counts.
        for l in texts.iter().filter(|t| t.contains("::")) {
            assert!(l.contains(" thr"), "{l}");
        }
    }

    fn item(label: &str, median: f64) -> Item {
        Item {
            label: label.into(),
            median,
            range: Some((median * 0.9, median * 1.2)),
            implementation: label.into(),
            section: String::new(),
        }
    }

    #[test]
    fn no_bars_on_a_log_axis_and_whiskers_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.svg");
        // Four orders of magnitude: a log axis, dots only.
        let wide = [item("baresync::A", 1e3), item("std::B", 1e7)];
        dots(&path, "t", "ns", Unit::Ns, &wide, Some("a note")).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("log scale"), "no log axis");
        assert!(!svg.contains(r#"stroke-width="14""#), "a bar on a log axis");
        assert!(svg.contains("a note"));
        // Within two orders: a linear axis from zero, bars.
        let narrow = [item("baresync::A", 10.0), item("std::B", 20.0)];
        dots(&path, "t", "ns", Unit::Ns, &narrow, None).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(!svg.contains("log scale"));
        assert!(
            svg.contains(r#"stroke-width="14""#),
            "no bars on a linear axis"
        );
        // A whisker (width 2) per item.
        assert!(
            svg.matches(r#"stroke-width="2""#).count() >= 2,
            "no whiskers"
        );
    }

    #[test]
    fn the_polling_note_names_a_fast_row_that_burns_cpu() {
        let mut r: BenchReport =
            serde_json::from_str(include_str!("../../../docs/results/bench.json")).unwrap();
        let g = r.groups.iter_mut().find(|g| g.name == "condvar").unwrap();
        let reference = g.reference.clone();
        let case = g.rows[0].case.clone();
        let threads = g.rows[0].threads;
        for row in g.rows.iter_mut() {
            row.cpu_ns_per_op = Some(10.0);
            row.speedup = Some(1.0);
        }
        let ours = g
            .rows
            .iter_mut()
            .find(|x| !x.baseline && x.case == case && x.threads == threads)
            .unwrap();
        ours.cpu_ns_per_op = Some(100.0);
        ours.speedup = Some(3.0);
        let name = ours.implementation.clone();
        assert!(g.rows.iter().any(|x| x.implementation == reference));
        let note = polling_note(&r, "condvar", &case).expect("a note");
        assert!(note.contains(&name) && note.contains("10.0×"), "{note}");
        // Slower than the reference: its CPU time explains nothing, no note.
        let g = r.groups.iter_mut().find(|g| g.name == "condvar").unwrap();
        for row in g.rows.iter_mut() {
            row.speedup = Some(0.5);
        }
        assert_eq!(polling_note(&r, "condvar", &case), None);
        // No ratio (too few events): the medians decide.
        let g = r.groups.iter_mut().find(|g| g.name == "condvar").unwrap();
        let reference_median = g
            .rows
            .iter()
            .find(|x| x.implementation == reference && x.case == case && x.threads == threads)
            .and_then(|x| x.median)
            .unwrap();
        for row in g.rows.iter_mut() {
            row.speedup = None;
        }
        let ours = g
            .rows
            .iter_mut()
            .find(|x| x.implementation == name)
            .unwrap();
        ours.median = Some(reference_median * 4.0);
        assert_eq!(
            polling_note(&r, "condvar", &case),
            None,
            "slower, yet noted"
        );
        let g = r.groups.iter_mut().find(|g| g.name == "condvar").unwrap();
        let ours = g
            .rows
            .iter_mut()
            .find(|x| x.implementation == name)
            .unwrap();
        ours.median = Some(reference_median / 4.0);
        assert!(polling_note(&r, "condvar", &case).is_some());
    }
}
