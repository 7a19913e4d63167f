//! Learning class weights with einfo-losses from another crate: a learnable prior θ over
//! three classes is fitted to unlabelled data with [`prior_em_loss`], and a Gumbel-Softmax
//! sample of it is drawn with [`GumbelPrior`] — all inside a function returning
//! `candle_core::Result`, where `?` converts einfo's `LossError`.
//!
//! The data: 3,000 points of a 1-D mixture of unit Gaussians at −4, 0 and 4 with weights
//! 0.6, 0.3, 0.1. Each step computes the posterior of every point under the current prior
//! (the E-step) and takes a gradient step on `L_EM(θ) = −Σ_k q̄_k log softmax(θ)_k`, whose
//! minimum is the M-step `softmax(θ) = q̄`. The weights come out within 0.02 of the truth.
//!
//!     cargo run -p einfo-losses --example learn_prior

use candle_core::{DType, Device, Tensor, Var, D};
use einfo_losses::{gumbel_from_uniform, log_softmax, prior_em_loss, GumbelPrior};

fn main() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let (means, weights) = ([-4.0f32, 0.0, 4.0], [0.6f32, 0.3, 0.1]);
    // Deterministic data: class by position, value = its mean + a fixed wobble.
    let mut xs = Vec::new();
    for (k, w) in weights.iter().enumerate() {
        let n = (3000.0 * w) as usize;
        xs.extend((0..n).map(|i| means[k] + ((i as f32 * 0.618).fract() - 0.5) * 2.0));
    }
    let x = Tensor::from_vec(xs.clone(), (xs.len(), 1), &dev)?;
    let mu = Tensor::new(&means, &dev)?.unsqueeze(0)?;
    // log N(x | μ_k, 1) up to a constant, (N, 3).
    let loglik = (x.broadcast_sub(&mu)?.sqr()? * -0.5)?;

    let theta = Var::zeros(3, DType::F32, &dev)?;
    for step in 0..300 {
        // E-step: posteriors under the current prior, detached.
        let logp = log_softmax(&theta.as_tensor().unsqueeze(0)?)?;
        let post = log_softmax(&loglik.broadcast_add(&logp)?)?.exp()?.detach();
        let q_bar = post.mean(0)?;
        // M-step by gradient: L_EM(θ) (a LossError converts into candle's error here).
        let loss = prior_em_loss(theta.as_tensor(), &q_bar)?;
        let grad = loss.backward()?.get(theta.as_tensor()).expect("θ has a gradient").clone();
        theta.set(&(theta.as_tensor() - (grad * 2.0)?)?)?;
        if step % 100 == 0 {
            println!("step {step:3}: L_EM = {:.4}", loss.to_scalar::<f32>()?);
        }
    }
    let p: Vec<f32> = log_softmax(&theta.as_tensor().unsqueeze(0)?)?.exp()?.squeeze(0)?.to_vec1()?;
    println!("learned weights {p:.3?}, true {weights:?}");
    for (a, b) in p.iter().zip(weights) {
        assert!((a - b).abs() < 0.02, "the EM prior should recover the mixture weights");
    }

    // The learned prior as a Gumbel-Softmax prior: 4 nearly one-hot samples at τ = 0.1.
    let prior = GumbelPrior::new(theta.as_tensor().clone(), 0.1, false)?;
    let u = Tensor::rand(0f32, 1., (4, 3), &dev)?;
    let c = prior.sample(&gumbel_from_uniform(&u)?)?;
    println!("samples (argmax): {:?}", c.argmax(D::Minus1)?.to_vec1::<u32>()?);
    Ok(())
}
