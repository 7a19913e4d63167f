//! The pictures of an aggregation (SVG with `plotters`, PNG montage with `image`):
//! learned vs true prior per method, NMI per split per method, convergence curves, and a
//! montage of one sample grid per method.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use plotters::prelude::*;

use crate::collect::CellResult;
use crate::error::{AblationError, Result};
use crate::row::method_order;

/// Turns a plotting error into the error naming the file being drawn.
pub(crate) fn plot_err(file: &str) -> impl Fn(String) -> AblationError + '_ {
    move |e| AblationError::Plot(file.to_string(), e)
}

/// The i-th series colour (matplotlib's tab10 order, cycling).
pub(crate) fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    C[i % C.len()]
}

/// Draws the series labels of `chart` at `position` on a translucent white box.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart.configure_series_labels().position(position).background_style(WHITE.mix(0.85)).border_style(BLACK).draw().map_err(|e| e.to_string())
}

/// Methods present, in table order.
fn methods(results: &[CellResult]) -> Vec<String> {
    let mut m: Vec<String> = results.iter().map(|r| r.cell.method.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    m.sort_by_key(|x| method_order(x));
    m
}

/// Each method's first cell (lowest split, then seed).
fn first_cells(results: &[CellResult]) -> Vec<&CellResult> {
    methods(results).iter().filter_map(|m| results.iter().filter(|r| &r.cell.method == m).min_by_key(|r| (r.cell.split, r.cell.seed))).collect()
}

/// Draw every picture into `dir`; returns (file name, caption) pairs.
pub fn draw_all(results: &[CellResult], dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let first = first_cells(results);
    let c = &first[0].cell;
    prior(&first, &dir.join("prior.svg")).map_err(plot_err("prior.svg"))?;
    out.push(("prior.svg".into(), format!("Learned (or fixed) prior, matched to classes by the Hungarian matching, against the split's true class frequencies; each method's first cell (split {}, seed {}).", c.split, c.seed)));
    prior_scatter(results, &dir.join("prior-scatter.svg")).map_err(plot_err("prior-scatter.svg"))?;
    out.push((
        "prior-scatter.svg".into(),
        "Every cell's prior against the truth: one point per class and cell, x the class's true frequency, y the prior of the code matched to it (0 when no code is); on the diagonal, the prior learned the imbalance.".into(),
    ));
    nmi_per_split(results, &dir.join("nmi-per-split.svg")).map_err(plot_err("nmi-per-split.svg"))?;
    out.push(("nmi-per-split.svg".into(), "NMI per split and method (mean over seeds).".into()));
    if results.iter().any(|r| !r.curve.is_empty()) {
        convergence(results, &dir.join("convergence.svg")).map_err(plot_err("convergence.svg"))?;
        out.push(("convergence.svg".into(), "Convergence: NMI and ENT after each evaluated epoch (mean over cells).".into()));
    }
    let order = montage(&first, &dir.join("montage.png"))?;
    if !order.is_empty() {
        out.push((
            "montage.png".into(),
            format!("Samples (rows: codes 0–9, columns: fixed noise), left to right: {}; each method's first cell.", order.join(", ")),
        ));
    }
    Ok(out)
}

/// The model's prior in class order (0 for a class no code is matched to).
fn matched_prior(r: &CellResult) -> Result<Vec<f64>, String> {
    let m = einfo_metrics::Matching { code_to_class: r.report.code_to_class.clone(), accuracy: r.report.generated_accuracy };
    let p = einfo_metrics::prior_by_class(&r.report.prior, r.report.true_frequencies.len(), &m).map_err(|e| e.to_string())?;
    Ok(p.into_iter().map(|v| v.unwrap_or(0.0)).collect())
}

fn prior(first: &[&CellResult], path: &Path) -> Result<(), String> {
    let cols = first.len().min(4);
    let rows = first.len().div_ceil(cols);
    let root = SVGBackend::new(path, (300 * cols as u32, 240 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let panels = root.split_evenly((rows, cols));
    for (r, area) in first.iter().zip(panels.iter()) {
        let learned = matched_prior(r)?;
        let truth = &r.report.true_frequencies;
        let ymax = learned.iter().chain(truth.iter()).cloned().fold(0.0, f64::max) * 1.15 + 1e-3;
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{} (RMSE {:.3})", r.cell.method, r.report.prior_rmse), ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(40)
            .build_cartesian_2d(-0.5f64..(truth.len() as f64 - 0.5), 0f64..ymax)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(truth.len())
            .x_label_formatter(&|x| format!("{:.0}", x))
            .x_desc("class")
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(truth.iter().enumerate().map(|(i, v)| Rectangle::new([(i as f64 - 0.38, 0.0), (i as f64, *v)], RGBColor(170, 170, 170).filled())))
            .map_err(|e| e.to_string())?
            .label("true")
            .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], RGBColor(170, 170, 170).filled()));
        chart
            .draw_series(learned.iter().enumerate().map(|(i, v)| Rectangle::new([(i as f64, 0.0), (i as f64 + 0.38, *v)], color(0).filled())))
            .map_err(|e| e.to_string())?
            .label("model")
            .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], color(0).filled()));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    root.present().map_err(|e| e.to_string())
}

fn prior_scatter(results: &[CellResult], path: &Path) -> Result<(), String> {
    let ms = methods(results);
    let cols = ms.len().min(4);
    let rows = ms.len().div_ceil(cols);
    let root = SVGBackend::new(path, (280 * cols as u32, 260 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let panels = root.split_evenly((rows, cols));
    let top = results.iter().flat_map(|r| r.report.true_frequencies.iter().chain(r.report.prior.iter())).cloned().fold(0.0, f64::max) * 1.1 + 1e-3;
    for (m, area) in ms.iter().zip(panels.iter()) {
        let cells: Vec<&CellResult> = results.iter().filter(|r| &r.cell.method == m).collect();
        let rmse = cells.iter().map(|r| r.report.prior_rmse).sum::<f64>() / cells.len().max(1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{m} ({} cells, RMSE {rmse:.3})", cells.len()), ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0f64..top, 0f64..top)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc("true frequency").y_desc("prior").x_labels(4).y_labels(4).draw().map_err(|e| e.to_string())?;
        chart.draw_series(LineSeries::new([(0.0, 0.0), (top, top)], RGBColor(170, 170, 170))).map_err(|e| e.to_string())?;
        for r in cells {
            let learned = matched_prior(r)?;
            let pts: Vec<(f64, f64)> = r.report.true_frequencies.iter().cloned().zip(learned).collect();
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color(0).mix(0.6).filled()))).map_err(|e| e.to_string())?;
        }
    }
    root.present().map_err(|e| e.to_string())
}

fn nmi_per_split(results: &[CellResult], path: &Path) -> Result<(), String> {
    let ms = methods(results);
    let splits: Vec<usize> = results.iter().map(|r| r.cell.split).collect::<BTreeSet<_>>().into_iter().collect();
    let width = (160 + 90 * splits.len() as u32).max(520);
    let root = SVGBackend::new(path, (width, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption("NMI per split", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .right_y_label_area_size(0)
        .build_cartesian_2d(-0.5f64..(splits.len() as f64 - 0.5), 0f64..1f64)
        .map_err(|e| e.to_string())?;
    let labels = splits.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(splits.len())
        .x_label_formatter(&|x| labels.get(x.round() as usize).map_or(String::new(), |k| format!("split {k}")))
        .y_desc("NMI")
        .draw()
        .map_err(|e| e.to_string())?;
    let w = 0.8 / ms.len() as f64;
    for (mi, m) in ms.iter().enumerate() {
        let bars: Vec<(f64, f64)> = splits
            .iter()
            .enumerate()
            .filter_map(|(si, k)| {
                let v: Vec<f64> = results.iter().filter(|r| &r.cell.method == m && r.cell.split == *k).map(|r| r.report.nmi.geometric).collect();
                (!v.is_empty()).then(|| (si as f64 - 0.4 + mi as f64 * w, v.iter().sum::<f64>() / v.len() as f64))
            })
            .collect();
        let c = color(mi);
        chart
            .draw_series(bars.into_iter().map(move |(x, v)| Rectangle::new([(x, 0.0), (x + w * 0.9, v)], c.filled())))
            .map_err(|e| e.to_string())?
            .label(m.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], c.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(|e| e.to_string())
}

fn convergence(results: &[CellResult], path: &Path) -> Result<(), String> {
    let ms = methods(results);
    let root = SVGBackend::new(path, (1000, 380)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let panels = root.split_evenly((1, 2));
    let max_epoch = results.iter().flat_map(|r| r.curve.iter().map(|p| p.epoch)).max().unwrap_or(1).max(1) as f64;
    type Pick = fn(&crate::collect::CurvePoint) -> f64;
    // Legends where the curves are not: NMI rises (legend top left), ENT falls (bottom left).
    let metrics: [(&str, Pick, f64, SeriesLabelPosition); 2] =
        [("NMI", |p| p.nmi_geometric, 1.0, SeriesLabelPosition::UpperLeft), ("ENT", |p| p.ent, 10f64.ln(), SeriesLabelPosition::LowerLeft)];
    for ((name, pick, ymax, legend), area) in metrics.into_iter().zip(panels.iter()) {
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{name} vs epoch"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(45)
            .build_cartesian_2d(0f64..max_epoch, 0f64..ymax)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc("epoch").y_desc(name).draw().map_err(|e| e.to_string())?;
        for (mi, m) in ms.iter().enumerate() {
            let mut by_epoch: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for r in results.iter().filter(|r| &r.cell.method == m) {
                for p in &r.curve {
                    by_epoch.entry(p.epoch).or_default().push(pick(p));
                }
            }
            let pts: Vec<(f64, f64)> = by_epoch.into_iter().map(|(e, v)| (e as f64, v.iter().sum::<f64>() / v.len() as f64)).collect();
            let c = color(mi);
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(m.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
            chart.draw_series(pts.into_iter().map(move |p| Circle::new(p, 3, c.filled()))).map_err(|e| e.to_string())?;
        }
        self::legend(&mut chart, legend)?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Side by side, one `samples.png` per method; returns the methods in order.
fn montage(first: &[&CellResult], path: &Path) -> Result<Vec<String>> {
    let mut grids = Vec::new();
    for r in first {
        let p = r.dir.join("samples.png");
        if let Ok(img) = image::open(&p) {
            grids.push((r.cell.method.clone(), img.to_luma8()));
        }
    }
    if grids.is_empty() {
        return Ok(vec![]);
    }
    let gap = 12;
    let h = grids.iter().map(|(_, g)| g.height()).max().unwrap_or(0);
    let w = grids.iter().map(|(_, g)| g.width()).sum::<u32>() + gap * (grids.len() as u32 - 1);
    let mut out = image::GrayImage::from_pixel(w, h, image::Luma([255]));
    let mut x = 0;
    for (_, g) in &grids {
        image::imageops::replace(&mut out, g, x as i64, 0);
        x += g.width() + gap;
    }
    out.save(path).map_err(|e| AblationError::File { path: path.into(), detail: e.to_string() })?;
    Ok(grids.into_iter().map(|(m, _)| m).collect())
}
