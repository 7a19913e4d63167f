//! The sections of a run's configuration: data, prior, losses, transforms, optimiser,
//! budget, logging, evaluation, JointVAE. Every field is documented and has a default;
//! unknown fields are rejected.

use serde::{Deserialize, Serialize};

use einfo_models::JointVaeNet;

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
    /// `false`: the Gumbel prior's logits θ stay at their initial value (0, the uniform
    /// prior) — the same soft Gumbel-Softmax codes, nothing learned (the
    /// `elastic-frozen-prior` control). Only for `kind = "gumbel"`.
    pub learnable: bool,
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
            learnable: true,
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
    /// Extension (not in the paper): weight of the collapse floor
    /// `Σ_k max(0, ρ − q̄_k)² / ρ²` on Q's mean code posterior on real images — a counter-force
    /// to L_ent that only stops codes from emptying, without pulling Q's marginal towards the
    /// prior (`einfo_losses::collapse_floor`). 0 disables.
    pub floor_weight: f64,
    /// ρ, the share of the real images below which a code is pushed back up; in (0, 1/K].
    pub floor_share: f64,
    /// Extension (not in the paper): weight of self-labelling by optimal transport towards
    /// the prior — Q's posteriors on each view of the real batch, sharpened by ε and
    /// re-balanced by Sinkhorn–Knopp so that the codes share the batch in the prior's
    /// proportions, are the targets of the other view's posteriors
    /// (`einfo_losses::sinkhorn_loss`; SeLa / SwAV with a learned marginal). 0 disables.
    pub sinkhorn_weight: f64,
    /// ε of the transport: the posteriors are raised to 1/ε before it (ε < 1 sharpens);
    /// from 0.01 to 100.
    pub sinkhorn_epsilon: f64,
    /// Sinkhorn–Knopp rounds per batch, 1 to 100.
    pub sinkhorn_iters: usize,
    /// κ ∈ (0, 1], how hard the transport holds the codes' shares of the batch to the prior:
    /// 1 (balanced, SeLa) or below 1 (unbalanced: the column marginal becomes a KL penalty
    /// of strength κε / (1 − κ), so Q's own proportions survive in part and L_EM can learn
    /// them instead of the prior it started from).
    pub sinkhorn_column_power: f64,
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
            floor_weight: 0.0,
            floor_share: 0.01,
            sinkhorn_weight: 0.0,
            sinkhorn_epsilon: 0.1,
            sinkhorn_iters: 3,
            sinkhorn_column_power: 1.0,
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

/// The identity-preserving transforms δ of L_trans (the authors' MNIST recipe by default):
/// einfo-tensor's own settings, so that one struct says what a transform is.
pub use einfo_tensor::AugmentConfig;

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
