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
use crate::new_run::NewRun;
use crate::run_dir::{self, RunLock};
use crate::setup::{build_method, check_resumable, device_for, prepare_data, read_config, restore_newest, SplitRecord};
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

/// Everything that can be checked before a run directory is touched: the config, the
/// device, the data and split (loaded), and that a batch fits the split.
fn prepare(cfg: &Config, opts: &RunOptions) -> Result<(Dataset, Split)> {
    cfg.validate()?;
    device_for(&cfg.train.device)?;
    let (data, split) = prepare_data(cfg, &opts.data)?;
    einfo_data::Batcher::new(&data, &split.indices, cfg.train.batch_size, cfg.train.seed)?;
    cfg.check_data(&data)?;
    Ok((data, split))
}

/// Start a new run in `run_dir`. Nothing is created or removed before the config, device
/// and data have been checked; `--force` replaces only an einfo run directory (and never
/// one another einfo process is using), as a transaction ([`NewRun`]): the old run is kept
/// until the new one has written its first checkpoint, and restored if it fails before.
pub fn train(cfg: &Config, run_dir: &Path, opts: &RunOptions) -> Result<RunSummary> {
    let (data, split) = prepare(cfg, opts)?;
    crate::new_run::check_target(run_dir)?;
    // A directory holding only a lock file (a run killed as it started) counts as empty.
    let occupied = run_dir.exists() && std::fs::read_dir(run_dir).map_err(io_err(run_dir))?.filter_map(|e| e.ok()).any(|e| e.file_name() != run_dir::LOCK);
    if occupied && !opts.force {
        return Err(TrainError::RunExists(run_dir.into()));
    }
    let new = NewRun::begin(run_dir, occupied)?;
    let result = (|| {
        let _lock = RunLock::acquire(run_dir)?;
        write_text_atomic(&run_dir.join("config.toml"), &cfg.to_toml())?;
        run_on(cfg, run_dir, opts, &data, &split, false, Some(&new))
    })();
    let undo = if result.is_ok() { new.commit() } else { new.abort() };
    if let Some(line) = undo {
        eprintln!("einfo: {}: {line}", run_dir.display());
    }
    result
}

/// Continue a run from its newest checkpoint that loads; `overrides` may change the budget
/// (`train.epochs=10`, `train.max_steps=…`), the device, `log.*` and `eval.*` — nothing that
/// would make it another experiment — and are saved into its `config.toml` once checked.
pub fn resume(run_dir: &Path, overrides: &[String], opts: &RunOptions) -> Result<RunSummary> {
    let was = read_config(run_dir)?;
    let cfg = if overrides.is_empty() { was } else { was.with_overrides(overrides)? };
    resume_as(run_dir, &cfg, opts)
}

/// Continue a run under `cfg`, which may differ from the run's config only where a resume
/// may (see [`resume`]); `config.toml` becomes `cfg` once every check has passed.
pub fn resume_as(run_dir: &Path, cfg: &Config, opts: &RunOptions) -> Result<RunSummary> {
    let was = read_config(run_dir)?;
    let _lock = RunLock::acquire(run_dir)?;
    check_resumable(&was, cfg, run_dir, "its config.toml")?;
    let (data, split) = prepare(cfg, opts)?;
    run_on(cfg, run_dir, opts, &data, &split, true, None)
}

/// Train on data already loaded — from scratch, or (`resume`) from the run's newest
/// checkpoint that loads: the split record, the method, then [`Trainer::fit`]. The caller
/// holds the run directory's lock; `new`, a run being started, is committed at its first
/// checkpoint.
pub fn run_on(cfg: &Config, run_dir: &Path, opts: &RunOptions, data: &Dataset, split: &Split, resume: bool, new: Option<&NewRun>) -> Result<RunSummary> {
    let _lock = RunLock::acquire(run_dir)?;
    if resume {
        crate::setup::check_against_checkpoint(run_dir, cfg)?;
    }
    let removed = run_dir::clean_leftovers(run_dir)?;
    if !removed.is_empty() {
        let names: Vec<String> = removed.iter().map(|p| p.strip_prefix(run_dir).unwrap_or(p).display().to_string()).collect();
        eprintln!("einfo: {}: removed what interrupted writes left: {}", run_dir.display(), names.join(", "));
    }
    for aside in crate::new_run::stranded(run_dir) {
        eprintln!("einfo: {}: a run that `--force` replaced is kept at {} (the command stopped before the new run's first checkpoint): rename it back to restore it, or delete it", run_dir.display(), aside.display());
    }
    let device = device_for(&cfg.train.device)?;
    let record = SplitRecord::of(cfg, split);
    write_text_atomic(&run_dir.join("split.json"), &serde_json::to_string_pretty(&record).expect("serialises"))?;
    let mut method = build_method(cfg, &record.frequencies, &device)?;
    let mut start = Position { step: 0, epoch: 0, batch_in_epoch: 0 };
    let mut restored = None;
    if resume {
        if let Some((ckpt, st)) = restore_newest(method.as_mut(), run_dir)? {
            if let Some(text) = checkpoint::saved_config(&ckpt) {
                let saved = Config::from_toml(&text, &ckpt.join("config.toml").display().to_string())?;
                check_resumable(&saved, cfg, run_dir, &format!("the config its checkpoint {} was trained with", ckpt.display()))?;
            }
            let budget = crate::setup::total_steps(cfg, split.len());
            if budget < st.step {
                return Err(TrainError::ResumeChange(
                    run_dir.into(),
                    format!(
                        "the run is at step {}, past a budget of {budget} steps: give a larger budget (--epochs or --max-steps), or leave it as it is",
                        st.step
                    ),
                ));
            }
            start = Position { step: st.step, epoch: st.epoch, batch_in_epoch: st.batch_in_epoch };
            restored = Some((st.step, ckpt));
        }
        // Only now, every check passed: the budget (or logging) a resume changed.
        if read_config(run_dir)? != *cfg {
            write_text_atomic(&run_dir.join("config.toml"), &cfg.to_toml())?;
        }
    }
    Trainer { cfg, run_dir, data, split, device: &device, progress: opts.progress, restored, new }.fit(method.as_mut(), start)
}
