//! Statistics for comparing methods over cells (splits × seeds): a 95% Student-t interval
//! for a mean, and paired differences against a baseline on the same cells with their
//! interval, a win count and the exact two-sided sign test.

use serde::{Deserialize, Serialize};

/// `t_{0.975, df}` for df = 1..=30 (`scipy.stats.t.ppf(0.975, df)`, 6 decimals).
const T975: [f64; 30] = [
    12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450,
    2.119905, 2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272,
];

/// The two-sided 95% quantile of Student's t with `df` degrees of freedom: the table above
/// up to 30, then the Cornish–Fisher expansion around `z = 1.959964`
/// (`z + (z³ + z)/(4 df) + (5z⁵ + 16z³ + 3z)/(96 df²)`, within 1e-4 of SciPy from df 31).
pub fn t975(df: usize) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T975[df - 1]),
        _ => {
            let (z, d) = (1.959_964f64, df as f64);
            Some(z + (z.powi(3) + z) / (4.0 * d) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d))
        }
    }
}

/// A mean with its 95% t-interval `mean ± t975(n−1) · s / √n` (`s` the sample std).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanCi {
    pub mean: f64,
    /// Lower and upper ends; equal to the mean for a single value (no interval).
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
}

impl MeanCi {
    /// `None` for no values.
    pub fn of(values: &[f64]) -> Option<MeanCi> {
        if values.is_empty() {
            return None;
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let half = match t975(n - 1) {
            Some(t) => {
                let s = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
                t * s / (n as f64).sqrt()
            }
            None => 0.0,
        };
        Some(MeanCi { mean, lo: mean - half, hi: mean + half, n })
    }
}

impl std::fmt::Display for MeanCi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = f.precision().unwrap_or(3);
        if self.n < 2 {
            write!(f, "{:.p$}", self.mean)
        } else {
            write!(f, "{:.p$} [{:.p$}, {:.p$}]", self.mean, self.lo, self.hi)
        }
    }
}

/// Differences `method − baseline` over cells the two share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// The mean difference and its 95% interval.
    pub diff: MeanCi,
    /// Cells where the method is strictly better (lower when `lower_is_better`).
    pub wins: usize,
    /// Ties (equal values) count for neither side.
    pub ties: usize,
    /// Exact two-sided sign test of wins against losses (ties dropped).
    pub sign_p: f64,
}

impl Paired {
    /// From `(method, baseline)` pairs on the same cells; `None` for no pairs.
    pub fn of(pairs: &[(f64, f64)], lower_is_better: bool) -> Option<Paired> {
        // A pair with a missing (non-finite) value is left out, not counted as a loss.
        let d: Vec<f64> = pairs.iter().map(|(m, b)| m - b).filter(|d| d.is_finite()).collect();
        let diff = MeanCi::of(&d)?;
        let wins = d.iter().filter(|&&x| if lower_is_better { x < 0.0 } else { x > 0.0 }).count();
        let ties = d.iter().filter(|&&x| x == 0.0).count();
        let losses = d.len() - wins - ties;
        Some(Paired { diff, wins, ties, sign_p: sign_test(wins, losses) })
    }
}

/// Exact two-sided sign test: `min(1, 2 · P(X ≥ max(w, l)))`, `X ~ Binomial(w + l, ½)`.
pub fn sign_test(wins: usize, losses: usize) -> f64 {
    let n = wins + losses;
    if n == 0 {
        return 1.0;
    }
    let k = wins.max(losses);
    // Σ_{i=k}^{n} C(n, i) / 2^n, with the binomial coefficients built in floating point.
    let mut c = 1.0f64; // C(n, 0)
    let mut tail = 0.0;
    for i in 0..=n {
        if i >= k {
            tail += c;
        }
        c = c * (n - i) as f64 / (i + 1) as f64;
    }
    (2.0 * tail / 2f64.powi(n as i32)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_scipy() {
        // scipy.stats.t.ppf(0.975, [1, 3, 30, 40, 100]) = 12.706205, 3.182446, 2.042272,
        // 2.021075, 1.983972
        assert_eq!(t975(1), Some(12.706205));
        assert_eq!(t975(3), Some(3.182446));
        assert!((t975(40).unwrap() - 2.021075).abs() < 1e-4);
        assert!((t975(100).unwrap() - 1.983972).abs() < 1e-4);
        assert_eq!(t975(0), None);
    }

    #[test]
    fn mean_interval_reference() {
        // x = np.array([0.2, 0.5, 0.4, 0.9]); h = stats.t.ppf(0.975, 3) * x.std(ddof=1) / 2
        // x.mean() ∓ h = 0.5, 0.03155659, 0.96844341
        let m = MeanCi::of(&[0.2, 0.5, 0.4, 0.9]).unwrap();
        assert!((m.mean - 0.5).abs() < 1e-12 && (m.lo - 0.03155659).abs() < 1e-6 && (m.hi - 0.96844341).abs() < 1e-6, "{m:?}");
        let one = MeanCi::of(&[0.7]).unwrap();
        assert_eq!((one.lo, one.hi, format!("{one}")), (0.7, 0.7, "0.700".to_string()));
        assert!(MeanCi::of(&[]).is_none());
    }

    #[test]
    fn paired_wins_and_sign_test() {
        // scipy.stats.binomtest(8, 9).pvalue = 0.0390625; binomtest(9, 9) = 0.00390625
        assert!((sign_test(8, 1) - 0.0390625).abs() < 1e-12);
        assert!((sign_test(9, 0) - 0.00390625).abs() < 1e-12);
        assert_eq!(sign_test(0, 0), 1.0);
        assert_eq!(sign_test(3, 3), 1.0);
        // Higher is better: 2 wins, 1 tie, 1 loss.
        let p = Paired::of(&[(0.9, 0.5), (0.6, 0.4), (0.5, 0.5), (0.3, 0.4)], false).unwrap();
        assert_eq!((p.wins, p.ties), (2, 1));
        assert!((p.diff.mean - 0.125).abs() < 1e-12);
        // Lower is better flips the count.
        assert_eq!(Paired::of(&[(0.9, 0.5), (0.3, 0.4)], true).unwrap().wins, 1);
        assert!(Paired::of(&[], true).is_none());
        assert_eq!(Paired::of(&[(f64::NAN, 0.4), (0.3, 0.4)], true).unwrap().diff.n, 1, "a missing value is left out");
    }
}
