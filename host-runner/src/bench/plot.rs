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
const PALETTE: [RGBColor; 13] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(102, 102, 255),
    RGBColor(255, 187, 120),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
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

/// Contended lock throughput against the thread count, one line per lock (log y axis).
pub fn lock_scaling(r: &BenchReport, path: &Path) -> PlotResult {
    let rs = rows(r, "locks", "contended");
    let names = Row::implementations(rs.iter().copied());
    let max_t = rs.iter().map(|x| x.threads).max().unwrap_or(1) as f64;
    let vals: Vec<f64> = rs.iter().filter_map(|x| x.median).collect();
    let (lo, hi) = bounds(&vals);
    let root = SVGBackend::new(path, (W, 620)).into_drawing_area();
    root.fill(&WHITE)?;
    let cores = r.machine.cpus.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Contended lock + unlock throughput, empty critical section ({cores} cores; right \
                 of {cores}: oversubscribed)"
            ),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (0.8f64..max_t * 1.25).log_scale(),
            (lo / 1.5..hi * 1.5).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("threads")
        .y_desc("lock + unlock per second (all threads)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| crate::report::human_rate(*y))
        .draw()?;
    for (i, name) in names.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = rs
            .iter()
            .filter(|x| x.implementation == *name)
            .filter_map(|x| Some((x.threads as f64, x.median?)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let c = color(i);
        let dashed = !name.starts_with("baresync");
        let style = ShapeStyle::from(&c).stroke_width(if dashed { 1 } else { 2 });
        // Acquisitions per hand-off beside the throughput (an empty critical section rewards
        // a lock that lets one thread keep it), at one thread per core.
        let acq = rs
            .iter()
            .find(|x| x.implementation == *name && x.threads == cores.max(2))
            .and_then(|x| x.acq_per_handoff)
            .map_or_else(String::new, |a| {
                format!(
                    " ({} acq/hand-off at {} thr)",
                    super::output::sig3(a),
                    cores.max(2)
                )
            });
        chart
            .draw_series(LineSeries::new(pts.clone(), style))?
            .label(format!("{name}{acq}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c));
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
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
    for (i, name) in names.iter().enumerate() {
        let c = color(i);
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
        let c = if row.baseline { color(7) } else { color(0) };
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
            color(1).filled(),
        )))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((p.p999, y.clone()))
                + Rectangle::new([(-4, -4), (4, 4)], color(3).filled()),
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

/// Horizontal bars, one per `(label, value)`, with a log value axis when the values span
/// more than two orders of magnitude.
pub fn bars(
    path: &Path,
    title: &str,
    axis: &str,
    unit: Unit,
    items: &[(String, f64, bool)],
) -> PlotResult {
    let n = items.len().max(1);
    let vals: Vec<f64> = items.iter().map(|i| i.1).collect();
    let (lo, hi) = bounds(&vals);
    let height = 90 + 26 * n as u32;
    let root = SVGBackend::new(path, (W, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let labels: Vec<String> = items.iter().map(|i| i.0.clone()).collect();
    let fmt = move |v: &f64| super::output::human(unit, *v);
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(330);
    let label_of = |y: &SegmentValue<usize>| match y {
        SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let log = hi / lo.max(1e-12) > 100.0;
    if log {
        let mut chart = builder
            .build_cartesian_2d((lo / 2.0..hi * 1.5).log_scale(), (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .x_desc(axis)
            .x_label_formatter(&fmt)
            .y_label_formatter(&label_of)
            .y_labels(n)
            .draw()?;
        let base = lo / 2.0;
        chart.draw_series(items.iter().enumerate().map(|(i, (_, v, baseline))| {
            let c = if *baseline { color(7) } else { color(0) };
            let mut bar = Rectangle::new(
                [
                    (base, SegmentValue::Exact(i)),
                    (*v, SegmentValue::Exact(i + 1)),
                ],
                c.mix(0.8).filled(),
            );
            bar.set_margin(3, 3, 0, 0);
            bar
        }))?;
    } else {
        let mut chart = builder.build_cartesian_2d(0f64..hi * 1.1, (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .x_desc(axis)
            .x_label_formatter(&fmt)
            .y_label_formatter(&label_of)
            .y_labels(n)
            .draw()?;
        chart.draw_series(items.iter().enumerate().map(|(i, (_, v, baseline))| {
            let c = if *baseline { color(7) } else { color(0) };
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (*v, SegmentValue::Exact(i + 1)),
                ],
                c.mix(0.8).filled(),
            );
            bar.set_margin(3, 3, 0, 0);
            bar
        }))?;
    }
    root.present()?;
    Ok(())
}

/// Bars for every row of `group` whose case is in `cases`, labelled `impl (case, T)`.
pub fn group_bars(
    r: &BenchReport,
    group: &str,
    cases: &[&str],
    path: &Path,
    title: &str,
    axis: &str,
) -> PlotResult {
    let mut items = Vec::new();
    let mut unit = Unit::Ns;
    for case in cases {
        for row in rows(r, group, case) {
            unit = row.unit;
            let label = if cases.len() > 1 || group == "barrier" {
                format!("{} ({}, {} thr)", row.implementation, row.case, row.threads)
            } else {
                row.implementation.clone()
            };
            items.push((label, row.median.unwrap_or(0.0), row.baseline));
        }
    }
    bars(path, title, axis, unit, &items)
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
