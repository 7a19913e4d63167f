//! What the training loop needs of a method: one step on a batch, its learned prior,
//! saving / loading its weights and optimiser states, and samples for grids.

use std::path::Path;

use candle_core::Tensor;

use crate::error::Result;

/// A scalar tensor's value as f64 (for logging loss terms); see [`to_host_f64`].
pub fn scalar(t: &Tensor) -> Result<f64> {
    Ok(to_host_f64(t)?.first().copied().unwrap_or(f64::NAN))
}

/// A tensor's values on the host, widened to f64 there: nothing is cast to f64 on the
/// device (Metal has no f64), and an f32 tensor is copied as it is.
pub fn to_host_f64(t: &Tensor) -> Result<Vec<f64>> {
    let t = t.flatten_all()?;
    Ok(match t.dtype() {
        candle_core::DType::F64 => t.to_vec1::<f64>()?,
        candle_core::DType::F32 => t.to_vec1::<f32>()?.into_iter().map(f64::from).collect(),
        _ => t.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?.into_iter().map(f64::from).collect(),
    })
}

/// Is every value of `t` finite? `Σ (t − t)` is 0 exactly when it is, and NaN when any
/// value is a NaN or an infinity (a max would skip NaNs). One reduction on the tensor's
/// device, one value read.
#[allow(clippy::eq_op)] // t − t is the point: 0 for finite values, NaN otherwise.
pub fn all_finite(t: &Tensor) -> Result<bool> {
    let t = t.flatten_all()?.to_dtype(candle_core::DType::F32)?;
    Ok((&t - &t)?.sum_all()?.to_scalar::<f32>()? == 0.0)
}

/// The name of the first variable of `vm` (parameters and BatchNorm buffers) holding a
/// non-finite value, prefixed with `what`.
pub fn non_finite_var(vm: &candle_nn::VarMap, what: &str) -> Result<Option<String>> {
    let data = vm.data().lock().expect("var map lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for n in names {
        if !all_finite(data[n].as_tensor())? {
            return Ok(Some(format!("{what} {n}")));
        }
    }
    Ok(None)
}

/// Loss terms of one step, by name (logged to the CSV in this order), as detached scalar
/// tensors: the loop reads them only on logging steps, so a step on a GPU waits for
/// nothing but its batch.
pub type Terms = Vec<(&'static str, Tensor)>;

/// Read the terms' values (one host copy each).
pub fn term_values(terms: &Terms) -> Result<Vec<(&'static str, f64)>> {
    terms.iter().map(|(n, t)| Ok((*n, scalar(t)?))).collect()
}

/// How the learnable prior's logits θ moved over the steps since the last probe: the
/// diagnostics of issue "why does θ not move" (see `docs/prior.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct PriorProbe {
    /// Steps the window covers.
    pub steps: u64,
    /// Mean over the window of the per-step gradient norm `‖∇θ L‖`.
    pub grad_norm: f64,
    /// `‖Σ_t ∇θ_t‖ / Σ_t ‖∇θ_t‖`: 1 when every step pushes the same way, about `1/√steps`
    /// when the per-step gradients are noise around zero.
    pub coherence: f64,
    /// The window's mean gradient `(1/n) Σ_t ∇θ_t`.
    pub mean_grad: Vec<f64>,
    /// Mean over the window of the per-step update norm `‖θ_{t+1} − θ_t‖` (Adam's step).
    pub step_norm: f64,
    /// `‖θ_end − θ_start‖` over the window.
    pub drift: f64,
    /// θ now.
    pub logits: Vec<f64>,
    /// On the last step of the window, the norm of θ's gradient from each loss term alone
    /// (`adv`, `info`, `em`).
    pub term_grads: Vec<(&'static str, f64)>,
}

pub trait Method {
    /// Names of the loss terms [`Method::step`] returns, in order.
    fn term_names(&self) -> &'static [&'static str];
    /// One optimisation step on real images `(B, H, W, C)` in `[-1, 1]`.
    fn step(&mut self, x: &Tensor) -> Result<Terms>;
    /// The current prior over the codes (learned, fixed, or for JointVAE the batch's mean
    /// posterior).
    fn prior(&self) -> Result<Vec<f64>>;
    /// Write weights and optimiser states into `dir`; returns the optimisers' step counts.
    fn save(&self, dir: &Path) -> Result<Vec<u64>>;
    /// Restore what [`Method::save`] wrote.
    fn load(&mut self, dir: &Path, optimiser_steps: &[u64]) -> Result<()>;
    /// Positions of the noise and augmentation generators.
    fn rng_positions(&self) -> (u128, u128);
    fn set_rng_positions(&mut self, noise: u128, augment: u128);
    /// Dimension of the continuous noise fed to the generator / decoder.
    fn noise_dim(&self) -> usize;
    /// Number of categorical codes.
    fn num_codes(&self) -> usize;
    /// Generated images `(N, H, W, C)` in `[-1, 1]` for one-hot codes `codes: (N,)` and
    /// noise `z: (N, noise_dim)`, in evaluation mode.
    fn generate(&self, codes: &[u32], z: &Tensor) -> Result<Tensor>;
    /// The code the model assigns to real images `(B, H, W, C)` in `[-1, 1]` (Q's argmax,
    /// or JointVAE's encoder), in evaluation mode.
    fn infer_codes(&self, x: &Tensor) -> Result<Vec<u32>>;
    /// [`Method::infer_codes`] on every batch of `batches`, with the BatchNorm statistics
    /// on the code's path first re-estimated on those batches (PreciseBN,
    /// `einfo_tensor::precise_bn`) and restored after: the codes Q would give had its
    /// statistics been collected on these images rather than on what it trained on. The
    /// default, for a method without BatchNorm on that path, is [`Method::infer_codes`].
    fn infer_codes_reestimated(&self, batches: &[Tensor]) -> Result<Vec<u32>> {
        let mut codes = Vec::new();
        for b in batches {
            codes.extend(self.infer_codes(b)?);
        }
        Ok(codes)
    }
    /// Ask the next [`Method::step`] to also split θ's gradient by loss term (costs one
    /// backward pass per term; the loop asks on logging steps only).
    fn probe_next_step(&mut self) {}
    /// The first weight, buffer or optimiser moment holding a NaN or an infinity, if any
    /// (checked before every checkpoint is written and after one is loaded).
    fn non_finite(&self) -> Result<Option<String>>;
    /// The learnable prior's diagnostics since the last call (and start a new window);
    /// `None` for methods without learnable prior logits.
    fn prior_probe(&mut self) -> Result<Option<PriorProbe>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn all_finite_sees_a_nan_or_an_infinity_anywhere() {
        let t = |v: &[f32]| Tensor::new(v, &Device::Cpu).unwrap();
        assert!(all_finite(&t(&[1.0, -2.0, 3e30])).unwrap());
        assert!(!all_finite(&t(&[1.0, f32::NAN, 3.0])).unwrap(), "a NaN in the middle (a max reduction skips it)");
        assert!(!all_finite(&t(&[1.0, 2.0, f32::NEG_INFINITY])).unwrap());
    }
}
