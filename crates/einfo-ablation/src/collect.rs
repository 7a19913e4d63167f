//! Reading a matrix root back: every evaluated cell's `metrics.json` and `eval.csv`.

use std::path::{Path, PathBuf};

use einfo_train::eval::EvalReport;
use einfo_train::setup::{split_len, total_steps};
use serde::{Deserialize, Serialize};

use crate::error::{io_err, AblationError, Result};
use crate::matrix::Cell;

/// One point of a cell's convergence curve (a row of its `eval.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub step: u64,
    pub epoch: u64,
    pub ent: f64,
    pub nmi_geometric: f64,
    pub nmi_arithmetic: f64,
    pub generated_accuracy: f64,
    pub prior_rmse: f64,
    pub real_cluster_accuracy: f64,
    /// Absent in curves written before the column existed.
    #[serde(default)]
    pub prior_rmse_sorted: Option<f64>,
}

/// An evaluated cell.
#[derive(Debug, Clone)]
pub struct CellResult {
    pub cell: Cell,
    pub dir: PathBuf,
    pub report: EvalReport,
    pub curve: Vec<CurvePoint>,
}

/// Read a cell's `eval.csv` (empty when it has none).
pub fn read_curve(path: &Path) -> Result<Vec<CurvePoint>> {
    if !path.exists() {
        return Ok(vec![]);
    }
    let mut r = csv::Reader::from_path(path).map_err(|e| AblationError::File { path: path.into(), detail: e.to_string() })?;
    r.deserialize().map(|row| row.map_err(|e| AblationError::File { path: path.into(), detail: format!("bad eval.csv row: {e}") })).collect()
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
/// budget; the ids of cells that are not (still running, interrupted, never evaluated)
/// come back separately.
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
                let mpath = cdir.join("metrics.json");
                let report: Option<EvalReport> = match std::fs::read_to_string(&mpath) {
                    Ok(t) => Some(
                        serde_json::from_str(&t).map_err(|e| AblationError::File { path: mpath.clone(), detail: format!("not an einfo metrics.json: {e}") })?,
                    ),
                    Err(_) => None,
                };
                match report {
                    Some(r) if r.step == total_steps(&r.config, split_len(&r.config)?) => {
                        let curve = read_curve(&cdir.join("eval.csv"))?;
                        done.push(CellResult { cell, dir: cdir, report: r, curve });
                    }
                    _ => not_done.push(cell.id()),
                }
            }
        }
    }
    Ok((done, not_done))
}
