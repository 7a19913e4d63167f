//! Evaluation on a schedule during training: after every `eval.every_epochs` epochs the
//! protocol of [`crate::eval::measure`] runs on the model in memory and its point is
//! appended to `eval.csv`, the run's convergence curve. It uses its own noise stream and
//! the models in evaluation mode, so it never changes the run.

use std::path::{Path, PathBuf};

use candle_core::Device;

use crate::classifier::Classifier;
use crate::config::{Config, EvalConfig, ModelKind};
use crate::error::Result;
use crate::eval::{load_classifier, measure, Measurement, Protocol};
use crate::method::Method;

/// The in-training evaluation of one run.
pub struct EpochEval {
    classifier: Option<Classifier>,
    every: u64,
    settings: EvalConfig,
    model: ModelKind,
    run_dir: PathBuf,
}

/// What an evaluation during training measures against, lent by the loop.
pub struct Inputs<'a> {
    pub data: &'a einfo_data::Dataset,
    pub split: &'a einfo_data::Split,
    pub device: &'a Device,
    pub stop: crate::signal::Stop,
}

impl EpochEval {
    /// Loads the evaluation classifier when the schedule is on (`eval.every_epochs > 0`).
    pub fn new(cfg: &Config, run_dir: &Path, device: &Device) -> Result<EpochEval> {
        let classifier = if cfg.eval.every_epochs > 0 { Some(load_classifier(cfg, None, device)?) } else { None };
        Ok(EpochEval { classifier, every: cfg.eval.every_epochs, settings: cfg.eval.clone(), model: cfg.model, run_dir: run_dir.into() })
    }

    /// After finishing `epoch` (1-based) at `step`: measure if the schedule says so.
    pub fn after_epoch(&self, method: &dyn Method, run: &Inputs<'_>, epoch: u64, step: u64) -> Result<Option<Measurement>> {
        let Some(c) = self.classifier.as_ref().filter(|_| epoch % self.every == 0) else { return Ok(None) };
        let protocol = Protocol { data: run.data, split: run.split, classifier: c, settings: &self.settings, device: run.device, stop: run.stop };
        let m = measure(method, self.model, &protocol)?;
        crate::curve::append(&self.run_dir, &m.curve_point(step, epoch))?;
        Ok(Some(m))
    }
}
