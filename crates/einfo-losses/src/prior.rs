//! Priors over the categorical code `c`: fixed (uniform, ground truth) and the learnable
//! Gumbel-Softmax prior of Elastic-InfoGAN.
//!
//! All priors sample from Gumbel noise `g = −log(−log u)`, `u ~ U(0, 1)`, which the
//! caller supplies (so sampling is reproducible under the caller's own RNG):
//! - fixed prior `p`: the Gumbel-max trick, `c = one_hot(argmax_k(log p_k + g_k))`, an
//!   exact sample of `Categorical(p)`;
//! - learnable prior with logits `θ`: `p = softmax(θ)`,
//!   `c = softmax((log p + g) / τ)` (Jang et al. 2017), a soft sample through which
//!   gradients reach `θ`; optionally straight-through hard,
//!   `c = one_hot(argmax) − sg(c_soft) + c_soft`.

use candle_core::{DType, Device, Tensor};

use crate::categorical::{log_softmax, one_hot, softmax};
use crate::error::{arg_err, dims2, shape_err, Result};

/// Gumbel(0, 1) noise from uniform noise: `g = −log(−log u)`, with `u` clamped into
/// `[1e-10, 1 − 1e-7]` so that `g` is always finite.
pub fn gumbel_from_uniform(u: &Tensor) -> Result<Tensor> {
    Ok(u.clamp(1e-10, 1.0 - 1e-7)?.log()?.neg()?.log()?.neg()?)
}

/// Gumbel-Softmax sample `softmax((log softmax(logits) + g) / τ)` for logits
/// broadcastable to the noise `g: (B, K)`.
pub fn gumbel_softmax(logits: &Tensor, gumbel: &Tensor, tau: f64) -> Result<Tensor> {
    if !(tau > 0.0 && tau.is_finite()) {
        return Err(arg_err("gumbel_softmax", format!("temperature {tau} must be positive")));
    }
    let (b, k) = dims2("gumbel_softmax", "noise", gumbel)?;
    let lp = log_softmax(logits)?
        .broadcast_as((b, k))
        .map_err(|_| shape_err("gumbel_softmax", format!("logits {:?} do not broadcast to the noise ({b}, {k})", logits.dims())))?;
    softmax(&((lp + gumbel)? / tau)?)
}

/// Straight-through hard sample: the forward value is one-hot, the gradient is that of
/// the soft sample.
pub fn straight_through(soft: &Tensor) -> Result<Tensor> {
    let (_, k) = dims2("straight_through", "sample", soft)?;
    let hard = one_hot(&soft.argmax(1)?, k, soft.dtype())?;
    Ok(((hard - soft.detach())? + soft)?)
}

/// A fixed prior `p` (uniform, or the ground-truth class frequencies).
#[derive(Debug, Clone)]
pub struct FixedPrior {
    probs: Vec<f64>,
    log_probs: Tensor,
}

impl FixedPrior {
    /// The uniform prior over `k` codes.
    pub fn uniform(k: usize, device: &Device) -> Result<Self> {
        if k == 0 {
            return Err(arg_err("prior", "zero codes"));
        }
        Self::new(&vec![1.0 / k as f64; k], device)
    }

    /// A prior with the given probabilities (non-negative, summing to 1 within 1e-6).
    pub fn new(probs: &[f64], device: &Device) -> Result<Self> {
        if probs.is_empty() {
            return Err(arg_err("prior", "no probabilities"));
        }
        if let Some(p) = probs.iter().find(|p| !p.is_finite() || **p < 0.0) {
            return Err(arg_err("prior", format!("probability {p} is not a finite non-negative number")));
        }
        let sum: f64 = probs.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(arg_err("prior", format!("probabilities sum to {sum}, not 1")));
        }
        let lp: Vec<f32> = probs.iter().map(|&p| if p > 0.0 { p.ln() as f32 } else { f32::NEG_INFINITY }).collect();
        Ok(FixedPrior { probs: probs.to_vec(), log_probs: Tensor::from_vec(lp, (1, probs.len()), device)? })
    }

    /// The prior's probabilities.
    pub fn probs(&self) -> &[f64] {
        &self.probs
    }

    /// One-hot samples `(B, K)` of `Categorical(p)` from Gumbel noise `(B, K)`.
    pub fn sample(&self, gumbel: &Tensor) -> Result<Tensor> {
        let (b, k) = dims2("prior", "noise", gumbel)?;
        if k != self.probs.len() {
            return Err(shape_err("prior", format!("noise has {k} columns for a prior over {} codes", self.probs.len())));
        }
        let scores = self.log_probs.to_dtype(gumbel.dtype())?.broadcast_as((b, k))?.add(gumbel)?;
        one_hot(&scores.argmax(1)?, k, gumbel.dtype())
    }
}

/// The learnable prior: logits `θ` (a trainable tensor, shape `(K,)`), temperature `τ`.
#[derive(Debug, Clone)]
pub struct GumbelPrior {
    /// θ, a trainable `(K,)` tensor; `p = softmax(θ)`.
    pub logits: Tensor,
    /// Temperature τ of the Gumbel-Softmax sample.
    pub tau: f64,
    /// Return straight-through one-hot samples (soft gradients).
    pub straight_through: bool,
}

impl GumbelPrior {
    /// A prior over `K` codes from logits `(K,)`; τ must be positive.
    pub fn new(logits: Tensor, tau: f64, straight_through: bool) -> Result<Self> {
        if logits.rank() != 1 || logits.dim(0)? == 0 {
            return Err(shape_err("gumbel prior", format!("logits must be (K,), got {:?}", logits.dims())));
        }
        if !(tau > 0.0 && tau.is_finite()) {
            return Err(arg_err("gumbel prior", format!("temperature {tau} must be positive")));
        }
        Ok(GumbelPrior { logits, tau, straight_through })
    }

    /// The prior `softmax(θ)`, shape `(K,)`.
    pub fn probs(&self) -> Result<Tensor> {
        Ok(softmax(&self.logits.unsqueeze(0)?)?.squeeze(0)?)
    }

    /// Samples `(B, K)` from Gumbel noise `(B, K)`; differentiable in `θ`.
    pub fn sample(&self, gumbel: &Tensor) -> Result<Tensor> {
        let soft = gumbel_softmax(&self.logits.to_dtype(gumbel.dtype())?.unsqueeze(0)?, gumbel, self.tau)?;
        if self.straight_through {
            straight_through(&soft)
        } else {
            Ok(soft)
        }
    }
}

/// Any prior over the code.
#[derive(Debug, Clone)]
pub enum Prior {
    /// Uniform or ground truth: one-hot samples, nothing to learn.
    Fixed(FixedPrior),
    /// The learnable Gumbel-Softmax prior.
    Gumbel(GumbelPrior),
}

impl Prior {
    /// Samples `(B, K)` from Gumbel noise `(B, K)`.
    pub fn sample(&self, gumbel: &Tensor) -> Result<Tensor> {
        match self {
            Prior::Fixed(p) => p.sample(gumbel),
            Prior::Gumbel(p) => p.sample(gumbel),
        }
    }

    /// The current prior probabilities as a `(K,)` tensor on `device`, detached (for a
    /// learnable prior computed on its device; nothing is read back to the host).
    pub fn probs_tensor(&self, device: &Device) -> Result<Tensor> {
        match self {
            Prior::Fixed(p) => Ok(Tensor::from_vec(p.probs().iter().map(|&v| v as f32).collect::<Vec<_>>(), p.probs().len(), device)?),
            Prior::Gumbel(p) => Ok(p.probs()?.detach()),
        }
    }

    /// The current prior probabilities.
    pub fn probs(&self) -> Result<Vec<f64>> {
        match self {
            Prior::Fixed(p) => Ok(p.probs().to_vec()),
            // f32 on the device, widened on the host (no f64 on the device: Metal has none).
            Prior::Gumbel(p) => Ok(p.probs()?.to_dtype(DType::F32)?.to_vec1::<f32>()?.into_iter().map(f64::from).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// Deterministic uniform noise for tests (SplitMix64).
    fn uniform(b: usize, k: usize, seed: u64) -> Tensor {
        let mut s = seed;
        let v: Vec<f32> = (0..b * k)
            .map(|_| {
                s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = s;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect();
        Tensor::from_vec(v, (b, k), &Device::Cpu).unwrap()
    }

    #[test]
    fn gumbel_noise_is_finite_at_the_edges() {
        let u = Tensor::new(&[[0f32, 1.0, 0.5]], &Device::Cpu).unwrap();
        let g: Vec<f32> = gumbel_from_uniform(&u).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert!(g.iter().all(|v| v.is_finite()));
        // -log(-log(0.5)) = 0.36651292
        assert!((g[2] - 0.366_512_9).abs() < 1e-6);
    }

    #[test]
    fn fixed_prior_samples_follow_its_probabilities() {
        let p = FixedPrior::new(&[0.6, 0.3, 0.1, 0.0], &Device::Cpu).unwrap();
        let g = gumbel_from_uniform(&uniform(20_000, 4, 1)).unwrap();
        let c = p.sample(&g).unwrap();
        let freq: Vec<f32> = c.mean(0).unwrap().to_vec1().unwrap();
        for (f, want) in freq.iter().zip([0.6, 0.3, 0.1, 0.0]) {
            assert!((*f as f64 - want).abs() < 0.015, "{freq:?}");
        }
        let rows: Vec<f32> = c.sum(1).unwrap().to_vec1().unwrap();
        assert!(rows.iter().all(|&r| r == 1.0), "one-hot");
        assert!(FixedPrior::new(&[0.5, 0.6], &Device::Cpu).is_err());
        assert!(FixedPrior::new(&[-0.5, 1.5], &Device::Cpu).is_err());
        assert!(FixedPrior::uniform(0, &Device::Cpu).is_err());
        assert!(p.sample(&g.narrow(1, 0, 3).unwrap()).is_err());
    }

    #[test]
    fn gumbel_samples_are_distributions_and_sharpen_with_temperature() {
        let theta = Tensor::new(&[0.5f32, -1.0, 2.0], &Device::Cpu).unwrap();
        let g = gumbel_from_uniform(&uniform(512, 3, 2)).unwrap();
        for tau in [0.1, 1.0] {
            let prior = GumbelPrior::new(theta.clone(), tau, false).unwrap();
            let c = prior.sample(&g).unwrap();
            let sums: Vec<f32> = c.sum(1).unwrap().to_vec1().unwrap();
            assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
            let max_mean = c.max(1).unwrap().mean_all().unwrap().to_scalar::<f32>().unwrap();
            if tau == 0.1 {
                assert!(max_mean > 0.9, "τ = 0.1 gives nearly one-hot samples: {max_mean}");
            } else {
                assert!(max_mean < 0.9, "τ = 1 gives soft samples: {max_mean}");
            }
        }
        let hard = GumbelPrior::new(theta.clone(), 0.5, true).unwrap().sample(&g).unwrap();
        assert!(hard.to_vec2::<f32>().unwrap().iter().flatten().all(|&v| v.abs() < 1e-6 || (v - 1.0).abs() < 1e-6));
        assert!(GumbelPrior::new(theta.clone(), 0.0, false).is_err());
        assert!(GumbelPrior::new(theta.unsqueeze(0).unwrap(), 0.1, false).is_err());
    }

    #[test]
    fn a_toy_objective_moves_the_learnable_prior_to_its_target() {
        // Minimise ‖mean_b c_b − t‖² over θ with plain gradient steps: softmax(θ) must
        // approach t, so the prior really learns through its samples.
        let target = Tensor::new(&[0.6f32, 0.25, 0.1, 0.05], &Device::Cpu).unwrap();
        let theta = Var::zeros(4, DType::F32, &Device::Cpu).unwrap();
        let dist = |th: &Tensor| -> f32 {
            let p = GumbelPrior::new(th.clone(), 0.1, false).unwrap().probs().unwrap();
            (p - &target).unwrap().abs().unwrap().sum_all().unwrap().to_scalar().unwrap()
        };
        let before = dist(theta.as_tensor());
        for step in 0..300 {
            let prior = GumbelPrior::new(theta.as_tensor().clone(), 0.1, false).unwrap();
            let g = gumbel_from_uniform(&uniform(256, 4, 100 + step)).unwrap();
            let c = prior.sample(&g).unwrap();
            let loss = c.mean(0).unwrap().sub(&target).unwrap().sqr().unwrap().sum_all().unwrap();
            let grad = loss.backward().unwrap().get(theta.as_tensor()).unwrap().clone();
            theta.set(&(theta.as_tensor() - (grad * 5.0).unwrap()).unwrap()).unwrap();
        }
        let after = dist(theta.as_tensor());
        assert!(after < 0.1 && after < before / 4.0, "L1 distance to the target {before} → {after}");
    }
}
