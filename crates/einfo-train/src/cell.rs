//! One cell of an experiment matrix, run to completion idempotently: the unit both
//! ablation launchers (local processes, Slurm array tasks) execute, as `einfo cell`.
//!
//! Given a resolved config and a run directory:
//! - nothing there (or a directory killed before its first checkpoint): train from scratch;
//! - a run of the same config with checkpoints: resume it to the config's budget (a larger
//!   budget than the run had is allowed; every other field must match);
//! - a finished run with `metrics.json` for its final step: nothing to do.
//!
//! and then evaluate it (`metrics.json`, the last point of `eval.csv`).

use std::path::Path;

use crate::checkpoint;
use crate::config::Config;
use crate::error::{Result, TrainError};
use crate::eval::{evaluate_planned, report_planned, EvalOptions, EvalReport};
use crate::plan::RunPlan;
use crate::run::{run_on, train_planned, RunOptions};
use crate::run_dir::RunLock;
use crate::setup::{budget_steps, check_resumable, read_config};

/// How far a cell's run directory has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellState {
    /// No run there yet.
    Pending,
    /// Trained to `step` of `total` steps (a checkpoint exists), not evaluated at its budget.
    Partial { step: u64, total: u64 },
    /// Trained to its budget and evaluated.
    Finished { step: u64 },
}

/// The same experiment: the configs differ at most in what a resume may change.
fn same_experiment(a: &Config, b: &Config) -> bool {
    check_resumable(b, a, Path::new(""), "").is_ok()
}

/// Where the cell in `dir` stands for `cfg`'s budget.
pub fn cell_state(cfg: &Config, dir: &Path) -> Result<CellState> {
    if !dir.join("config.toml").is_file() {
        return Ok(CellState::Pending);
    }
    let total = budget_steps(cfg)?;
    let Some((step, _)) = checkpoint::latest(dir)? else { return Ok(CellState::Pending) };
    let metrics = std::fs::read_to_string(dir.join("metrics.json")).ok().and_then(|t| serde_json::from_str::<EvalReport>(&t).ok());
    match metrics {
        Some(m) if step == total && m.step == total && same_experiment(cfg, &m.config) => Ok(CellState::Finished { step }),
        _ => Ok(CellState::Partial { step, total }),
    }
}

/// What [`run_cell`] did.
#[derive(Debug, Clone)]
pub enum CellOutcome {
    /// Already finished: nothing was run.
    AlreadyFinished,
    /// Trained (from scratch or resumed from `from_step`) and evaluated.
    Ran { from_step: u64, report: Box<EvalReport> },
}

/// Train or resume the run in `dir` to `cfg`'s budget, then evaluate it. One plan
/// ([`RunPlan`]: the config validated, the device opened, the data loaded) and one lock
/// serve the whole command.
pub fn run_cell(cfg: &Config, dir: &Path, opts: &RunOptions) -> Result<CellOutcome> {
    let plan = RunPlan::new(cfg, dir, &RunOptions { force: true, ..opts.clone() })?;
    std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
    let lock = RunLock::acquire(dir)?;
    let state = cell_state(cfg, dir)?;
    if dir.join("config.toml").is_file() {
        let existing = read_config(dir)?;
        if !same_experiment(cfg, &existing) {
            return Err(TrainError::Config(format!("{} holds a run of a different configuration: remove it, or run this cell elsewhere", dir.display())));
        }
    }
    let from_step = match state {
        CellState::Finished { .. } => return Ok(CellOutcome::AlreadyFinished),
        CellState::Partial { step, .. } => step,
        CellState::Pending => 0,
    };
    // A partial run's config differs from the cell's at most in what a resume may change
    // (the budget; checked above): the cell's wins.
    // A run killed before its first checkpoint is replaced by a new directory at the same
    // path (the cell's lock goes with the old one): training locks the new one and keeps it
    // locked through the evaluation.
    let (summary, _new_lock) = if from_step > 0 { (run_on(&plan, &lock, true, None)?, None) } else { train_planned(&plan, Some(&lock))? };
    if summary.interrupted {
        return Err(TrainError::Interrupted(dir.into()));
    }
    // The schedule's evaluation of the final step is the cell's; a run whose final step had
    // none (no schedule, a budget off an epoch's end, a resume after it) is measured now.
    let report = match summary.final_eval {
        Some(at) => report_planned(&plan, *at)?,
        None => evaluate_planned(&plan, &EvalOptions { stop: opts.stop, events: opts.events.clone(), ..Default::default() })?,
    };
    Ok(CellOutcome::Ran { from_step, report: Box::new(report) })
}
