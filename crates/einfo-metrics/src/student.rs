//! Student's t distribution for the paired t-test: the two-sided tail probability
//! `P(|T| ≥ t) = I_{ν/(ν+t²)}(ν/2, 1/2)`, through the regularised incomplete beta function
//! (continued fraction, modified Lentz) and `ln Γ` (Lanczos, g = 7, n = 9).

/// `ln Γ(x)` for `x > 0` (Lanczos; relative error below 1e-14 for the arguments used here).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let s = G[1..].iter().enumerate().fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

/// Continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    d = if d.abs() < TINY { TINY } else { d };
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        for aa in [m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))] {
            d = 1.0 + aa * d;
            d = if d.abs() < TINY { TINY } else { d };
            c = 1.0 + aa / c;
            c = if c.abs() < TINY { TINY } else { c };
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function `I_x(a, b)`.
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Two-sided tail `P(|T| ≥ |t|)` of Student's t with `df` degrees of freedom.
pub fn t_two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t)).clamp(0.0, 1.0)
}

/// The two-sided paired t-test of differences against 0 (`scipy.stats.ttest_1samp(d, 0)`):
/// `t = mean / (s / √n)`, `df = n − 1`. `None` for fewer than two differences; differences
/// that are all equal give p = 0 (all equal and non-zero) or 1 (all zero).
pub fn paired_t_p(diffs: &[f64]) -> Option<f64> {
    let n = diffs.len();
    if n < 2 {
        return None;
    }
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let s = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    if s == 0.0 {
        return Some(if mean == 0.0 { 1.0 } else { 0.0 });
    }
    Some(t_two_sided_p(mean / (s / (n as f64).sqrt()), (n - 1) as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_match_scipy() {
        // [2 * scipy.stats.t.sf(t, df) for t, df in [(2.0, 2), (3.5, 8), (0.3, 5), (10, 2), (1.96, 1000)]]
        // = [0.18350341907227397, 0.008079082260411886, 0.7762490422632745, 0.00985245702332569, 0.050273184955748736]
        let cases = [
            (2.0, 2.0, 0.18350341907227397),
            (3.5, 8.0, 0.008079082260411886),
            (0.3, 5.0, 0.7762490422632745),
            (10.0, 2.0, 0.00985245702332569),
            (1.96, 1000.0, 0.050273184955748736),
        ];
        for (t, df, p) in cases {
            let got = t_two_sided_p(t, df);
            assert!((got - p).abs() < 1e-10 * p.max(1e-3), "t = {t}, df = {df}: {got} vs {p}");
        }
        assert_eq!(t_two_sided_p(0.0, 4.0), 1.0);
        // math.lgamma(0.5), math.lgamma(10.3) = 0.5723649429247004, 13.48203678613836
        assert!((ln_gamma(0.5) - 0.5723649429247004).abs() < 1e-13);
        assert!((ln_gamma(10.3) - 13.48203678613836).abs() < 1e-12);
    }

    #[test]
    fn paired_t_test_matches_scipy() {
        // scipy.stats.ttest_1samp([0.41, 0.35, 0.52, 0.28, 0.44], 0).pvalue = 0.0005964803391441782
        let p = paired_t_p(&[0.41, 0.35, 0.52, 0.28, 0.44]).unwrap();
        assert!((p - 0.0005964803391441782).abs() < 1e-12, "{p}");
        // scipy.stats.ttest_1samp([0.1, -0.2, 0.05], 0).pvalue = 0.8740118423302576
        assert!((paired_t_p(&[0.1, -0.2, 0.05]).unwrap() - 0.8740118423302576).abs() < 1e-10);
        assert_eq!(paired_t_p(&[0.3]), None);
        assert_eq!(paired_t_p(&[0.2, 0.2]), Some(0.0));
        assert_eq!(paired_t_p(&[0.0, 0.0]), Some(1.0));
    }
}
