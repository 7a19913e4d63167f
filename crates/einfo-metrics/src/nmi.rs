//! Normalised mutual information between code and predicted class.

use serde::{Deserialize, Serialize};

use crate::count::{entropy_of_counts, CountMatrix};
use crate::error::Result;

/// How `I(U; V)` is normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NmiNorm {
    /// `√(H(U) H(V))`: the authors' environment (scikit-learn < 0.22); our default.
    #[default]
    Geometric,
    /// `(H(U) + H(V)) / 2`: scikit-learn's default since 0.22.
    Arithmetic,
    Max,
    Min,
}

impl NmiNorm {
    pub const ALL: [NmiNorm; 4] = [NmiNorm::Geometric, NmiNorm::Arithmetic, NmiNorm::Max, NmiNorm::Min];

    pub fn name(self) -> &'static str {
        match self {
            NmiNorm::Geometric => "geometric",
            NmiNorm::Arithmetic => "arithmetic",
            NmiNorm::Max => "max",
            NmiNorm::Min => "min",
        }
    }
}

/// Mutual information `I(U; V) = Σ_ij p_ij log(p_ij / (p_i· p_·j))` (nats) of the
/// joint distribution given by the count matrix.
pub fn mutual_information(m: &CountMatrix) -> Result<f64> {
    m.nonempty()?;
    let n = m.total() as f64;
    let row_sums: Vec<f64> = (0..m.rows).map(|r| m.row(r).iter().sum::<u64>() as f64).collect();
    let col_sums: Vec<f64> = (0..m.cols).map(|c| m.col(c).iter().sum::<u64>() as f64).collect();
    let mut mi = 0.0;
    for (r, rs) in row_sums.iter().enumerate() {
        for (c, cs) in col_sums.iter().enumerate() {
            let nij = m.get(r, c) as f64;
            if nij > 0.0 {
                mi += nij / n * (nij * n / (rs * cs)).ln();
            }
        }
    }
    Ok(mi.max(0.0))
}

/// `NMI = I(U; V) / norm(H(U), H(V))`, in `[0, 1]`. As in scikit-learn, two single-cluster
/// labellings score 1, and the normaliser is floored at machine epsilon.
pub fn nmi(m: &CountMatrix, norm: NmiNorm) -> Result<f64> {
    m.nonempty()?;
    let hu = entropy_of_counts(&(0..m.rows).map(|r| m.row(r).iter().sum()).collect::<Vec<u64>>()).unwrap_or(0.0);
    let hv = entropy_of_counts(&(0..m.cols).map(|c| m.col(c).iter().sum()).collect::<Vec<u64>>()).unwrap_or(0.0);
    if hu == 0.0 && hv == 0.0 {
        return Ok(1.0);
    }
    let d = match norm {
        NmiNorm::Geometric => (hu * hv).sqrt(),
        NmiNorm::Arithmetic => (hu + hv) / 2.0,
        NmiNorm::Max => hu.max(hv),
        NmiNorm::Min => hu.min(hv),
    };
    Ok((mutual_information(m)? / d.max(f64::EPSILON)).clamp(0.0, 1.0))
}
