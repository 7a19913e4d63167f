//! `einfo eval RUN_DIR`: the evaluation protocol of `method.md`.
//!
//! 1,000 images per code from the generator in eval mode (fresh seeded z, one-hot c),
//! classified by the committed LeNet → count matrix `M[code, digit]` → ENT, NMI (every
//! normalisation), Hungarian matching; RMSE between the prior re-ordered by the matching
//! and the split's true class frequencies; cluster accuracy of the model's code
//! (Q's argmax, or JointVAE's encoder) on the split's real images.

use std::path::{Path, PathBuf};

use einfo_data::{batch_of, DataOptions, DatasetKind};
use einfo_metrics::{cluster_accuracy, ent, hungarian, nmi, prior_rmse, CountMatrix, NmiNorm};
use einfo_models::to_nhwc;
use serde::{Deserialize, Serialize};

use crate::checkpoint;
use crate::classifier::{committed_path, Classifier};
use crate::config::{Config, ModelKind};
use crate::error::{Result, TrainError};
use crate::noise::NoiseSource;
use crate::run::{build_method, device_for, prepare_data, read_config};

/// Stream of the evaluation noise.
pub const EVAL_STREAM: u64 = 7777;

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub per_code: usize,
    pub seed: u64,
    /// Classifier weights (default: the committed one for the run's data set).
    pub classifier: Option<PathBuf>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions { per_code: 1000, seed: 0, classifier: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NmiReport {
    pub geometric: f64,
    pub arithmetic: f64,
    pub max: f64,
    pub min: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    pub method: String,
    pub step: u64,
    pub epoch: u64,
    pub split: String,
    pub split_seed: u64,
    pub split_indices_sha256: String,
    pub train_seed: u64,
    pub eval_seed: u64,
    pub per_code: usize,
    pub count_matrix: Vec<Vec<u64>>,
    pub ent: f64,
    pub nmi: NmiReport,
    /// Class matched to each code (Hungarian on the count matrix).
    pub code_to_class: Vec<Option<usize>>,
    /// Fraction of generated images whose predicted class is their code's matched class.
    pub generated_accuracy: f64,
    /// The model's prior over codes (learned, fixed, or for JointVAE the frequency of its
    /// inferred codes on the real images).
    pub prior: Vec<f64>,
    pub true_frequencies: Vec<f64>,
    pub prior_rmse: f64,
    /// Hungarian-matched accuracy of the model's code on the split's real images.
    pub real_cluster_accuracy: f64,
    pub classifier_path: String,
    pub classifier_sha256: String,
    pub git_commit: Option<String>,
    pub config: Config,
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Evaluate the newest checkpoint of a run and write `<run>/metrics.json`.
pub fn evaluate(run_dir: &Path, opts: &EvalOptions, data_opts: &DataOptions) -> Result<EvalReport> {
    let cfg = read_config(run_dir)?;
    let (_, ckpt) = checkpoint::latest(run_dir)?
        .ok_or_else(|| TrainError::Checkpoint { path: run_dir.into(), detail: "no checkpoint to evaluate: train or resume the run first".into() })?;
    let state = checkpoint::load_state(&ckpt)?;
    let device = device_for(&cfg.train.device)?;
    let (data, split) = prepare_data(&cfg, data_opts)?;
    let truth = split.frequencies();
    let mut method = build_method(&cfg, &truth, &device)?;
    method.load(&ckpt, &state.optimiser_steps)?;
    let kind: DatasetKind = cfg.data.dataset.parse()?;
    let cls_path = opts.classifier.clone().unwrap_or_else(|| committed_path(kind));
    let classifier = Classifier::load(&cls_path, None, &device)?;
    if opts.per_code == 0 {
        return Err(TrainError::Config("per_code must be at least 1".into()));
    }

    // Generated images → predicted classes.
    let k = method.num_codes();
    let mut noise = NoiseSource::new(opts.seed, EVAL_STREAM);
    let (mut codes, mut preds) = (Vec::new(), Vec::new());
    for code in 0..k as u32 {
        let mut left = opts.per_code;
        while left > 0 {
            let n = left.min(500);
            let z = noise.normal(n, method.noise_dim(), &device)?;
            let images = method.generate(&vec![code; n], &z)?;
            preds.extend(classifier.predict(&images)?.into_iter().map(|p| p as usize));
            codes.extend(std::iter::repeat_n(code as usize, n));
            left -= n;
        }
    }
    let m = CountMatrix::from_labels(&codes, &preds, k, 10)?;
    let matching = hungarian(&m)?;

    // Real images → the model's codes.
    let mut real_codes = Vec::with_capacity(split.len());
    for chunk in split.indices.chunks(500) {
        let b = batch_of(&data, chunk, &device)?;
        real_codes.extend(method.infer_codes(&to_nhwc(&b.images)?)?.into_iter().map(|c| c as usize));
    }
    let labels: Vec<usize> = split.indices.iter().map(|&i| data.labels[i as usize] as usize).collect();
    let real_acc = cluster_accuracy(&real_codes, &labels, k, data.num_classes)?;
    let prior = if cfg.model == ModelKind::Jointvae {
        let mut counts = vec![0.0; k];
        real_codes.iter().for_each(|&c| counts[c] += 1.0);
        counts.iter().map(|c| c / real_codes.len() as f64).collect()
    } else {
        method.prior()?
    };
    let rmse = prior_rmse(&prior, &truth, &matching)?;
    let n = |norm| nmi(&m, norm);
    let report = EvalReport {
        method: cfg.method.clone(),
        step: state.step,
        epoch: state.epoch,
        split: split.name.clone(),
        split_seed: split.seed,
        split_indices_sha256: split.indices_hash(),
        train_seed: cfg.train.seed,
        eval_seed: opts.seed,
        per_code: opts.per_code,
        count_matrix: m.to_rows(),
        ent: ent(&m)?,
        nmi: NmiReport { geometric: n(NmiNorm::Geometric)?, arithmetic: n(NmiNorm::Arithmetic)?, max: n(NmiNorm::Max)?, min: n(NmiNorm::Min)? },
        code_to_class: matching.code_to_class.clone(),
        generated_accuracy: matching.accuracy,
        prior,
        true_frequencies: truth,
        prior_rmse: rmse,
        real_cluster_accuracy: real_acc,
        classifier_path: cls_path.display().to_string(),
        classifier_sha256: classifier.sha256.clone(),
        git_commit: git_commit(),
        config: cfg,
    };
    let json = serde_json::to_string_pretty(&report).expect("report serialises");
    einfo_data::source::write_atomic(&run_dir.join("metrics.json"), json.as_bytes())?;
    Ok(report)
}
