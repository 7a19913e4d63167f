//! The count matrix `M[code, predicted class]`.

use serde::{Deserialize, Serialize};

use crate::error::{MetricError, Result};

/// Counts of (code, class) pairs: `rows` codes × `cols` classes, row-major.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountMatrix {
    pub rows: usize,
    pub cols: usize,
    pub counts: Vec<u64>,
}

impl CountMatrix {
    /// From two label vectors of equal length: `codes[i] < rows`, `classes[i] < cols`.
    pub fn from_labels(codes: &[usize], classes: &[usize], rows: usize, cols: usize) -> Result<Self> {
        if codes.len() != classes.len() {
            return Err(MetricError::LengthMismatch { what: "codes and classes", a: codes.len(), b: classes.len() });
        }
        let mut m = CountMatrix { rows, cols, counts: vec![0; rows * cols] };
        for (&c, &k) in codes.iter().zip(classes) {
            if c >= rows {
                return Err(MetricError::LabelOutOfRange { what: "code", label: c, max: rows });
            }
            if k >= cols {
                return Err(MetricError::LabelOutOfRange { what: "class", label: k, max: cols });
            }
            m.counts[c * cols + k] += 1;
        }
        Ok(m)
    }

    /// From nested rows (tests, tables).
    pub fn from_rows(rows: &[Vec<u64>]) -> Result<Self> {
        let cols = rows.first().map_or(0, |r| r.len());
        if rows.is_empty() || cols == 0 {
            return Err(MetricError::Empty);
        }
        if let Some(r) = rows.iter().find(|r| r.len() != cols) {
            return Err(MetricError::LengthMismatch { what: "matrix rows", a: r.len(), b: cols });
        }
        Ok(CountMatrix { rows: rows.len(), cols, counts: rows.concat() })
    }

    pub fn get(&self, r: usize, c: usize) -> u64 {
        self.counts[r * self.cols + c]
    }

    pub fn row(&self, r: usize) -> &[u64] {
        &self.counts[r * self.cols..(r + 1) * self.cols]
    }

    pub fn col(&self, c: usize) -> Vec<u64> {
        (0..self.rows).map(|r| self.get(r, c)).collect()
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn to_rows(&self) -> Vec<Vec<u64>> {
        (0..self.rows).map(|r| self.row(r).to_vec()).collect()
    }

    /// The matrix with its rows reordered: row `i` of the result is row `perm[i]`.
    pub fn permute_rows(&self, perm: &[usize]) -> Self {
        let counts = perm.iter().flat_map(|&r| self.row(r).to_vec()).collect();
        CountMatrix { rows: self.rows, cols: self.cols, counts }
    }

    /// How many classes have a code of their own: the size of `{argmax_k M[c, k] : Σ_k M[c, k] > 0}`,
    /// the set of classes that are the most frequent class of some code (a code with no counts
    /// names none; a tie goes to the lowest class index). With as many codes as classes it is
    /// the number of classes exactly when each code stands for a different class; a code that
    /// merges two classes, or two codes that split one, lower it — and with them the matched
    /// prior RMSE pairs a code's weight with a class it does not generate.
    pub fn classes_covered(&self) -> usize {
        let mut covered = vec![false; self.cols];
        for r in (0..self.rows).map(|r| self.row(r)) {
            let most = r.iter().copied().max().unwrap_or(0);
            if most > 0 {
                // `position` finds the first maximum: ties go to the lowest class index.
                covered[r.iter().position(|&n| n == most).expect("the maximum is in the row")] = true;
            }
        }
        covered.iter().filter(|&&c| c).count()
    }

    pub(crate) fn nonempty(&self) -> Result<()> {
        if self.total() == 0 {
            return Err(MetricError::Empty);
        }
        Ok(())
    }
}

/// Shannon entropy (nats) of a vector of counts, `−Σ p log p` with `p = n / Σn`.
/// An all-zero vector has no distribution: callers decide what it means.
pub fn entropy_of_counts(counts: &[u64]) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let t = total as f64;
    Some(-counts.iter().filter(|&&n| n > 0).map(|&n| (n as f64 / t) * (n as f64 / t).ln()).sum::<f64>())
}
