//! Fully connected layer `y = x·W + b` with the weight stored `(in, out)`, so that both
//! the forward product and the weight gradient `xᵀ·∂y` are plain GEMMs with no strided
//! transpose (candle-nn's `(out, in)` weight makes its gradient a transpose-add).

use candle_core::{bail, Module, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::init::{weight_init, ZERO};

#[derive(Debug, Clone)]
pub struct Linear {
    /// `(in, out)`.
    pub weight: Tensor,
    /// `(out,)`.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// A layer with weights `N(0, 0.02²)` and zero bias (the InfoGAN initialisation).
    pub fn new(vb: VarBuilder<'_>, inp: usize, out: usize) -> Result<Self> {
        Self::with_init(vb, inp, out, weight_init(), true)
    }

    pub fn with_init(vb: VarBuilder<'_>, inp: usize, out: usize, init: Init, bias: bool) -> Result<Self> {
        let weight = vb.get_with_hints((inp, out), "weight", init)?;
        let bias = if bias { Some(vb.get_with_hints(out, "bias", ZERO)?) } else { None };
        Ok(Linear { weight, bias })
    }

    /// The same layer with its parameters detached: gradients flow to the input only.
    pub fn detached(&self) -> Self {
        Linear { weight: self.weight.detach(), bias: self.bias.as_ref().map(Tensor::detach) }
    }

    pub fn in_features(&self) -> usize {
        self.weight.dims()[0]
    }

    pub fn out_features(&self) -> usize {
        self.weight.dims()[1]
    }
}

impl Module for Linear {
    /// `x: (N, in)` → `(N, out)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() != 2 || x.dim(1)? != self.in_features() {
            bail!("linear: expected input (N, {}), got {:?}", self.in_features(), x.dims())
        }
        if crate::fast_cpu(x.device()) && matches!(x.dtype(), candle_core::DType::F32 | candle_core::DType::F64) {
            return crate::fast::linear(x, &self.weight, self.bias.as_ref());
        }
        let y = x.matmul(&self.weight)?;
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}
