//! Categorical building blocks: stable (log-)softmax, cross-entropy, entropy, KL, and
//! the info loss of InfoGAN.

use candle_core::{DType, Tensor, D};

use crate::error::{arg_err, dims2, same_shape, shape_err, Result};

/// `log softmax(x)_k = x_k − max(x) − log Σ_j e^{x_j − max(x)}` over the last dimension.
pub fn log_softmax(logits: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(shifted.broadcast_sub(&lse)?)
}

/// `softmax(x)` over the last dimension, computed stably.
pub fn softmax(logits: &Tensor) -> Result<Tensor> {
    Ok(log_softmax(logits)?.exp()?)
}

/// Mean cross-entropy `−(1/B) Σ_b log softmax(x_b)_{t_b}` of logits `(B, K)` against
/// class indices `t: (B,)` (u32).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (b, k) = dims2("cross_entropy", "logits", logits)?;
    if targets.dims() != [b] {
        return Err(shape_err("cross_entropy", format!("targets must be ({b},), got {:?}", targets.dims())));
    }
    let t = targets.to_dtype(DType::U32)?;
    // Reading the largest target back costs a device round trip on every call: checked
    // in debug builds (and every test), trusted in release builds, where the training
    // loops build their targets by argmax over K columns.
    if cfg!(debug_assertions) {
        let max_t = t.max_all()?.to_scalar::<u32>()? as usize;
        if max_t >= k {
            return Err(arg_err("cross_entropy", format!("target {max_t} is not below the {k} classes")));
        }
    }
    let picked = log_softmax(logits)?.gather(&t.unsqueeze(1)?, 1)?;
    Ok((picked.mean_all()?.neg())?)
}

/// InfoGAN's info loss `L_I = CE(Q(G(z, c)), argmax c)`: the code logits of Q against the
/// index of the largest entry of each code (one-hot or Gumbel-Softmax sample).
pub fn info_loss(q_logits: &Tensor, codes: &Tensor) -> Result<Tensor> {
    same_shape("info_loss", q_logits, codes)?;
    dims2("info_loss", "codes", codes)?;
    cross_entropy(q_logits, &codes.argmax(1)?)
}

/// Mean entropy `(1/B) Σ_b H(softmax(x_b))`, `H(p) = −Σ_k p_k log p_k` (nats).
pub fn mean_entropy(logits: &Tensor) -> Result<Tensor> {
    dims2("mean_entropy", "logits", logits)?;
    let lp = log_softmax(logits)?;
    Ok((lp.exp()? * lp)?.sum(1)?.mean_all()?.neg()?)
}

/// Mean KL divergence `(1/B) Σ_b KL(softmax(p_b) ‖ softmax(q_b))` between the
/// categorical distributions given by two logit matrices.
pub fn kl_logits(p_logits: &Tensor, q_logits: &Tensor) -> Result<Tensor> {
    same_shape("kl", p_logits, q_logits)?;
    dims2("kl", "logits", p_logits)?;
    let (lp, lq) = (log_softmax(p_logits)?, log_softmax(q_logits)?);
    Ok((lp.exp()? * (lp - lq)?)?.sum(1)?.mean_all()?)
}

/// One-hot rows `(B, K)` of class indices `(B,)`.
pub fn one_hot(indices: &Tensor, k: usize, dtype: DType) -> Result<Tensor> {
    let b = indices.dim(0)?;
    let classes = Tensor::arange(0u32, k as u32, indices.device())?.unsqueeze(0)?.broadcast_as((b, k))?;
    let idx = indices.to_dtype(DType::U32)?.unsqueeze(1)?.broadcast_as((b, k))?;
    Ok(classes.eq(&idx)?.to_dtype(dtype)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn t2(v: &[[f64; 3]]) -> Tensor {
        let flat: Vec<f64> = v.iter().flatten().copied().collect();
        Tensor::from_vec(flat, (v.len(), 3), &Device::Cpu).unwrap()
    }
    fn scalar(t: &Tensor) -> f64 {
        t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
    }

    const X: [[f64; 3]; 2] = [[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]];
    const Y: [[f64; 3]; 2] = [[0.0, 0.0, 0.0], [2.0, -1.0, 0.5]];

    #[test]
    fn cross_entropy_and_info_loss_reference() {
        // from scipy.special import log_softmax; x = np.array(X)
        // -(log_softmax(x,1)[0,1] + log_softmax(x,1)[1,2]) / 2 = 0.26512634
        let t = Tensor::new(&[1u32, 2], &Device::Cpu).unwrap();
        assert!((scalar(&cross_entropy(&t2(&X), &t).unwrap()) - 0.26512634).abs() < 1e-7);
        let codes = t2(&[[0.0, 1.0, 0.0], [0.1, 0.2, 0.7]]);
        assert!((scalar(&info_loss(&t2(&X), &codes).unwrap()) - 0.26512634).abs() < 1e-7);
        assert!(cross_entropy(&t2(&X), &Tensor::new(&[1u32, 3], &Device::Cpu).unwrap()).is_err());
        assert!(info_loss(&t2(&X), &t2(&[[0.0, 1.0, 0.0]])).is_err());
    }

    #[test]
    fn entropy_and_kl_reference() {
        // p = softmax(X, 1); np.mean(-(p*np.log(p)).sum(1)) = 0.59013617
        assert!((scalar(&mean_entropy(&t2(&X)).unwrap()) - 0.59013617).abs() < 1e-7);
        // q = softmax(Y, 1); np.mean((p*(np.log(p)-np.log(q))).sum(1)) = 0.85192423
        assert!((scalar(&kl_logits(&t2(&X), &t2(&Y)).unwrap()) - 0.85192423).abs() < 1e-7);
        assert!(scalar(&kl_logits(&t2(&X), &t2(&X)).unwrap()).abs() < 1e-12);
        // Uniform logits: entropy ln 3.
        assert!((scalar(&mean_entropy(&t2(&Y[..1])).unwrap()) - 3f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn extreme_logits_stay_finite_and_batch_of_one_works() {
        let x = Var::new(&[[1000f32, -1000., 0.]], &Device::Cpu).unwrap();
        let h = mean_entropy(x.as_tensor()).unwrap();
        assert!(scalar(&h).is_finite());
        let g = h.backward().unwrap();
        assert!(g.get(x.as_tensor()).unwrap().to_vec2::<f32>().unwrap()[0].iter().all(|v| v.is_finite()));
        let t = Tensor::new(&[1u32], &Device::Cpu).unwrap();
        assert!((scalar(&cross_entropy(x.as_tensor(), &t).unwrap()) - 2000.0).abs() < 1e-3);
    }

    #[test]
    fn one_hot_rows() {
        let oh = one_hot(&Tensor::new(&[2u32, 0], &Device::Cpu).unwrap(), 3, DType::F32).unwrap();
        assert_eq!(oh.to_vec2::<f32>().unwrap(), vec![vec![0., 0., 1.], vec![1., 0., 0.]]);
    }
}
