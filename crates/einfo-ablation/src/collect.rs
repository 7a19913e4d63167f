//! Reading a matrix root back: every evaluated cell's `metrics.json` and `eval.csv`.

use std::path::{Path, PathBuf};

use einfo_train::eval::EvalReport;
use einfo_train::setup::{split_len, total_steps};

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

/// A finished, evaluated cell's report and curve; `None` while it is unfinished or not
/// evaluated.
fn read_cell(cdir: &Path) -> Result<Option<(EvalReport, Vec<CurvePoint>)>> {
    let mpath = cdir.join("metrics.json");
    let Ok(text) = std::fs::read_to_string(&mpath) else { return Ok(None) };
    let report: EvalReport = serde_json::from_str(&text).map_err(|e| AblationError::File { path: mpath.clone(), detail: format!("not an einfo metrics.json: {e}") })?;
    if report.step != total_steps(&report.config, split_len(&report.config)?) {
        return Ok(None);
    }
    Ok(Some((report, read_curve(&cdir.join("eval.csv"))?)))
}
