//! Pictures of how a learnable prior moved, from the `log.csv` of one or more runs (`cargo
//! xtask plot-prior RUN… --out DIR`): θ's gradient and Adam step, the coherence of the
//! gradient over each logging window against the `1/√n` of pure noise, the cosine between
//! the mean descent direction and the way to the true frequencies, the per-term gradient
//! norms, and the prior's distance to the truth (matched on Q's clustering of real images,
//! and sorted). Each picture has one line per run, so levers and presets can be compared.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::error::{io_err, Result};
use crate::plots::{color, legend, plot_err as err};

/// The columns of [`RunLog::read_evaluations`].
const EVAL_COLUMNS: [&str; 7] =
    ["step", "nmi_geometric", "prior_rmse", "prior_alignment_p", "prior_log_cosine", "real_cluster_accuracy", "real_cluster_accuracy_bn"];

/// One run's log: its name and the columns of `log.csv` by name.
pub struct RunLog {
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Option<f64>>>,
    /// The split's true class frequencies (`split.json`), sorted in decreasing order.
    pub truth_sorted: Vec<f64>,
}

impl RunLog {
    pub fn read(run: &Path, name: &str) -> Result<RunLog> {
        let file = |path: &Path| {
            let path = path.to_path_buf();
            move |e: einfo_train::TrainError| crate::error::AblationError::File { path, detail: e.to_string() }
        };
        let log = einfo_train::train_log::read(&run.join("log.csv")).map_err(file(&run.join("log.csv")))?;
        let split = einfo_train::setup::SplitRecord::read(run).map_err(file(&run.join("split.json")))?;
        let mut truth_sorted = split.map_or_else(Vec::new, |s| s.frequencies);
        truth_sorted.sort_by(|a, b| b.total_cmp(a));
        Ok(RunLog { name: name.to_string(), header: log.header, rows: log.rows, truth_sorted })
    }

    /// A run's evaluations (`eval.csv`) in the same shape, one row per evaluation: the
    /// convergence curve of NMI, the prior's fit to the truth and its alignment.
    pub fn read_evaluations(run: &Path, name: &str) -> Result<RunLog> {
        let curve = crate::collect::read_curve(&run.join("eval.csv"))?;
        let header = EVAL_COLUMNS.iter().map(|c| c.to_string()).collect();
        let rows = curve
            .iter()
            .map(|p| {
                vec![
                    Some(p.step as f64),
                    Some(p.nmi_geometric),
                    Some(p.prior_rmse),
                    p.prior_alignment_p,
                    p.prior_log_cosine,
                    Some(p.real_cluster_accuracy),
                    p.real_cluster_accuracy_bn,
                ]
            })
            .collect();
        Ok(RunLog { name: name.to_string(), header, rows, truth_sorted: vec![] })
    }

    fn col(&self, name: &str) -> Vec<(f64, f64)> {
        let (Some(s), Some(c)) = (self.header.iter().position(|h| h == "step"), self.header.iter().position(|h| h == name)) else { return vec![] };
        self.rows.iter().filter_map(|r| Some((r.get(s).copied()??, r.get(c).copied()??))).filter(|(_, v)| v.is_finite()).collect()
    }

    /// The indices of the `prior_<k>` columns, in order.
    fn prior_columns(&self) -> Vec<usize> {
        self.header.iter().enumerate().filter(|(_, h)| h.strip_prefix("prior_").is_some_and(|k| k.parse::<usize>().is_ok())).map(|(i, _)| i).collect()
    }

    /// How far θ (the log of the logged prior, centred: softmax ignores a shift) ended from
    /// where it started (uniform, all equal).
    fn theta_displacement(&self) -> Option<f64> {
        let cols = self.prior_columns();
        let last = self.rows.last()?;
        let th: Vec<f64> = cols.iter().map(|&i| last.get(i).copied().flatten().map(f64::ln)).collect::<Option<_>>()?;
        let m = th.iter().sum::<f64>() / th.len().max(1) as f64;
        Some(th.iter().map(|t| (t - m).powi(2)).sum::<f64>().sqrt())
    }

    /// The prior's values, sorted in decreasing order, at each logged step.
    fn sorted_prior(&self) -> Vec<(f64, Vec<f64>)> {
        let s = self.header.iter().position(|h| h == "step");
        let cols = self.prior_columns();
        self.rows
            .iter()
            .filter_map(|r| {
                let step = r.get(s?).copied()??;
                let mut p: Vec<f64> = cols.iter().filter_map(|&i| r.get(i).copied().flatten()).collect();
                p.sort_by(|a, b| b.total_cmp(a));
                Some((step, p))
            })
            .collect()
    }
}

/// Three significant digits.
fn sig3(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let d = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.d$}")
}

/// One panel of lines, one per run, of a column against the step.
fn lines(runs: &[RunLog], column: &str, title: &str, log_y: bool, path: &Path, reference: Option<(&str, f64)>) -> std::result::Result<(), String> {
    // A log scale is drawn as log10 of the values on a linear axis.
    let tf = |v: f64| if log_y { v.max(1e-12).log10() } else { v };
    let series: Vec<Vec<(f64, f64)>> = runs.iter().map(|r| r.col(column).into_iter().map(|(x, y)| (x, tf(y))).collect()).collect();
    let all: Vec<(f64, f64)> = series.iter().flatten().cloned().collect();
    if all.is_empty() {
        return Ok(());
    }
    let reference = reference.map(|(l, v)| (l, tf(v)));
    let xmax = all.iter().map(|p| p.0).fold(1.0, f64::max);
    let (mut ylo, mut yhi) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if let Some((_, v)) = reference {
        (ylo, yhi) = (ylo.min(v), yhi.max(v));
    }
    let pad = (yhi - ylo).abs().max(1e-6) * 0.08;
    let root = SVGBackend::new(path, (720, 360)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..xmax, (ylo - pad)..(yhi + pad))
        .map_err(|e| e.to_string())?;
    let ydesc = if log_y { format!("log10 {column}") } else { column.to_string() };
    chart.configure_mesh().x_desc("step").y_desc(ydesc).draw().map_err(|e| e.to_string())?;
    for (i, (r, s)) in runs.iter().zip(&series).enumerate() {
        chart
            .draw_series(LineSeries::new(s.clone(), color(i).stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(r.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color(i).stroke_width(2)));
    }
    if let Some((label, v)) = reference {
        chart
            .draw_series(LineSeries::new([(0.0, v), (xmax, v)], BLACK.stroke_width(1)))
            .map_err(|e| e.to_string())?
            .label(label.to_string())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(|e| e.to_string())
}

/// The sorted prior of each run over training, against the sorted truth (dashed).
fn prior_paths(runs: &[RunLog], path: &Path) -> std::result::Result<(), String> {
    let cols = runs.len().min(3);
    let rows = runs.len().div_ceil(cols);
    let root = SVGBackend::new(path, (340 * cols as u32, 280 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    for (r, area) in runs.iter().zip(root.split_evenly((rows, cols)).iter()) {
        let paths = r.sorted_prior();
        let xmax = paths.last().map_or(1.0, |p| p.0);
        let ymax = paths.iter().flat_map(|p| p.1.iter()).chain(r.truth_sorted.iter()).cloned().fold(0.0, f64::max) * 1.1 + 1e-3;
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{}: sorted prior", r.name), ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(40)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc("step").draw().map_err(|e| e.to_string())?;
        for k in 0..paths.first().map_or(0, |p| p.1.len()) {
            let line: Vec<(f64, f64)> = paths.iter().filter_map(|(s, p)| p.get(k).map(|v| (*s, *v))).collect();
            chart.draw_series(LineSeries::new(line, color(k % 6).stroke_width(1))).map_err(|e| e.to_string())?;
            if let Some(t) = r.truth_sorted.get(k) {
                let dash: Vec<(f64, f64)> =
                    (0..20).filter(|i| i % 2 == 0).flat_map(|i| [(xmax * i as f64 / 20.0, *t), (xmax * (i + 1) as f64 / 20.0, *t)]).collect();
                for seg in dash.chunks(2) {
                    chart.draw_series(LineSeries::new(seg.to_vec(), color(k % 6).mix(0.6))).map_err(|e| e.to_string())?;
                }
            }
        }
    }
    root.present().map_err(|e| e.to_string())
}

/// `summary.md`: each run's evaluations (its `eval.csv`, one row per evaluated epoch), θ's
/// diagnostics, and its last logged prior, sorted, against the sorted truth.
fn summary(runs: &[RunLog], dirs: &[PathBuf], command: &str) -> Result<String> {
    let mut s = format!("# Learned-prior runs\n\nGenerated by `{command}`; do not edit by hand.\n\n");
    evaluations_table(&mut s, runs, dirs)?;
    theta_table(&mut s, runs);
    priors_table(&mut s, runs);
    Ok(s)
}

fn evaluations_table(s: &mut String, runs: &[RunLog], dirs: &[PathBuf]) -> Result<()> {
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "| run | step | epoch | ENT ↓ | NMI ↑ | prior RMSE ↓ | alignment p ↓ | cos(log prior, log truth) ↑ | sorted prior RMSE ↓ | cluster acc. (real) ↑ | (BN re-est.) ↑ |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or("-".to_string(), f);
    for (r, d) in runs.iter().zip(dirs) {
        let curve = crate::collect::read_curve(&d.join("eval.csv"))?;
        for p in curve {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {:.3} | {} |",
                r.name,
                p.step,
                p.epoch,
                p.ent,
                p.nmi_geometric,
                p.prior_rmse,
                opt(p.prior_alignment_p, |v| format!("{v:.2e}")),
                opt(p.prior_log_cosine, |v| format!("{v:.3}")),
                opt(p.prior_rmse_sorted, |v| format!("{v:.3}")),
                p.real_cluster_accuracy,
                opt(p.real_cluster_accuracy_bn, |v| format!("{v:.3}"))
            );
        }
    }
    Ok(())
}

fn theta_table(s: &mut String, runs: &[RunLog]) {
    use std::fmt::Write as _;
    let _ = writeln!(s, "\nθ's diagnostics over each run's logging windows (mean, and median in brackets); the coherence of pure noise over a window of n steps is about 1/√n:\n");
    let _ = writeln!(s, "| run | windows | ‖∇θ L‖ | ‖∇θ L_adv‖ | ‖∇θ L_info‖ | ‖∇θ L_EM‖ | coherence | ‖Δθ‖ per step | cos to the truth | windows with cos > 0 | ‖θ_end − θ_0‖ (centred) |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in runs {
        let stat = |c: &str| -> String {
            let mut v: Vec<f64> = r.col(c).into_iter().map(|p| p.1).collect();
            if v.is_empty() {
                return "-".into();
            }
            v.sort_by(f64::total_cmp);
            format!("{} ({})", sig3(v.iter().sum::<f64>() / v.len() as f64), sig3(v[v.len() / 2]))
        };
        let cos: Vec<f64> = r.col("theta_truth_cos").into_iter().map(|p| p.1).collect();
        let pos = if cos.is_empty() { "-".into() } else { format!("{}/{}", cos.iter().filter(|c| **c > 0.0).count(), cos.len()) };
        let disp = r.theta_displacement().map_or("-".into(), |d| format!("{d:.3}"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {pos} | {disp} |",
            r.name,
            r.col("theta_coherence").len(),
            stat("theta_grad"),
            stat("theta_grad_adv"),
            stat("theta_grad_info"),
            stat("theta_grad_em"),
            stat("theta_coherence"),
            stat("theta_step"),
            stat("theta_truth_cos")
        );
    }
}

fn priors_table(s: &mut String, runs: &[RunLog]) {
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "\nThe last logged prior of each run, sorted, against the split's true frequencies, sorted, with the RMSE a uniform prior has to them (what a prior that learned nothing scores, matched or sorted):\n"
    );
    let _ = writeln!(s, "| run | step | sorted prior |");
    let _ = writeln!(s, "|---|---|---|");
    // Runs of one split share a truth row, written after the last of them (named by the
    // first); runs of another split get their own.
    let mut group_start = 0;
    for (i, r) in runs.iter().enumerate() {
        if let Some((step, p)) = r.sorted_prior().last() {
            let _ = writeln!(s, "| {} | {step} | {} |", r.name, p.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>().join(" "));
        }
        if runs.get(i + 1).is_none_or(|next| next.truth_sorted != r.truth_sorted) {
            let first = &runs[group_start];
            let truth = first.truth_sorted.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>().join(" ");
            let _ = writeln!(s, "| truth ({}) | | {truth} (uniform prior's RMSE: {}) |", first.name, uniform_rmse(&first.truth_sorted));
            group_start = i + 1;
        }
    }
}

/// The RMSE of the uniform prior to `truth` (3 decimals; "-" without a truth).
fn uniform_rmse(truth: &[f64]) -> String {
    let uniform = vec![1.0 / truth.len().max(1) as f64; truth.len()];
    einfo_metrics::sorted_prior_rmse(&uniform, truth).map_or_else(|_| "-".into(), |v| format!("{v:.3}"))
}

/// Draw every picture of the runs (read from `dirs`) into `out`, with `summary.md`;
/// returns the files written. `command` is recorded in the summary.
pub fn plot_prior(runs: &[RunLog], dirs: &[PathBuf], out: &Path, command: &str) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let md = out.join("summary.md");
    std::fs::write(&md, summary(runs, dirs, command)?).map_err(io_err(&md))?;
    let window = runs.first().and_then(|r| {
        let s = r.col("theta_coherence");
        let steps: Vec<f64> = r.col("img_per_s").iter().map(|p| p.0).collect();
        (steps.len() >= 2 && !s.is_empty()).then(|| steps[1] - steps[0])
    });
    let noise = window.map(|n| ("1/√n (noise)", 1.0 / n.sqrt()));
    let mut files = Vec::new();
    let mut go = |file: &str, f: &dyn Fn(&Path) -> std::result::Result<(), String>| -> Result<()> {
        let p = out.join(file);
        f(&p).map_err(err(file))?;
        if p.exists() {
            files.push(p);
        }
        Ok(())
    };
    go("theta-grad.svg", &|p| lines(runs, "theta_grad", "‖∇θ L‖, mean over each logging window", true, p, None))?;
    go("theta-step.svg", &|p| lines(runs, "theta_step", "‖Δθ‖ per step (Adam)", true, p, None))?;
    go("theta-coherence.svg", &|p| lines(runs, "theta_coherence", "coherence ‖Σ∇θ‖ / Σ‖∇θ‖ over each window", false, p, noise))?;
    go("theta-truth-cos.svg", &|p| lines(runs, "theta_truth_cos", "cos(−mean ∇θ, θ* − θ): does θ descend towards the truth?", false, p, Some(("0", 0.0))))?;
    go("theta-grad-info.svg", &|p| lines(runs, "theta_grad_info", "‖∇θ L_info‖ on a logging step", true, p, None))?;
    go("theta-grad-adv.svg", &|p| lines(runs, "theta_grad_adv", "‖∇θ L_adv‖ on a logging step", true, p, None))?;
    go("probe-prior-rmse.svg", &|p| lines(runs, "probe_prior_rmse", "prior RMSE, matched on Q's clustering of 1,000 real images", false, p, None))?;
    go("prior-rmse-sorted.svg", &|p| lines(runs, "prior_rmse_sorted", "prior RMSE, sorted (mapping-free)", false, p, None))?;
    go("probe-cluster-acc.svg", &|p| lines(runs, "probe_cluster_acc", "cluster accuracy of Q on 1,000 real images", false, p, None))?;
    go("prior-paths.svg", &|p| prior_paths(runs, p))?;
    let evals = dirs.iter().zip(runs).map(|(d, r)| RunLog::read_evaluations(d, &r.name)).collect::<Result<Vec<_>>>()?;
    go("eval-nmi.svg", &|p| lines(&evals, "nmi_geometric", "NMI (geometric) at each evaluation", false, p, None))?;
    go("eval-prior-rmse.svg", &|p| lines(&evals, "prior_rmse", "prior RMSE, matched on the generated images' classes", false, p, None))?;
    go("eval-alignment-p.svg", &|p| lines(&evals, "prior_alignment_p", "permutation p of the matched prior RMSE (log10)", true, p, Some(("p = 0.05", 0.05))))?;
    go("eval-log-cosine.svg", &|p| lines(&evals, "prior_log_cosine", "cos(centred log prior, centred log truth), matched", false, p, Some(("0", 0.0))))?;
    go("eval-cluster-acc.svg", &|p| lines(&evals, "real_cluster_accuracy_bn", "cluster accuracy on real images, BN re-estimated", false, p, None))?;
    files.push(md);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, prior: [f64; 2], truth: [f64; 2]) -> RunLog {
        let header = ["step", "prior_0", "prior_1"].map(String::from).to_vec();
        RunLog { name: name.into(), header, rows: vec![vec![Some(10.0), Some(prior[0]), Some(prior[1])]], truth_sorted: truth.to_vec() }
    }

    #[test]
    fn summary_gives_each_split_its_truth() {
        let runs = [run("a-s1", [0.4, 0.6], [0.7, 0.3]), run("b-s1", [0.5, 0.5], [0.7, 0.3]), run("a-s2", [0.2, 0.8], [0.9, 0.1])];
        let dirs = vec![PathBuf::from("/nonexistent"); 3];
        let s = summary(&runs, &dirs, "test").unwrap();
        let table: Vec<&str> = s.lines().skip_while(|l| !l.starts_with("| run | step | sorted prior |")).skip(2).collect();
        // Uniform prior's RMSE to each truth: python3 -c "import math; print(math.sqrt(((0.7-0.5)**2+(0.3-0.5)**2)/2), math.sqrt(((0.9-0.5)**2+(0.1-0.5)**2)/2))"  # 0.2 0.4
        assert_eq!(
            table,
            [
                "| a-s1 | 10 | 0.600 0.400 |",
                "| b-s1 | 10 | 0.500 0.500 |",
                "| truth (a-s1) | | 0.700 0.300 (uniform prior's RMSE: 0.200) |",
                "| a-s2 | 10 | 0.800 0.200 |",
                "| truth (a-s2) | | 0.900 0.100 (uniform prior's RMSE: 0.400) |"
            ]
        );
    }
}
