//! Terms that tie the prior over codes to what Q sees on real images (einfo's extension,
//! not in the paper; see `docs/method.md`, "Beyond the paper").
//!
//! With `q̄ = (1/B) Σ_b Q(c|x_b)` the mean code posterior of a batch of real images (over
//! both views, the originals and their transforms):
//! - [`prior_em_loss`] trains the prior logits θ towards `q̄`:
//!   `L_EM(θ) = −Σ_k sg(q̄_k) log softmax(θ)_k`, whose gradient `softmax(θ) − q̄` vanishes
//!   exactly at the EM (M-step) estimate of a mixture's weights, `p = q̄`.
//! - [`marginal_kl`] trains Q so that its marginal on real images matches the current prior,
//!   `L_marg = KL(q̄ ‖ sg(p))`: the counter-force L_ent lacks (without it, low per-image
//!   entropy is reached by putting every image in one code). With a uniform `p` this is
//!   RIM's marginal-entropy term (Krause et al. 2010) up to a constant.

use candle_core::{Tensor, D};

use crate::categorical::{log_softmax, softmax};
use crate::error::{dims2, same_shape, shape_err, Result};

/// The mean code posterior `q̄ = (1/2B) Σ_b (softmax(x_b) + softmax(x'_b))` of the two
/// views' logits `(B, K)`, shape `(K,)`. Gradients flow into both.
pub fn mean_posterior(logits_x: &Tensor, logits_xt: &Tensor) -> Result<Tensor> {
    same_shape("mean_posterior", logits_x, logits_xt)?;
    dims2("mean_posterior", "logits", logits_x)?;
    let both = Tensor::cat(&[softmax(logits_x)?, softmax(logits_xt)?], 0)?;
    Ok(both.mean(0)?)
}

/// The frequencies of the two views' argmax codes, `(1/2B) Σ_b (onehot(argmax x_b) +
/// onehot(argmax x'_b))`, shape `(K,)` — the hard (classification-EM) counterpart of
/// [`mean_posterior`]; no gradient.
pub fn hard_assignment_freq(logits_x: &Tensor, logits_xt: &Tensor) -> Result<Tensor> {
    same_shape("hard_assignment_freq", logits_x, logits_xt)?;
    let (_, k) = dims2("hard_assignment_freq", "logits", logits_x)?;
    let idx = Tensor::cat(&[logits_x.argmax(D::Minus1)?, logits_xt.argmax(D::Minus1)?], 0)?;
    Ok(crate::categorical::one_hot(&idx, k, logits_x.dtype())?.mean(0)?)
}

/// `L_EM(θ) = −Σ_k t_k log softmax(θ)_k` for prior logits `θ: (K,)` and a target
/// distribution `t: (K,)` (detached here: the gradient reaches θ only).
pub fn prior_em_loss(prior_logits: &Tensor, target: &Tensor) -> Result<Tensor> {
    let k = prior_logits.dims1().map_err(|_| shape_err("prior_em_loss", format!("logits must be (K,), got {:?}", prior_logits.dims())))?;
    if target.dims() != [k] {
        return Err(shape_err("prior_em_loss", format!("target must be ({k},), got {:?}", target.dims())));
    }
    let lp = log_softmax(&prior_logits.unsqueeze(0)?)?.squeeze(0)?;
    let t = target.detach().to_dtype(lp.dtype())?;
    Ok((t * lp)?.sum_all()?.neg()?)
}

/// `KL(q̄ ‖ p) = Σ_k q̄_k (log q̄_k − log p_k)` between a mean posterior `q̄: (K,)` and the
/// prior `p: (K,)`, a distribution (detached: the gradient reaches Q only; not checked, so
/// that no value is read back from the device). `q̄_k = 0` contributes 0;
/// both are clamped at 1e-8 inside the logs so that the value and gradient stay finite.
pub fn marginal_kl(mean_posterior: &Tensor, prior: &Tensor) -> Result<Tensor> {
    let k = mean_posterior.dims1().map_err(|_| shape_err("marginal_kl", format!("mean posterior must be (K,), got {:?}", mean_posterior.dims())))?;
    if prior.dims() != [k] {
        return Err(shape_err("marginal_kl", format!("prior must be ({k},), got {:?}", prior.dims())));
    }
    let p = prior.detach().to_dtype(mean_posterior.dtype())?;
    let q = mean_posterior;
    let ratio = (q.clamp(1e-8, 1.0)?.log()? - p.clamp(1e-8, 1.0)?.log()?)?;
    Ok((q * ratio)?.sum(D::Minus1)?)
}

/// `L_floor = Σ_k max(0, ρ − q̄_k)² / ρ²`: zero while every code holds at least a share `ρ`
/// of Q's marginal `q̄: (K,)` on real images, growing as a code empties. A counter-force that
/// only stops collapse — unlike [`marginal_kl`], it does not pull `q̄` towards the prior, so it
/// neither splits a frequent class over two codes nor compresses the prior towards uniform
/// (einfo's extension; `docs/prior.md`). `ρ` must lie in `(0, 1/K]`.
pub fn collapse_floor(mean_posterior: &Tensor, floor: f64) -> Result<Tensor> {
    let k = mean_posterior.dims1().map_err(|_| shape_err("collapse_floor", format!("mean posterior must be (K,), got {:?}", mean_posterior.dims())))?;
    if !(floor > 0.0 && floor <= 1.0 / k as f64) {
        return Err(shape_err("collapse_floor", format!("the floor must be in (0, 1/{k}], got {floor}")));
    }
    let gap = (mean_posterior.affine(-1.0, floor)?.relu()? / floor)?;
    Ok(gap.sqr()?.sum(D::Minus1)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    fn scalar(t: &Tensor) -> f64 {
        t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
    }

    #[test]
    fn collapse_floor_reference_and_gradient() {
        // python3 -c "import numpy as np; q=np.array([0.5,0.3,0.15,0.04,0.01]); r=0.05; print((np.maximum(0,r-q)**2).sum()/r**2, -2*np.maximum(0,r-q)/r**2)"
        // -> 0.68 [ -0. -0. -0. -8. -32.]
        let q = Var::new(&[0.5f64, 0.3, 0.15, 0.04, 0.01], &Device::Cpu).unwrap();
        let l = collapse_floor(q.as_tensor(), 0.05).unwrap();
        assert!((scalar(&l) - 0.68).abs() < 1e-12, "{}", scalar(&l));
        let g = l.backward().unwrap().get(q.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
        for (got, want) in g.iter().zip([0.0, 0.0, 0.0, -8.0, -32.0]) {
            assert!((got - want).abs() < 1e-9, "{g:?}");
        }
        assert_eq!(scalar(&collapse_floor(&Tensor::new(&[0.2f64; 5], &Device::Cpu).unwrap(), 0.2).unwrap()), 0.0, "all at the floor: nothing to push");
        assert!(collapse_floor(q.as_tensor(), 0.3).is_err(), "a floor above 1/K cannot be met");
        assert!(collapse_floor(q.as_tensor(), 0.0).is_err());
    }

    #[test]
    fn mean_posterior_reference() {
        // from scipy.special import softmax
        // x = [[1,2,0.5],[-1,0,3]]; y = [[0,0,0],[2,-1,0.5]]
        // np.concatenate([softmax(x,1), softmax(y,1)]).mean(0)
        //   = [0.34182552, 0.26189756, 0.39627692]
        let x = Tensor::new(&[[1.0f64, 2.0, 0.5], [-1.0, 0.0, 3.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[[0.0f64, 0.0, 0.0], [2.0, -1.0, 0.5]], &Device::Cpu).unwrap();
        let q: Vec<f64> = mean_posterior(&x, &y).unwrap().to_vec1().unwrap();
        for (a, b) in q.iter().zip([0.34182552, 0.26189756, 0.39627692]) {
            assert!((a - b).abs() < 1e-7, "{q:?}");
        }
        assert!(mean_posterior(&x, &y.narrow(0, 0, 1).unwrap()).is_err());
    }

    #[test]
    fn hard_frequencies_count_argmaxes() {
        // argmax of x rows: 1, 2; of y rows: 0 (first of three ties), 0 → [2, 1, 1] / 4.
        let x = Tensor::new(&[[1.0f64, 2.0, 0.5], [-1.0, 0.0, 3.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[[0.0f64, 0.0, 0.0], [2.0, -1.0, 0.5]], &Device::Cpu).unwrap();
        let f: Vec<f64> = hard_assignment_freq(&x, &y).unwrap().to_vec1().unwrap();
        assert_eq!(f, vec![0.5, 0.25, 0.25]);
    }

    #[test]
    fn em_loss_reference_and_gradient() {
        // θ = [0, 1, -1], t = [0.5, 0.3, 0.2]: -(t * log_softmax(θ)).sum() = 1.30760596 (NumPy);
        // gradient softmax(θ) − t = [-0.25527153, 0.36524096, -0.10996943]
        let th = Var::new(&[0.0f64, 1.0, -1.0], &Device::Cpu).unwrap();
        let t = Tensor::new(&[0.5f64, 0.3, 0.2], &Device::Cpu).unwrap();
        let l = prior_em_loss(th.as_tensor(), &t).unwrap();
        assert!((scalar(&l) - 1.30760596).abs() < 1e-7);
        let g: Vec<f64> = l.backward().unwrap().get(th.as_tensor()).unwrap().to_vec1().unwrap();
        for (a, b) in g.iter().zip([-0.25527153, 0.36524096, -0.10996943]) {
            assert!((a - b).abs() < 1e-7, "{g:?}");
        }
        assert!(prior_em_loss(th.as_tensor(), &t.narrow(0, 0, 2).unwrap()).is_err());
    }

    #[test]
    fn marginal_kl_reference_and_edges() {
        // q = [0.5, 0.5, 0]; p = [0.25, 0.25, 0.5]: KL = 0.5 ln 2 + 0.5 ln 2 = ln 2 = 0.69314718
        let q = Var::new(&[0.5f64, 0.5, 0.0], &Device::Cpu).unwrap();
        let p = Tensor::new(&[0.25f64, 0.25, 0.5], &Device::Cpu).unwrap();
        let l = marginal_kl(q.as_tensor(), &p).unwrap();
        assert!((scalar(&l) - 2f64.ln()).abs() < 1e-7);
        let g: Vec<f64> = l.backward().unwrap().get(q.as_tensor()).unwrap().to_vec1().unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        assert!(scalar(&marginal_kl(&p, &p).unwrap()).abs() < 1e-12);
        assert!(marginal_kl(&p, &p.narrow(0, 0, 2).unwrap()).is_err());
    }
}
