//! The paper's claim 1 decided per comparison: `elastic` against every paper baseline and
//! every control, on NMI, with a cell and a split as the unit. The family is fixed in advance
//! (the comparisons present among [`FAMILY`]), the p-values are the paired t-test's, Holm-
//! adjusted over the family, and each comparison is called "shown" (elastic better, adjusted
//! p < α), "refuted" (elastic worse, adjusted p < α) or "not told apart".

use std::fmt::Write as _;

use einfo_metrics::{holm, paired_t_p, Paired};

use crate::collect::CellResult;
use crate::row::Row;
use crate::stats::{fmt_p, p_is, unit_pairs, Unit, ALPHA, NMI};

/// The method whose claim is tested.
pub const CLAIMANT: &str = "elastic";

/// What `elastic` is compared with for claim 1: the paper's baselines, then the controls.
pub const FAMILY: &[&str] = &["uniform", "ground-truth", "ground-truth-trans", "gumbel", "gumbel-trans", "jointvae", "uniform-trans", "elastic-frozen-prior"];

/// One comparison `elastic − other` on NMI over one unit.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub other: String,
    pub unit: Unit,
    pub paired: Paired,
    /// `None` with a single pair (no test).
    pub t_p: Option<f64>,
    pub holm_p: Option<f64>,
}

impl Verdict {
    /// "shown", "refuted" or "not told apart".
    pub fn call(&self) -> &'static str {
        call(self.holm_p, self.paired.diff.mean)
    }
}

/// The verdict on a difference `mean` (positive: the first method better) with its adjusted
/// p: "shown", "refuted", "not told apart", or "no test (one pair)" without a p.
pub(crate) fn call(holm_p: Option<f64>, mean: f64) -> &'static str {
    match holm_p.map(|p| (p < ALPHA, mean > 0.0)) {
        None => "no test (one pair)",
        Some((true, true)) => "shown",
        Some((true, false)) => "refuted",
        Some(_) => "not told apart",
    }
}

/// `+d [lo, hi], p = … (Holm …)`: a paired difference with its interval, its t-test's p and
/// the adjusted p.
pub(crate) fn difference(paired: &Paired, t_p: f64, holm_p: f64) -> String {
    let d = &paired.diff;
    format!("{:+.3} [{:+.3}, {:+.3}], {} (Holm {})", d.mean, d.lo, d.hi, p_is(t_p), fmt_p(holm_p))
}

/// The verdicts of the family over `unit`, in [`FAMILY`] order (a comparison with a single
/// pair has no test and does not count towards the family's size).
pub fn verdicts(results: &[CellResult], rows: &[Row], unit: Unit) -> Vec<Verdict> {
    let Some(claimant) = rows.iter().find(|r| r.method == CLAIMANT) else { return vec![] };
    let mut v: Vec<(String, Paired, Option<f64>)> = Vec::new();
    for other in FAMILY {
        // elastic − other: pair the claimant's row with `other` as the reference.
        let pairs = unit_pairs(results, claimant, &NMI, other, unit);
        let Some(p) = Paired::of(&pairs, false) else { continue };
        v.push((other.to_string(), p, paired_t_p(&pairs.iter().map(|(a, b)| a - b).collect::<Vec<_>>())));
    }
    let adj = holm(&v.iter().map(|(_, _, t)| t.unwrap_or(f64::NAN)).collect::<Vec<_>>());
    v.into_iter().zip(adj).map(|((other, paired, t_p), h)| Verdict { other, unit, paired, t_p, holm_p: t_p.map(|_| h) }).collect()
}

/// The markdown section: one table, a row per comparison, both units side by side.
pub fn section(results: &[CellResult], rows: &[Row]) -> String {
    let (cells, splits) = (verdicts(results, rows, Unit::Cell), verdicts(results, rows, Unit::Split));
    let mut s = String::new();
    if cells.is_empty() {
        return s;
    }
    let _ = writeln!(s, "## Claim 1: `{CLAIMANT}` against each baseline and control (NMI)\n");
    let _ = writeln!(
        s,
        "Difference `{CLAIMANT}` − other on the same (split, seed) — and per split, seeds averaged first (the unit for a claim about new splits) — with its 95% interval, the paired t-test's p and its Holm adjustment over this family (the comparisons in this table, per unit). \
         **shown**: `{CLAIMANT}` better, adjusted p < {ALPHA}; **refuted**: worse, adjusted p < {ALPHA}; otherwise **not told apart** at this budget. The controls say what causes the gain: `uniform-trans` keeps only L_trans, `elastic-frozen-prior` everything but learning the prior.\n"
    );
    let _ =
        writeln!(s, "| {CLAIMANT} − | cells | per cell: Δ NMI [95%], t-test p (Holm-adjusted) | verdict | splits | per split: Δ NMI [95%], t-test p (Holm-adjusted) | verdict |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for c in &cells {
        let sp = splits.iter().find(|v| v.other == c.other);
        let fmt = |v: &Verdict| match (v.t_p, v.holm_p) {
            (Some(t), Some(h)) => difference(&v.paired, t, h),
            _ => format!("{:+.3} (one pair: no interval)", v.paired.diff.mean),
        };
        let (sn, st, sv) = sp.map_or(("-".to_string(), "-".to_string(), "-"), |v| (v.paired.diff.n.to_string(), fmt(v), v.call()));
        let _ = writeln!(s, "| `{}` | {} | {} | {} | {sn} | {st} | {sv} |", c.other, c.paired.diff.n, fmt(c), c.call());
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(diff: f64, holm_p: f64) -> Verdict {
        let paired = Paired::of(&[(diff, 0.0), (diff, 0.0)], false).unwrap();
        Verdict { other: "x".into(), unit: Unit::Cell, paired, t_p: Some(holm_p), holm_p: Some(holm_p) }
    }

    #[test]
    fn calls_follow_the_adjusted_p_and_the_sign() {
        assert_eq!(verdict(0.3, 0.01).call(), "shown");
        assert_eq!(verdict(-0.3, 0.01).call(), "refuted");
        assert_eq!(verdict(0.3, 0.05).call(), "not told apart", "α itself is not below α");
        assert_eq!(verdict(-0.3, 0.4).call(), "not told apart");
        let one = Verdict { t_p: None, holm_p: None, ..verdict(0.3, 0.01) };
        assert_eq!(one.call(), "no test (one pair)");
    }
}
