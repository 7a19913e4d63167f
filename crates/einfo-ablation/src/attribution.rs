//! Claim 1's gain taken apart (issue 23's attribution): the ladder `uniform` →
//! `uniform-trans` → `elastic-frozen-prior` → `elastic`, each rung adding one cause to the one
//! before — the transformation loss, then soft Gumbel-Softmax codes with the entropy term, then
//! learning θ. Every step is measured on the same (split, seed) cells — those where all four
//! rungs have a cell at the claimant's budget — so the steps add up to the whole gain; each is
//! paired, with its 95% interval, the paired t-test's p and its Holm adjustment over the three
//! steps, per cell and per split (seeds averaged first).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use einfo_metrics::{holm, paired_t_p, Paired};

use crate::claims::difference;
use crate::collect::CellResult;
use crate::row::Row;
use crate::stats::{mean_by_key, p_is, Unit, ALPHA};

/// The rungs, bottom to top, each with what it adds to the one below.
pub const LADDER: &[(&str, &str)] = &[
    ("uniform", "InfoGAN, uniform prior, one-hot codes"),
    ("uniform-trans", "+ L_trans (λ2 = 10)"),
    ("elastic-frozen-prior", "+ soft Gumbel-Softmax codes (τ = 0.1) and L_ent (λ3 = 0.1), θ frozen"),
    ("elastic", "+ learning θ"),
];

/// One step of the ladder (`upper − lower`), or the whole (`elastic − uniform`), over a unit.
#[derive(Debug, Clone)]
pub struct Step {
    pub upper: &'static str,
    pub lower: &'static str,
    pub paired: Paired,
    pub t_p: Option<f64>,
    /// Holm-adjusted over the three steps (`None` for the whole, which is not in the family).
    pub holm_p: Option<f64>,
}

/// NMI of every rung by (split, seed), from `(method, split, seed, NMI)` cells: only the
/// (split, seed) pairs where all rungs have a finite NMI (a repeated cell: the first, as in
/// the other tables' pairing).
fn common_cells<'a>(cells: impl IntoIterator<Item = (&'a str, usize, u64, f64)>) -> BTreeMap<(usize, u64), Vec<f64>> {
    let mut by_cell: BTreeMap<(usize, u64), Vec<Option<f64>>> = BTreeMap::new();
    for (method, split, seed, nmi) in cells {
        if let Some(i) = LADDER.iter().position(|(m, _)| *m == method) {
            by_cell.entry((split, seed)).or_insert_with(|| vec![None; LADDER.len()])[i].get_or_insert(nmi);
        }
    }
    by_cell.into_iter().filter_map(|(k, v)| v.into_iter().collect::<Option<Vec<f64>>>().filter(|v| v.iter().all(|x| x.is_finite())).map(|v| (k, v))).collect()
}

/// `(upper, lower)` NMI pairs for rungs `hi` and `lo` over `unit`.
fn pairs(cells: &BTreeMap<(usize, u64), Vec<f64>>, hi: usize, lo: usize, unit: Unit) -> Vec<(f64, f64)> {
    match unit {
        Unit::Cell => cells.values().map(|v| (v[hi], v[lo])).collect(),
        Unit::Split => mean_by_key(&cells.iter().map(|((split, _), v)| (*split, v[hi], v[lo])).collect::<Vec<_>>()),
    }
}

fn step(cells: &BTreeMap<(usize, u64), Vec<f64>>, hi: usize, lo: usize, unit: Unit) -> Option<Step> {
    let p = pairs(cells, hi, lo, unit);
    let diffs: Vec<f64> = p.iter().map(|(a, b)| a - b).collect();
    Some(Step { upper: LADDER[hi].0, lower: LADDER[lo].0, paired: Paired::of(&p, false)?, t_p: paired_t_p(&diffs), holm_p: None })
}

/// The three steps (Holm-adjusted over them) and then the whole, over `unit`, on the cells
/// where every rung has a cell at `row`'s budget; with the number of those cells.
pub fn ladder(results: &[CellResult], row: &Row, unit: Unit) -> (usize, Vec<Step>) {
    let at_budget = results.iter().filter(|r| r.report.config.train.epochs == row.epochs && r.report.config.train.max_steps == row.max_steps);
    let cells = common_cells(at_budget.map(|r| (r.cell.method.as_str(), r.cell.split, r.cell.seed, r.report.nmi.geometric)));
    (cells.len(), steps(&cells, unit))
}

fn steps(cells: &BTreeMap<(usize, u64), Vec<f64>>, unit: Unit) -> Vec<Step> {
    let mut steps: Vec<Step> = (1..LADDER.len()).filter_map(|i| step(cells, i, i - 1, unit)).collect();
    let adjusted = holm(&steps.iter().map(|s| s.t_p.unwrap_or(f64::NAN)).collect::<Vec<_>>());
    for (s, h) in steps.iter_mut().zip(adjusted) {
        s.holm_p = s.t_p.map(|_| h);
    }
    steps.extend(step(cells, LADDER.len() - 1, 0, unit));
    steps
}

/// The markdown section: a row per step, both units side by side.
pub fn section(results: &[CellResult], rows: &[Row]) -> String {
    let mut s = String::new();
    let Some(row) = rows.iter().find(|r| r.method == crate::claims::CLAIMANT) else { return s };
    let ((n, cells), (_, splits)) = (ladder(results, row, Unit::Cell), ladder(results, row, Unit::Split));
    if cells.len() < LADDER.len() {
        return s;
    }
    let _ = writeln!(s, "## Claim 1 taken apart: what each cause adds (NMI)\n");
    let rungs: Vec<String> = LADDER.iter().map(|(m, adds)| format!("`{m}` ({adds})")).collect();
    let _ = writeln!(
        s,
        "The ladder {}, each step paired on the same {n} (split, seed) cells — those where every rung has a cell — so the steps add up to the whole. \
         Holm over the ladder's steps, per unit; **shown** (adds), **refuted** (takes away) at adjusted p < {ALPHA}, otherwise **not told apart**. \
         This family was stated after the controls' seed-0 cells had been seen, so a verdict that rests on those cells is exploratory; \
         claim 1's family above holds the last step too (`{claimant}` − `elastic-frozen-prior`), adjusted over that larger family.\n",
        rungs.join(" → "),
        claimant = crate::claims::CLAIMANT
    );
    let _ = writeln!(
        s,
        "| step | cells | per cell: Δ NMI [95%], t-test p (Holm-adjusted) | verdict | splits | per split: Δ NMI [95%], t-test p (Holm-adjusted) | verdict |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for (c, sp) in cells.iter().zip(&splits) {
        let _ = writeln!(
            s,
            "| `{}` − `{}` | {} | {} | {} | {} | {} | {} |",
            c.upper,
            c.lower,
            c.paired.diff.n,
            fmt(c),
            call(c),
            sp.paired.diff.n,
            fmt(sp),
            call(sp)
        );
    }
    s.push('\n');
    s
}

fn fmt(v: &Step) -> String {
    let d = &v.paired.diff;
    match (v.t_p, v.holm_p) {
        (Some(t), Some(h)) => difference(&v.paired, t, h),
        (Some(t), None) => format!("{:+.3} [{:+.3}, {:+.3}], {} (the whole: not in the family)", d.mean, d.lo, d.hi, p_is(t)),
        _ => format!("{:+.3} (one pair: no interval)", d.mean),
    }
}

/// Claim 1's verdict rule; the whole, which is not in the family, gets none.
fn call(v: &Step) -> &'static str {
    match (v.t_p, v.holm_p) {
        (Some(_), None) => "-",
        (_, h) => crate::claims::call(h, v.paired.diff.mean),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five (split, seed) cells with every rung and one (split 3, seed 1) without `elastic`.
    fn cells() -> BTreeMap<(usize, u64), Vec<f64>> {
        let rungs = ["uniform", "uniform-trans", "elastic-frozen-prior", "elastic"];
        let table: [((usize, u64), &[f64]); 6] = [
            ((1, 0), &[0.40, 0.69, 0.74, 0.80]),
            ((1, 1), &[0.35, 0.60, 0.70, 0.72]),
            ((2, 0), &[0.15, 0.77, 0.59, 0.65]),
            ((2, 1), &[0.20, 0.55, 0.62, 0.70]),
            ((3, 0), &[0.23, 0.42, 0.64, 0.68]),
            ((3, 1), &[0.30, 0.50, 0.60]),
        ];
        let flat = table.iter().flat_map(|((split, seed), v)| v.iter().zip(rungs).map(move |(nmi, m)| (m, *split, *seed, *nmi)));
        common_cells(flat.chain([("gumbel", 1, 0, 0.5), ("elastic", 1, 0, 0.99)]))
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_cell_without_every_rung_is_left_out_and_other_methods_ignored() {
        let c = cells();
        assert_eq!(c[&(1, 0)], vec![0.40, 0.69, 0.74, 0.80], "a repeated cell: the first counts");
        assert_eq!(c.keys().copied().collect::<Vec<_>>(), vec![(1, 0), (1, 1), (2, 0), (2, 1), (3, 0)]);
        assert_eq!(c[&(2, 0)], vec![0.15, 0.77, 0.59, 0.65]);
    }

    #[test]
    fn steps_match_scipy_and_add_up_to_the_whole() {
        // Reference (SciPy 1.17): for each unit, rows = the cells (or each split's seeds
        // averaged), d = rows[:, i] - rows[:, i-1]; mean, d.mean() ∓ t.ppf(0.975, n-1)·sem,
        // ttest_1samp(d, 0).pvalue, Holm over the three steps' p by hand (sorted p times m,
        // m-1, m-2, cumulative max, capped at 1):
        //   cell:  0.340 [0.132601, 0.547399] p 0.0104051 Holm 0.0209621
        //          0.052 [-0.128661, 0.232661] p 0.468968 Holm 0.468968
        //          0.052 [0.0236857, 0.0803143] p 0.00698737 Holm 0.0209621
        //          whole 0.444 p 7.10001e-05
        //   split: 0.315 [-0.0639837, 0.693984] p 0.0700706 Holm 0.140141
        //          0.080 p 0.419873 Holm 0.419873;  0.050 p 0.0377496 Holm 0.113249
        //          whole 0.445 p 0.00555038
        let c = cells();
        let by_cell = steps(&c, Unit::Cell);
        let want = [
            (0.34, 0.132601, 0.547399, 0.0104051, 0.0209621),
            (0.052, -0.128661, 0.232661, 0.468968, 0.468968),
            (0.052, 0.0236857, 0.0803143, 0.00698737, 0.0209621),
        ];
        assert_eq!(by_cell.len(), 4);
        for (s, (mean, lo, hi, p, h)) in by_cell.iter().zip(want) {
            let d = &s.paired.diff;
            assert!(close(d.mean, mean) && (d.lo - lo).abs() < 1e-6 && (d.hi - hi).abs() < 1e-6, "{} − {}: {d:?}", s.upper, s.lower);
            assert!((s.t_p.unwrap() / p - 1.0).abs() < 1e-5 && (s.holm_p.unwrap() / h - 1.0).abs() < 1e-5, "{s:?}");
        }
        let whole = &by_cell[3];
        assert_eq!((whole.upper, whole.lower, whole.holm_p), ("elastic", "uniform", None));
        assert!((whole.t_p.unwrap() / 7.10001e-05 - 1.0).abs() < 1e-5);
        assert!(close(by_cell[..3].iter().map(|s| s.paired.diff.mean).sum::<f64>(), whole.paired.diff.mean), "the steps add up");

        let by_split = steps(&c, Unit::Split);
        assert_eq!(by_split.iter().map(|s| s.paired.diff.n).collect::<Vec<_>>(), vec![3; 4]);
        let want = [(0.315, 0.0700706, 0.140141), (0.080, 0.419873, 0.419873), (0.050, 0.0377496, 0.113249), (0.445, 0.00555038, f64::NAN)];
        for (s, (mean, p, h)) in by_split.iter().zip(want) {
            assert!(close(s.paired.diff.mean, mean) && (s.t_p.unwrap() / p - 1.0).abs() < 1e-5, "{s:?}");
            assert!(s.holm_p.is_none_or(|x| (x / h - 1.0).abs() < 1e-5), "{s:?}");
        }
        assert_eq!([call(&by_cell[0]), call(&by_cell[1]), call(&by_cell[2]), call(&by_cell[3])], ["shown", "not told apart", "shown", "-"]);
    }
}
