//! The forest plot of the paired NMI differences (`paired.svg`): one panel per reference
//! (`uniform`, then `elastic`), one line per other method with each paired cell's difference
//! as a dot, the mean over cells with its 95% Student-t interval, and below it the mean over
//! splits (each split's seeds averaged first) with its interval. A bar clear of the zero line
//! is a difference the table calls shown; the dots show how many cells stand behind it.

use std::path::Path;

use plotters::prelude::*;

use crate::aggregate::Row;
use crate::collect::CellResult;
use crate::plots::{color, legend};
use crate::stats::{nmi_differences, references_present, Unit};

/// Vertical offset of the per-split line below a method's per-cell line.
const SPLIT_OFFSET: f64 = 0.28;

/// Room above the first method (in method rows) for the legend, on the first panel only.
const LEGEND_ROWS: f64 = 1.3;

/// Draw `paired.svg` at `path`; `Ok(false)` (and no file) when no method pairs with a reference.
pub fn draw(results: &[CellResult], rows: &[Row], path: &Path) -> Result<bool, String> {
    let panels: Vec<(&str, Vec<&Row>)> = references_present(rows)
        .into_iter()
        .map(|r| (r, rows.iter().filter(|row| row.method != r).collect::<Vec<_>>()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if panels.is_empty() {
        return Ok(false);
    }
    // One x range for every panel, holding 0, every cell's difference and every interval.
    let mut lo: f64 = 0.0;
    let mut hi: f64 = 0.0;
    for (reference, methods) in &panels {
        for row in methods {
            for unit in [Unit::Cell, Unit::Split] {
                if let Some((d, p)) = nmi_differences(results, row, reference, unit) {
                    for v in d.iter().copied().chain([p.diff.lo, p.diff.hi]).filter(|v| v.is_finite()) {
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
            }
        }
    }
    let pad = 0.05 * (hi - lo).max(0.1);
    let (lo, hi) = (lo - pad, hi + pad);
    let height = |n: usize, first: bool| 90 + 56 * n as u32 + if first { (56.0 * LEGEND_ROWS) as u32 } else { 0 };
    let total: u32 = panels.iter().enumerate().map(|(k, (_, m))| height(m.len(), k == 0)).sum();
    let root = SVGBackend::new(path, (760, total)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut rest = root.clone();
    for (k, (reference, methods)) in panels.iter().enumerate() {
        let first = k == 0;
        let (area, below) = rest.split_vertically(height(methods.len(), first));
        rest = below;
        let n = methods.len();
        let names: Vec<String> = methods.iter().map(|r| format!("{} ({} ep.)", r.method, r.epochs)).collect();
        let mut chart = ChartBuilder::on(&area)
            .caption(format!("NMI: method − {reference}, paired"), ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(190)
            .build_cartesian_2d(lo..hi, -0.6f64..(n as f64 - 0.4 + if first { LEGEND_ROWS } else { 0.0 }))
            .map_err(|e| e.to_string())?;
        // Method i sits at y = n - 1 - i (the table's first method on top).
        let label = |y: &f64| {
            let k = y.round();
            if (y - k).abs() > 1e-6 || k < 0.0 || k >= n as f64 {
                return String::new();
            }
            names[n - 1 - k as usize].clone()
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .x_label_formatter(&|x| if x.abs() < 1e-9 { "0".into() } else { format!("{x:+.1}") })
            .y_labels(n + 3)
            .y_label_formatter(&label)
            .x_desc(format!("Δ NMI vs {reference}"))
            .draw()
            .map_err(|e| e.to_string())?;
        chart.draw_series(LineSeries::new([(0.0, -0.6), (0.0, n as f64 - 0.4)], BLACK.mix(0.5))).map_err(|e| e.to_string())?;
        for (i, row) in methods.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            for (unit, dy, c) in [(Unit::Cell, 0.0, color(0)), (Unit::Split, -SPLIT_OFFSET, color(1))] {
                let Some((diffs, p)) = nmi_differences(results, row, reference, unit) else { continue };
                if unit == Unit::Cell {
                    chart
                        .draw_series(diffs.iter().map(|&d| Circle::new((d, y + 0.14), 3, RGBColor(120, 120, 120).mix(0.7).filled())))
                        .map_err(|e| e.to_string())?;
                }
                if p.diff.n >= 2 {
                    chart.draw_series([PathElement::new(vec![(p.diff.lo, y + dy), (p.diff.hi, y + dy)], c.stroke_width(3))]).map_err(|e| e.to_string())?;
                }
                let marker = (p.diff.mean, y + dy);
                match unit {
                    Unit::Cell => chart.draw_series([Circle::new(marker, 5, c.filled())]),
                    Unit::Split => chart.draw_series([TriangleMarker::new(marker, 6, c.filled())]),
                }
                .map_err(|e| e.to_string())?;
            }
        }
        if !first {
            continue;
        }
        // Legend entries, on the first panel's top band (empty series carry only the label).
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(|e| e.to_string())?
            .label("mean over cells, 95% interval")
            .legend(|(x, y)| Circle::new((x + 5, y), 5, color(0).filled()));
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(|e| e.to_string())?
            .label("mean over splits (seeds averaged), 95% interval")
            .legend(|(x, y)| TriangleMarker::new((x + 5, y), 6, color(1).filled()));
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(|e| e.to_string())?
            .label("one cell")
            .legend(|(x, y)| Circle::new((x + 5, y), 3, RGBColor(120, 120, 120).filled()));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(true)
}
