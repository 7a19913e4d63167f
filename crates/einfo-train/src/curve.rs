//! `eval.csv`, a run's convergence curve: one row per evaluation during training (and per
//! `einfo eval`). Defined once here, for its writer (training, `einfo eval`) and its
//! readers (the ablation tables and plots). It is rewritten whole and renamed into place
//! for every new row, so a full disk or a kill leaves the previous curve, never a cut row;
//! the reader also takes only complete lines, for curves written by older versions.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// The file's header: the fields of [`CurvePoint`], in order.
pub const HEADER: &str = "step,epoch,ent,nmi_geometric,nmi_arithmetic,generated_accuracy,prior_rmse,real_cluster_accuracy,prior_rmse_sorted,real_cluster_accuracy_bn,prior_alignment_p,prior_log_cosine";

/// One point of the curve (a row of `eval.csv`).
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
    /// Real-image cluster accuracy with BatchNorm statistics re-estimated on the real
    /// images; absent in curves written before the column existed.
    #[serde(default)]
    pub real_cluster_accuracy_bn: Option<f64>,
    /// Exact permutation p of the matched prior RMSE (empty when not computable).
    #[serde(default)]
    pub prior_alignment_p: Option<f64>,
    /// Cosine of the centred log prior to the centred log truth under the matching (empty
    /// when undefined: a uniform prior).
    #[serde(default)]
    pub prior_log_cosine: Option<f64>,
}

impl CurvePoint {
    fn row(&self) -> String {
        format!(
            "{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{},{}",
            self.step,
            self.epoch,
            self.ent,
            self.nmi_geometric,
            self.nmi_arithmetic,
            self.generated_accuracy,
            self.prior_rmse,
            self.real_cluster_accuracy,
            opt(self.prior_rmse_sorted),
            opt(self.real_cluster_accuracy_bn),
            self.prior_alignment_p.map_or(String::new(), |v| format!("{v:.4e}")),
            opt(self.prior_log_cosine)
        )
    }
}

/// An optional column's cell: empty when absent.
fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.6}"))
}

/// The complete lines of a text (a last line without its newline was cut short).
pub fn complete_lines(text: &str) -> &str {
    text.rfind('\n').map_or("", |i| &text[..=i])
}

/// The curve in `path` (empty when there is none). Rows cut short or with the wrong number
/// of fields are skipped.
pub fn read(path: &Path) -> Result<Vec<CurvePoint>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(TrainError::Io { path: path.into(), source: e }),
    };
    let bad = |e: csv::Error| TrainError::Checkpoint { path: path.into(), detail: format!("bad eval.csv row: {}", crate::error::first_line(&e.to_string())) };
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(complete_lines(&text).as_bytes());
    let header = r.headers().map_err(bad)?.clone();
    let mut points = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(bad)?;
        if rec.len() == header.len() {
            points.push(rec.deserialize(Some(&header)).map_err(bad)?);
        }
    }
    Ok(points)
}

/// Does the curve of `run_dir` have a point for `step`?
pub fn has(run_dir: &Path, step: u64) -> Result<bool> {
    Ok(read(&run_dir.join("eval.csv"))?.iter().any(|p| p.step == step))
}

/// Add `point` to the curve of `run_dir` (once per step: a point already there for its
/// step is kept). The file is rewritten atomically in the current header.
pub fn append(run_dir: &Path, point: &CurvePoint) -> Result<()> {
    let path = run_dir.join("eval.csv");
    let mut points = read(&path)?;
    if points.iter().any(|p| p.step == point.step) {
        return Ok(());
    }
    points.push(point.clone());
    write(&path, &points)
}

/// Keep the points of steps ≤ `step` (a resumed run re-measures the later ones).
pub fn truncate(run_dir: &Path, step: u64) -> Result<()> {
    let path = run_dir.join("eval.csv");
    if !path.exists() {
        return Ok(());
    }
    let points: Vec<CurvePoint> = read(&path)?.into_iter().filter(|p| p.step <= step).collect();
    write(&path, &points)
}

fn write(path: &Path, points: &[CurvePoint]) -> Result<()> {
    let mut out = String::from(HEADER);
    out.push('\n');
    for p in points {
        out.push_str(&p.row());
        out.push('\n');
    }
    einfo_data::durable::write_atomic(path, out.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: u64) -> CurvePoint {
        CurvePoint {
            step,
            epoch: step / 10,
            ent: 0.5,
            nmi_geometric: 0.7,
            nmi_arithmetic: 0.71,
            generated_accuracy: 0.6,
            prior_rmse: 0.04,
            real_cluster_accuracy: 0.65,
            prior_rmse_sorted: Some(0.000039),
            real_cluster_accuracy_bn: Some(0.75),
            prior_alignment_p: Some(2.7557e-7),
            prior_log_cosine: None,
        }
    }

    #[test]
    fn curves_written_before_the_newer_columns_still_read() {
        let d = std::env::temp_dir().join(format!("einfo-curve-old-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let old = "step,epoch,ent,nmi_geometric,nmi_arithmetic,generated_accuracy,prior_rmse,real_cluster_accuracy\n10,1,0.5,0.7,0.71,0.6,0.04,0.65\n";
        std::fs::write(d.join("eval.csv"), old).unwrap();
        let want = CurvePoint { prior_rmse_sorted: None, real_cluster_accuracy_bn: None, prior_alignment_p: None, ..point(10) };
        assert_eq!(read(&d.join("eval.csv")).unwrap(), vec![want.clone()]);
        append(&d, &point(20)).unwrap();
        let text = std::fs::read_to_string(d.join("eval.csv")).unwrap();
        assert!(text.starts_with(HEADER), "rewritten in the current header");
        assert_eq!(read(&d.join("eval.csv")).unwrap(), vec![want, point(20)]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_cut_row_is_never_read_and_is_dropped_by_the_next_write() {
        let d = std::env::temp_dir().join(format!("einfo-curve-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        append(&d, &point(10)).unwrap();
        append(&d, &point(20)).unwrap();
        append(&d, &point(20)).unwrap();
        assert_eq!(read(&d.join("eval.csv")).unwrap(), vec![point(10), point(20)]);
        // A full disk in an older version's append: the last row cut inside its last value
        // (it would parse as prior_rmse_sorted 0.0), then one cut to 5 fields.
        let full = std::fs::read_to_string(d.join("eval.csv")).unwrap();
        let cut = format!("{full}30,3,0.5,0.7,0.71,0.6,0.04,0.65,0.0");
        std::fs::write(d.join("eval.csv"), &cut).unwrap();
        assert_eq!(read(&d.join("eval.csv")).unwrap().len(), 2, "a last line without its newline is cut");
        std::fs::write(d.join("eval.csv"), format!("{full}30,3,0.5,0.7,0.71\n")).unwrap();
        assert_eq!(read(&d.join("eval.csv")).unwrap().len(), 2, "a row with too few fields is skipped");
        assert!(has(&d, 20).unwrap() && !has(&d, 30).unwrap());
        append(&d, &point(30)).unwrap();
        assert_eq!(read(&d.join("eval.csv")).unwrap(), vec![point(10), point(20), point(30)], "the rewrite drops the cut row");
        truncate(&d, 15).unwrap();
        assert_eq!(read(&d.join("eval.csv")).unwrap(), vec![point(10)]);
        std::fs::remove_dir_all(d).unwrap();
    }
}
