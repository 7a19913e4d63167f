//! `cargo xtask aggregate`: evaluated cells → one row per method (mean ± population std
//! over splits and seeds) in `<out>/<name>.md` and `.csv`, the per-cell numbers in
//! `<out>/<name>/cells.csv`, each cell's `metrics.json` and `eval.csv` copied to
//! `<out>/<name>/cells/`, and the pictures of [`crate::plots`].

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use einfo_metrics::MeanStd;
use serde::Serialize;

use crate::collect::{collect, CellResult};
use crate::error::{io_err, AblationError, Result};
use crate::launches::short_commit;
pub use crate::row::{method_order, rows, Row};

#[derive(Serialize)]
struct RowCsv<'a> {
    method: &'a str,
    epochs: u64,
    max_steps: Option<u64>,
    cells: usize,
    splits: String,
    ent_mean: f64,
    ent_std: f64,
    nmi_geometric_mean: f64,
    nmi_geometric_std: f64,
    nmi_arithmetic_mean: f64,
    nmi_arithmetic_std: f64,
    prior_rmse_mean: f64,
    prior_rmse_std: f64,
    prior_rmse_sorted_mean: f64,
    prior_rmse_sorted_std: f64,
    real_cluster_accuracy_mean: f64,
    real_cluster_accuracy_std: f64,
    generated_accuracy_mean: f64,
    generated_accuracy_std: f64,
}

#[derive(Serialize)]
struct CellCsv<'a> {
    method: &'a str,
    split: usize,
    seed: u64,
    epochs: u64,
    step: u64,
    ent: f64,
    nmi_geometric: f64,
    nmi_arithmetic: f64,
    prior_rmse: f64,
    prior_rmse_sorted: f64,
    real_cluster_accuracy: f64,
    /// With BatchNorm statistics re-estimated on the real images (empty for cells
    /// evaluated before the column existed).
    real_cluster_accuracy_bn: Option<f64>,
    generated_accuracy: f64,
    classes_covered: f64,
    /// Exact permutation p of the matched prior RMSE (see `stats::alignment_p`).
    prior_alignment_p: f64,
    git_commit: &'a str,
}

fn csv_err(path: &Path) -> impl Fn(csv::Error) -> AblationError + '_ {
    move |e| AblationError::File { path: path.into(), detail: e.to_string() }
}

fn write_csv<T: Serialize>(path: &Path, rows: impl IntoIterator<Item = T>) -> Result<()> {
    let mut w = csv::Writer::from_path(path).map_err(csv_err(path))?;
    for r in rows {
        w.serialize(r).map_err(csv_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

/// Files an aggregation wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub markdown: PathBuf,
    pub csv: PathBuf,
    pub cells: usize,
    pub not_included: Vec<String>,
}

/// Is `name` a plain file name for the outputs (`<name>.md`, `<name>.csv`, `<name>/`)?
fn plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Aggregate the matrix under `root` into `out_dir/<name>.{md,csv}` and `out_dir/<name>/`.
/// `command` is how the aggregation was invoked (written into the report). The figures and
/// per-cell copies are written into a staging directory that replaces `<name>/` in one
/// rename once complete, so a failure leaves the previous results as they were.
pub fn aggregate(root: &Path, out_dir: &Path, name: &str, command: &str) -> Result<Written> {
    aggregate_with(root, out_dir, name, command, &[])
}

/// [`aggregate`], adding the cells of committed results (`include`: directories written by
/// an earlier aggregation, e.g. `experiments/results/ablations`) that the root does not
/// have — a table grows across machines whose run directories are gone. Their launches
/// are carried over too.
pub fn aggregate_with(root: &Path, out_dir: &Path, name: &str, command: &str, include: &[PathBuf]) -> Result<Written> {
    if !plain_name(name) {
        return Err(AblationError::Invalid(format!("--name '{name}': give a plain file name (letters, digits, '-', '_', '.', not starting with '.')")));
    }
    let (mut results, mut not_included) = if root.is_dir() || include.is_empty() { collect(root)? } else { (vec![], vec![]) };
    let mut launches = crate::launches::from_includes(include)?;
    launches.extend(crate::launches::of_root(root)?);
    dedup_in_order(&mut launches);
    for dir in include {
        let (more, pending) = crate::collect::collect_results(dir)?;
        let have: BTreeSet<String> = results.iter().map(|r| r.cell.id()).collect();
        results.extend(more.into_iter().filter(|r| !have.contains(&r.cell.id())));
        not_included.extend(pending);
    }
    if results.is_empty() {
        return Err(AblationError::Invalid(format!("no evaluated cells under {}: run or finish `cargo xtask run-ablations` first", root.display())));
    }
    results.sort_by_key(|r| (method_order(&r.cell.method), r.cell.split, r.cell.seed));
    let rows = rows(&results);
    let stage = out_dir.join(format!(".{name}.tmp-{}", std::process::id()));
    if stage.exists() {
        std::fs::remove_dir_all(&stage).map_err(io_err(&stage))?;
    }
    let pictures = match write_figures(&stage, &results, &rows).and_then(|p| crate::launches::write(&stage, &launches).map(|()| p)) {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&stage);
            return Err(e);
        }
    };
    replace_dir(&stage, &out_dir.join(name))?;
    let csv_path = out_dir.join(format!("{name}.csv"));
    write_rows_csv(&csv_path, &rows)?;
    let md_path = out_dir.join(format!("{name}.md"));
    let mut sources = if root.is_dir() { format!("the run directories under `{}`", root.display()) } else { String::new() };
    for dir in include {
        let sep = if sources.is_empty() { "" } else { " and " };
        sources = format!("{sources}{sep}the committed cells of `{}` (cells the root lacks)", dir.display());
    }
    let provenance = Provenance { name, command, launches: &launches, sources: &sources, not_included: &not_included };
    let md = markdown(&provenance, &results, &rows, &pictures);
    std::fs::write(&md_path, md).map_err(io_err(&md_path))?;
    Ok(Written { markdown: md_path, csv: csv_path, cells: results.len(), not_included })
}

fn dedup_in_order(v: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    v.retain(|l| seen.insert(l.clone()));
}

/// Move `stage` to `dir`, replacing what was there only once `stage` is in place.
fn replace_dir(stage: &Path, dir: &Path) -> Result<()> {
    let old = dir.with_file_name(format!(".{}.old-{}", dir.file_name().unwrap_or_default().to_string_lossy(), std::process::id()));
    let had = dir.exists();
    if had {
        std::fs::rename(dir, &old).map_err(io_err(dir))?;
    }
    if let Err(e) = std::fs::rename(stage, dir) {
        if had {
            let _ = std::fs::rename(&old, dir);
        }
        return Err(io_err(dir)(e));
    }
    if had {
        std::fs::remove_dir_all(&old).map_err(io_err(&old))?;
    }
    Ok(())
}

/// The per-method table, one row per (method, budget).
fn write_rows_csv(path: &Path, rows: &[Row]) -> Result<()> {
    write_csv(
        path,
        rows.iter().map(|r| RowCsv {
            method: &r.method,
            epochs: r.epochs,
            max_steps: r.max_steps,
            cells: r.cells,
            splits: r.splits.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "),
            ent_mean: r.ent.mean,
            ent_std: r.ent.std,
            nmi_geometric_mean: r.nmi_geometric.mean,
            nmi_geometric_std: r.nmi_geometric.std,
            nmi_arithmetic_mean: r.nmi_arithmetic.mean,
            nmi_arithmetic_std: r.nmi_arithmetic.std,
            prior_rmse_mean: r.prior_rmse.mean,
            prior_rmse_std: r.prior_rmse.std,
            prior_rmse_sorted_mean: r.prior_rmse_sorted.mean,
            prior_rmse_sorted_std: r.prior_rmse_sorted.std,
            real_cluster_accuracy_mean: r.real_cluster_accuracy.mean,
            real_cluster_accuracy_std: r.real_cluster_accuracy.std,
            generated_accuracy_mean: r.generated_accuracy.mean,
            generated_accuracy_std: r.generated_accuracy.std,
        }),
    )
}

/// Everything under `<name>/`: cells.csv, paired.csv, each cell's metrics and curve, the
/// figures. Returns the figures with their captions.
fn write_figures(dir: &Path, results: &[CellResult], rows: &[Row]) -> Result<Vec<(String, String)>> {
    std::fs::create_dir_all(dir.join("cells")).map_err(io_err(dir))?;
    write_csv(
        &dir.join("cells.csv"),
        results.iter().map(|r| CellCsv {
            method: &r.cell.method,
            split: r.cell.split,
            seed: r.cell.seed,
            epochs: r.report.config.train.epochs,
            step: r.report.step,
            ent: r.report.ent,
            nmi_geometric: r.report.nmi.geometric,
            nmi_arithmetic: r.report.nmi.arithmetic,
            prior_rmse: r.report.prior_rmse,
            prior_rmse_sorted: crate::stats::sorted_rmse(r),
            real_cluster_accuracy: r.report.real_cluster_accuracy,
            real_cluster_accuracy_bn: r.report.real_cluster_accuracy_bn,
            generated_accuracy: r.report.generated_accuracy,
            classes_covered: crate::stats::classes_covered(r),
            prior_alignment_p: crate::stats::alignment_p(r),
            git_commit: r.report.git_commit.as_deref().unwrap_or("unknown"),
        }),
    )?;
    write_csv(&dir.join("paired.csv"), crate::stats::paired_rows(results, rows))?;
    for r in results {
        let to = dir.join("cells").join(r.cell.id().replace('/', "-"));
        std::fs::create_dir_all(&to).map_err(io_err(&to))?;
        for f in ["metrics.json", "eval.csv", "samples.png"] {
            if r.dir.join(f).exists() {
                std::fs::copy(r.dir.join(f), to.join(f)).map_err(io_err(r.dir.join(f)))?;
            }
        }
    }
    let mut pictures = crate::plots::draw_all(results, dir)?;
    if crate::paired_plot::draw(results, rows, &dir.join("paired.svg")).map_err(crate::plots::plot_err("paired.svg"))? {
        pictures.push((
            "paired.svg".into(),
            "Paired NMI differences to each reference: grey dots are single cells, circles the mean over cells with its 95% interval, triangles the mean over splits (seeds averaged first) with its interval.".into(),
        ));
    }
    Ok(pictures)
}

/// Where a table's cells came from, for its header.
struct Provenance<'a> {
    name: &'a str,
    command: &'a str,
    launches: &'a [String],
    sources: &'a str,
    not_included: &'a [String],
}

/// The table's markdown: provenance, the summary table and its leaders, the claims, the
/// statistics, NMI per split and the pictures.
fn markdown(p: &Provenance<'_>, results: &[CellResult], rows: &[Row], pictures: &[(String, String)]) -> String {
    let mut s = String::new();
    header(&mut s, p, results);
    summary_table(&mut s, rows);
    leaders(&mut s, rows);
    s.push_str(&crate::claims::section(results, rows));
    s.push_str(&crate::attribution::section(results, rows));
    s.push_str(&crate::stats::markdown(results, rows));
    nmi_per_split(&mut s, results, rows);
    pictures_section(&mut s, p.name, pictures);
    s
}

/// Title, command, launches, data, cells, commits, evaluation settings.
fn header(s: &mut String, p: &Provenance<'_>, results: &[CellResult]) {
    let Provenance { name, command, launches, sources, not_included } = *p;
    let _ = writeln!(s, "# Ablation results: `{name}`\n");
    let _ = writeln!(s, "Generated by `{command}` from {sources}; do not edit by hand.\n");
    if !launches.is_empty() {
        let _ = writeln!(s, "Launches that trained these cells (the root's `matrix.json`, and those carried over with included results):\n");
        for l in launches {
            let _ = writeln!(s, "{l}");
        }
        s.push('\n');
    }
    let commits: BTreeSet<&str> = results.iter().map(|r| r.report.git_commit.as_deref().unwrap_or("unknown")).collect();
    let classifiers: BTreeSet<&str> = results.iter().map(|r| &r.report.classifier_sha256[..r.report.classifier_sha256.len().min(16)]).collect();
    let evals: BTreeSet<String> = results
        .iter()
        .map(|r| {
            let real = if r.report.real_images == 0 { "all".into() } else { r.report.real_images.to_string() };
            format!("{} generated images per code (eval seed {}), {real} real images", r.report.per_code, r.report.eval_seed)
        })
        .collect();
    let split_seeds: BTreeSet<u64> = results.iter().map(|r| r.report.split_seed).collect();
    let datasets: BTreeSet<&str> = results.iter().map(|r| r.report.config.data.dataset.as_str()).collect();
    let mut split_names: Vec<String> = results
        .iter()
        .map(|r| format!("{} ({})", r.report.split, r.report.split_indices_sha256.get(..8).unwrap_or("")))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    split_names.sort();
    let _ = writeln!(
        s,
        "- Data: {}; splits (name, first 8 hex digits of the sha256 of the chosen image indices): {}",
        datasets.into_iter().collect::<Vec<_>>().join(", "),
        split_names.join(", ")
    );
    let _ = writeln!(
        s,
        "- Cells: {} evaluated at the end of their budget{}",
        results.len(),
        if not_included.is_empty() { String::new() } else { format!("; not included (unfinished): {}", not_included.join(", ")) }
    );
    let _ = writeln!(s, "- Commits recorded by the cells' final evaluations (a cell resumed across launches was trained partly by the earlier launches' binaries; `-dirty`: built from a tree with uncommitted changes): {}", commits.into_iter().map(|c| format!("`{}`", short_commit(c))).collect::<Vec<_>>().join(", "));
    let _ = writeln!(
        s,
        "- Evaluation: {}; LeNet sha256 {}",
        evals.into_iter().collect::<Vec<_>>().join("; "),
        classifiers.into_iter().map(|c| format!("`{c}…`")).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(s, "- Split draw seed(s): {}\n", split_seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "));
}

/// Mean ± std of every metric, a row per (method, budget).
fn summary_table(s: &mut String, rows: &[Row]) {
    let _ = writeln!(s, "Mean ± population std over cells (splits × seeds). ENT and prior RMSE: lower is better; NMI and accuracies: higher is better.\n");
    let _ = writeln!(
        s,
        "| method | budget | cells | splits | ENT ↓ | NMI ↑ | NMI (arith.) ↑ | prior RMSE ↓ | sorted prior RMSE ↓ | cluster acc. (real) ↑ | gen. acc. ↑ |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let budget = match r.max_steps {
            Some(m) => format!("{} ep., ≤ {m} steps", r.epochs),
            None => format!("{} ep.", r.epochs),
        };
        let splits = r.splits.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            s,
            "| {} | {budget} | {} | {splits} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            r.method, r.cells, r.ent, r.nmi_geometric, r.nmi_arithmetic, r.prior_rmse, r.prior_rmse_sorted, r.real_cluster_accuracy, r.generated_accuracy
        );
    }
    s.push('\n');
}

/// Which method leads on each metric: computed, not written by hand.
fn leaders(s: &mut String, rows: &[Row]) {
    let best = |f: &dyn Fn(&Row) -> f64, lower: bool| -> String {
        let r = rows.iter().min_by(|a, b| {
            let (x, y) = (f(a), f(b));
            if lower {
                x.total_cmp(&y)
            } else {
                y.total_cmp(&x)
            }
        });
        r.map_or("-".into(), |r| format!("{} ({:.3})", r.method, f(r)))
    };
    let _ = writeln!(
        s,
        "Leaders: ENT {}; NMI {}; prior RMSE {}; cluster accuracy {}.\n",
        best(&|r| r.ent.mean, true),
        best(&|r| r.nmi_geometric.mean, false),
        best(&|r| r.prior_rmse.mean, true),
        best(&|r| r.real_cluster_accuracy.mean, false)
    );
}

/// Each row's NMI on each split, averaged over seeds.
fn nmi_per_split(s: &mut String, results: &[CellResult], rows: &[Row]) {
    let splits: BTreeSet<usize> = results.iter().map(|r| r.cell.split).collect();
    let _ = writeln!(s, "## NMI per split (mean over seeds)\n");
    let _ = writeln!(s, "| method | {} |", splits.iter().map(|k| format!("split {k}")).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(splits.len()));
    for r in rows {
        let cells: Vec<String> = splits
            .iter()
            .map(|k| {
                let v: Vec<f64> = results
                    .iter()
                    .filter(|c| {
                        c.cell.method == r.method
                            && c.cell.split == *k
                            && c.report.config.train.epochs == r.epochs
                            && c.report.config.train.max_steps == r.max_steps
                    })
                    .map(|c| c.report.nmi.geometric)
                    .collect();
                MeanStd::of(&v).map_or("-".into(), |m| format!("{:.3}", m.mean))
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", r.method, cells.join(" | "));
    }
    s.push('\n');
}

/// The figures with their captions, and where the per-cell numbers are.
fn pictures_section(s: &mut String, name: &str, pictures: &[(String, String)]) {
    let _ = writeln!(s, "## Pictures\n");
    for (file, caption) in pictures {
        let _ = writeln!(s, "{caption}\n\n![{caption}]({name}/{file})\n");
    }
    let _ = writeln!(s, "Per-cell numbers: [`{name}/cells.csv`]({name}/cells.csv); every statistic above with its interval: [`{name}/paired.csv`]({name}/paired.csv); each cell's `metrics.json` and `eval.csv` are in `{name}/cells/`.");
}
