//! A row of the ablation table: a method under one budget, its cells' metrics as mean and
//! population std; rows come in the presets' order (the paper's rows first).

use std::collections::BTreeSet;

use einfo_metrics::MeanStd;
use einfo_train::presets::NAMES;

use crate::collect::CellResult;

/// One row of the table: a method under one budget.
#[derive(Debug, Clone)]
pub struct Row {
    pub method: String,
    pub epochs: u64,
    pub max_steps: Option<u64>,
    pub cells: usize,
    pub splits: Vec<usize>,
    pub ent: MeanStd,
    pub nmi_geometric: MeanStd,
    pub nmi_arithmetic: MeanStd,
    pub prior_rmse: MeanStd,
    pub prior_rmse_sorted: MeanStd,
    pub real_cluster_accuracy: MeanStd,
    pub generated_accuracy: MeanStd,
}

/// Presets in the paper's order first, then anything else by name.
pub fn method_order(m: &str) -> (usize, String) {
    (NAMES.iter().position(|n| *n == m).unwrap_or(NAMES.len()), m.to_string())
}

fn ms(results: &[&CellResult], f: impl Fn(&CellResult) -> f64) -> MeanStd {
    MeanStd::of(&results.iter().map(|r| f(r)).collect::<Vec<_>>()).expect("a row has at least one cell")
}

/// Group evaluated cells into rows by (method, budget).
pub fn rows(results: &[CellResult]) -> Vec<Row> {
    let mut keys: Vec<(String, u64, Option<u64>)> = results
        .iter()
        .map(|r| (r.cell.method.clone(), r.report.config.train.epochs, r.report.config.train.max_steps))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    keys.sort_by_key(|(m, e, s)| (method_order(m), *e, *s));
    keys.into_iter()
        .map(|(method, epochs, max_steps)| {
            let rs: Vec<&CellResult> = results
                .iter()
                .filter(|r| r.cell.method == method && r.report.config.train.epochs == epochs && r.report.config.train.max_steps == max_steps)
                .collect();
            Row {
                cells: rs.len(),
                splits: rs.iter().map(|r| r.cell.split).collect::<BTreeSet<_>>().into_iter().collect(),
                ent: ms(&rs, |r| r.report.ent),
                nmi_geometric: ms(&rs, |r| r.report.nmi.geometric),
                nmi_arithmetic: ms(&rs, |r| r.report.nmi.arithmetic),
                prior_rmse: ms(&rs, |r| r.report.prior_rmse),
                prior_rmse_sorted: ms(&rs, crate::collect::sorted_rmse),
                real_cluster_accuracy: ms(&rs, |r| r.report.real_cluster_accuracy),
                generated_accuracy: ms(&rs, |r| r.report.generated_accuracy),
                method,
                epochs,
                max_steps,
            }
        })
        .collect()
}
