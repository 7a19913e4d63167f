//! One command's run, decided once. A [`RunPlan`] is built before anything on disk
//! changes — the config validated, the device opened, the data and split loaded and
//! checked against the config — and passed down to training, resuming and evaluation,
//! which use what it holds instead of deriving it again.
//!
//! [`crate::call_count`] counts, in debug builds, how often the steps a command should take
//! once were taken (plans built, devices opened, run locks requested), so a test can hold
//! every command to one of each.

use std::path::{Path, PathBuf};

use candle_core::Device;
use einfo_data::{DataOptions, Dataset, Split};

use crate::config::Config;
use crate::error::Result;
use crate::events::Events;
use crate::setup::{device_for, prepare_data};

/// How to run (not part of the result).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub data: DataOptions,
    /// Overwrite an existing run directory.
    pub force: bool,
    /// Polled between steps and evaluation batches (the binary's signal flag).
    pub stop: crate::signal::Stop,
    /// Where the run's messages go.
    pub events: Events,
}

/// A run as one command will carry it out.
pub struct RunPlan {
    /// The run's config, validated.
    pub cfg: Config,
    pub run_dir: PathBuf,
    /// The device named by `cfg.train.device`, opened.
    pub device: Device,
    /// The data set and the split `cfg` names, loaded.
    pub data: Dataset,
    pub split: Split,
    pub opts: RunOptions,
}

impl RunPlan {
    /// Check everything that can be checked before `run_dir` is touched: the config (first,
    /// before any data is fetched), the device, the data and split `cfg` names (loaded
    /// here), and that a batch fits the split.
    pub fn new(cfg: &Config, run_dir: &Path, opts: &RunOptions) -> Result<RunPlan> {
        cfg.validate()?;
        let (data, split) = prepare_data(cfg, &opts.data)?;
        Self::assemble(cfg, run_dir, opts, data, split)
    }

    /// [`RunPlan::new`] on data already loaded (a test's altered copy of a data set).
    pub fn on_data(cfg: &Config, run_dir: &Path, opts: &RunOptions, data: Dataset, split: Split) -> Result<RunPlan> {
        cfg.validate()?;
        Self::assemble(cfg, run_dir, opts, data, split)
    }

    fn assemble(cfg: &Config, run_dir: &Path, opts: &RunOptions, data: Dataset, split: Split) -> Result<RunPlan> {
        crate::call_count::record(crate::call_count::Step::Plan);
        let device = device_for(&cfg.train.device)?;
        einfo_data::Batcher::new(&data, &split.indices, cfg.train.batch_size, cfg.train.seed)?;
        cfg.check_data(&data)?;
        Ok(RunPlan { cfg: cfg.clone(), run_dir: run_dir.to_path_buf(), device, data, split, opts: opts.clone() })
    }
}
