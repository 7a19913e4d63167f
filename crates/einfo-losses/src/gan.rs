//! Adversarial losses on discriminator logits.

use candle_core::Tensor;

use crate::error::{same_shape, shape_err, Result};

/// Numerically stable binary cross-entropy with logits, averaged over all elements:
/// `ℓ(x, y) = max(x, 0) − x·y + log(1 + e^{−|x|})`, finite for any finite logit
/// (candle-nn's version returns ∞ for large logits).
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    same_shape("bce_with_logits", logits, targets)?;
    if logits.elem_count() == 0 {
        return Err(shape_err("bce_with_logits", "empty input"));
    }
    let softplus_neg_abs = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    let l = ((logits.relu()? - (logits * targets)?)? + softplus_neg_abs)?;
    Ok(l.mean_all()?)
}

/// BCE with logits against a constant target `y` for every element.
pub fn bce_with_logits_const(logits: &Tensor, y: f64) -> Result<Tensor> {
    let t = (logits.zeros_like()? + y)?;
    bce_with_logits(logits, &t)
}

/// Discriminator loss `L_D = BCE(D(x), 1) + BCE(D(G(z, c)), 0)` (each a batch mean).
pub fn discriminator_loss(real_logits: &Tensor, fake_logits: &Tensor) -> Result<Tensor> {
    Ok((bce_with_logits_const(real_logits, 1.0)? + bce_with_logits_const(fake_logits, 0.0)?)?)
}

/// Non-saturating generator loss `L_G = BCE(D(G(z, c)), 1) = −E log σ(D(G(z, c)))`.
pub fn generator_loss(fake_logits: &Tensor) -> Result<Tensor> {
    bce_with_logits_const(fake_logits, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn scalar(t: &Tensor) -> f64 {
        t.to_dtype(candle_core::DType::F64).unwrap().to_scalar::<f64>().unwrap()
    }

    #[test]
    fn matches_the_reference_value() {
        // torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor([2., -1., 0.5]), torch.tensor([1., 0., 1.]))
        //   = np.mean(np.log1p(np.exp([-2., -1., -0.5]))) = 0.30475556
        let x = Tensor::new(&[2f64, -1., 0.5], &Device::Cpu).unwrap();
        let y = Tensor::new(&[1f64, 0., 1.], &Device::Cpu).unwrap();
        assert!((scalar(&bce_with_logits(&x, &y).unwrap()) - 0.30475556).abs() < 1e-7);
    }

    #[test]
    fn finite_for_extreme_logits_with_correct_gradients() {
        let x = Var::new(&[1000f32, -1000., 1000., -1000.], &Device::Cpu).unwrap();
        let y = Tensor::new(&[1f32, 0., 0., 1.], &Device::Cpu).unwrap();
        let l = bce_with_logits(x.as_tensor(), &y).unwrap();
        // Two elements are right (loss 0), two wrong (loss 1000 each): mean 500.
        assert_eq!(scalar(&l), 500.0);
        let g: Vec<f32> = l.backward().unwrap().get(x.as_tensor()).unwrap().to_vec1().unwrap();
        // ∂ℓ/∂x = (σ(x) − y)/N
        assert_eq!(g, vec![0.0, 0.0, 0.25, -0.25]);
        assert!(scalar(&generator_loss(&Tensor::new(&[-1000f32], &Device::Cpu).unwrap()).unwrap()).is_finite());
    }

    #[test]
    fn d_and_g_losses_compose_the_bce_terms() {
        let real = Tensor::new(&[[0.3f64], [1.2]], &Device::Cpu).unwrap();
        let fake = Tensor::new(&[[-0.7f64], [0.1]], &Device::Cpu).unwrap();
        // np: sp = lambda x: np.log1p(np.exp(x)); (sp(-0.3)+sp(-1.2))/2 + (sp(-0.7)+sp(0.1))/2 = 0.98261021
        let d = scalar(&discriminator_loss(&real, &fake).unwrap());
        assert!((d - 0.98261021).abs() < 1e-6, "{d}");
        // (sp(0.7)+sp(-0.1))/2 = 0.87379135
        let g = scalar(&generator_loss(&fake).unwrap());
        assert!((g - 0.87379135).abs() < 1e-6, "{g}");
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let a = Tensor::zeros((2, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::zeros((3, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(bce_with_logits(&a, &b).is_err());
    }
}
