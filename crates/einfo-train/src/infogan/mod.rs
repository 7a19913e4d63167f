//! One training step of the InfoGAN family (uniform / ground-truth / learnable prior,
//! with or without L_trans and L_ent), as in `docs/method.md`:
//!
//! 1. `z ~ N(0, I)`, `c ~ prior` (one-hot, or a Gumbel-Softmax sample of `softmax(θ)`).
//! 2. D step on {FE, D}: `BCE(D(FE(x)), 1) + BCE(D(FE(G(z, c).detach())), 0)`.
//! 3. G step on {G, Q, θ}: `BCE(D(FE(G(z, c))), 1) + λ1 CE(Q(G(z, c)), argmax c)
//!    + λ2 L_trans(x, δ(x)) + λ3 L_ent(x, δ(x))`.
//!
//! Extension terms (weights 0 in the paper's presets): `λ_EM L_EM(θ)` trains θ towards
//! Q's mean posterior `q̄` on the real images and `λ_m KL(q̄ ‖ sg(softmax θ))` trains Q's
//! marginal towards the prior (`einfo_losses::marginal`).

use std::path::Path;

use candle_core::{Device, Tensor};
use einfo_losses as L;
use einfo_models::InfoGan;
use einfo_tensor::Augmenter;

use crate::adam::{Adam, AdamParams};
use crate::config::{Config, PriorKind};
use crate::error::{Result, TrainError};
use crate::method::{non_finite_var, scalar, Method, PriorProbe, Terms};
use crate::noise::NoiseSource;
use crate::prior_probe::ProbeWindow;

mod real_terms;

/// Stream of the training noise (the batch order and the grids use others).
pub const NOISE_STREAM: u64 = 11;
/// Seed offset of the augmentation generator.
pub const AUGMENT_SEED_OFFSET: u64 = 0x05ee_da06;

pub struct InfoGanMethod {
    pub nets: InfoGan,
    prior: L::Prior,
    opt_g: Adam,
    opt_d: Adam,
    /// The trunk's optimiser for the real-image terms (`losses.real_terms_train_trunk`).
    opt_trunk: Option<Adam>,
    noise: NoiseSource,
    augment: Option<Augmenter>,
    cfg: Config,
    device: Device,
    window: ProbeWindow,
    probe_next: bool,
}

const TERMS: &[&str] = &["d_loss", "g_adv", "info", "trans", "ent", "em", "marginal", "floor", "sinkhorn"];

impl InfoGanMethod {
    /// `true_freq`: the split's class frequencies (the ground-truth prior).
    pub fn new(cfg: &Config, true_freq: &[f64], device: &Device) -> Result<Self> {
        let nets = InfoGan::new(&cfg.net, device, cfg.train.seed)?;
        let k = cfg.net.num_codes;
        let prior = match cfg.prior.kind {
            PriorKind::Uniform => L::Prior::Fixed(L::FixedPrior::uniform(k, device)?),
            PriorKind::GroundTruth => {
                if true_freq.len() != k {
                    return Err(TrainError::Config(format!("the ground-truth prior needs {k} class frequencies, the split has {}", true_freq.len())));
                }
                L::Prior::Fixed(L::FixedPrior::new(true_freq, device)?)
            }
            PriorKind::Gumbel => L::Prior::Gumbel(L::GumbelPrior::new(nets.prior_logits.clone(), cfg.prior.tau, cfg.prior.straight_through)?),
        };
        let o = &cfg.optim;
        let groups = nets.param_groups();
        let (g_side, d_side) =
            (AdamParams { lr: o.lr_g, beta1: o.beta1, beta2: o.beta2, eps: o.eps }, AdamParams { lr: o.lr_d, beta1: o.beta1, beta2: o.beta2, eps: o.eps });
        // Optimiser G: G, then θ (at its own rate; a fixed or frozen prior has nothing to
        // train), then Q. Optimiser D: D and FE. The trunk's own optimiser, when real-image
        // terms train it: FE.
        let mut opt_g = Adam::new(groups.g, g_side)?;
        if cfg.prior.kind == PriorKind::Gumbel && cfg.prior.learnable {
            opt_g.add_group(groups.prior, cfg.prior.lr.unwrap_or(o.lr_g))?;
        }
        opt_g.add_group(groups.q, o.lr_g)?;
        let opt_d = Adam::new([groups.d, groups.fe.clone()].concat(), d_side)?;
        let opt_trunk = if cfg.losses.real_terms_train_trunk && cfg.uses_real_in_g_step() { Some(Adam::new(groups.fe, d_side)?) } else { None };
        let augment = if cfg.uses_real_in_g_step() { Some(Augmenter::new(cfg.augment.clone(), cfg.train.seed ^ AUGMENT_SEED_OFFSET)?) } else { None };
        Ok(InfoGanMethod {
            nets,
            prior,
            opt_g,
            opt_d,
            opt_trunk,
            noise: NoiseSource::new(cfg.train.seed, NOISE_STREAM),
            augment,
            cfg: cfg.clone(),
            device: device.clone(),
            window: ProbeWindow::default(),
            probe_next: false,
        })
    }

    /// The D step on {FE, D}: real against (detached) fake; returns the loss's value.
    fn d_step(&mut self, x: &Tensor, fake: &Tensor) -> Result<Tensor> {
        let n = &self.nets;
        let d_real = n.d.forward(&n.fe.forward_t(x, true)?)?;
        let d_fake = n.d.forward(&n.fe.forward_t(&fake.detach(), true)?)?;
        let d_loss = L::discriminator_loss(&d_real, &d_fake)?;
        let d_val = d_loss.detach();
        self.opt_d.step(&d_loss.backward()?)?;
        Ok(d_val)
    }

    /// θ's gradient from each term alone (one more backward pass per term), for the log's
    /// prior diagnostics.
    fn probe_term_gradients(&mut self, g_adv: &Tensor, info: &Tensor, em: Option<&Tensor>, theta: &Tensor) -> Result<()> {
        let info_weighted = (info * self.cfg.losses.info_weight)?;
        let mut split = vec![("adv", g_adv), ("info", &info_weighted)];
        if let Some(em) = em {
            split.push(("em", em));
        }
        let mut norms = Vec::new();
        for (name, term) in split {
            let n = match term.backward()?.get(theta) {
                Some(g) => scalar(&g.sqr()?.sum_all()?.sqrt()?)?,
                None => 0.0,
            };
            norms.push((name, n));
        }
        self.window.set_term_grads(norms);
        Ok(())
    }

    fn learnable(&self) -> bool {
        matches!(self.prior, L::Prior::Gumbel(_)) && self.cfg.prior.learnable
    }
}

impl InfoGanMethod {
    /// Q's codes on `batches` after the statistics of `layers` (FE's and Q's BatchNorms)
    /// were re-estimated on them; see [`Method::infer_codes_reestimated`].
    fn codes_with_population_stats(&self, layers: &[&einfo_tensor::BatchNorm], batches: &[Tensor]) -> Result<Vec<u32>> {
        // Training mode needs two images a batch: a last batch of one is measured, not used.
        let usable: Vec<&Tensor> = batches.iter().filter(|b| b.dim(0).is_ok_and(|n| n >= 2)).collect();
        einfo_tensor::precise_bn::reestimate(layers, usable.len(), |i| {
            self.nets.q.forward_t(&self.nets.fe.forward_t(usable[i], true)?, true)?;
            usable[i].dim(0)
        })?;
        let mut codes = Vec::new();
        for b in batches {
            codes.extend(self.infer_codes(b)?);
        }
        Ok(codes)
    }
}

impl Method for InfoGanMethod {
    fn term_names(&self) -> &'static [&'static str] {
        TERMS
    }

    fn step(&mut self, x: &Tensor) -> Result<Terms> {
        let b = x.dim(0)?;
        let (k, nz) = (self.cfg.net.num_codes, self.cfg.net.noise_dim);
        let z = self.noise.normal(b, nz, &self.device)?;
        let g = L::gumbel_from_uniform(&self.noise.uniform(b, k, &self.device)?)?;
        if let L::Prior::Gumbel(p) = &mut self.prior {
            p.tau = self.cfg.prior.tau_at(self.opt_g.step_count());
        }
        let c = self.prior.sample(&g)?;
        let fake = self.nets.g.forward_t(&z, &c, true)?;
        let d_val = self.d_step(x, &fake)?;

        // G step on {G, Q, θ}, against the updated D. FE and D belong to the other
        // optimiser: the fake pass reaches G through them with their weights detached (no
        // weight gradients computed), and the real-image passes of L_trans / L_ent stop
        // at Q's input — the same update as differentiating everything and discarding
        // the gradients of {FE, D}, without computing them.
        let n = &self.nets;
        let h_fake = n.fe.detached().forward_t(&fake, true)?;
        let g_adv = L::generator_loss(&n.d.detached().forward(&h_fake)?)?;
        let q_fake = n.q.forward_t(&h_fake, true)?;
        let info = L::info_loss(&q_fake.logits, &c)?;
        let total = (&g_adv + (&info * self.cfg.losses.info_weight)?)?;
        let (total, real) = self.real_terms(x, total)?;
        let terms = vec![
            ("d_loss", d_val),
            ("g_adv", g_adv.detach()),
            ("info", info.detach()),
            ("trans", real.trans),
            ("ent", real.ent),
            ("em", real.em),
            ("marginal", real.marginal),
            ("floor", real.floor),
            ("sinkhorn", real.sinkhorn),
        ];
        let grads = total.backward()?;
        let theta = self.nets.prior_logits.clone();
        let before = if self.learnable() { Some(theta.copy()?) } else { None };
        if self.probe_next && before.is_some() {
            self.probe_term_gradients(&g_adv, &info, real.em_term.as_ref(), &theta)?;
        }
        self.probe_next = false;
        self.opt_g.step(&grads)?;
        if let Some(opt) = self.opt_trunk.as_mut() {
            opt.step(&grads)?;
        }
        if let (Some(before), Some(g)) = (before, grads.get(&theta)) {
            self.window.record(g, &before, &theta)?;
        }
        Ok(terms)
    }

    fn non_finite(&self) -> Result<Option<String>> {
        if let Some(n) = non_finite_var(&self.nets.g_vars, "weight")?.or(non_finite_var(&self.nets.d_vars, "weight")?) {
            return Ok(Some(n));
        }
        for opt in [Some(&self.opt_g), Some(&self.opt_d), self.opt_trunk.as_ref()].into_iter().flatten() {
            if let Some(n) = opt.non_finite()? {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    fn probe_next_step(&mut self) {
        self.probe_next = true;
    }

    fn prior_probe(&mut self) -> Result<Option<PriorProbe>> {
        if !self.learnable() {
            return Ok(None);
        }
        Ok(Some(self.window.take(&self.nets.prior_logits)?))
    }

    fn prior(&self) -> Result<Vec<f64>> {
        Ok(self.prior.probs()?)
    }

    fn save(&self, dir: &Path) -> Result<Vec<u64>> {
        let ck = |p: &Path, e: candle_core::Error| TrainError::Checkpoint { path: p.into(), detail: e.to_string() };
        let (gp, dp) = (dir.join("g.safetensors"), dir.join("d.safetensors"));
        self.nets.g_vars.save(&gp).map_err(|e| ck(&gp, e))?;
        self.nets.d_vars.save(&dp).map_err(|e| ck(&dp, e))?;
        self.opt_g.save(&dir.join("opt-g.safetensors"))?;
        self.opt_d.save(&dir.join("opt-d.safetensors"))?;
        let mut steps = vec![self.opt_g.step_count(), self.opt_d.step_count()];
        if let Some(opt) = &self.opt_trunk {
            opt.save(&dir.join("opt-trunk.safetensors"))?;
            steps.push(opt.step_count());
        }
        Ok(steps)
    }

    fn load(&mut self, dir: &Path, steps: &[u64]) -> Result<()> {
        let ck = |p: &Path, e: String| TrainError::Checkpoint { path: p.into(), detail: e };
        let (gp, dp) = (dir.join("g.safetensors"), dir.join("d.safetensors"));
        self.nets.g_vars.load(&gp).map_err(|e| ck(&gp, e.to_string()))?;
        self.nets.d_vars.load(&dp).map_err(|e| ck(&dp, e.to_string()))?;
        let want = 2 + self.opt_trunk.is_some() as usize;
        if steps.len() != want {
            return Err(ck(dir, format!("expected {want} optimiser step counts, found {} (was the run's config changed?)", steps.len())));
        }
        self.opt_g.load(&dir.join("opt-g.safetensors"), steps[0])?;
        self.opt_d.load(&dir.join("opt-d.safetensors"), steps[1])?;
        if let Some(opt) = self.opt_trunk.as_mut() {
            opt.load(&dir.join("opt-trunk.safetensors"), steps[2])?;
        }
        Ok(())
    }

    fn rng_positions(&self) -> (u128, u128) {
        (self.noise.word_pos(), self.augment.as_ref().map_or(0, |a| a.word_pos()))
    }

    fn set_rng_positions(&mut self, noise: u128, augment: u128) {
        self.noise.set_word_pos(noise);
        if let Some(a) = self.augment.as_mut() {
            a.set_word_pos(augment);
        }
    }

    fn noise_dim(&self) -> usize {
        self.cfg.net.noise_dim
    }

    fn num_codes(&self) -> usize {
        self.cfg.net.num_codes
    }

    fn generate(&self, codes: &[u32], z: &Tensor) -> Result<Tensor> {
        let c = L::one_hot(&Tensor::from_slice(codes, codes.len(), &self.device)?, self.cfg.net.num_codes, candle_core::DType::F32)?;
        Ok(self.nets.g.forward_t(z, &c, false)?)
    }

    fn infer_codes(&self, x: &Tensor) -> Result<Vec<u32>> {
        let q = self.nets.q.forward_t(&self.nets.fe.forward_t(x, false)?, false)?;
        Ok(q.logits.argmax(1)?.to_vec1::<u32>()?)
    }

    fn infer_codes_reestimated(&self, batches: &[Tensor]) -> Result<Vec<u32>> {
        let mut layers = self.nets.fe.batch_norms();
        layers.push(self.nets.q.batch_norm());
        let saved = einfo_tensor::SavedStats::save(&layers)?;
        let codes = self.codes_with_population_stats(&layers, batches);
        saved.restore(&layers)?; // also after a failed pass: the model is left as it was
        codes
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn method(preset: &str, sets: &[&str]) -> InfoGanMethod {
        let cfg = crate::presets::load(preset).unwrap().with_overrides(&sets.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        InfoGanMethod::new(&cfg, &[0.1; 10], &Device::Cpu).unwrap()
    }

    /// The networks an optimiser updates (the first part of its variables' names).
    fn networks(opt: &Adam) -> BTreeSet<String> {
        opt.rates().iter().map(|(n, _)| n.split('.').next().unwrap().to_string()).collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_optimiser_owns_its_networks_and_theta_has_its_own_rate() {
        let m = method("elastic", &["prior.lr=0.05", "losses.real_terms_train_trunk=true"]);
        assert_eq!(networks(&m.opt_g), set(&["g", "prior", "q"]));
        assert_eq!(networks(&m.opt_d), set(&["d", "fe"]), "FE learns from D's optimiser, never G's");
        assert_eq!(networks(m.opt_trunk.as_ref().unwrap()), set(&["fe"]));
        for (name, lr) in m.opt_g.rates() {
            let want = if name.starts_with("prior.") { 0.05 } else { m.cfg.optim.lr_g };
            assert_eq!(lr, want, "{name}");
        }
        for (preset, why) in [("elastic-frozen-prior", "a frozen θ"), ("uniform", "a fixed prior"), ("ground-truth", "a fixed prior")] {
            let m = method(preset, &[]);
            assert_eq!(networks(&m.opt_g), set(&["g", "q"]), "{preset}: {why} is not trained");
            assert!(m.opt_trunk.is_none(), "{preset}: no trunk optimiser by default");
        }
    }

    #[test]
    fn theta_moves_at_its_own_rate() {
        // Adam's first step moves each parameter by lr · g / (|g| + ε) ≈ lr: θ at 0.05, not
        // at G's 2e-4.
        let mut m = method("elastic", &["prior.lr=0.05"]);
        let theta = |m: &InfoGanMethod| m.nets.prior_logits.to_vec1::<f32>().unwrap();
        let before = theta(&m);
        let x = Tensor::rand(-1f32, 1f32, (8, 28, 28, 1), &Device::Cpu).unwrap();
        m.step(&x).unwrap();
        let moved: Vec<f32> = theta(&m).iter().zip(&before).map(|(a, b)| (a - b).abs()).collect();
        assert!(moved.iter().all(|d| *d <= 0.05 * 1.0001), "{moved:?}");
        assert!(moved.iter().cloned().fold(0.0, f32::max) > 0.049, "{moved:?}");
    }
}
