//! Starting and continuing runs. A run directory holds everything of one result:
//! `config.toml` (resolved, written before the first step), `split.json`, `log.csv`,
//! `grids/epoch-NNN.png`, `eval.csv` (the evaluation protocol every `eval.every_epochs`),
//! `samples.png`, `checkpoints/step-NNNNNNNN/`, and after `einfo eval`, `metrics.json`.

use std::path::{Path, PathBuf};

use einfo_data::{DataOptions, Dataset, Split};

use crate::checkpoint;
use crate::checkpointer::Position;
use crate::config::Config;
use crate::error::{io_err, Result, TrainError};
use crate::setup::{build_method, device_for, prepare_data, read_config, restore, SplitRecord};
use crate::trainer::Trainer;

/// How to run (not part of the result).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub data: DataOptions,
    /// Draw a progress bar (only shown on a terminal).
    pub progress: bool,
    /// Overwrite an existing run directory.
    pub force: bool,
}

/// What a finished (or interrupted) run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub steps: u64,
    pub interrupted: bool,
    pub checkpoint: PathBuf,
    pub grid: PathBuf,
    pub log: PathBuf,
    pub images_per_s: f64,
    pub prior: Vec<f64>,
}

fn write_text_atomic(path: &Path, text: &str) -> Result<()> {
    einfo_data::source::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Start a new run in `run_dir`.
pub fn train(cfg: &Config, run_dir: &Path, opts: &RunOptions) -> Result<RunSummary> {
    cfg.validate()?;
    if run_dir.exists() && std::fs::read_dir(run_dir).map_err(io_err(run_dir))?.next().is_some() {
        if !opts.force {
            return Err(TrainError::RunExists(run_dir.into()));
        }
        std::fs::remove_dir_all(run_dir).map_err(io_err(run_dir))?;
    }
    std::fs::create_dir_all(run_dir).map_err(io_err(run_dir))?;
    write_text_atomic(&run_dir.join("config.toml"), &cfg.to_toml())?;
    let (data, split) = prepare_data(cfg, &opts.data)?;
    run_on(cfg, run_dir, opts, &data, &split, None)
}

/// Continue a run from its newest checkpoint; `overrides` may raise the budget
/// (`train.epochs=10`, `train.max_steps=…`) and are saved into its `config.toml`.
pub fn resume(run_dir: &Path, overrides: &[String], opts: &RunOptions) -> Result<RunSummary> {
    let mut cfg = read_config(run_dir)?;
    if !overrides.is_empty() {
        cfg = cfg.with_overrides(overrides)?;
        write_text_atomic(&run_dir.join("config.toml"), &cfg.to_toml())?;
    }
    let start = checkpoint::latest(run_dir)?;
    let (data, split) = prepare_data(&cfg, &opts.data)?;
    run_on(&cfg, run_dir, opts, &data, &split, start.map(|(_, p)| p))
}

/// Train (or continue from `resume_from`) on data already loaded: the split record, the
/// method, then [`Trainer::fit`].
pub fn run_on(cfg: &Config, run_dir: &Path, opts: &RunOptions, data: &Dataset, split: &Split, resume_from: Option<PathBuf>) -> Result<RunSummary> {
    let device = device_for(&cfg.train.device)?;
    let record = SplitRecord::of(cfg, split);
    write_text_atomic(&run_dir.join("split.json"), &serde_json::to_string_pretty(&record).expect("serialises"))?;
    let mut method = build_method(cfg, &record.frequencies, &device)?;
    let start = match &resume_from {
        Some(ckpt) => {
            let st = restore(method.as_mut(), ckpt)?;
            Position { step: st.step, epoch: st.epoch, batch_in_epoch: st.batch_in_epoch }
        }
        None => Position { step: 0, epoch: 0, batch_in_epoch: 0 },
    };
    Trainer { cfg, run_dir, data, split, device: &device, progress: opts.progress }.fit(method.as_mut(), start)
}
