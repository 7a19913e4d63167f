//! # einfo-losses
//!
//! Every loss of InfoGAN, Elastic-InfoGAN and JointVAE as a pure function over
//! [candle](https://github.com/huggingface/candle) tensors, plus the priors over the
//! categorical code. Depends on `candle-core` and `thiserror` only.
//!
//! | loss | function | equation |
//! |---|---|---|
//! | discriminator | [`discriminator_loss`] | `BCE(D(x), 1) + BCE(D(G(z,c)), 0)` |
//! | generator (non-saturating) | [`generator_loss`] | `BCE(D(G(z,c)), 1)` |
//! | info | [`info_loss`] | `CE(Q(G(z,c)), argmax c)` |
//! | L_trans (paper v1) | [`trans_kl`] | `KL(Q(c|x) ‖ Q(c|x'))`, either direction or symmetric |
//! | L_trans (released code) | [`nt_xent`] | NT-Xent on Q's feature, temperature τ |
//! | L_ent | [`entropy_loss`] | `½ ((1/B) Σ H(Q(c|x)) + (1/B) Σ H(Q(c|x')))` |
//! | prior ← Q (extension) | [`prior_em_loss`] | `−Σ_k sg(q̄_k) log softmax(θ)_k`, `q̄` = mean Q(c\|x) on real images |
//! | Q's marginal (extension) | [`marginal_kl`] | `KL(q̄ ‖ sg(softmax θ))` |
//! | JointVAE | [`bernoulli_recon_loss`], [`gaussian_kl`], [`categorical_kl_uniform`], [`jointvae_loss`] | Dupont (2018) |
//!
//! Randomness is the caller's: priors sample from Gumbel noise the caller makes from its
//! own seeded uniform noise, so runs are reproducible.
//!
//! ```
//! use candle_core::{Device, Tensor, Var, DType};
//! use einfo_losses::{gumbel_from_uniform, generator_loss, info_loss, GumbelPrior, Prior};
//! # fn main() -> Result<(), einfo_losses::LossError> {
//! let dev = Device::Cpu;
//! // A learnable prior over 10 codes, temperature 0.1.
//! let theta = Var::zeros(10, DType::F32, &dev)?;
//! let prior = Prior::Gumbel(GumbelPrior::new(theta.as_tensor().clone(), 0.1, false)?);
//! let u = Tensor::rand(0f32, 1., (64, 10), &dev)?;
//! let c = prior.sample(&gumbel_from_uniform(&u)?)?;       // (64, 10), rows sum to 1
//! // Stand-ins for D(G(z, c)) and Q(G(z, c)):
//! let d_fake = (c.sum_keepdim(1)? * 0.3)?;
//! let q_logits = (&c * 5.0)?;
//! let loss = (generator_loss(&d_fake)? + info_loss(&q_logits, &c)?)?;
//! let grads = loss.backward()?;
//! assert!(grads.get(theta.as_tensor()).is_some());          // the prior learns through c
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod categorical;
pub mod error;
pub mod gan;
pub mod jointvae;
pub mod marginal;
pub mod prior;
pub mod sinkhorn;
pub mod trans;

pub use categorical::{cross_entropy, info_loss, kl_logits, log_softmax, mean_entropy, one_hot, softmax};
pub use error::{LossError, Result};
pub use gan::{bce_with_logits, bce_with_logits_const, discriminator_loss, generator_loss};
pub use jointvae::{bernoulli_recon_loss, categorical_kl_uniform, gaussian_kl, jointvae_loss, CapacitySchedule};
pub use marginal::{collapse_floor, hard_assignment_freq, marginal_kl, mean_posterior, prior_em_loss};
pub use prior::{gumbel_from_uniform, gumbel_softmax, straight_through, FixedPrior, GumbelPrior, Prior};
pub use sinkhorn::{sinkhorn_loss, sinkhorn_targets, Transport};
pub use trans::{nt_xent, trans_kl, KlDirection};

/// L_ent of Elastic-InfoGAN: the mean entropy of the code posterior on the real images
/// and on their transforms, `½ (H̄(Q(c|x)) + H̄(Q(c|x')))`.
pub fn entropy_loss(logits_x: &candle_core::Tensor, logits_xt: &candle_core::Tensor) -> Result<candle_core::Tensor> {
    Ok(((mean_entropy(logits_x)? + mean_entropy(logits_xt)?)? * 0.5)?)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    #[test]
    fn entropy_loss_averages_both_views() {
        // Uniform logits have entropy ln 3; one-hot-like logits about 0:
        // (ln 3 + H(softmax([50, 0, 0]))) / 2, where the second term is ~1e-20.
        let u = Tensor::new(&[[0.0f64, 0.0, 0.0]], &Device::Cpu).unwrap();
        let s = Tensor::new(&[[50.0f64, 0.0, 0.0]], &Device::Cpu).unwrap();
        let l = super::entropy_loss(&u, &s).unwrap().to_scalar::<f64>().unwrap();
        assert!((l - 3f64.ln() / 2.0).abs() < 1e-12, "{l}");
        assert!(super::mean_entropy(&Tensor::new(&[1.0f64, 2.0], &Device::Cpu).unwrap()).is_err(), "a vector is not a batch");
    }
}
