//! ENT: the average entropy of the rows and columns of the count matrix.

use crate::count::{entropy_of_counts, CountMatrix};
use crate::error::Result;

/// `ENT(M) = (1 / (R + C)) (Σ_r H(M[r, ·]) + Σ_c H(M[·, c]))`, natural log, each row and
/// column normalised to sum 1. Lower is better: 0 is a one-to-one mapping between codes
/// and classes; `ln 10` a uniform 10 × 10 matrix.
///
/// **Empty rows and columns** (a class that no code ever produces, or a code never
/// sampled) have no distribution. They count as maximally uncertain, `ln n` for a vector of
/// length `n`: a class that no code captures is as bad as one spread over every code.
/// (Skipping them instead would reward collapse: every code producing the same digit
/// would score `ln 10 / 11 ≈ 0.21`.)
pub fn ent(m: &CountMatrix) -> Result<f64> {
    m.nonempty()?;
    let rows = (0..m.rows).map(|r| entropy_of_counts(m.row(r)).unwrap_or((m.cols as f64).ln()));
    let cols = (0..m.cols).map(|c| entropy_of_counts(&m.col(c)).unwrap_or((m.rows as f64).ln()));
    let all: Vec<f64> = rows.chain(cols).collect();
    Ok(all.iter().sum::<f64>() / all.len() as f64)
}
