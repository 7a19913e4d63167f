//! When a run writes checkpoints: every `log.checkpoint_every` steps, at the end (unless
//! one was just written), and — fault injection for the launchers' tests — at
//! `EINFO_TEST_CRASH=<method>@<step>`, after which the process dies by SIGKILL.

use std::path::{Path, PathBuf};

use crate::checkpoint::{self, TrainState};

use crate::config::Config;
use crate::error::{Result, TrainError};
use crate::method::Method;
use crate::signal;

/// Where a run stands: steps done, and where to continue (epoch, batch within it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub step: u64,
    pub epoch: u64,
    pub batch_in_epoch: usize,
}

/// The checkpoint cadence of one run.
pub struct Checkpointer {
    run_dir: PathBuf,
    every: u64,
    keep: usize,
    crash_at: Option<u64>,
    last: Option<(u64, PathBuf)>,
    config: String,
}

impl Checkpointer {
    /// `restored`: the checkpoint the run continues from (the one that loaded, which need
    /// not be the newest on disk: a damaged newer one is replaced when its step comes again).
    pub fn new(run_dir: &Path, cfg: &Config, restored: Option<(u64, PathBuf)>) -> Result<Checkpointer> {
        Ok(Checkpointer {
            run_dir: run_dir.into(),
            every: cfg.log.checkpoint_every,
            keep: cfg.log.keep_checkpoints,
            crash_at: signal::crash_step(&cfg.method),
            last: restored,
            config: cfg.to_toml(),
        })
    }

    /// The newest checkpoint written (by this run or before it).
    pub fn last_path(&self) -> Option<PathBuf> {
        self.last.as_ref().map(|(_, p)| p.clone())
    }

    fn save(&mut self, method: &dyn Method, at: Position) -> Result<PathBuf> {
        if let Some(what) = method.non_finite()? {
            return Err(TrainError::NonFiniteState { step: at.step, what, kept: self.last_path() });
        }
        let (np, ap) = method.rng_positions();
        let state = TrainState {
            step: at.step,
            epoch: at.epoch,
            batch_in_epoch: at.batch_in_epoch,
            noise_pos: np.to_string(),
            augment_pos: ap.to_string(),
            optimiser_steps: vec![],
            prior: method.prior()?,
            files: Default::default(),
        };
        let dir = checkpoint::save(&self.run_dir, state, &self.config, self.keep, |dir| method.save(dir))?;
        self.last = Some((at.step, dir.clone()));
        Ok(dir)
    }

    /// After a step: a checkpoint when the cadence (or the injected crash) says so. `at`
    /// is where to continue, with a finished epoch already rolled over.
    pub fn after_step(&mut self, method: &dyn Method, at: Position) -> Result<()> {
        let crash = self.crash_at == Some(at.step);
        if at.step % self.every == 0 || crash {
            self.save(method, at)?;
            if crash {
                signal::crash();
            }
        }
        Ok(())
    }

    /// At the end of a run (finished or interrupted): the checkpoint of `at`.
    pub fn finish(&mut self, method: &dyn Method, at: Position) -> Result<PathBuf> {
        match &self.last {
            Some((s, p)) if *s == at.step => Ok(p.clone()),
            _ => self.save(method, at),
        }
    }
}
