//! Starting and continuing runs. A run directory holds everything of one result:
//! `config.toml` (resolved, written before the first step), `split.json`, `log.csv`,
//! `grids/epoch-NNN.png`, `eval.csv` (the evaluation protocol every `eval.every_epochs`),
//! `samples.png`, `checkpoints/step-NNNNNNNN/`, and after `einfo eval`, `metrics.json`.

use std::path::Path;

use crate::checkpointer::Position;
use crate::config::Config;
use crate::error::{io_err, Result, TrainError};
use crate::events::Event;
use crate::new_run::NewRun;
pub use crate::plan::RunOptions;
use crate::plan::RunPlan;
use crate::run_dir::{self, RunLock};
use crate::setup::{build_method, check_resumable, read_config, restore_newest, SplitRecord};
pub use crate::trainer::RunSummary;
use crate::trainer::Trainer;

fn write_text_atomic(path: &Path, text: &str) -> Result<()> {
    einfo_data::durable::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Start a new run in `run_dir`. Nothing is created or removed before the config, device
/// and data have been checked ([`RunPlan::new`]); see [`train_planned`].
pub fn train(cfg: &Config, run_dir: &Path, opts: &RunOptions) -> Result<RunSummary> {
    train_planned(&RunPlan::new(cfg, run_dir, opts)?, None).map(|(summary, _)| summary)
}

/// Start the new run `plan` decided. `--force` (`plan.opts.force`) replaces only an einfo
/// run directory (and never one another einfo process is using), as a transaction
/// ([`NewRun`]): the old run is kept until the new one has written its first checkpoint,
/// and restored if it fails before. `held`: the caller's lock on the run directory, used
/// when the directory stays where it is (nothing to replace); otherwise the new directory is
/// locked here, and that lock is returned, still held, for what the caller does next.
pub fn train_planned(plan: &RunPlan, held: Option<&RunLock>) -> Result<(RunSummary, Option<RunLock>)> {
    let run_dir = plan.run_dir.as_path();
    crate::new_run::check_target(run_dir)?;
    // A directory holding only a lock file (a run killed as it started) counts as empty.
    let occupied = run_dir.exists() && std::fs::read_dir(run_dir).map_err(io_err(run_dir))?.filter_map(|e| e.ok()).any(|e| e.file_name() != run_dir::LOCK);
    if occupied && !plan.opts.force {
        return Err(TrainError::RunExists(run_dir.into()));
    }
    // Stopped while the plan was made (data fetched, device opened): nothing is replaced.
    if plan.opts.stop.requested() {
        return Err(TrainError::Stopped);
    }
    let new = NewRun::begin(run_dir, occupied)?;
    let result = (|| {
        let own = match held {
            Some(_) if !occupied => None,
            _ => Some(RunLock::acquire(run_dir)?),
        };
        let lock = own.as_ref().or(held).expect("a held lock or one of our own");
        write_text_atomic(&run_dir.join("config.toml"), &plan.cfg.to_toml())?;
        Ok((run_on(plan, lock, false, Some(&new))?, own))
    })();
    let undo = if result.is_ok() { new.commit() } else { new.abort() };
    if let Some(line) = undo {
        plan.opts.events.emit(Event::Replaced { run_dir: run_dir.into(), line });
    }
    result
}

/// Continue a run from its newest checkpoint that loads; `overrides` may change the budget
/// (`train.epochs=10`, `train.max_steps=…`), the device, `log.*` and `eval.*` — nothing that
/// would make it another experiment — and are saved into its `config.toml` once checked.
pub fn resume(run_dir: &Path, overrides: &[String], opts: &RunOptions) -> Result<RunSummary> {
    let was = read_config(run_dir)?;
    let cfg = if overrides.is_empty() { was.clone() } else { was.with_overrides(overrides)? };
    let lock = RunLock::acquire(run_dir)?;
    check_resumable(&was, &cfg, run_dir, "its config.toml")?;
    run_on(&RunPlan::new(&cfg, run_dir, opts)?, &lock, true, None)
}

/// Train as `plan` decided — from scratch, or (`resume`) from the run's newest checkpoint
/// that loads: the split record, the method, then [`Trainer::fit`]. `_lock` is the
/// caller's lock on the run directory; `new`, a run being started, is committed at its
/// first checkpoint. A resume's caller has checked that the plan's config may continue the
/// run's `config.toml`; here it is checked against the config the newest intact
/// checkpoint was trained with, before anything is loaded.
pub fn run_on(plan: &RunPlan, _lock: &RunLock, resume: bool, new: Option<&NewRun>) -> Result<RunSummary> {
    let (cfg, run_dir, split) = (&plan.cfg, plan.run_dir.as_path(), &plan.split);
    if resume {
        crate::setup::check_against_checkpoint(run_dir, cfg)?;
    }
    let removed = run_dir::clean_leftovers(run_dir)?;
    if !removed.is_empty() {
        let removed = removed.iter().map(|p| p.strip_prefix(run_dir).unwrap_or(p).display().to_string()).collect();
        plan.opts.events.emit(Event::Swept { run_dir: run_dir.into(), removed });
    }
    for aside in crate::new_run::stranded(run_dir) {
        plan.opts.events.emit(Event::Stranded { run_dir: run_dir.into(), aside });
    }
    let device = &plan.device;
    let record = SplitRecord::of(cfg, split);
    write_text_atomic(&run_dir.join("split.json"), &serde_json::to_string_pretty(&record).expect("serialises"))?;
    let mut method = build_method(cfg, &record.frequencies, device)?;
    let mut start = Position { step: 0, epoch: 0, batch_in_epoch: 0 };
    let mut restored = None;
    if resume {
        if let Some((ckpt, st)) = restore_newest(method.as_mut(), run_dir, &plan.opts.events)? {
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
    Trainer { cfg, run_dir, data: &plan.data, split, device, stop: plan.opts.stop, events: &plan.opts.events, restored, new }.fit(method.as_mut(), start)
}
