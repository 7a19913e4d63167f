//! One training step of JointVAE (Dupont 2018): images mapped to `[0, 1]` and padded to
//! 32×32, `z = μ + σ ε`, `c = GumbelSoftmax(α, τ)`, decoder on `[z; c]`, loss
//! `L_rec + γ|KL_z − C_z(t)| + γ|KL_c − C_c(t)|`.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use einfo_losses as L;
use einfo_models::{named_trainable, pad_to, JointVae};
use einfo_tensor::seeded_var_builder;

use crate::adam::{Adam, AdamParams};
use crate::config::Config;
use crate::error::{Result, TrainError};
use crate::infogan::NOISE_STREAM;
use crate::method::{non_finite_var, to_host_f64, Method, Terms};
use crate::noise::NoiseSource;

const TERMS: &[&str] = &["loss", "recon", "kl_z", "kl_c"];

pub struct JointVaeMethod {
    pub vae: JointVae,
    pub vars: VarMap,
    opt: Adam,
    noise: NoiseSource,
    cfg: Config,
    device: Device,
    /// Categories of the discrete latent.
    k: usize,
    /// Mean posterior over the categorical code on the last batch (read when asked).
    last_posterior: Option<Tensor>,
}

impl JointVaeMethod {
    pub fn new(cfg: &Config, device: &Device) -> Result<Self> {
        let vars = VarMap::new();
        let vae = JointVae::new(seeded_var_builder(&vars, cfg.train.seed, device).pp("vae"), &cfg.jointvae.net)?;
        let opt = Adam::new(named_trainable(&vars), AdamParams { lr: cfg.jointvae.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 })?;
        let k = cfg.jointvae.net.disc_dim;
        Ok(JointVaeMethod {
            vae,
            vars,
            opt,
            noise: NoiseSource::new(cfg.train.seed, NOISE_STREAM),
            cfg: cfg.clone(),
            device: device.clone(),
            last_posterior: None,
            k,
        })
    }

    fn prepare(&self, x: &Tensor) -> Result<Tensor> {
        Ok(pad_to(&((x + 1.0)? * 0.5)?, self.cfg.jointvae.net.image_size)?)
    }

    /// Crop the decoder's `(N, 32, 32, C)` output back to the data's size.
    fn crop(&self, img: &Tensor) -> Result<Tensor> {
        let s = self.cfg.jointvae.net.image_size;
        let n = self.cfg.net.image_size;
        let off = (s - n) / 2;
        Ok(img.narrow(1, off, n)?.narrow(2, off, n)?)
    }
}

impl Method for JointVaeMethod {
    fn term_names(&self) -> &'static [&'static str] {
        TERMS
    }

    fn step(&mut self, x: &Tensor) -> Result<Terms> {
        let jc = &self.cfg.jointvae;
        let b = x.dim(0)?;
        let x01 = self.prepare(x)?;
        let e = self.vae.encode(&x01)?;
        let eps = self.noise.normal(b, jc.net.cont_dim, &self.device)?;
        let z = (&e.mu + (eps * (&e.logvar * 0.5)?.exp()?)?)?;
        let g = L::gumbel_from_uniform(&self.noise.uniform(b, jc.net.disc_dim, &self.device)?)?;
        let c = L::gumbel_softmax(&e.alpha_logits, &g, jc.tau)?;
        let logits = self.vae.decode(&Tensor::cat(&[&z, &c], 1)?)?;
        let recon = L::bernoulli_recon_loss(&logits, &x01)?;
        let kl_z = L::gaussian_kl(&e.mu, &e.logvar)?;
        let kl_c = L::categorical_kl_uniform(&e.alpha_logits)?;
        let cont = L::CapacitySchedule { min: 0.0, max: jc.cont_capacity, iters: jc.capacity_iters, gamma: jc.gamma };
        let disc = L::CapacitySchedule { min: 0.0, max: jc.disc_capacity, iters: jc.capacity_iters, gamma: jc.gamma };
        let loss = L::jointvae_loss(&recon, &kl_z, &kl_c, self.opt.step_count(), &cont, &disc, jc.net.disc_dim)?;
        let terms = vec![("loss", loss.detach()), ("recon", recon.detach()), ("kl_z", kl_z.detach()), ("kl_c", kl_c.detach())];
        self.last_posterior = Some(L::softmax(&e.alpha_logits)?.mean(0)?.detach());
        self.opt.step(&loss.backward()?)?;
        Ok(terms)
    }

    fn non_finite(&self) -> Result<Option<String>> {
        Ok(non_finite_var(&self.vars, "weight")?.or(self.opt.non_finite()?))
    }

    fn prior(&self) -> Result<Vec<f64>> {
        match &self.last_posterior {
            Some(t) => to_host_f64(t),
            None => Ok(vec![1.0 / self.k as f64; self.k]),
        }
    }

    fn save(&self, dir: &Path) -> Result<Vec<u64>> {
        let p = dir.join("vae.safetensors");
        self.vars.save(&p).map_err(|e| TrainError::Checkpoint { path: p, detail: e.to_string() })?;
        self.opt.save(&dir.join("opt-vae.safetensors"))?;
        Ok(vec![self.opt.step_count()])
    }

    fn load(&mut self, dir: &Path, steps: &[u64]) -> Result<()> {
        let p = dir.join("vae.safetensors");
        self.vars.load(&p).map_err(|e| TrainError::Checkpoint { path: p.clone(), detail: e.to_string() })?;
        let step = *steps.first().ok_or_else(|| TrainError::Checkpoint { path: dir.into(), detail: "no optimiser step count".into() })?;
        self.opt.load(&dir.join("opt-vae.safetensors"), step)
    }

    fn rng_positions(&self) -> (u128, u128) {
        (self.noise.word_pos(), 0)
    }

    fn set_rng_positions(&mut self, noise: u128, _augment: u128) {
        self.noise.set_word_pos(noise);
    }

    fn noise_dim(&self) -> usize {
        self.cfg.jointvae.net.cont_dim
    }

    fn num_codes(&self) -> usize {
        self.cfg.jointvae.net.disc_dim
    }

    fn generate(&self, codes: &[u32], z: &Tensor) -> Result<Tensor> {
        let c = L::one_hot(&Tensor::from_slice(codes, codes.len(), &self.device)?, self.num_codes(), DType::F32)?;
        let probs = candle_nn::ops::sigmoid(&self.vae.decode(&Tensor::cat(&[z, &c], 1)?)?)?;
        Ok(((self.crop(&probs)? * 2.0)? - 1.0)?)
    }

    fn infer_codes(&self, x: &Tensor) -> Result<Vec<u32>> {
        Ok(self.vae.encode(&self.prepare(x)?)?.alpha_logits.argmax(1)?.to_vec1::<u32>()?)
    }
}
