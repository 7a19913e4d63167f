//! Batch normalisation over the last (channel) dimension, with PyTorch's semantics.
//!
//! Training: `y = (x − μ_B) / √(σ²_B + ε) · γ + β` with the batch mean and the *biased*
//! batch variance over every position but the channel; the running statistics move as
//! `r ← (1 − m)·r + m·s` with the *unbiased* variance (PyTorch's `BatchNorm{1,2}d`,
//! momentum `m = 0.1`, `ε = 1e-5`). Evaluation uses the running statistics. In NHWC the
//! channel is the last dimension, so one layer serves `(N, C)` and `(B, H, W, C)` inputs.

use std::sync::{Arc, Mutex};

use candle_core::{bail, Result, Tensor, Var};
use candle_nn::VarBuilder;

use crate::batch_norm_op::BnTrain;
use crate::init::{ONE, ZERO};

/// Names of the running statistics: buffers, not trainable parameters.
pub const RUNNING_STATS: [&str; 2] = ["running_mean", "running_var"];

/// True for a variable name that is a BatchNorm buffer rather than a parameter.
pub fn is_buffer(name: &str) -> bool {
    RUNNING_STATS.iter().any(|s| name.ends_with(s))
}

#[derive(Debug, Clone)]
pub struct BatchNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub running_mean: Var,
    pub running_var: Var,
    pub eps: f64,
    pub momentum: f64,
}

impl BatchNorm {
    pub fn new(vb: VarBuilder<'_>, channels: usize) -> Result<Self> {
        let weight = vb.get_with_hints(channels, "weight", ONE)?;
        let bias = vb.get_with_hints(channels, "bias", ZERO)?;
        let running_mean = Var::from_tensor(&vb.get_with_hints(channels, "running_mean", ZERO)?)?;
        let running_var = Var::from_tensor(&vb.get_with_hints(channels, "running_var", ONE)?)?;
        Ok(BatchNorm { weight, bias, running_mean, running_var, eps: 1e-5, momentum: 0.1 })
    }

    /// The same layer with γ, β detached (the running statistics are shared and still move).
    pub fn detached(&self) -> Self {
        BatchNorm { weight: self.weight.detach(), bias: self.bias.detach(), ..self.clone() }
    }

    pub fn channels(&self) -> usize {
        self.weight.dim(0).unwrap_or(0)
    }

    /// `x: (…, C)`; `train` normalises by the batch and updates the running statistics.
    /// On CPU, training mode is one fused op ([`crate::batch_norm_op`]); elsewhere, and in
    /// evaluation, candle's ops ([`BatchNorm::forward_t_reference`]).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !(train && crate::fast_cpu(x.device())) {
            return self.forward_t_reference(x, train);
        }
        let c = self.channels();
        if x.rank() < 2 || x.dims()[x.rank() - 1] != c {
            bail!("batch_norm: expected (…, {c}) with the channel last, got {:?}", x.dims())
        }
        let rows = x.elem_count() / c;
        if rows < 2 {
            bail!("batch_norm: training needs more than one value per channel (got a batch of {rows})")
        }
        let stats = Arc::new(Mutex::new(None));
        let op = BnTrain { eps: self.eps, stats: stats.clone() };
        let y = x.reshape((rows, c))?.contiguous()?.apply_op3_arc(&self.weight.contiguous()?, &self.bias.contiguous()?, Arc::new(Box::new(op)))?;
        let st = stats.lock().expect("no poisoned lock").clone().expect("the forward recorded its statistics");
        let m = self.momentum;
        let dt = self.running_mean.dtype();
        let mean = Tensor::from_vec(st.mean, c, x.device())?.to_dtype(dt)?;
        let unbiased = Tensor::from_vec(st.var.iter().map(|v| v * rows as f64 / (rows as f64 - 1.0)).collect::<Vec<_>>(), c, x.device())?.to_dtype(dt)?;
        self.running_mean.set(&((self.running_mean.as_tensor() * (1.0 - m))? + (mean * m)?)?)?;
        self.running_var.set(&((self.running_var.as_tensor() * (1.0 - m))? + (unbiased * m)?)?)?;
        y.reshape(x.shape())
    }

    /// The same layer from candle's ops (any device; the reference the fused op is tested against).
    pub fn forward_t_reference(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let c = self.channels();
        if x.rank() < 2 || x.dims()[x.rank() - 1] != c {
            bail!("batch_norm: expected (…, {c}) with the channel last, got {:?}", x.dims())
        }
        let shape = x.shape().clone();
        let rows = x.elem_count() / c;
        let x2 = x.reshape((rows, c))?;
        let (xc, inv_std) = if train {
            if rows < 2 {
                bail!("batch_norm: training needs more than one value per channel (got a batch of {rows})")
            }
            let mean = x2.mean_keepdim(0)?;
            let xc = x2.broadcast_sub(&mean)?;
            let var = xc.sqr()?.mean_keepdim(0)?;
            let m = self.momentum;
            let unbiased = (var.detach() * (rows as f64 / (rows as f64 - 1.0)))?.squeeze(0)?;
            self.running_mean.set(&((self.running_mean.as_tensor() * (1.0 - m))? + (mean.detach().squeeze(0)? * m)?)?)?;
            self.running_var.set(&((self.running_var.as_tensor() * (1.0 - m))? + (unbiased * m)?)?)?;
            (xc, (var + self.eps)?.sqrt()?.recip()?)
        } else {
            let xc = x2.broadcast_sub(self.running_mean.as_tensor())?;
            (xc, (self.running_var.as_tensor() + self.eps)?.sqrt()?.recip()?.unsqueeze(0)?)
        };
        let scale = inv_std.broadcast_mul(&self.weight.unsqueeze(0)?)?;
        xc.broadcast_mul(&scale)?.broadcast_add(&self.bias)?.reshape(shape)
    }
}
