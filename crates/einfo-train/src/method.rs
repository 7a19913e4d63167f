//! What the training loop needs of a method: one step on a batch, its learned prior,
//! saving / loading its weights and optimiser states, and samples for grids.

use std::path::Path;

use candle_core::Tensor;

use crate::error::Result;

/// A scalar tensor's value as f64 (for logging loss terms).
pub fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?)
}

/// Loss terms of one step, by name (logged to the CSV in this order).
pub type Terms = Vec<(&'static str, f64)>;

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
}
