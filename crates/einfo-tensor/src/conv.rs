//! 2-D convolution and transposed convolution over NHWC tensors `(B, H, W, C)`.
//!
//! On CPU both are one GEMM plus an [`im2col`](crate::im2col) / `col2im` custom op whose
//! backward is the other op, so forward and both gradients are GEMMs. On other devices
//! the same layers call candle's own `conv2d` / `conv_transpose2d` (NCHW, permuted), so
//! model code is device-agnostic. Weights are stored as GEMM operands:
//! conv `(k·k·Cin, Cout)` = PyTorch's `(Cout, Cin, k, k)` permuted `(2, 3, 1, 0)`;
//! transposed conv `(Cin, k·k·Cout)` = PyTorch's `(Cin, Cout, k, k)` permuted `(0, 2, 3, 1)`.

use candle_core::{bail, Module, Result, Tensor};
use candle_nn::VarBuilder;

use crate::geom::{ConvGeom, ConvSpec};
use crate::im2col::im2col;
use crate::init::{weight_init, ZERO};

fn nhwc(x: &Tensor, c: usize, what: &str) -> Result<(usize, usize, usize)> {
    match x.dims() {
        &[b, h, w, ch] if ch == c => Ok((b, h, w)),
        d => bail!("{what}: expected an NHWC input (B, H, W, {c}), got {d:?}"),
    }
}

/// Convolution `Cin → Cout`, square kernel, with bias.
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// `(k·k·Cin, Cout)`.
    pub weight: Tensor,
    /// `(Cout,)`.
    pub bias: Tensor,
    pub spec: ConvSpec,
    pub cin: usize,
    pub cout: usize,
}

impl Conv2d {
    pub fn new(vb: VarBuilder<'_>, cin: usize, cout: usize, spec: ConvSpec) -> Result<Self> {
        spec.validate()?;
        let weight = vb.get_with_hints((spec.k * spec.k * cin, cout), "weight", weight_init())?;
        let bias = vb.get_with_hints(cout, "bias", ZERO)?;
        Ok(Conv2d { weight, bias, spec, cin, cout })
    }

    /// The same layer with its parameters detached: gradients flow to the input only
    /// (no weight-gradient GEMMs), e.g. through a network another optimiser owns.
    pub fn detached(&self) -> Self {
        Conv2d { weight: self.weight.detach(), bias: self.bias.detach(), ..self.clone() }
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, h, w) = nhwc(x, self.cin, "conv2d")?;
        if !crate::fast_cpu(x.device()) {
            return conv2d_reference(x, &self.weight, &self.bias, self.spec);
        }
        let g = self.spec.geom(b, h, w, self.cin)?;
        let y = crate::fast::linear(&im2col(x, g)?, &self.weight, Some(&self.bias))?;
        y.reshape((b, g.ho, g.wo, self.cout))
    }
}

/// Transposed convolution `Cin → Cout`, square kernel, with bias (no output padding).
#[derive(Debug, Clone)]
pub struct ConvTranspose2d {
    /// `(Cin, k·k·Cout)`.
    pub weight: Tensor,
    /// `(Cout,)`.
    pub bias: Tensor,
    pub spec: ConvSpec,
    pub cin: usize,
    pub cout: usize,
}

impl ConvTranspose2d {
    pub fn new(vb: VarBuilder<'_>, cin: usize, cout: usize, spec: ConvSpec) -> Result<Self> {
        spec.validate()?;
        let weight = vb.get_with_hints((cin, spec.k * spec.k * cout), "weight", weight_init())?;
        let bias = vb.get_with_hints(cout, "bias", ZERO)?;
        Ok(ConvTranspose2d { weight, bias, spec, cin, cout })
    }

    /// The geometry of the convolution this layer is the transpose of.
    fn adjoint_geom(&self, b: usize, h: usize, w: usize) -> Result<ConvGeom> {
        let (ho, wo) = (self.spec.conv_transpose_out(h)?, self.spec.conv_transpose_out(w)?);
        let g = self.spec.geom(b, ho, wo, self.cout)?;
        if (g.ho, g.wo) != (h, w) {
            bail!("conv_transpose2d: input {h}×{w} is not reachable with {:?} (output padding is not supported)", self.spec)
        }
        Ok(g)
    }
}

impl Module for ConvTranspose2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, h, w) = nhwc(x, self.cin, "conv_transpose2d")?;
        if !crate::fast_cpu(x.device()) {
            return conv_transpose2d_reference(x, &self.weight, &self.bias, self.spec);
        }
        let g = self.adjoint_geom(b, h, w)?;
        let cols = crate::fast::linear(&x.reshape((b * h * w, self.cin))?, &self.weight, None)?;
        crate::fast::col2im_bias(&cols, &self.bias, g)
    }
}

/// The same convolution through candle's own (NCHW) `conv2d`: the reference the fast
/// path is tested against, and the path used on GPUs.
pub fn conv2d_reference(x: &Tensor, weight: &Tensor, bias: &Tensor, spec: ConvSpec) -> Result<Tensor> {
    spec.validate()?;
    let (cin, cout) = (x.dim(3)?, bias.dim(0)?);
    let w = weight.reshape((spec.k, spec.k, cin, cout))?.permute((3, 2, 0, 1))?.contiguous()?;
    let y = x.permute((0, 3, 1, 2))?.contiguous()?.conv2d(&w, spec.pad, spec.stride, 1, 1)?;
    y.permute((0, 2, 3, 1))?.broadcast_add(bias)
}

/// The same transposed convolution through candle's own (NCHW) `conv_transpose2d`.
pub fn conv_transpose2d_reference(x: &Tensor, weight: &Tensor, bias: &Tensor, spec: ConvSpec) -> Result<Tensor> {
    spec.validate()?;
    let (cin, cout) = (x.dim(3)?, bias.dim(0)?);
    let w = weight.reshape((cin, spec.k, spec.k, cout))?.permute((0, 3, 1, 2))?.contiguous()?;
    let y = x.permute((0, 3, 1, 2))?.contiguous()?.conv_transpose2d(&w, spec.pad, 0, spec.stride, 1)?;
    y.permute((0, 2, 3, 1))?.broadcast_add(bias)
}
