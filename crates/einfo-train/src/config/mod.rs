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
/// Smallest Adam ε: it is added in f32, where anything below ~1e-38 is 0.
pub const MIN_EPS: f64 = 1e-30;
/// Largest loss weight or JointVAE capacity: beyond it a loss overflows f32.
pub const MAX_WEIGHT: f64 = 1e6;
/// Network size limits: far beyond any model of this project, small enough that the
/// networks are allocated (a wrong size is a one-line error, not an allocation abort).
pub const MAX_IMAGE_SIZE: usize = 256;
pub const MAX_CHANNELS: usize = 4;
pub const MAX_CODES: usize = 1000;
pub const MAX_NOISE_DIM: usize = 4096;
/// Largest sample grid (columns of fixed noise) and evaluation (images per code).
pub const MAX_GRID_COLUMNS: usize = 1000;
pub const MAX_PER_CODE: usize = 100_000;

fn bad<T>(m: String) -> Result<T> {
    Err(TrainError::Config(m))
}

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
        Self::parse(text, origin, true)
    }

    /// Parse and validate. Errors say what is wrong and, for a file (`at_line`), on which
    /// line — never the line itself (a wrong `--preset` may name a private file).
    fn parse(text: &str, origin: &str, at_line: bool) -> Result<Config> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().filter(|_| at_line).map_or(String::new(), |s| format!(" (line {})", text[..s.start.min(text.len())].matches('\n').count() + 1));
            TrainError::Config(format!("{origin}{line}: {}", one_line(e.message())))
        })?;
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
            let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {raw}")).ok().and_then(|mut t| t.remove("v")) {
                Some(v) => v,
                // A number or list that is not valid TOML (an integer past 2^63 − 1, a cut
                // list) is an error here, not a string for the field to reject as a string.
                None if raw.trim_start().starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '[') => {
                    return Err(TrainError::Config(format!(
                        "override '{set}': '{raw}' is not a valid value (integers are at most 9223372036854775807; lists are [a, b, …])"
                    )));
                }
                None => toml::Value::String(raw.to_string()),
            };
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
        // The document is einfo's own: its line numbers would mean nothing to the user.
        Config::parse(&text, "--set overrides", false)
    }

    /// Reject values no run can use, with a message naming the field — every field a step
    /// would otherwise reject only once training has begun (a temperature of 0, an Adam ε of
    /// 0, a weight that overflows a loss, a network too large to allocate).
    pub fn validate(&self) -> Result<()> {
        self.validate_budget()?;
        self.validate_rates()?;
        self.validate_prior()?;
        self.validate_weights()?;
        self.validate_sizes()?;
        self.augment.validate().map_err(|e| TrainError::Config(format!("augment: {}", crate::error::first_line(&e).trim_start_matches("augment: "))))?;
        Ok(())
    }

    fn validate_budget(&self) -> Result<()> {
        let t = &self.train;
        if t.batch_size < 2 {
            return bad(format!("train.batch_size = {}: BatchNorm needs at least 2", t.batch_size));
        }
        if t.batch_size > MAX_BATCH {
            return bad(format!("train.batch_size = {}: at most {MAX_BATCH} (a step keeps several whole-batch activations in memory)", t.batch_size));
        }
        if t.epochs == 0 && t.max_steps.is_none() {
            return bad("train.epochs = 0: give at least one epoch (or train.max_steps)".into());
        }
        if t.epochs > MAX_EPOCHS {
            return bad(format!("train.epochs = {}: at most {MAX_EPOCHS}", t.epochs));
        }
        if t.max_steps == Some(0) {
            return bad("train.max_steps = 0: train at least one step (or leave it unset)".into());
        }
        let l = &self.log;
        if l.every_steps == 0 || l.checkpoint_every == 0 || l.keep_checkpoints == 0 || l.grid_columns == 0 {
            return bad("log.every_steps, log.checkpoint_every, log.keep_checkpoints and log.grid_columns must be at least 1".into());
        }
        if l.grid_columns > MAX_GRID_COLUMNS {
            return bad(format!("log.grid_columns = {}: at most {MAX_GRID_COLUMNS}", l.grid_columns));
        }
        if self.eval.per_code == 0 || self.eval.per_code > MAX_PER_CODE {
            return bad(format!("eval.per_code = {}: give 1 to {MAX_PER_CODE} images per code", self.eval.per_code));
        }
        Ok(())
    }

    fn validate_rates(&self) -> Result<()> {
        let positive = [
            ("optim.lr_g", self.optim.lr_g),
            ("optim.lr_d", self.optim.lr_d),
            ("optim.eps", self.optim.eps),
            ("prior.tau", self.prior.tau),
            ("losses.nt_xent_temperature", self.losses.nt_xent_temperature),
            ("jointvae.lr", self.jointvae.lr),
            ("jointvae.tau", self.jointvae.tau),
        ];
        for (name, v) in positive {
            if !(v > 0.0 && v.is_finite()) {
                return bad(format!("{name} = {v}: must be a positive number"));
            }
        }
        if self.optim.eps < MIN_EPS {
            return bad(format!("optim.eps = {}: at least {MIN_EPS:e} (Adam's ε is added in f32, where a smaller value is 0)", self.optim.eps));
        }
        if !(0.0..1.0).contains(&self.optim.beta1) || !(0.0..1.0).contains(&self.optim.beta2) {
            return bad("optim.beta1 and optim.beta2 must be in [0, 1)".into());
        }
        Ok(())
    }

    fn validate_prior(&self) -> Result<()> {
        let p = &self.prior;
        if let Some(t) = p.tau_final {
            if !(t > 0.0 && t.is_finite()) {
                return bad(format!("prior.tau_final = {t}: must be a positive number"));
            }
            if p.tau_anneal_steps == 0 {
                return bad("prior.tau_anneal_steps = 0: give the schedule at least one step".into());
            }
        }
        if p.em_weight > 0.0 && p.kind != PriorKind::Gumbel {
            return bad("prior.em_weight > 0 trains the prior's logits: it needs prior.kind = \"gumbel\"".into());
        }
        if !p.learnable {
            if p.kind != PriorKind::Gumbel {
                return bad(
                    "prior.learnable = false freezes the Gumbel prior's logits: it needs prior.kind = \"gumbel\" (the other priors are fixed already)".into()
                );
            }
            if p.em_weight > 0.0 || p.lr.is_some() {
                return bad("prior.learnable = false: drop prior.em_weight and prior.lr, which train the logits".into());
            }
        }
        if let Some(lr) = p.lr {
            if !(lr > 0.0 && lr.is_finite()) {
                return bad(format!("prior.lr = {lr}: must be a positive number"));
            }
        }
        Ok(())
    }

    fn validate_weights(&self) -> Result<()> {
        let l = &self.losses;
        let k = self.net.num_codes.max(1) as f64;
        if l.floor_weight > 0.0 && !(l.floor_share > 0.0 && l.floor_share <= 1.0 / k) {
            return bad(format!("losses.floor_share = {}: must be in (0, 1/{k}] (a code's share of the real images)", l.floor_share));
        }
        let column_power_ok = l.sinkhorn_column_power > 0.0 && l.sinkhorn_column_power <= 1.0;
        if l.sinkhorn_weight > 0.0 && !((0.01..=100.0).contains(&l.sinkhorn_epsilon) && (1..=100).contains(&l.sinkhorn_iters) && column_power_ok) {
            return bad(format!(
                "losses.sinkhorn_epsilon = {}, losses.sinkhorn_iters = {}, losses.sinkhorn_column_power = {}: give ε from 0.01 to 100, 1 to 100 rounds and κ in (0, 1]",
                l.sinkhorn_epsilon, l.sinkhorn_iters, l.sinkhorn_column_power
            ));
        }
        let j = &self.jointvae;
        let weights = [
            ("losses.info_weight", l.info_weight),
            ("losses.trans_weight", l.trans_weight),
            ("losses.ent_weight", l.ent_weight),
            ("losses.marginal_weight", l.marginal_weight),
            ("losses.floor_weight", l.floor_weight),
            ("losses.sinkhorn_weight", l.sinkhorn_weight),
            ("prior.em_weight", self.prior.em_weight),
            ("jointvae.gamma", j.gamma),
            ("jointvae.cont_capacity", j.cont_capacity),
            ("jointvae.disc_capacity", j.disc_capacity),
        ];
        for (name, v) in weights {
            if !(0.0..=MAX_WEIGHT).contains(&v) {
                return bad(format!("{name} = {v}: must be a number from 0 to {MAX_WEIGHT:e}"));
            }
        }
        Ok(())
    }

    fn validate_sizes(&self) -> Result<()> {
        self.net.validate().map_err(|e| TrainError::Config(format!("net: {}", crate::error::first_line(&e))))?;
        let n = &self.net;
        let j = &self.jointvae.net;
        let sizes = [
            ("net.image_size", n.image_size, MAX_IMAGE_SIZE),
            ("net.channels", n.channels, MAX_CHANNELS),
            ("net.num_codes", n.num_codes, MAX_CODES),
            ("net.noise_dim", n.noise_dim, MAX_NOISE_DIM),
            ("jointvae.net.image_size", j.image_size, MAX_IMAGE_SIZE),
            ("jointvae.net.channels", j.channels, MAX_CHANNELS),
            ("jointvae.net.cont_dim", j.cont_dim, MAX_NOISE_DIM),
            ("jointvae.net.disc_dim", j.disc_dim, MAX_CODES),
        ];
        for (name, v, max) in sizes {
            if v == 0 || v > max {
                return bad(format!("{name} = {v}: give 1 to {max}"));
            }
        }
        Ok(())
    }

    /// Does the G step need real images and their transforms?
    pub fn uses_real_in_g_step(&self) -> bool {
        self.losses.trans_weight > 0.0 || self.losses.ent_weight > 0.0 || self.losses.sinkhorn_weight > 0.0 || self.uses_real_marginal()
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
        self.losses.marginal_weight > 0.0 || self.losses.floor_weight > 0.0 || (self.prior.kind == PriorKind::Gumbel && self.prior.em_weight > 0.0)
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

    #[test]
    fn errors_name_the_line_never_echo_it_and_reject_out_of_range_numbers() {
        let e = Config::from_toml("[train]\nsecret-password-here\n", "/etc/shadow").unwrap_err().to_string();
        assert!(e.contains("/etc/shadow (line 2)") && !e.contains("secret-password"), "{e}");
        let e = Config::default().with_overrides(&["train.epoch=3".into()]).unwrap_err().to_string();
        assert!(e.contains("unknown field `epoch`") && !e.contains("line"), "{e}");
        let e = Config::default().with_overrides(&["data.counts=[18446744073709551615,1]".into()]).unwrap_err().to_string();
        assert!(e.contains("not a valid value") && !e.contains("invalid type: string"), "{e}");
        let e = Config::default().with_overrides(&["augment.zoom_min=0".into()]).unwrap_err().to_string();
        assert!(e.contains("augment: zoom range") && !e.contains("augment: augment"), "{e}");
    }

    #[test]
    fn the_transports_column_power_is_in_0_1() {
        let base = crate::presets::load("elastic-sinkhorn").unwrap();
        assert_eq!(base.losses.sinkhorn_column_power, 1.0, "elastic-sinkhorn is balanced");
        base.with_overrides(&["losses.sinkhorn_column_power=0.5".into()]).unwrap();
        for bad in ["0", "-0.5", "1.5", "nan"] {
            let e = base.with_overrides(&[format!("losses.sinkhorn_column_power={bad}")]).unwrap_err().to_string();
            assert!(e.contains("losses.sinkhorn_column_power") && e.contains("(0, 1]"), "{e}");
        }
    }
}
