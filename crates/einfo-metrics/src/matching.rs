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

/// Hungarian matching on the count matrix. When several assignments reach the maximum
/// matched count (ties), the rule is deterministic: the lexicographically smallest one —
/// code 0 takes the lowest class any maximum assignment gives it, then code 1, and so on
/// (with more codes than classes: class 0 the lowest code, and so on).
pub fn hungarian(m: &CountMatrix) -> Result<Matching> {
    m.nonempty()?;
    let to_i64 = |v: u64| i64::try_from(v).map_err(|_| MetricError::Invalid("count too large".into()));
    let mut code_to_class = vec![None; m.rows];
    let matched: u64 = if m.rows <= m.cols {
        let w: Vec<Vec<i64>> = (0..m.rows).map(|r| m.row(r).iter().map(|&v| to_i64(v)).collect()).collect::<Result<_>>()?;
        let assign = lexicographic_max(&w)?;
        for (code, &class) in assign.iter().enumerate() {
            code_to_class[code] = Some(class);
        }
        assign.iter().enumerate().map(|(r, &c)| m.get(r, c)).sum()
    } else {
        // More codes than classes: match classes to codes.
        let w: Vec<Vec<i64>> = (0..m.cols).map(|c| m.col(c).into_iter().map(to_i64).collect()).collect::<Result<_>>()?;
        let assign = lexicographic_max(&w)?;
        for (class, &code) in assign.iter().enumerate() {
            code_to_class[code] = Some(class);
        }
        assign.iter().enumerate().map(|(c, &r)| m.get(r, c)).sum()
    };
    Ok(Matching { code_to_class, accuracy: matched as f64 / m.total() as f64 })
}

/// The best total of a rows ≤ columns weight matrix restricted to `rows` × `cols`.
fn best_total(w: &[Vec<i64>], rows: &[usize], cols: &[usize]) -> Result<i64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let sub = Matrix::from_vec(rows.len(), cols.len(), rows.iter().flat_map(|&r| cols.iter().map(move |&c| w[r][c])).collect())
        .map_err(|e| MetricError::Invalid(e.to_string()))?;
    Ok(kuhn_munkres(&sub).0)
}

/// Among the assignments of rows to distinct columns with the maximum total weight, the
/// lexicographically smallest (`rows ≤ columns`): each row in turn takes the lowest column
/// that still leaves the maximum reachable. Exact (integer weights), `O(r · c)` solves.
fn lexicographic_max(w: &[Vec<i64>]) -> Result<Vec<usize>> {
    let (r, c) = (w.len(), w.first().map_or(0, Vec::len));
    let mut free: Vec<usize> = (0..c).collect();
    let all_rows: Vec<usize> = (0..r).collect();
    let mut remaining = best_total(w, &all_rows, &free)?;
    let mut assign = Vec::with_capacity(r);
    for row in 0..r {
        let later = &all_rows[row + 1..];
        let mut chosen = None;
        for (i, &col) in free.iter().enumerate() {
            let rest: Vec<usize> = free.iter().copied().filter(|&f| f != col).collect();
            if w[row][col] + best_total(w, later, &rest)? == remaining {
                chosen = Some((i, col));
                break;
            }
        }
        let (i, col) = chosen.ok_or_else(|| MetricError::Invalid("no maximum assignment found".into()))?;
        remaining -= w[row][col];
        free.remove(i);
        assign.push(col);
    }
    Ok(assign)
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

/// How often a random assignment of the prior's values to classes fits the truth at
/// least as well as the matched one: the exact permutation p of the matched prior RMSE,
/// `p = #{π : RMSE(prior∘π, truth) ≤ RMSE(matched)} / K!` over all `K!` assignments of the
/// matched codes' prior values to the `K` classes (the identity among them, so `p ≥ 1/K!`).
/// Small p: the codes' prior values sit on the classes they stand for better than chance —
/// the prior learned which class is frequent, not only that some are. A uniform prior gets
/// p = 1 (every assignment ties). `K ≤ 10` (3,628,800 assignments).
pub fn prior_alignment_p(prior: &[f64], truth: &[f64], matching: &Matching) -> Result<f64> {
    let values = matched_prior(prior, truth.len(), matching)?;
    let k = values.len();
    if k == 0 || k > 10 {
        return Err(MetricError::Invalid(format!("the permutation test enumerates K! assignments: K = {k} must be 1 to 10")));
    }
    let sse = |v: &[f64]| v.iter().zip(truth).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
    // Ties within float rounding count as "at least as well".
    let observed = sse(&values) * (1.0 + 1e-12) + 1e-15;
    let (mut hits, mut total) = (0u64, 0u64);
    let mut perm = values.clone();
    heap_permutations(&mut perm, k, &mut |p| {
        total += 1;
        if sse(p) <= observed {
            hits += 1;
        }
    });
    Ok(hits as f64 / total as f64)
}

/// The direction of a prior's logits against the truth's: the cosine between the centred
/// log prior of each class's matched code and the centred log true frequencies,
/// `cos(log p∘m − mean, log t − mean)`. For a softmax prior the centred log prior is the
/// centred θ, so this is θ's cosine to the truth under the matching: 1 when θ points at the
/// true imbalance (whatever its length), about 0 for a θ unrelated to it, NaN when either
/// side is constant to float precision (a uniform prior, a balanced split). Values below `1e-12` count as
/// `1e-12` (a prior read from counts can hold zeros).
pub fn prior_log_cosine(prior: &[f64], truth: &[f64], matching: &Matching) -> Result<f64> {
    let values = matched_prior(prior, truth.len(), matching)?;
    if values.is_empty() {
        return Err(MetricError::Empty);
    }
    let centred = |v: &[f64]| {
        let logs: Vec<f64> = v.iter().map(|x| x.max(1e-12).ln()).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        logs.into_iter().map(|l| l - mean).collect::<Vec<f64>>()
    };
    let (a, b) = (centred(&values), centred(truth));
    let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    // A constant side has no direction: its centred logs are 0 up to rounding (~1e-17 in
    // f64, ~1e-7 for a uniform softmax computed in f32), which must not pass for one; a prior
    // that has moved at all is far above 1e-5 (one Adam step of θ is ~2e-4).
    let (na, nb) = (norm(&a), norm(&b));
    if na < 1e-5 || nb < 1e-5 {
        return Ok(f64::NAN);
    }
    Ok(dot / (na * nb))
}

/// The prior value of each class's matched code, in class order; an error naming the first
/// class without a code.
fn matched_prior(prior: &[f64], classes: usize, matching: &Matching) -> Result<Vec<f64>> {
    prior_by_class(prior, classes, matching)?
        .iter()
        .enumerate()
        .map(|(c, p)| p.ok_or_else(|| MetricError::Invalid(format!("class {c} has no matched code"))))
        .collect()
}

/// Heap's algorithm: call `f` on every permutation of `v[..n]`.
fn heap_permutations(v: &mut [f64], n: usize, f: &mut impl FnMut(&[f64])) {
    let mut c = vec![0usize; n];
    f(v);
    let mut i = 0;
    while i < n {
        if c[i] < i {
            let j = if i % 2 == 0 { 0 } else { c[i] };
            v.swap(j, i);
            f(v);
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_cosine_matches_numpy_on_a_permuted_matching() {
        // Code 0 stands for class 2, code 1 for class 0, code 2 for class 1.
        let m = Matching { code_to_class: vec![Some(2), Some(0), Some(1)], accuracy: 1.0 };
        let prior = [0.2, 0.5, 0.3];
        let truth = [0.6, 0.3, 0.1];
        // python3 -c "import numpy as np; a=np.log([0.5,0.3,0.2]); b=np.log([0.6,0.3,0.1]); a-=a.mean(); b-=b.mean(); print(a@b/np.linalg.norm(a)/np.linalg.norm(b))"
        // -> 0.9808134445431215
        let got = prior_log_cosine(&prior, &truth, &m).unwrap();
        assert!((got - 0.980_813_444_543_121_5).abs() < 1e-12, "{got}");
        assert!(prior_log_cosine(&[1.0 / 3.0; 3], &truth, &m).unwrap().is_nan(), "a uniform prior has no direction");
        // A softmax of equal logits in f32, as a model reports it (entries an ulp apart):
        // still no direction.
        let p32 = [0.1f32, 0.099999994, 0.1, 0.10000001, 0.1, 0.1, 0.099999994, 0.1, 0.1, 0.1].map(f64::from);
        let m10 = Matching { code_to_class: (0..10).map(Some).collect(), accuracy: 1.0 };
        let t10: Vec<f64> = (1..=10).map(|i| i as f64 / 55.0).collect();
        assert!(prior_log_cosine(&p32, &t10, &m10).unwrap().is_nan());
    }

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

    #[test]
    fn ties_go_to_the_lexicographically_smallest_assignment() {
        // Every permutation of a constant matrix is a maximum: code i takes class i.
        let flat = CountMatrix::from_rows(&[vec![1, 1, 1], vec![1, 1, 1], vec![1, 1, 1]]).unwrap();
        assert_eq!(hungarian(&flat).unwrap().code_to_class, vec![Some(0), Some(1), Some(2)]);
        // Two maxima of total 10: {0→1, 1→0, 2→2} and {0→2, 1→0, 2→1}; the first is smaller.
        // (scipy.optimize.linear_sum_assignment(-m) returns the same, [1, 0, 2], here.)
        let tied = CountMatrix::from_rows(&[vec![0, 5, 5], vec![5, 0, 0], vec![0, 0, 0]]).unwrap();
        assert_eq!(hungarian(&tied).unwrap().code_to_class, vec![Some(1), Some(0), Some(2)]);
        // The rule never trades away the maximum.
        let m = CountMatrix::from_rows(&[vec![3, 3, 0], vec![3, 0, 0], vec![0, 0, 1]]).unwrap();
        let h = hungarian(&m).unwrap();
        assert_eq!(h.code_to_class, vec![Some(1), Some(0), Some(2)]);
        assert!((h.accuracy - 7.0 / 10.0).abs() < 1e-12);
        // More codes than classes: class 0 takes the lowest code that keeps the maximum.
        let wide = CountMatrix::from_rows(&[vec![2, 0], vec![2, 0], vec![0, 2]]).unwrap();
        assert_eq!(hungarian(&wide).unwrap().code_to_class, vec![Some(0), None, Some(1)]);
    }

    #[test]
    fn permutation_p_counts_assignments_that_fit_at_least_as_well() {
        let id = |k: usize| Matching { code_to_class: (0..k).map(Some).collect(), accuracy: 1.0 };
        let truth = [0.5, 0.3, 0.2];
        // The prior equals the truth: only the identity fits as well → 1/3! = 0.1667.
        assert!((prior_alignment_p(&[0.5, 0.3, 0.2], &truth, &id(3)).unwrap() - 1.0 / 6.0).abs() < 1e-12);
        // Uniform: every assignment ties → 1.
        assert_eq!(prior_alignment_p(&[1.0 / 3.0; 3], &truth, &id(3)).unwrap(), 1.0);
        // Reversed: the worst of the six → 1.
        assert_eq!(prior_alignment_p(&[0.2, 0.3, 0.5], &truth, &id(3)).unwrap(), 1.0);
        // Four classes, a prior with the right order but compressed towards uniform:
        // python3 -c "import itertools,numpy as np; t=np.array([.4,.3,.2,.1]); p=np.array([.3,.26,.24,.2]); o=((p-t)**2).sum(); print(np.mean([((p[list(q)]-t)**2).sum()<=o+1e-15 for q in itertools.permutations(range(4))]))"
        // → 0.041666666666666664 (1/24: only the identity)
        let p = prior_alignment_p(&[0.3, 0.26, 0.24, 0.2], &[0.4, 0.3, 0.2, 0.1], &id(4)).unwrap();
        assert!((p - 1.0 / 24.0).abs() < 1e-12, "{p}");
        // The matching decides which class each code's value lands on.
        let swapped = Matching { code_to_class: vec![Some(1), Some(0), Some(2)], accuracy: 1.0 };
        assert!((prior_alignment_p(&[0.3, 0.5, 0.2], &truth, &swapped).unwrap() - 1.0 / 6.0).abs() < 1e-12);
        assert!(prior_alignment_p(&[0.1; 11], &[0.1; 11], &id(11)).is_err());
    }
}
