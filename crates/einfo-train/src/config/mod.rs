//! The one configuration tree of a run. Every field is documented and has a default;
//! unknown fields are rejected. The defaults are the `elastic` method on MNIST split 1.
//! Presets (`experiments/presets/*.toml`) and `--set key=value` flags override fields.

use serde::{Deserialize, Serialize};

use einfo_models::NetConfig;

use crate::error::{Result, TrainError};

mod sections;
pub use sections::*;

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
        if !self.prior.learnable {
            if self.prior.kind != PriorKind::Gumbel {
                return bad("prior.learnable = false freezes the Gumbel prior's logits: it needs prior.kind = \"gumbel\" (the other priors are fixed already)".into());
            }
            if self.prior.em_weight > 0.0 || self.prior.lr.is_some() {
                return bad("prior.learnable = false: drop prior.em_weight and prior.lr, which train the logits".into());
            }
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
        self.augment.validate().map_err(|e| TrainError::Config(format!("augment: {}", e.to_string().lines().next().unwrap_or(""))))?;
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
