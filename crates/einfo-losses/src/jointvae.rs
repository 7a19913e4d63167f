//! JointVAE (Dupont 2018): reconstruction, the KL terms of the continuous and discrete
//! latents, and the linearly increasing capacity objective
//! `L = L_rec + γ |KL_z − C_z(t)| + γ |KL_c − C_c(t)|`.

use candle_core::Tensor;

use crate::categorical::log_softmax;
use crate::error::{arg_err, dims2, same_shape, Result};
use crate::gan::bce_with_logits;

/// Bernoulli reconstruction loss: the pixel BCE summed over each image, averaged over
/// the batch, `(1/B) Σ_b Σ_i BCE(σ(ℓ_bi), x_bi)`, from decoder logits `ℓ` and targets in
/// `[0, 1]` of the same shape `(B, …)`.
pub fn bernoulli_recon_loss(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    same_shape("bernoulli_recon_loss", logits, targets)?;
    let b = logits.dim(0)?;
    let per_elem_mean = bce_with_logits(logits, targets)?;
    Ok((per_elem_mean * (logits.elem_count() as f64 / b as f64))?)
}

/// KL of the Gaussian posterior to `N(0, I)`, summed over latent dimensions and averaged
/// over the batch: `(1/B) Σ_b Σ_d ½ (μ² + e^{log σ²} − log σ² − 1)`.
pub fn gaussian_kl(mu: &Tensor, logvar: &Tensor) -> Result<Tensor> {
    same_shape("gaussian_kl", mu, logvar)?;
    dims2("gaussian_kl", "mu", mu)?;
    let per = (((mu.sqr()? + logvar.exp()?)? - logvar)? - 1.0)?;
    Ok((per.sum(1)?.mean_all()? * 0.5)?)
}

/// KL of the categorical posterior `α = softmax(logits)` to the uniform distribution
/// over its `K` classes, averaged over the batch: `(1/B) Σ_b (log K + Σ_k α_k log α_k)`.
pub fn categorical_kl_uniform(logits: &Tensor) -> Result<Tensor> {
    let (_, k) = dims2("categorical_kl_uniform", "logits", logits)?;
    let lp = log_softmax(logits)?;
    Ok(((lp.exp()? * lp)?.sum(1)?.mean_all()? + (k as f64).ln())?)
}

/// A capacity rising linearly from `min` to `max` nats over `iters` iterations, then
/// held, with weight `gamma`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapacitySchedule {
    /// Capacity at iteration 0, nats.
    pub min: f64,
    /// Capacity from iteration `iters` on, nats.
    pub max: f64,
    /// Length of the linear ramp, iterations (0: `max` from the start).
    pub iters: u64,
    /// γ, the weight of `|KL − C(t)|`.
    pub gamma: f64,
}

impl CapacitySchedule {
    /// Dupont's MNIST setting: 0 → 5 nats over 25,000 iterations, γ = 30.
    pub const MNIST: CapacitySchedule = CapacitySchedule { min: 0.0, max: 5.0, iters: 25_000, gamma: 30.0 };

    /// `C(t) = min + (max − min) · min(t / iters, 1)`.
    pub fn capacity(&self, step: u64) -> f64 {
        if self.iters == 0 {
            return self.max;
        }
        self.min + (self.max - self.min) * (step as f64 / self.iters as f64).min(1.0)
    }
}

/// The JointVAE objective at iteration `step`:
/// `L_rec + γ_z |KL_z − C_z(t)| + γ_c |KL_c − min(C_c(t), log K)|`
/// (the discrete capacity cannot exceed the `log K` nats a `K`-way code can hold).
pub fn jointvae_loss(
    recon: &Tensor,
    kl_z: &Tensor,
    kl_c: &Tensor,
    step: u64,
    cont: &CapacitySchedule,
    disc: &CapacitySchedule,
    num_classes: usize,
) -> Result<Tensor> {
    if num_classes < 2 {
        return Err(arg_err("jointvae_loss", format!("a discrete latent needs ≥ 2 classes, got {num_classes}")));
    }
    let cz = cont.capacity(step);
    let cc = disc.capacity(step).min((num_classes as f64).ln());
    let tz = ((kl_z - cz)?.abs()? * cont.gamma)?;
    let tc = ((kl_c - cc)?.abs()? * disc.gamma)?;
    Ok(((recon + tz)? + tc)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn scalar(t: &Tensor) -> f64 {
        t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
    }

    #[test]
    fn reference_values() {
        let dev = Device::Cpu;
        // l = np.array([[0.5,-1.],[2.,0.]]); x = np.array([[1.,0.],[0.5,1.]])
        // bce = np.maximum(l,0) - l*x + np.log1p(np.exp(-abs(l))); bce.sum(1).mean() = 1.30370693
        let l = Tensor::new(&[[0.5f64, -1.0], [2.0, 0.0]], &dev).unwrap();
        let x = Tensor::new(&[[1.0f64, 0.0], [0.5, 1.0]], &dev).unwrap();
        assert!((scalar(&bernoulli_recon_loss(&l, &x).unwrap()) - BCE_REF).abs() < 1e-7);
        // mu = [[0.5,-1.],[0.,2.]]; lv = [[0.,0.5],[-1.,1.]]
        // (0.5*(mu**2 + np.exp(lv) - lv - 1)).sum(1).mean() = 1.62122064
        let mu = Tensor::new(&[[0.5f64, -1.0], [0.0, 2.0]], &dev).unwrap();
        let lv = Tensor::new(&[[0.0f64, 0.5], [-1.0, 1.0]], &dev).unwrap();
        assert!((scalar(&gaussian_kl(&mu, &lv).unwrap()) - GKL_REF).abs() < 1e-7);
        assert!(scalar(&gaussian_kl(&mu.zeros_like().unwrap(), &lv.zeros_like().unwrap()).unwrap()).abs() < 1e-12);
        // a = softmax([[1,2,0.5],[-1,0,3]]); np.mean(np.log(3) + (a*np.log(a)).sum(1)) = 0.50847612
        let c = Tensor::new(&[[1.0f64, 2.0, 0.5], [-1.0, 0.0, 3.0]], &dev).unwrap();
        assert!((scalar(&categorical_kl_uniform(&c).unwrap()) - CKL_REF).abs() < 1e-7);
    }
    const BCE_REF: f64 = 1.30370693;
    const GKL_REF: f64 = 1.62122064;
    const CKL_REF: f64 = 0.50847612;

    #[test]
    fn capacity_schedule_and_objective() {
        let s = CapacitySchedule::MNIST;
        assert_eq!(s.capacity(0), 0.0);
        assert_eq!(s.capacity(12_500), 2.5);
        assert_eq!(s.capacity(100_000), 5.0);
        let dev = Device::Cpu;
        let t = |v: f64| Tensor::new(v, &dev).unwrap();
        // Discrete capacity is capped at ln 10 = 2.302585: at t = 25k, |3 − 2.302585|·30 = 20.92244.
        let l = jointvae_loss(&t(100.0), &t(5.0), &t(3.0), 25_000, &s, &s, 10).unwrap();
        assert!((scalar(&l) - (100.0 + 0.0 + 30.0 * (3.0 - 10f64.ln()))).abs() < 1e-9);
        assert!(jointvae_loss(&t(1.0), &t(1.0), &t(1.0), 0, &s, &s, 1).is_err());
        assert!(gaussian_kl(&Tensor::zeros((2, 3), DType::F32, &dev).unwrap(), &Tensor::zeros((2, 2), DType::F32, &dev).unwrap()).is_err());
    }
}
