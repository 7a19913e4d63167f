//! Hungarian matching of codes to classes (Kuhn–Munkres, from `pathfinding`), the
//! matched accuracy, and the RMSE between a learned prior and the true class frequencies.

use pathfinding::prelude::{kuhn_munkres, Matrix};
use serde::{Deserialize, Serialize};

use crate::count::CountMatrix;
use crate::error::{MetricError, Result};

/// A one-to-one assignment of codes to classes maximising the matched counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matching {
    /// `code_to_class[code]`: the class matched to each code (`None` when there are more
    /// codes than classes and this one is left over).
    pub code_to_class: Vec<Option<usize>>,
    /// Matched counts / all counts.
    pub accuracy: f64,
}

/// Hungarian matching on the count matrix.
pub fn hungarian(m: &CountMatrix) -> Result<Matching> {
    m.nonempty()?;
    let to_i64 = |v: u64| i64::try_from(v).map_err(|_| MetricError::Invalid("count too large".into()));
    let mut code_to_class = vec![None; m.rows];
    let matched: u64 = if m.rows <= m.cols {
        let w = Matrix::from_vec(m.rows, m.cols, m.counts.iter().map(|&v| to_i64(v)).collect::<Result<Vec<_>>>()?)
            .map_err(|e| MetricError::Invalid(e.to_string()))?;
        let (_, assign) = kuhn_munkres(&w);
        for (code, &class) in assign.iter().enumerate() {
            code_to_class[code] = Some(class);
        }
        assign.iter().enumerate().map(|(r, &c)| m.get(r, c)).sum()
    } else {
        // More codes than classes: match classes to codes.
        let t: Vec<i64> = (0..m.cols).flat_map(|c| m.col(c)).map(to_i64).collect::<Result<_>>()?;
        let w = Matrix::from_vec(m.cols, m.rows, t).map_err(|e| MetricError::Invalid(e.to_string()))?;
        let (_, assign) = kuhn_munkres(&w);
        for (class, &code) in assign.iter().enumerate() {
            code_to_class[code] = Some(class);
        }
        assign.iter().enumerate().map(|(c, &r)| m.get(r, c)).sum()
    };
    Ok(Matching { code_to_class, accuracy: matched as f64 / m.total() as f64 })
}

/// Accuracy of cluster assignments against true labels after Hungarian matching.
pub fn cluster_accuracy(clusters: &[usize], labels: &[usize], k_clusters: usize, k_classes: usize) -> Result<f64> {
    Ok(hungarian(&CountMatrix::from_labels(clusters, labels, k_clusters, k_classes)?)?.accuracy)
}

/// The prior re-ordered into class order by the matching: `p̂_{match(code)} = prior[code]`,
/// `None` for a class no code is matched to.
pub fn prior_by_class(prior: &[f64], n_classes: usize, matching: &Matching) -> Result<Vec<Option<f64>>> {
    if prior.len() != matching.code_to_class.len() {
        return Err(MetricError::LengthMismatch { what: "prior and matching", a: prior.len(), b: matching.code_to_class.len() });
    }
    let mut reordered = vec![None; n_classes];
    for (code, class) in matching.code_to_class.iter().enumerate() {
        if let Some(c) = class {
            if *c >= n_classes {
                return Err(MetricError::LabelOutOfRange { what: "matched class", label: *c, max: n_classes });
            }
            reordered[*c] = Some(prior[code]);
        }
    }
    Ok(reordered)
}

/// `RMSE = √((1/K) Σ_k (p̂_k − t_k)²)` between the learned prior re-ordered into class
/// order by the matching (`p̂_{match(code)} = prior[code]`) and the true class
/// frequencies `t`. Every class must be matched to exactly one code.
pub fn prior_rmse(prior: &[f64], truth: &[f64], matching: &Matching) -> Result<f64> {
    if prior.len() != matching.code_to_class.len() {
        return Err(MetricError::LengthMismatch { what: "prior and matching", a: prior.len(), b: matching.code_to_class.len() });
    }
    if truth.is_empty() {
        return Err(MetricError::Empty);
    }
    let reordered = prior_by_class(prior, truth.len(), matching)?;
    let mut se = 0.0;
    for (class, (p, t)) in reordered.iter().zip(truth).enumerate() {
        let p = p.ok_or_else(|| MetricError::Invalid(format!("class {class} has no matched code")))?;
        se += (p - t).powi(2);
    }
    Ok((se / truth.len() as f64).sqrt())
}
