//! `cargo xtask aggregate`: evaluated cells → one row per method (mean ± population std
//! over splits and seeds) in `<out>/<name>.md` and `.csv`, the per-cell numbers in
//! `<out>/<name>/cells.csv`, each cell's `metrics.json` and `eval.csv` copied to
//! `<out>/<name>/cells/`, and the pictures of [`crate::plots`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::collect::{collect, CellResult};
use crate::error::{io_err, AblationError, Result};
use crate::markdown::{markdown, Provenance};
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
    /// The CPU of the final evaluation (empty for cells evaluated before it was recorded).
    cpu: &'a str,
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
    let equivalence = crate::equivalence::read_if_present(&out_dir.join(crate::equivalence::CSV_NAME))?;
    let provenance = Provenance { name, command, launches: &launches, sources: &sources, not_included: &not_included, equivalence: &equivalence };
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
            cpu: r.report.cpu.as_deref().unwrap_or(""),
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
