//! Reading a matrix root back: every evaluated cell's `metrics.json` and `eval.csv`.

use std::path::{Path, PathBuf};

use einfo_train::eval::EvalReport;
use einfo_train::setup::budget_steps;

use crate::error::{io_err, AblationError, Result};
use crate::matrix::Cell;

/// One point of a cell's convergence curve (a row of its `eval.csv`, defined by its writer).
pub use einfo_train::curve::CurvePoint;

/// An evaluated cell.
#[derive(Debug, Clone)]
pub struct CellResult {
    pub cell: Cell,
    pub dir: PathBuf,
    pub report: EvalReport,
    pub curve: Vec<CurvePoint>,
}

/// Read a cell's `eval.csv` (empty when it has none; rows cut short are skipped).
pub fn read_curve(path: &Path) -> Result<Vec<CurvePoint>> {
    einfo_train::curve::read(path).map_err(|e| AblationError::File { path: path.into(), detail: e.to_string() })
}

fn subdirs(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.file_name().to_str()?.to_string(), e.path())))
        .collect();
    v.sort();
    Ok(v)
}

/// Every cell under `root` (`<method>/split<k>/seed<s>/`) evaluated at the end of its
/// budget; the ids of cells that are not (still running, interrupted, never evaluated,
/// or unreadable — then with the reason) come back separately.
pub fn collect(root: &Path) -> Result<(Vec<CellResult>, Vec<String>)> {
    if !root.is_dir() {
        return Err(AblationError::Invalid(format!("{} does not exist: run `cargo xtask run-ablations` first (or pass --root)", root.display())));
    }
    let (mut done, mut not_done) = (Vec::new(), Vec::new());
    for (_, mdir) in subdirs(root)? {
        for (_, sdir) in subdirs(&mdir)? {
            for (_, cdir) in subdirs(&sdir)? {
                let rel = cdir.strip_prefix(root).unwrap_or(&cdir).display().to_string();
                let Ok(cell) = Cell::parse(&rel) else { continue };
                match read_cell(&cdir) {
                    Ok(Some((report, curve))) => done.push(CellResult { cell, dir: cdir, report, curve }),
                    Ok(None) => not_done.push(cell.id()),
                    // One damaged cell is listed, not fatal to the whole matrix.
                    Err(e) => not_done.push(format!("{} (unreadable: {e})", cell.id())),
                }
            }
        }
    }
    Ok((done, not_done))
}

/// The cells of committed results (`<results>/cells/<method>-split<k>-seed<s>/`, as
/// `aggregate` writes them: `metrics.json`, `eval.csv`), finished and evaluated — so that a
/// table can be re-aggregated with new cells after the run directories behind it are gone.
pub fn collect_results(results_dir: &Path) -> Result<(Vec<CellResult>, Vec<String>)> {
    let cells = results_dir.join("cells");
    if !cells.is_dir() {
        return Err(AblationError::Invalid(format!("{} has no cells/: name a results directory written by `cargo xtask aggregate`", results_dir.display())));
    }
    let (mut done, mut not_done) = (Vec::new(), Vec::new());
    for (name, cdir) in subdirs(&cells)? {
        let Some(cell) = cell_of_copy(&name) else { continue };
        match read_cell(&cdir) {
            Ok(Some((report, curve))) => done.push(CellResult { cell, dir: cdir, report, curve }),
            Ok(None) => not_done.push(cell.id()),
            Err(e) => not_done.push(format!("{} (unreadable: {e})", cell.id())),
        }
    }
    Ok((done, not_done))
}

/// The cell a copy's directory name stands for (`<method>-split<k>-seed<s>`).
pub fn cell_of_copy(name: &str) -> Option<Cell> {
    let (rest, seed) = name.rsplit_once("-seed")?;
    let (method, split) = rest.rsplit_once("-split")?;
    Cell::parse(&format!("{method}/split{split}/seed{seed}")).ok()
}

/// A finished, evaluated cell's report and curve; `None` while it is unfinished or not
/// evaluated.
fn read_cell(cdir: &Path) -> Result<Option<(EvalReport, Vec<CurvePoint>)>> {
    let mpath = cdir.join("metrics.json");
    let Ok(text) = std::fs::read_to_string(&mpath) else { return Ok(None) };
    let mut report: EvalReport =
        serde_json::from_str(&text).map_err(|e| AblationError::File { path: mpath.clone(), detail: format!("not an einfo metrics.json: {e}") })?;
    rematch(&mut report);
    if report.step != budget_steps(&report.config)? {
        return Ok(None);
    }
    Ok(Some((report, read_curve(&cdir.join("eval.csv"))?)))
}

/// Match codes to classes again with the deterministic tie rule of
/// [`einfo_metrics::hungarian`] (reports written before it may hold another of several
/// maximum assignments) and recompute what depends on which one: the matched classes and
/// the matched prior RMSE. The matched counts, and so every accuracy, are the same.
pub fn rematch(report: &mut EvalReport) {
    let Ok(m) = einfo_metrics::CountMatrix::from_rows(&report.count_matrix).and_then(|c| einfo_metrics::hungarian(&c)) else { return };
    if let Ok(rmse) = einfo_metrics::prior_rmse(&report.prior, &report.true_frequencies, &m) {
        report.prior_rmse = rmse;
    }
    report.code_to_class = m.code_to_class;
}

/// The mapping-free prior RMSE of a cell (recomputed from its report, so reports written
/// before the field existed count too).
pub fn sorted_rmse(r: &CellResult) -> f64 {
    einfo_metrics::sorted_prior_rmse(&r.report.prior, &r.report.true_frequencies).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_named_by_their_cell() {
        let c = cell_of_copy("elastic-frozen-prior-split3-seed2").unwrap();
        assert_eq!((c.method.as_str(), c.split, c.seed), ("elastic-frozen-prior", 3, 2));
        assert_eq!(c.id().replace('/', "-"), "elastic-frozen-prior-split3-seed2");
        assert!(cell_of_copy("elastic-split1").is_none() && cell_of_copy("x-splitA-seed0").is_none());
    }
}
