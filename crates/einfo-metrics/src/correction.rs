//! Correction for multiple comparisons: Holm's step-down adjustment, which controls the
//! family-wise error rate (the chance of any false "shown" in the family) without assuming
//! the tests are independent.

/// Holm-adjusted p-values, in the input order: with the p-values sorted ascending,
/// `p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j))`. A NaN (no test) stays NaN and does
/// not count towards the family size `m`.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let m = order.len();
    let mut out = vec![f64::NAN; p.len()];
    let mut running: f64 = 0.0;
    for (j, &i) in order.iter().enumerate() {
        running = running.max(((m - j) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_matches_statsmodels() {
        // statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.005], method='holm')[1]
        // = [0.03, 0.06, 0.06, 0.02]
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        for (a, e) in adj.iter().zip([0.03, 0.06, 0.06, 0.02]) {
            assert!((a - e).abs() < 1e-12, "{adj:?}");
        }
        // A NaN is no test: the family has two members.
        let adj = holm(&[0.02, f64::NAN, 0.5]);
        assert!((adj[0] - 0.04).abs() < 1e-12 && adj[1].is_nan() && (adj[2] - 0.5).abs() < 1e-12);
        assert_eq!(holm(&[0.6, 0.7]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }
}
