//! L_trans: Q must give the same code to a real image `x` and to its transform `x' = δ(x)`.
//!
//! Two formulations (see `docs/method.md`):
//! - paper v1: a KL divergence between the code posteriors `Q(c|x)` and `Q(c|x')`;
//! - the authors' released code: NT-Xent (SimCLR, Chen et al. 2020) on Q's hidden
//!   feature, positives being `(x_i, x'_i)`.

use candle_core::{DType, Tensor, D};

use crate::categorical::{cross_entropy, kl_logits};
use crate::error::{arg_err, dims2, same_shape, Result};

/// Which KL between `P = Q(c|x)` and `P' = Q(c|x')`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KlDirection {
    /// `KL(P ‖ P')`.
    #[default]
    Forward,
    /// `KL(P' ‖ P)`.
    Reverse,
    /// `½ (KL(P ‖ P') + KL(P' ‖ P))`.
    Symmetric,
}

/// `L_trans = (1/B) Σ_b d(Q(c|x_b), Q(c|x'_b))` with `d` a KL in the chosen direction,
/// from the code logits of the originals and of the transforms, both `(B, K)`.
/// Gradients flow into both arguments.
pub fn trans_kl(logits_x: &Tensor, logits_xt: &Tensor, direction: KlDirection) -> Result<Tensor> {
    same_shape("trans_kl", logits_x, logits_xt)?;
    Ok(match direction {
        KlDirection::Forward => kl_logits(logits_x, logits_xt)?,
        KlDirection::Reverse => kl_logits(logits_xt, logits_x)?,
        KlDirection::Symmetric => ((kl_logits(logits_x, logits_xt)? + kl_logits(logits_xt, logits_x)?)? * 0.5)?,
    })
}

/// NT-Xent (normalised temperature-scaled cross-entropy) over `2B` features
/// `z = [a; b]`, each row L2-normalised: with `s_ij = z_iᵀ z_j / τ`,
/// `ℓ_i = −log( e^{s_{i,p(i)}} / Σ_{j≠i} e^{s_ij} )`, `p(i)` the row's pair
/// (`i ± B`), and the loss the mean of `ℓ_i` over all `2B` rows. Any `B ≥ 1`.
pub fn nt_xent(a: &Tensor, b: &Tensor, tau: f64) -> Result<Tensor> {
    same_shape("nt_xent", a, b)?;
    let (n, _) = dims2("nt_xent", "features", a)?;
    if !(tau > 0.0 && tau.is_finite()) {
        return Err(arg_err("nt_xent", format!("temperature {tau} must be positive")));
    }
    let z = Tensor::cat(&[a, b], 0)?;
    let norm = (z.sqr()?.sum_keepdim(D::Minus1)? + 1e-12)?.sqrt()?;
    let z = z.broadcast_div(&norm)?;
    let sim = (z.matmul(&z.t()?)? / tau)?;
    // Remove each row's similarity to itself with a large negative on the diagonal.
    let eye = Tensor::eye(2 * n, sim.dtype(), sim.device())?;
    let sim = (sim - (eye * 1e9)?)?;
    let targets: Vec<u32> = (0..2 * n as u32).map(|i| if (i as usize) < n { i + n as u32 } else { i - n as u32 }).collect();
    let targets = Tensor::from_vec(targets, 2 * n, sim.device())?.to_dtype(DType::U32)?;
    cross_entropy(&sim, &targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn scalar(t: &Tensor) -> f64 {
        t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
    }

    #[test]
    fn kl_directions_reference() {
        // p = softmax([[1,2,0.5],[-1,0,3]]); q = softmax([[0,0,0],[2,-1,0.5]])
        // KL(p‖q) = 0.85192423, KL(q‖p) = 1.45155749 (batch means, NumPy)
        let x = Tensor::new(&[[1.0f64, 2.0, 0.5], [-1.0, 0.0, 3.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[[0.0f64, 0.0, 0.0], [2.0, -1.0, 0.5]], &Device::Cpu).unwrap();
        assert!((scalar(&trans_kl(&x, &y, KlDirection::Forward).unwrap()) - 0.85192423).abs() < 1e-7);
        assert!((scalar(&trans_kl(&x, &y, KlDirection::Reverse).unwrap()) - 1.45155749).abs() < 1e-7);
        let sym = scalar(&trans_kl(&x, &y, KlDirection::Symmetric).unwrap());
        assert!((sym - (0.85192423 + 1.45155749) / 2.0).abs() < 1e-7);
        assert!(scalar(&trans_kl(&x, &x, KlDirection::Symmetric).unwrap()).abs() < 1e-12);
        assert!(trans_kl(&x, &y.narrow(0, 0, 1).unwrap(), KlDirection::Forward).is_err());
    }

    #[test]
    fn nt_xent_reference() {
        // a = [[1,0],[0,1],[1,1]]; b = [[1,0.2],[0.1,1],[-1,1]]; τ = 0.5; NumPy:
        //   z = np.concatenate([a, b]); z /= np.linalg.norm(z, axis=1, keepdims=True)
        //   s = z @ z.T / 0.5; np.fill_diagonal(s, -np.inf); pos = np.r_[3:6, 0:3]
        //   np.mean(-(s[np.arange(6), pos] - np.log(np.exp(s).sum(1)))) = 1.41302608
        let a = Tensor::new(&[[1.0f64, 0.0], [0.0, 1.0], [1.0, 1.0]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[[1.0f64, 0.2], [0.1, 1.0], [-1.0, 1.0]], &Device::Cpu).unwrap();
        let l = scalar(&nt_xent(&a, &b, 0.5).unwrap());
        assert!((l - NT_XENT_REF).abs() < 1e-6, "{l}");
    }
    const NT_XENT_REF: f64 = 1.41302608;

    #[test]
    fn nt_xent_edge_cases() {
        // Batch of 1: each row's only candidate is its pair, so the loss is 0.
        let a = Var::new(&[[3.0f32, -1.0]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[[0.5f32, 2.0]], &Device::Cpu).unwrap();
        let l = nt_xent(a.as_tensor(), &b, 1.0).unwrap();
        assert!(scalar(&l).abs() < 1e-6);
        assert!(l.backward().is_ok());
        // Zero features do not produce NaN.
        let z = Tensor::zeros((4, 8), DType::F32, &Device::Cpu).unwrap();
        assert!(scalar(&nt_xent(&z, &z, 1.0).unwrap()).is_finite());
        assert!(nt_xent(&z, &z, 0.0).is_err());
        assert!(nt_xent(&z, &z.narrow(1, 0, 4).unwrap(), 1.0).is_err());
    }
}
