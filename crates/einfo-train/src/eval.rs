//! `einfo eval RUN_DIR`: the evaluation protocol of `docs/method.md`.
//!
//! 1,000 images per code from the generator in eval mode (fresh seeded z, one-hot c),
//! classified by the committed LeNet → count matrix `M[code, digit]` → ENT, NMI (every
//! normalisation), Hungarian matching; RMSE between the prior re-ordered by the matching
//! and the split's true class frequencies; cluster accuracy of the model's code
//! (Q's argmax, or JointVAE's encoder) on the split's real images.
//!
//! [`measure`] is the protocol on a model in memory (the training loop calls it on its
//! schedule and appends a row to `eval.csv`, the run's convergence curve); [`evaluate`]
//! runs it on a run's newest checkpoint and writes `metrics.json`; [`report_planned`] writes
//! `metrics.json` from the loop's own measurement of the final step (a cell's, `einfo cell`).

use std::path::{Path, PathBuf};

use candle_core::Device;
use einfo_data::{batch_of, DataOptions, Dataset, DatasetKind, Split};
use einfo_metrics::{
    cluster_accuracy, ent, hungarian, nmi, prior_alignment_p, prior_log_cosine, prior_rmse, sorted_prior_rmse, CountMatrix, Matching, NmiNorm,
};
use einfo_models::to_nhwc;
use serde::{Deserialize, Serialize};

use crate::classifier::Classifier;
use crate::config::{Config, EvalConfig, ModelKind};
use crate::error::{Result, TrainError};
use crate::method::Method;
use crate::noise::NoiseSource;
use crate::plan::RunPlan;
use crate::setup::{build_method, load_run, prepare_data, restore_newest, LoadedRun};
use crate::signal::Stop;

/// Stream of the evaluation noise.
pub const EVAL_STREAM: u64 = 7777;

/// Overrides of a run's `[eval]` settings for `einfo eval`.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    pub per_code: Option<usize>,
    pub seed: Option<u64>,
    pub real_images: Option<usize>,
    /// Classifier weights (default: the committed one for the run's data set).
    pub classifier: Option<PathBuf>,
    /// Polled between batches (default: never).
    pub stop: Stop,
    /// Where messages go (a damaged checkpoint skipped).
    pub events: crate::events::Events,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NmiReport {
    pub geometric: f64,
    pub arithmetic: f64,
    pub max: f64,
    pub min: f64,
}

/// What one pass of the protocol measures on a model.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub count_matrix: CountMatrix,
    pub ent: f64,
    pub nmi: NmiReport,
    pub matching: Matching,
    /// The model's prior over codes (learned, fixed, or for JointVAE the frequency of its
    /// inferred codes on the real images).
    pub prior: Vec<f64>,
    pub prior_rmse: f64,
    /// RMSE between the sorted prior and the sorted true frequencies (mapping-free).
    pub prior_rmse_sorted: f64,
    /// Exact permutation p of the matched prior RMSE (`einfo_metrics::prior_alignment_p`);
    /// `None` when it cannot be computed (a class without a code).
    pub prior_alignment_p: Option<f64>,
    /// Cosine of the centred log prior to the centred log truth under the matching
    /// (`einfo_metrics::prior_log_cosine`); `None` when undefined (a uniform prior).
    pub prior_log_cosine: Option<f64>,
    pub real_cluster_accuracy: f64,
    /// The same with the BatchNorm statistics on the code's path re-estimated on the real
    /// images ([`Method::infer_codes_reestimated`]).
    pub real_cluster_accuracy_bn: f64,
    /// How many real images the cluster accuracy used.
    pub real_images: usize,
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
    /// RMSE between the sorted prior and the sorted true frequencies: the prior's shape,
    /// whichever code stands for which class (absent in reports written before it existed).
    #[serde(default)]
    pub prior_rmse_sorted: Option<f64>,
    /// Exact permutation p of the matched prior RMSE; absent when not computable or in
    /// reports written before it existed (the ablation tables recompute it from the prior).
    #[serde(default)]
    pub prior_alignment_p: Option<f64>,
    /// θ's direction against the truth's: cosine of the centred log prior and log truth
    /// under the matching; absent when undefined (uniform prior) or in older reports.
    #[serde(default)]
    pub prior_log_cosine: Option<f64>,
    /// Hungarian-matched accuracy of the model's code on the split's real images.
    pub real_cluster_accuracy: f64,
    /// The same with the BatchNorm statistics on the code's path (FE and Q) re-estimated on
    /// those real images, not collected in training (absent in reports written before it
    /// existed): in presets without real-image terms Q's own BatchNorm saw generated images only.
    #[serde(default)]
    pub real_cluster_accuracy_bn: Option<f64>,
    /// Real images used for it (all of the split unless `eval.real_images` limits it).
    #[serde(default)]
    pub real_images: usize,
    /// The classifier's weights, relative to the repository when they are the committed ones.
    pub classifier_path: String,
    pub classifier_sha256: String,
    pub git_commit: Option<String>,
    /// The CPU that ran this evaluation, and so the training segment before it: model name,
    /// vector tier and GEMM backend ([`crate::cpu_kind`]; a GPU run's arithmetic is the GPU's, see
    /// `config.train.device`); absent in reports written before it was recorded.
    #[serde(default)]
    pub cpu: Option<String>,
    pub config: Config,
}

/// The commit the results are produced at: `$EINFO_GIT_COMMIT` when a launcher pinned it
/// (it runs a copy of the binary built at that commit), else the working tree's `HEAD`,
/// with `-dirty` when tracked files differ from it.
pub fn git_commit() -> Option<String> {
    if let Ok(c) = std::env::var("EINFO_GIT_COMMIT") {
        return Some(c);
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git").args(args).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "HEAD"])?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// The evaluation classifier of a config's data set: the committed one (compiled into the
/// binary) unless `path` names another.
pub fn load_classifier(cfg: &Config, path: Option<&Path>, device: &Device) -> Result<Classifier> {
    let kind: DatasetKind = cfg.data.dataset.parse()?;
    match path {
        None => Classifier::committed(kind, device),
        Some(path) if !path.is_file() => Err(TrainError::Config(format!(
            "no evaluation classifier at {}: name a weights file (`einfo classifier train --dataset {kind} --out FILE` makes one), or leave --classifier out for the committed one",
            path.display()
        ))),
        Some(path) => Classifier::load(path, None, device),
    }
}

/// The split's real images the cluster accuracy uses: all, or an evenly strided subset.
fn real_subset(split: &Split, limit: usize) -> Vec<u32> {
    if limit == 0 || limit >= split.len() {
        return split.indices.clone();
    }
    (0..limit).map(|i| split.indices[i * split.len() / limit]).collect()
}

/// What the protocol measures a model against, and how to stop it.
pub struct Protocol<'a> {
    pub data: &'a Dataset,
    pub split: &'a Split,
    pub classifier: &'a Classifier,
    pub settings: &'a EvalConfig,
    pub device: &'a Device,
    /// Polled between batches: a requested stop ends the measurement with [`TrainError::Stopped`].
    pub stop: Stop,
}

/// The protocol on a model in memory (evaluation mode; touches none of the training RNGs).
pub fn measure(method: &dyn Method, model: ModelKind, p: &Protocol<'_>) -> Result<Measurement> {
    if p.settings.per_code == 0 {
        return Err(TrainError::Config("eval.per_code must be at least 1".into()));
    }
    let k = method.num_codes();
    let m = generated_counts(method, p)?;
    let matching = hungarian(&m)?;
    let real = real_codes(method, p)?;
    let (labels, classes) = (&real.labels, p.data.num_classes);
    let prior = if model == ModelKind::Jointvae {
        let mut counts = vec![0.0; k];
        real.codes.iter().for_each(|&c| counts[c] += 1.0);
        counts.iter().map(|c| c / real.codes.len() as f64).collect()
    } else {
        method.prior()?
    };
    let truth = p.split.frequencies();
    let finite = |v: einfo_metrics::Result<f64>| v.ok().filter(|v| v.is_finite());
    let n = |norm| nmi(&m, norm);
    Ok(Measurement {
        ent: ent(&m)?,
        nmi: NmiReport { geometric: n(NmiNorm::Geometric)?, arithmetic: n(NmiNorm::Arithmetic)?, max: n(NmiNorm::Max)?, min: n(NmiNorm::Min)? },
        prior_rmse: prior_rmse(&prior, &truth, &matching)?,
        prior_rmse_sorted: sorted_prior_rmse(&prior, &truth)?,
        prior_alignment_p: finite(prior_alignment_p(&prior, &truth, &matching)),
        prior_log_cosine: finite(prior_log_cosine(&prior, &truth, &matching)),
        real_cluster_accuracy: cluster_accuracy(&real.codes, labels, k, classes)?,
        real_cluster_accuracy_bn: cluster_accuracy(&real.codes_bn, labels, k, classes)?,
        real_images: labels.len(),
        count_matrix: m,
        matching,
        prior,
    })
}

/// Generated images → predicted classes: the count matrix `M[code, class]`.
fn generated_counts(method: &dyn Method, p: &Protocol<'_>) -> Result<CountMatrix> {
    let k = method.num_codes();
    let mut noise = NoiseSource::new(p.settings.seed, EVAL_STREAM);
    let (mut codes, mut preds) = (Vec::new(), Vec::new());
    for code in 0..k as u32 {
        let mut left = p.settings.per_code;
        while left > 0 {
            if p.stop.requested() {
                return Err(TrainError::Stopped);
            }
            let n = left.min(500);
            let z = noise.normal(n, method.noise_dim(), p.device)?;
            let images = method.generate(&vec![code; n], &z)?;
            preds.extend(p.classifier.predict(&images)?.into_iter().map(|p| p as usize));
            codes.extend(std::iter::repeat_n(code as usize, n));
            left -= n;
        }
    }
    Ok(CountMatrix::from_labels(&codes, &preds, k, 10)?)
}

/// The model's codes for the split's real images (those `eval.real_images` selects) with
/// the BatchNorm statistics training left, and with statistics re-estimated on them.
struct RealCodes {
    labels: Vec<usize>,
    codes: Vec<usize>,
    codes_bn: Vec<usize>,
}

fn real_codes(method: &dyn Method, p: &Protocol<'_>) -> Result<RealCodes> {
    let real = real_subset(p.split, p.settings.real_images);
    let mut batches = Vec::with_capacity(real.len().div_ceil(500));
    let mut codes = Vec::with_capacity(real.len());
    for chunk in real.chunks(500) {
        if p.stop.requested() {
            return Err(TrainError::Stopped);
        }
        let x = to_nhwc(&batch_of(p.data, chunk, p.device)?.images)?;
        codes.extend(method.infer_codes(&x)?.into_iter().map(|c| c as usize));
        batches.push(x);
    }
    let codes_bn = method.infer_codes_reestimated(&batches)?.into_iter().map(|c| c as usize).collect();
    let labels = real.iter().map(|&i| p.data.labels[i as usize] as usize).collect();
    Ok(RealCodes { labels, codes, codes_bn })
}

impl Measurement {
    /// This measurement as a point of the run's convergence curve (`eval.csv`).
    pub fn curve_point(&self, step: u64, epoch: u64) -> crate::curve::CurvePoint {
        crate::curve::CurvePoint {
            step,
            epoch,
            ent: self.ent,
            nmi_geometric: self.nmi.geometric,
            nmi_arithmetic: self.nmi.arithmetic,
            generated_accuracy: self.matching.accuracy,
            prior_rmse: self.prior_rmse,
            real_cluster_accuracy: self.real_cluster_accuracy,
            prior_rmse_sorted: Some(self.prior_rmse_sorted),
            real_cluster_accuracy_bn: Some(self.real_cluster_accuracy_bn),
            prior_alignment_p: self.prior_alignment_p,
            prior_log_cosine: self.prior_log_cosine,
        }
    }
}

/// Evaluate the newest checkpoint of a run: write `<run>/metrics.json` and add the point
/// to `<run>/eval.csv`.
pub fn evaluate(run_dir: &Path, opts: &EvalOptions, data_opts: &DataOptions) -> Result<EvalReport> {
    crate::setup::read_config(run_dir)?;
    let _lock = crate::run_dir::RunLock::acquire(run_dir)?;
    let run = load_run(run_dir, &opts.events)?;
    let (data, split) = prepare_data(&run.cfg, data_opts)?;
    report(run_dir, run, &data, &split, opts)
}

/// [`evaluate`] the run `plan` decided, once trained, on the plan's device and data (the
/// caller holds the run's lock).
pub fn evaluate_planned(plan: &RunPlan, opts: &EvalOptions) -> Result<EvalReport> {
    let mut method = build_method(&plan.cfg, &plan.split.frequencies(), &plan.device)?;
    let (checkpoint, state) = restore_newest(method.as_mut(), &plan.run_dir, &opts.events)?
        .ok_or_else(|| TrainError::Checkpoint { path: plan.run_dir.clone(), detail: "no checkpoint to evaluate".into() })?;
    let run = LoadedRun { cfg: plan.cfg.clone(), device: plan.device.clone(), method, checkpoint, state };
    report(&plan.run_dir, run, &plan.data, &plan.split, opts)
}

/// What the protocol measured of a run at one of its positions.
#[derive(Debug, Clone)]
pub struct MeasuredAt {
    pub step: u64,
    pub epoch: u64,
    pub measurement: Measurement,
}

/// `metrics.json` for the measurement the training loop made of the run's final step on
/// its schedule: the same protocol, `[eval]` settings and classifier as
/// [`evaluate_planned`] with default options, on the same weights (the final checkpoint holds
/// the model that was measured), so the cell does not measure it a second time.
pub fn report_planned(plan: &RunPlan, at: MeasuredAt) -> Result<EvalReport> {
    let classifier = load_classifier(&plan.cfg, None, &plan.device)?;
    write_report(&plan.run_dir, &plan.cfg, &plan.split, &plan.cfg.eval, &classifier, at)
}

/// Measure a loaded run, add the point to its `eval.csv` and write its `metrics.json`.
fn report(run_dir: &Path, run: LoadedRun, data: &Dataset, split: &Split, opts: &EvalOptions) -> Result<EvalReport> {
    let (cfg, state, device) = (run.cfg, run.state, run.device);
    let mut settings = cfg.eval.clone();
    settings.per_code = opts.per_code.unwrap_or(settings.per_code);
    settings.seed = opts.seed.unwrap_or(settings.seed);
    settings.real_images = opts.real_images.unwrap_or(settings.real_images);
    let classifier = load_classifier(&cfg, opts.classifier.as_deref(), &device)?;
    let m = measure(run.method.as_ref(), cfg.model, &Protocol { data, split, classifier: &classifier, settings: &settings, device: &device, stop: opts.stop })?;
    write_report(run_dir, &cfg, split, &settings, &classifier, MeasuredAt { step: state.step, epoch: state.epoch, measurement: m })
}

/// Add a measurement's point to the run's `eval.csv` (kept if the step has one) and write
/// its `metrics.json`: the one writer of that file.
fn write_report(run_dir: &Path, cfg: &Config, split: &Split, settings: &EvalConfig, classifier: &Classifier, at: MeasuredAt) -> Result<EvalReport> {
    let m = at.measurement;
    crate::curve::append(run_dir, &m.curve_point(at.step, at.epoch))?;
    let report = EvalReport {
        method: cfg.method.clone(),
        step: at.step,
        epoch: at.epoch,
        split: split.name.clone(),
        split_seed: split.seed,
        split_indices_sha256: split.indices_hash(),
        train_seed: cfg.train.seed,
        eval_seed: settings.seed,
        per_code: settings.per_code,
        count_matrix: m.count_matrix.to_rows(),
        ent: m.ent,
        nmi: m.nmi,
        code_to_class: m.matching.code_to_class.clone(),
        generated_accuracy: m.matching.accuracy,
        prior: m.prior,
        true_frequencies: split.frequencies(),
        prior_rmse: m.prior_rmse,
        prior_rmse_sorted: Some(m.prior_rmse_sorted),
        prior_alignment_p: m.prior_alignment_p,
        prior_log_cosine: m.prior_log_cosine,
        real_cluster_accuracy: m.real_cluster_accuracy,
        real_cluster_accuracy_bn: Some(m.real_cluster_accuracy_bn),
        real_images: m.real_images,
        classifier_path: classifier.recorded_path.clone(),
        classifier_sha256: classifier.sha256.clone(),
        git_commit: git_commit(),
        cpu: Some(crate::cpu_kind()),
        config: cfg.clone(),
    };
    let json = serde_json::to_string_pretty(&report).expect("report serialises");
    einfo_data::durable::write_atomic(&run_dir.join("metrics.json"), json.as_bytes())?;
    Ok(report)
}
