//! Hungarian matching of codes to classes (Kuhn–Munkres, from `pathfinding`), the
//! matched accuracy, and the RMSE between a learned prior and the true class frequencies
//! (matched, and a mapping-free companion on the sorted values).

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

/// Mapping-free companion of [`prior_rmse`]: `√((1/K) Σ_i (p_(i) − t_(i))²)` with both the
/// prior and the true frequencies sorted in decreasing order. It measures whether the prior
/// has the right *shape* regardless of which code stands for which class: a prior that
/// learned the imbalance but whose codes split or merge classes scores well here and badly
/// on the matched RMSE; a prior that learned nothing (uniform) scores badly on both.
pub fn sorted_prior_rmse(prior: &[f64], truth: &[f64]) -> Result<f64> {
    if prior.len() != truth.len() {
        return Err(MetricError::LengthMismatch { what: "prior and true frequencies", a: prior.len(), b: truth.len() });
    }
    if truth.is_empty() {
        return Err(MetricError::Empty);
    }
    if prior.iter().chain(truth).any(|v| !v.is_finite()) {
        return Err(MetricError::Invalid("a probability is not finite".into()));
    }
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| b.total_cmp(a));
        v
    };
    let (p, t) = (sorted(prior), sorted(truth));
    Ok((p.iter().zip(&t).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / t.len() as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_rmse_ignores_the_order_of_codes() {
        // A permuted truth scores 0; a uniform prior against [0.5, 0.3, 0.2]:
        // np.sqrt(np.mean((np.array([.5,.3,.2]) - 1/3)**2)) = 0.12472191
        assert!(sorted_prior_rmse(&[0.2, 0.5, 0.3], &[0.3, 0.2, 0.5]).unwrap() < 1e-15);
        let u = sorted_prior_rmse(&[1.0 / 3.0; 3], &[0.5, 0.3, 0.2]).unwrap();
        assert!((u - 0.12472191).abs() < 1e-8, "{u}");
        // Shape right but unordered: sorted 0.1, matched (identity) large.
        let m = Matching { code_to_class: vec![Some(0), Some(1), Some(2)], accuracy: 1.0 };
        assert!(prior_rmse(&[0.2, 0.3, 0.5], &[0.5, 0.3, 0.2], &m).unwrap() > 0.2);
        assert!(sorted_prior_rmse(&[0.2, 0.3, 0.5], &[0.5, 0.3, 0.2]).unwrap() < 1e-15);
        assert!(sorted_prior_rmse(&[0.5, 0.5], &[1.0]).is_err());
        assert!(sorted_prior_rmse(&[], &[]).is_err());
        assert!(sorted_prior_rmse(&[f64::NAN, 1.0], &[0.5, 0.5]).is_err());
    }
}
