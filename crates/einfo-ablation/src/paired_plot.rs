//! The forest plot of the paired NMI differences (`paired.svg`): one panel per reference
//! (`uniform`, then `elastic`), one line per other method with each paired cell's difference
//! as a dot, the mean over cells with its 95% Student-t interval, and below it the mean over
//! splits (each split's seeds averaged first) with its interval. A bar clear of the zero line
//! is a difference the table calls shown; the dots show how many cells stand behind it.

use std::path::Path;

use einfo_metrics::Paired;
use plotters::prelude::*;

use crate::collect::CellResult;
use crate::plots::{color, legend};
use crate::row::Row;
use crate::stats::{nmi_differences, references_present, Unit};

/// Vertical offset of the per-split line below a method's per-cell line.
const SPLIT_OFFSET: f64 = 0.28;

/// Room above the first method (in method rows) for the legend, on the first panel only.
const LEGEND_ROWS: f64 = 1.3;

/// Pixels per method line.
const LINE_PX: u32 = 56;

/// The single cells' dots.
const GREY: RGBColor = RGBColor(120, 120, 120);

/// One method's line of a panel: its label and its NMI differences per cell and per split.
struct Line {
    label: String,
    cell: (Vec<f64>, Paired),
    split: Option<(Vec<f64>, Paired)>,
}

/// The panels: each reference present with the methods that have a cell paired with it.
fn panels(results: &[CellResult], rows: &[Row]) -> Vec<(&'static str, Vec<Line>)> {
    references_present(rows)
        .into_iter()
        .map(|reference| {
            let lines = rows
                .iter()
                .filter(|row| row.method != reference)
                .filter_map(|row| {
                    Some(Line {
                        label: format!("{} ({} ep.)", row.method, row.epochs),
                        cell: nmi_differences(results, row, reference, Unit::Cell)?,
                        split: nmi_differences(results, row, reference, Unit::Split),
                    })
                })
                .collect::<Vec<_>>();
            (reference, lines)
        })
        .filter(|(_, lines)| !lines.is_empty())
        .collect()
}

/// Draw `paired.svg` at `path`; `Ok(false)` (and no file) when no method has a cell paired
/// with a reference.
pub fn draw(results: &[CellResult], rows: &[Row], path: &Path) -> Result<bool, String> {
    let panels = panels(results, rows);
    if panels.is_empty() {
        return Ok(false);
    }
    let x = x_range(&panels);
    let total: u32 = panels.iter().enumerate().map(|(k, (_, lines))| panel_height(lines.len(), k == 0)).sum();
    let root = SVGBackend::new(path, (760, total)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut rest = root.clone();
    for (k, (reference, lines)) in panels.iter().enumerate() {
        let (area, below) = rest.split_vertically(panel_height(lines.len(), k == 0));
        rest = below;
        draw_panel(&area, reference, lines, x, k == 0)?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(true)
}

/// Legend rows above the first panel's methods.
fn band(first: bool) -> f64 {
    if first {
        LEGEND_ROWS
    } else {
        0.0
    }
}

fn panel_height(n: usize, first: bool) -> u32 {
    90 + LINE_PX * n as u32 + (LINE_PX as f64 * band(first)) as u32
}

/// One x range for every panel, holding 0, every cell's difference and every interval.
fn x_range(panels: &[(&'static str, Vec<Line>)]) -> (f64, f64) {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for (d, p) in panels.iter().flat_map(|(_, lines)| lines.iter().flat_map(|l| [Some(&l.cell), l.split.as_ref()])).flatten() {
        for v in d.iter().copied().chain([p.diff.lo, p.diff.hi]).filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let pad = 0.05 * (hi - lo).max(0.1);
    (lo - pad, hi + pad)
}

/// One reference's panel: a line per method, the first panel with the legend.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    reference: &str,
    lines: &[Line],
    (lo, hi): (f64, f64),
    first: bool,
) -> Result<(), String> {
    let n = lines.len();
    let mut chart = ChartBuilder::on(area)
        .caption(format!("NMI: method − {reference}, paired"), ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(190)
        .build_cartesian_2d(lo..hi, -0.6f64..(n as f64 - 0.4 + band(first)))
        .map_err(|e| e.to_string())?;
    // Line i sits at y = n - 1 - i (the table's first method on top).
    let label = |y: &f64| {
        let k = y.round();
        if (y - k).abs() > 1e-6 || k < 0.0 || k >= n as f64 {
            return String::new();
        }
        lines[n - 1 - k as usize].label.clone()
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|x| if x.abs() < 1e-9 { "0".into() } else { format!("{x:+.2}") })
        .y_labels(n + 3)
        .y_label_formatter(&label)
        .x_desc(format!("Δ NMI vs {reference}"))
        .draw()
        .map_err(|e| e.to_string())?;
    chart.draw_series(LineSeries::new([(0.0, -0.6), (0.0, n as f64 - 0.4)], BLACK.mix(0.5))).map_err(|e| e.to_string())?;
    for (i, line) in lines.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let (diffs, _) = &line.cell;
        chart.draw_series(diffs.iter().map(|&d| Circle::new((d, y + 0.14), 3, GREY.mix(0.7).filled()))).map_err(|e| e.to_string())?;
        for (unit, paired, dy, c) in [(Unit::Cell, Some(&line.cell), 0.0, color(0)), (Unit::Split, line.split.as_ref(), -SPLIT_OFFSET, color(1))] {
            let Some((_, p)) = paired else { continue };
            if p.diff.n >= 2 {
                chart.draw_series([PathElement::new(vec![(p.diff.lo, y + dy), (p.diff.hi, y + dy)], c.stroke_width(3))]).map_err(|e| e.to_string())?;
            }
            let at = (p.diff.mean, y + dy);
            match unit {
                Unit::Cell => chart.draw_series([Circle::new(at, 5, c.filled())]),
                Unit::Split => chart.draw_series([TriangleMarker::new(at, 6, c.filled())]),
            }
            .map_err(|e| e.to_string())?;
        }
    }
    if first {
        draw_legend(&mut chart)?;
    }
    Ok(())
}

/// The legend, on the first panel's top band (empty series carry only the labels).
fn draw_legend<'a>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
) -> Result<(), String> {
    let entries = [("mean over cells, 95% interval", 0), ("mean over splits (seeds averaged), 95% interval", 1), ("one cell", 2)];
    for (text, kind) in entries {
        chart.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>()).map_err(|e| e.to_string())?.label(text).legend(move |(x, y)| match kind {
            0 => Circle::new((x + 5, y), 5, color(0).filled()).into_dyn(),
            1 => TriangleMarker::new((x + 5, y), 6, color(1).filled()).into_dyn(),
            _ => Circle::new((x + 5, y), 3, GREY.filled()).into_dyn(),
        });
    }
    legend(chart, SeriesLabelPosition::UpperRight)
}
