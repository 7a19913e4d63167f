//! The one configuration tree of a run. Every field is documented and has a default;
//! unknown fields are rejected. The defaults are the `elastic` method on MNIST split 1.
//! Presets (`experiments/presets/*.toml`) and `--set key=value` flags override fields.

use serde::{Deserialize, Serialize};

use einfo_models::{JointVaeNet, NetConfig};
use einfo_tensor::AugmentConfig as Transforms;

use crate::error::{Result, TrainError};

/// The full configuration of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Free-form name of the method (the preset's name), recorded in logs and tables.
    pub method: String,
    /// `infogan` (uniform, ground-truth and Gumbel priors, with or without L_trans / L_ent)
    /// or `jointvae`.
    pub model: ModelKind,
    pub data: DataConfig,
    pub net: NetConfig,
    pub prior: PriorConfig,
    pub losses: LossConfig,
    pub augment: AugmentConfig,
    pub optim: OptimConfig,
    pub train: LoopConfig,
    pub log: LogConfig,
    pub eval: EvalConfig,
    pub jointvae: JointVaeConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            method: "elastic".into(),
            model: ModelKind::Infogan,
            data: DataConfig::default(),
            net: NetConfig::default(),
            prior: PriorConfig::default(),
            losses: LossConfig::default(),
            augment: AugmentConfig::default(),
            optim: OptimConfig::default(),
            train: LoopConfig::default(),
            log: LogConfig::default(),
            eval: EvalConfig::default(),
            jointvae: JointVaeConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Infogan,
    Jointvae,
}

/// Which data a run trains on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// `mnist` or `fashion-mnist`.
    pub dataset: String,
    /// MNIST: one of the authors' 50 splits (1..=50). Other data sets: the split their
    /// recipe draws with this seed (one class at the smallest class size, the others
    /// ⌊U(0.1, 1) × that⌋; `einfo data show --generate --seed N` shows it). Ignored when
    /// `counts` is given.
    pub split: usize,
    /// Explicit per-class counts instead of a predefined split (any data set).
    pub counts: Option<Vec<usize>>,
    /// Seed of the split's draw (which images).
    pub split_seed: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig { dataset: "mnist".into(), split: 1, counts: None, split_seed: 0 }
    }
}

/// The prior over the categorical code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriorConfig {
    /// `uniform`, `ground-truth` (the split's true class frequencies) or `gumbel` (learnable).
    pub kind: PriorKind,
    /// Gumbel-Softmax temperature τ of the learnable prior.
    pub tau: f64,
    /// Feed G a straight-through one-hot sample instead of the soft sample.
    pub straight_through: bool,
    /// Learning rate of the prior logits; `None` uses `optim.lr_g` (the authors' setting).
    pub lr: Option<f64>,
    /// Temperature schedule: when set, τ decays exponentially from `tau` to `tau_final`
    /// over `tau_anneal_steps` generator steps, `τ_t = τ (τ_final / τ)^{min(t / T, 1)}`, then stays.
    pub tau_final: Option<f64>,
    /// Length `T` of the temperature schedule, in steps.
    pub tau_anneal_steps: u64,
    /// Extension (not in the paper): weight of `L_EM(θ) = −Σ_k sg(q̄_k) log softmax(θ)_k`,
    /// which trains θ towards Q's mean code posterior `q̄` on the batch's real images (the
    /// EM estimate of the class weights). 0 (the paper): θ learns only through G's input.
    pub em_weight: f64,
    /// What L_EM's target `q̄` averages over the batch's real images (both views): `soft`,
    /// Q's posteriors `Q(c|x)` (the EM M-step), or `hard`, one-hot `argmax_c Q(c|x)` (the
    /// classification-EM M-step: the frequencies of Q's clusters, which track the cluster
    /// sizes even while the posteriors are still soft).
    pub em_target: EmTarget,
}

/// The target of L_EM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmTarget {
    Soft,
    Hard,
}

impl Default for PriorConfig {
    fn default() -> Self {
        PriorConfig {
            kind: PriorKind::Gumbel,
            tau: 0.1,
            straight_through: false,
            lr: None,
            tau_final: None,
            tau_anneal_steps: 10_000,
            em_weight: 0.0,
            em_target: EmTarget::Soft,
        }
    }
}

impl PriorConfig {
    /// The Gumbel-Softmax temperature at generator step `t` (the schedule above).
    pub fn tau_at(&self, t: u64) -> f64 {
        match self.tau_final {
            Some(end) => {
                let frac = (t as f64 / self.tau_anneal_steps.max(1) as f64).min(1.0);
                self.tau * (end / self.tau).powf(frac)
            }
            None => self.tau,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriorKind {
    Uniform,
    GroundTruth,
    Gumbel,
}

/// Loss terms and their weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// λ1, weight of the info loss CE(Q(G(z, c)), argmax c).
    pub info_weight: f64,
    /// λ2, weight of L_trans (0 disables it and the augmentations).
    pub trans_weight: f64,
    /// Which L_trans: `kl` (paper v1, on Q's code posteriors) or `nt-xent` (the authors'
    /// released code, on Q's 128-d feature).
    pub trans: TransKind,
    /// Direction of the KL for `trans = "kl"`: `forward` KL(Q(c|x) ‖ Q(c|x')), `reverse`, `symmetric`.
    pub kl_direction: KlDirectionConfig,
    /// NT-Xent temperature for `trans = "nt-xent"`.
    pub nt_xent_temperature: f64,
    /// λ3, weight of L_ent (mean entropy of Q(c|x) and Q(c|x') on real images; 0 disables).
    pub ent_weight: f64,
    /// Extension (not in the paper): weight of `KL(q̄ ‖ sg(p))`, Q's mean code posterior on
    /// the batch's real images against the current prior (the counter-force of L_ent).
    pub marginal_weight: f64,
    /// Extension: when positive, the marginal term's weight falls linearly from
    /// `marginal_weight` to 0 over this many generator steps, `λ_m(t) = λ_m · max(0, 1 − t/T)`
    /// — it is needed while Q's clusters form and only holds the prior back once they have.
    /// 0: constant.
    pub marginal_decay_steps: u64,
    /// Extension (not in the paper): let L_trans, L_ent and the marginal term train the
    /// trunk FE too (its own Adam at `optim.lr_d`), so that Q's clustering of real images is
    /// not limited to features learnt for telling real from fake. `false` (the paper and the
    /// released code): the trunk learns from the discriminator loss only.
    pub real_terms_train_trunk: bool,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            info_weight: 1.0,
            trans_weight: 10.0,
            trans: TransKind::Kl,
            kl_direction: KlDirectionConfig::Forward,
            nt_xent_temperature: 1.0,
            ent_weight: 0.1,
            marginal_weight: 0.0,
            marginal_decay_steps: 0,
            real_terms_train_trunk: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransKind {
    Kl,
    NtXent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KlDirectionConfig {
    Forward,
    Reverse,
    Symmetric,
}

/// The identity-preserving transforms δ of L_trans (the authors' MNIST recipe by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    /// Largest rotation, whole degrees (uniform in ±this).
    pub max_rotation_deg: u32,
    /// Zoom range.
    pub zoom_min: f64,
    pub zoom_max: f64,
    /// Largest translation in pixels.
    pub max_translate_px: f64,
    /// Random horizontal flips (not for digits).
    pub hflip: bool,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        let a = Transforms::default();
        AugmentConfig { max_rotation_deg: a.max_rotation_deg, zoom_min: a.zoom_min, zoom_max: a.zoom_max, max_translate_px: a.max_translate_px, hflip: a.hflip }
    }
}

impl AugmentConfig {
    pub fn to_augment(&self) -> Transforms {
        Transforms {
            max_rotation_deg: self.max_rotation_deg,
            zoom_min: self.zoom_min,
            zoom_max: self.zoom_max,
            max_translate_px: self.max_translate_px,
            hflip: self.hflip,
        }
    }
}

/// Adam with PyTorch semantics (no weight decay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Learning rate of optimiser G ({G, Q, prior}).
    pub lr_g: f64,
    /// Learning rate of optimiser D ({trunk, D}).
    pub lr_d: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig { lr_g: 2e-4, lr_d: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 }
    }
}

/// The training budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopConfig {
    /// Epochs over the split (drop-last batches).
    pub epochs: u64,
    /// Stop after this many steps in total, if set (smoke tests, benchmarks).
    pub max_steps: Option<u64>,
    pub batch_size: usize,
    /// Seed of everything random in training: initial weights, batch order, noise, δ.
    pub seed: u64,
    /// `cpu`, `cuda` or `metal` (the GPU ones need the matching cargo feature).
    pub device: String,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig { epochs: 3, max_steps: None, batch_size: 64, seed: 0, device: "cpu".into() }
    }
}

/// Logging, sample grids and checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Write a CSV row of every loss term every this many steps.
    pub every_steps: u64,
    /// Write a checkpoint every this many steps (and always at the end).
    pub checkpoint_every: u64,
    /// How many checkpoints to keep (the newest).
    pub keep_checkpoints: usize,
    /// Columns (fixed z) of the per-epoch sample grid.
    pub grid_columns: usize,
    /// Labelled real images (an evenly strided subset of the split) on which every log row
    /// measures Q's clustering and the prior's distance to the truth — diagnostics computed
    /// from labels after the step, never fed to training (0: off).
    pub probe_images: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { every_steps: 50, checkpoint_every: 500, keep_checkpoints: 3, grid_columns: 10, probe_images: 1000 }
    }
}

/// The evaluation protocol of `docs/method.md`, run during training (the convergence curve in
/// `eval.csv`) and by `einfo eval` (`metrics.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Evaluate after every this many epochs of training (0: only at the end, by `einfo eval`).
    pub every_epochs: u64,
    /// Generated images per code classified by the evaluation LeNet.
    pub per_code: usize,
    /// Real images of the split for the cluster accuracy: at most this many, an evenly
    /// strided subset of the split (0: all of them).
    pub real_images: usize,
    /// Seed of the evaluation noise (independent of training: evaluating never changes a run).
    pub seed: u64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig { every_epochs: 1, per_code: 1000, real_images: 0, seed: 0 }
    }
}

/// JointVAE settings (Dupont 2018 for MNIST).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JointVaeConfig {
    pub net: JointVaeNet,
    /// Gumbel-Softmax temperature of the discrete latent.
    pub tau: f64,
    /// Adam learning rate (betas 0.9, 0.999).
    pub lr: f64,
    /// Capacities rise 0 → `cont_capacity` / `disc_capacity` nats over `capacity_iters`.
    pub cont_capacity: f64,
    pub disc_capacity: f64,
    pub capacity_iters: u64,
    /// γ.
    pub gamma: f64,
}

impl Default for JointVaeConfig {
    fn default() -> Self {
        JointVaeConfig { net: JointVaeNet::default(), tau: 0.67, lr: 5e-4, cont_capacity: 5.0, disc_capacity: 5.0, capacity_iters: 25_000, gamma: 30.0 }
    }
}

/// Largest batch a run accepts.
pub const MAX_BATCH: usize = 4096;
/// Largest epoch budget a run accepts (the paper trains 200).
pub const MAX_EPOCHS: u64 = 100_000;

impl Config {
    /// Check the config against the data it trains on: the networks' image size and
    /// channels must be the data set's.
    pub fn check_data(&self, data: &einfo_data::Dataset) -> Result<()> {
        if self.net.image_size != data.rows || data.rows != data.cols || self.net.channels != 1 {
            return Err(TrainError::Config(format!(
                "net.image_size = {} and net.channels = {} do not fit {} ({}×{} grey-scale images): use net.image_size = {} and net.channels = 1",
                self.net.image_size, self.net.channels, self.data.dataset, data.rows, data.cols, data.rows
            )));
        }
        Ok(())
    }

    /// Parse a TOML document (a preset or a run's `config.toml`).
    pub fn from_toml(text: &str, origin: &str) -> Result<Config> {
        let cfg: Config = toml::from_str(text).map_err(|e| TrainError::Config(format!("{origin}: {}", one_line(&e.to_string()))))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serialises")
    }

    /// Apply `key=value` overrides (dotted keys, TOML values; bare words are strings),
    /// e.g. `train.epochs=5`, `losses.trans=nt-xent`, `prior.lr=0.01`.
    pub fn with_overrides(&self, sets: &[String]) -> Result<Config> {
        let mut doc: toml::Value = toml::Value::try_from(self).map_err(|e| TrainError::Config(e.to_string()))?;
        for set in sets {
            let (key, raw) = set.split_once('=').ok_or_else(|| TrainError::Config(format!("override '{set}' is not key=value (e.g. train.epochs=5)")))?;
            let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(raw.to_string()));
            let mut node = &mut doc;
            let parts: Vec<&str> = key.split('.').collect();
            for (i, part) in parts.iter().enumerate() {
                let table = node.as_table_mut().ok_or_else(|| TrainError::Config(format!("override '{key}': '{}' is not a section", parts[..i].join("."))))?;
                if i + 1 == parts.len() {
                    table.insert(part.to_string(), value.clone());
                    break;
                }
                node = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
            }
        }
        let text = toml::to_string(&doc).map_err(|e| TrainError::Config(e.to_string()))?;
        Config::from_toml(&text, "--set overrides")
    }

    /// Reject values no run can use, with a message naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.train.batch_size < 2 {
            return bad(format!("train.batch_size = {}: BatchNorm needs at least 2", self.train.batch_size));
        }
        if self.train.batch_size > MAX_BATCH {
            return bad(format!("train.batch_size = {}: at most {MAX_BATCH} (a step keeps several whole-batch activations in memory)", self.train.batch_size));
        }
        if self.train.epochs == 0 && self.train.max_steps.is_none() {
            return bad("train.epochs = 0: give at least one epoch (or train.max_steps)".into());
        }
        if self.train.epochs > MAX_EPOCHS {
            return bad(format!("train.epochs = {}: at most {MAX_EPOCHS}", self.train.epochs));
        }
        if self.train.max_steps == Some(0) {
            return bad("train.max_steps = 0: train at least one step (or leave it unset)".into());
        }
        for (name, v) in [("optim.lr_g", self.optim.lr_g), ("optim.lr_d", self.optim.lr_d), ("prior.tau", self.prior.tau), ("jointvae.lr", self.jointvae.lr)] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(format!("{name} = {v}: must be a positive number"));
            }
        }
        if let Some(t) = self.prior.tau_final {
            if !(t > 0.0 && t.is_finite()) {
                return bad(format!("prior.tau_final = {t}: must be a positive number"));
            }
            if self.prior.tau_anneal_steps == 0 {
                return bad("prior.tau_anneal_steps = 0: give the schedule at least one step".into());
            }
        }
        if self.prior.em_weight > 0.0 && self.prior.kind != PriorKind::Gumbel {
            return bad("prior.em_weight > 0 trains the prior's logits: it needs prior.kind = \"gumbel\"".into());
        }
        if let Some(lr) = self.prior.lr {
            if !(lr > 0.0 && lr.is_finite()) {
                return bad(format!("prior.lr = {lr}: must be a positive number"));
            }
        }
        for (name, v) in [
            ("losses.info_weight", self.losses.info_weight),
            ("losses.trans_weight", self.losses.trans_weight),
            ("losses.ent_weight", self.losses.ent_weight),
            ("losses.marginal_weight", self.losses.marginal_weight),
            ("prior.em_weight", self.prior.em_weight),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(format!("{name} = {v}: must be a non-negative number"));
            }
        }
        if !(0.0..1.0).contains(&self.optim.beta1) || !(0.0..1.0).contains(&self.optim.beta2) {
            return bad("optim.beta1 and optim.beta2 must be in [0, 1)".into());
        }
        if self.log.every_steps == 0 || self.log.checkpoint_every == 0 || self.log.keep_checkpoints == 0 || self.log.grid_columns == 0 {
            return bad("log.every_steps, log.checkpoint_every, log.keep_checkpoints and log.grid_columns must be at least 1".into());
        }
        if self.eval.per_code == 0 {
            return bad("eval.per_code = 0: generate at least one image per code".into());
        }
        self.augment.to_augment().validate().map_err(|e| TrainError::Config(format!("augment: {}", e.to_string().lines().next().unwrap_or(""))))?;
        self.net.validate().map_err(|e| TrainError::Config(format!("net: {}", e.to_string().lines().next().unwrap_or(""))))?;
        Ok(())
    }

    /// Does the G step need real images and their transforms?
    pub fn uses_real_in_g_step(&self) -> bool {
        self.losses.trans_weight > 0.0 || self.losses.ent_weight > 0.0 || self.uses_real_marginal()
    }

    /// The marginal term's weight at generator step `t` (its decay schedule).
    pub fn marginal_weight_at(&self, t: u64) -> f64 {
        let l = &self.losses;
        if l.marginal_decay_steps == 0 {
            l.marginal_weight
        } else {
            l.marginal_weight * (1.0 - t as f64 / l.marginal_decay_steps as f64).max(0.0)
        }
    }

    /// Does the G step use Q's mean posterior on real images (the extension's terms)?
    pub fn uses_real_marginal(&self) -> bool {
        self.losses.marginal_weight > 0.0 || (self.prior.kind == PriorKind::Gumbel && self.prior.em_weight > 0.0)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let mut c = Config::default();
        // τ: 1 → 0.1 over 100 steps, exponentially: τ_50 = 1 · 0.1^0.5 = 0.31622777.
        c.prior.tau = 1.0;
        c.prior.tau_final = Some(0.1);
        c.prior.tau_anneal_steps = 100;
        assert!((c.prior.tau_at(0) - 1.0).abs() < 1e-12);
        assert!((c.prior.tau_at(50) - 0.31622777).abs() < 1e-8);
        assert!((c.prior.tau_at(100) - 0.1).abs() < 1e-12 && (c.prior.tau_at(1000) - 0.1).abs() < 1e-12);
        c.prior.tau_final = None;
        assert_eq!(c.prior.tau_at(50), 1.0);
        // λ_m: 2 → 0 linearly over 100 steps.
        c.losses.marginal_weight = 2.0;
        assert_eq!(c.marginal_weight_at(7), 2.0, "constant without a schedule");
        c.losses.marginal_decay_steps = 100;
        assert!((c.marginal_weight_at(25) - 1.5).abs() < 1e-12);
        assert_eq!(c.marginal_weight_at(100), 0.0);
        assert_eq!(c.marginal_weight_at(500), 0.0);
    }
}
