//! Statistics of the table: per method, each metric's mean with its 95% interval over
//! cells; per method, the paired difference to each reference — the baseline (`uniform`)
//! and the paper's method (`elastic`) — on the cells the two share (same split, seed and
//! budget), with its interval, the number of cells it wins and the sign test; and how many
//! cells reach the benchmark targets.

use std::fmt::Write as _;

use einfo_metrics::{holm, paired_t_p, prior_alignment_p, CountMatrix, Matching, MeanCi, Paired};
use serde::Serialize;

use crate::collect::CellResult;
use crate::row::Row;

/// The method every other is compared with.
pub const BASELINE: &str = "uniform";

/// The methods every other is paired with, when present: the baseline, then the paper's
/// method (claim 1 compares it with every baseline; extensions are compared with it).
pub const REFERENCES: &[&str] = &[BASELINE, "elastic"];

/// A metric of a cell, and which way is better.
pub struct Metric {
    pub name: &'static str,
    pub lower_is_better: bool,
    pub value: fn(&CellResult) -> f64,
}

/// NMI (geometric), the headline metric.
pub const NMI: Metric = Metric { name: "NMI", lower_is_better: false, value: |r| r.report.nmi.geometric };

/// The metrics compared, in table order.
pub const METRICS: &[Metric] = &[
    Metric { name: "ENT", lower_is_better: true, value: |r| r.report.ent },
    NMI,
    Metric { name: "prior RMSE", lower_is_better: true, value: |r| r.report.prior_rmse },
    Metric { name: "sorted prior RMSE", lower_is_better: true, value: sorted_rmse },
    Metric { name: "cluster acc. (real)", lower_is_better: false, value: |r| r.report.real_cluster_accuracy },
    Metric { name: "cluster acc. (real, BN re-est.)", lower_is_better: false, value: |r| r.report.real_cluster_accuracy_bn.unwrap_or(f64::NAN) },
];

/// A metric's values over `row`'s cells, leaving out cells that lack it (NaN: evaluated
/// before the metric existed).
fn row_values(results: &[CellResult], row: &Row, metric: &Metric) -> Vec<f64> {
    results.iter().filter(|r| same_budget(r, row)).map(|r| (metric.value)(r)).filter(|v| !v.is_nan()).collect()
}

pub use crate::collect::sorted_rmse;

/// How many classes have a code of their own in a cell (its count matrix's
/// [`einfo_metrics::CountMatrix::classes_covered`]); NaN for a malformed matrix.
pub fn classes_covered(r: &CellResult) -> f64 {
    CountMatrix::from_rows(&r.report.count_matrix).map_or(f64::NAN, |m| m.classes_covered() as f64)
}

/// The exact permutation p of a cell's matched prior RMSE
/// ([`einfo_metrics::prior_alignment_p`]): how often a random assignment of its codes'
/// prior values to classes fits the truth as well; NaN when it cannot be computed.
pub fn alignment_p(r: &CellResult) -> f64 {
    let m = Matching { code_to_class: r.report.code_to_class.clone(), accuracy: r.report.generated_accuracy };
    prior_alignment_p(&r.report.prior, &r.report.true_frequencies, &m).unwrap_or(f64::NAN)
}

/// The significance level of a single test and of a Holm-corrected family.
pub const ALPHA: f64 = 0.05;

/// The benchmark targets of the learned prior (issue 13): prior RMSE ≤ 0.015, NMI ≥ 0.85,
/// cluster accuracy on real images ≥ 0.85.
pub const TARGETS: (f64, f64, f64) = (0.015, 0.85, 0.85);

fn same_budget(a: &CellResult, row: &Row) -> bool {
    a.cell.method == row.method && a.report.config.train.epochs == row.epochs && a.report.config.train.max_steps == row.max_steps
}

/// `(split, method, reference)` values of one metric over the cells both have.
fn keyed_pairs(results: &[CellResult], row: &Row, metric: &Metric, reference: &str) -> Vec<(usize, f64, f64)> {
    results
        .iter()
        .filter(|r| same_budget(r, row))
        .filter_map(|r| {
            let base = results.iter().find(|b| {
                b.cell.method == reference
                    && b.cell.split == r.cell.split
                    && b.cell.seed == r.cell.seed
                    && b.report.config.train.epochs == row.epochs
                    && b.report.config.train.max_steps == row.max_steps
            })?;
            Some((r.cell.split, (metric.value)(r), (metric.value)(base)))
        })
        .collect()
}

/// Pairs averaged within each key (a split), in key order: the seeds of one split share its
/// data, so a split — not a cell — is the independent unit of the conservative comparison.
pub(crate) fn mean_by_key<K: Ord + Copy>(pairs: &[(K, f64, f64)]) -> Vec<(f64, f64)> {
    let mut groups: std::collections::BTreeMap<K, (f64, f64, usize)> = std::collections::BTreeMap::new();
    for &(k, m, b) in pairs {
        let g = groups.entry(k).or_insert((0.0, 0.0, 0));
        *g = (g.0 + m, g.1 + b, g.2 + 1);
    }
    groups.into_values().map(|(m, b, n)| (m / n as f64, b / n as f64)).collect()
}

/// One row of `<name>/paired.csv`.
#[derive(Serialize)]
pub struct PairedCsv<'a> {
    pub method: &'a str,
    pub epochs: u64,
    pub metric: &'a str,
    pub cells: usize,
    pub mean: f64,
    pub ci_lo: f64,
    pub ci_hi: f64,
    /// The method the difference is taken against (empty: none, the row is the method's own).
    pub reference: &'static str,
    /// What the difference is paired over: `cell` (same split and seed) or `split` (each
    /// split's seeds averaged first); empty when there is no difference.
    pub unit: &'static str,
    pub diff: Option<f64>,
    pub diff_ci_lo: Option<f64>,
    pub diff_ci_hi: Option<f64>,
    /// Cells or splits paired (per `unit`).
    pub pairs: usize,
    pub wins: usize,
    pub sign_test_p: Option<f64>,
    /// Two-sided paired t-test of the differences (the test behind the interval).
    pub t_test_p: Option<f64>,
    /// `t_test_p` Holm-adjusted within its family: every method paired with the same
    /// reference on the same metric and unit.
    pub holm_p: Option<f64>,
}

/// The rows of `paired.csv`: every method × metric × reference it can be paired with × unit
/// (cell, then split); a method with no reference present gets one row without a difference.
pub fn paired_rows<'a>(results: &[CellResult], rows: &'a [Row]) -> Vec<PairedCsv<'a>> {
    let mut out = Vec::new();
    for row in rows {
        for m in METRICS {
            let vals = row_values(results, row, m);
            let Some(ci) = MeanCi::of(&vals) else { continue };
            let diffs: Vec<(&'static str, Option<(Unit, Paired)>)> = REFERENCES
                .iter()
                .filter(|&&reference| row.method != reference)
                .flat_map(|&reference| [Unit::Cell, Unit::Split].map(|unit| (reference, unit)))
                .filter_map(|(reference, unit)| paired(results, row, m, reference, unit).map(|p| (reference, Some((unit, p)))))
                .collect();
            let diffs = if diffs.is_empty() { vec![("", None)] } else { diffs };
            for (reference, d) in diffs {
                let p = d.map(|(_, p)| p);
                out.push(PairedCsv {
                    method: &row.method,
                    epochs: row.epochs,
                    metric: m.name,
                    cells: vals.len(),
                    mean: ci.mean,
                    ci_lo: ci.lo,
                    ci_hi: ci.hi,
                    reference,
                    unit: d.map_or("", |(unit, _)| unit.name()),
                    diff: p.map(|p| p.diff.mean),
                    diff_ci_lo: p.map(|p| p.diff.lo),
                    diff_ci_hi: p.map(|p| p.diff.hi),
                    pairs: p.map_or(0, |p| p.diff.n),
                    wins: p.map_or(0, |p| p.wins),
                    sign_test_p: p.map(|p| p.sign_p),
                    t_test_p: d.and_then(|(unit, _)| t_p(results, row, m, reference, unit)),
                    holm_p: None,
                });
            }
        }
    }
    adjust_families(&mut out);
    out
}

/// Holm within each family (reference, metric, unit) of `paired.csv`'s rows.
fn adjust_families(rows: &mut [PairedCsv<'_>]) {
    let mut families: std::collections::BTreeMap<(&str, &str, &str), Vec<usize>> = std::collections::BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.t_test_p.is_some() {
            families.entry((r.reference, r.metric, r.unit)).or_default().push(i);
        }
    }
    for idx in families.values() {
        let adj = holm(&idx.iter().map(|&i| rows[i].t_test_p.unwrap_or(f64::NAN)).collect::<Vec<_>>());
        for (&i, a) in idx.iter().zip(adj) {
            rows[i].holm_p = Some(a).filter(|a| !a.is_nan());
        }
    }
}

/// The paired t-test p of `row`'s method against `reference` in `metric`, over `unit`s.
fn t_p(results: &[CellResult], row: &Row, metric: &Metric, reference: &str, unit: Unit) -> Option<f64> {
    paired_t_p(&unit_pairs(results, row, metric, reference, unit).iter().map(|(m, b)| m - b).collect::<Vec<_>>())
}

/// Holm-adjusted t-test p of every row against `reference` in `metric` over `unit`s — the
/// family a claim about `reference` draws on — by method.
pub(crate) fn holm_family(results: &[CellResult], rows: &[Row], metric: &Metric, reference: &str, unit: Unit) -> Vec<(String, f64, f64)> {
    let tested: Vec<(&Row, f64)> = rows.iter().filter(|r| r.method != reference).filter_map(|r| Some((r, t_p(results, r, metric, reference, unit)?))).collect();
    let adj = holm(&tested.iter().map(|(_, p)| *p).collect::<Vec<_>>());
    tested.iter().zip(adj).map(|((r, p), a)| (r.method.clone(), *p, a)).collect()
}

/// What a paired difference is taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A (split, seed) cell.
    Cell,
    /// A split: the seeds of a split share its data, so the conservative reading averages
    /// each split's cells first and pairs over splits.
    Split,
}

impl Unit {
    /// The unit's name, as the tables and `paired.csv` write it.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Cell => "cell",
            Unit::Split => "split",
        }
    }
}

/// `(method, reference)` values of `metric` per cell, or per split (seeds averaged first).
pub(crate) fn unit_pairs(results: &[CellResult], row: &Row, metric: &Metric, reference: &str, unit: Unit) -> Vec<(f64, f64)> {
    // A pair with a missing value is left out before averaging, so it drops one seed, not its split.
    let keyed: Vec<_> = keyed_pairs(results, row, metric, reference).into_iter().filter(|(_, m, b)| m.is_finite() && b.is_finite()).collect();
    match unit {
        Unit::Cell => keyed.into_iter().map(|(_, m, b)| (m, b)).collect(),
        Unit::Split => mean_by_key(&keyed),
    }
}

/// The paired difference of `row`'s method to `reference` in `metric`, over `unit`s.
fn paired(results: &[CellResult], row: &Row, metric: &Metric, reference: &str, unit: Unit) -> Option<Paired> {
    Paired::of(&unit_pairs(results, row, metric, reference, unit), metric.lower_is_better)
}

/// NMI differences method − `reference`, one per `unit`, and their paired summary.
pub(crate) fn nmi_differences(results: &[CellResult], row: &Row, reference: &str, unit: Unit) -> Option<(Vec<f64>, Paired)> {
    let pairs = unit_pairs(results, row, &NMI, reference, unit);
    let p = Paired::of(&pairs, NMI.lower_is_better)?;
    Some((pairs.iter().map(|(m, b)| m - b).collect(), p))
}

/// The markdown section pairing every other method with `reference`, over cells or splits.
fn paired_section(s: &mut String, results: &[CellResult], rows: &[Row], reference: &str, unit: Unit) {
    match unit {
        Unit::Cell => {
            let _ = writeln!(s, "## Paired against `{reference}`\n");
            let _ = writeln!(
                s,
                "Difference method − {reference} on the same (split, seed), mean [95% interval], then the cells where the method is better than {reference} / cells paired, the two-sided sign test's p, and the paired t-test's p (the test behind the interval) with its Holm adjustment over the family of this column: every method paired with {reference} on this metric and unit. \
                 A difference is shown at this budget when its Holm-adjusted p is below {ALPHA} (then its interval excludes 0 too); otherwise it is not shown.\n"
            );
        }
        Unit::Split => {
            let _ = writeln!(s, "## Paired against `{reference}` per split (seeds averaged first)\n");
            let _ = writeln!(
                s,
                "The seeds of one split share its data, so here a split, not a cell, is the unit: on each split the method's and {reference}'s values are averaged over the seeds both have, then the per-split differences get a 95% Student-t interval, a win count over splits and the sign test. \
                 Fewer units than cells, so usually (not always) wider intervals, and with k splits the sign test cannot go below p = 2 / 2^k (0.25 for three); where every split has one seed this table repeats the per-cell one. \
                 The t-test and its Holm adjustment are taken over splits too: a difference shown here (adjusted p < {ALPHA}) holds across splits, not only across seeds.\n"
            );
        }
    }
    let units = unit.name();
    let families: Vec<Vec<(String, f64, f64)>> = METRICS.iter().map(|m| holm_family(results, rows, m, reference, unit)).collect();
    let _ = writeln!(s, "| method | {} |", METRICS.iter().map(|m| format!("Δ {}", m.name)).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(METRICS.len()));
    for row in rows.iter().filter(|r| r.method != reference) {
        let cols: Vec<String> = METRICS
            .iter()
            .zip(&families)
            .map(|(m, fam)| match paired(results, row, m, reference, unit) {
                Some(p) if p.diff.n < 2 => format!("{:+.3} (one {units}: no interval), better on {}/1", p.diff.mean, p.wins),
                Some(p) => {
                    let t = fam
                        .iter()
                        .find(|(name, _, _)| *name == row.method)
                        .map_or(String::new(), |(_, t, h)| format!(", t-test {} (Holm {})", p_is(*t), fmt_p(*h)));
                    format!(
                        "{:+.3} [{:+.3}, {:+.3}], better on {}/{} {units}s, sign p = {:.3}{t}",
                        p.diff.mean, p.diff.lo, p.diff.hi, p.wins, p.diff.n, p.sign_p
                    )
                }
                None => "-".into(),
            })
            .collect();
        let _ = writeln!(s, "| {} ({} ep.) | {} |", row.method, row.epochs, cols.join(" | "));
    }
    s.push('\n');
}

/// A p-value as the tables print it: 3 decimals, or "< 0.001".
pub fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// "p = 0.004", or "p < 0.001".
pub fn p_is(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else {
        format!("p = {p:.3}")
    }
}

/// The references of [`REFERENCES`] that have a row, in that order.
pub(crate) fn references_present(rows: &[Row]) -> Vec<&'static str> {
    REFERENCES.iter().copied().filter(|r| rows.iter().any(|row| row.method == *r)).collect()
}

/// The markdown sections: intervals, paired differences (per cell, then per split), targets.
pub fn markdown(results: &[CellResult], rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## 95% intervals over cells\n");
    let _ = writeln!(
        s,
        "Mean [95% Student-t interval] over each method's cells (cells are the unit: splits × seeds). The seeds of one split share its data, so cells are not fully independent draws and these intervals may be narrower than the spread over new splits; the per-split pairings below show that spread.\n"
    );
    let _ = writeln!(s, "| method | budget | cells | {} |", METRICS.iter().map(|m| m.name).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(s, "|---|---|---|{}", "---|".repeat(METRICS.len()));
    for row in rows {
        let cols: Vec<String> = METRICS
            .iter()
            .map(|m| {
                let vals = row_values(results, row, m);
                MeanCi::of(&vals).map_or("-".into(), |c| match vals.len() {
                    n if n == row.cells => format!("{c:.3}"),
                    1 => format!("{c:.3} (1 cell)"),
                    n => format!("{c:.3} ({n} cells)"),
                })
            })
            .collect();
        let _ = writeln!(s, "| {} | {} ep. | {} | {} |", row.method, row.epochs, row.cells, cols.join(" | "));
    }
    s.push('\n');
    let references = references_present(rows);
    for unit in [Unit::Cell, Unit::Split] {
        for reference in &references {
            paired_section(&mut s, results, rows, reference, unit);
        }
    }
    targets_section(&mut s, results, rows);
    s
}

/// The section counting the cells that reach the learned-prior targets, and the classes
/// with a code and the aligned priors behind them.
fn targets_section(s: &mut String, results: &[CellResult], rows: &[Row]) {
    let (rmse, nmi, acc) = TARGETS;
    let _ = writeln!(s, "## Cells reaching the learned-prior targets\n");
    let _ = writeln!(s, "Targets: prior RMSE ≤ {rmse}, NMI ≥ {nmi}, cluster accuracy on real images ≥ {acc}, and, per reference method present, NMI above its NMI on the same (split, seed). \"Classes with a code\": how many classes are the most frequent class of some code (mean over cells; \"all\": cells where every class has one) — a code that merges two classes or two codes that split one lower it, and a matched prior RMSE near 0 needs it to be all. \"Prior aligned\": cells whose matched prior fits the truth better than all but 5% of the 10! assignments of its values to classes (the exact permutation test of the matched RMSE; a uniform prior has p = 1) — evidence that the prior learned *which* class is frequent. The sorted prior RMSE is descriptive only: a random prior that travels as far scores as well.\n");
    let references = references_present(rows);
    let beat_heads: String = references.iter().map(|r| format!(" NMI > {r} |")).collect();
    let _ = writeln!(
        s,
        "| method | budget | cells | prior RMSE ≤ {rmse} | NMI ≥ {nmi} | cluster acc. ≥ {acc} | all three |{beat_heads} classes with a code | all | prior aligned (perm. p < {ALPHA}) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|{}---|---|---|", "---|".repeat(references.len()));
    for row in rows {
        let rs: Vec<&CellResult> = results.iter().filter(|r| same_budget(r, row)).collect();
        let count = |f: &dyn Fn(&CellResult) -> bool| rs.iter().filter(|r| f(r)).count();
        let a = count(&|r| r.report.prior_rmse <= rmse);
        let b = count(&|r| r.report.nmi.geometric >= nmi);
        let c = count(&|r| r.report.real_cluster_accuracy >= acc);
        let all = count(&|r| r.report.prior_rmse <= rmse && r.report.nmi.geometric >= nmi && r.report.real_cluster_accuracy >= acc);
        let beat: String = references.iter().map(|&reference| format!(" {} |", beats(results, row, reference))).collect();
        let n = rs.len();
        let covered: Vec<f64> = rs.iter().map(|r| classes_covered(r)).collect();
        let classes = rs.first().map_or(0, |r| r.report.true_frequencies.len()) as f64;
        let every = covered.iter().filter(|&&k| k == classes).count();
        let mean = covered.iter().sum::<f64>() / n as f64;
        let aligned = rs.iter().filter(|r| alignment_p(r) < ALPHA).count();
        let _ = writeln!(
            s,
            "| {} | {} ep. | {n} | {a}/{n} | {b}/{n} | {c}/{n} | {all}/{n} |{beat} {mean:.1} of {classes} | {every}/{n} | {aligned}/{n} |",
            row.method, row.epochs
        );
    }
    s.push('\n');
}

/// "k/n": the row's cells whose NMI beats `reference`'s on the same (split, seed), of the
/// cells both have; "-" for the reference's own row.
fn beats(results: &[CellResult], row: &Row, reference: &str) -> String {
    if row.method == reference {
        return "-".into();
    }
    let p = keyed_pairs(results, row, &NMI, reference);
    format!("{}/{}", p.iter().filter(|(_, m, b)| m > b).count(), p.len())
}

#[cfg(test)]
mod tests {
    use super::mean_by_key;

    #[test]
    fn pairs_are_averaged_within_each_split_in_split_order() {
        // Split 2 listed first; split 1 has two seeds: ((1 + 3) / 2, (0 + 1) / 2) = (2, 0.5).
        let pairs = [(2, 5.0, 2.0), (1, 1.0, 0.0), (1, 3.0, 1.0)];
        assert_eq!(mean_by_key(&pairs), vec![(2.0, 0.5), (5.0, 2.0)]);
        assert!(mean_by_key::<usize>(&[]).is_empty());
    }
}
