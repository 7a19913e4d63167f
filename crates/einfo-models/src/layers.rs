//! Layer constructors with an explicit initialisation, and layout helpers.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use einfo_tensor::{Conv2d, ConvSpec, ConvTranspose2d, Linear};

use crate::init::torch_default;

/// The `k4 s2 p1` convolution that halves (or, transposed, doubles) a feature map.
pub const K4S2P1: ConvSpec = ConvSpec { k: 4, stride: 2, pad: 1 };

/// A linear layer with PyTorch's default initialisation.
pub fn linear_torch(vb: VarBuilder<'_>, inp: usize, out: usize) -> Result<Linear> {
    let weight = vb.get_with_hints((inp, out), "weight", torch_default(inp))?;
    let bias = Some(vb.get_with_hints(out, "bias", torch_default(inp))?);
    Ok(Linear { weight, bias })
}

/// A convolution with PyTorch's default initialisation.
pub fn conv_torch(vb: VarBuilder<'_>, cin: usize, cout: usize, spec: ConvSpec) -> Result<Conv2d> {
    spec.validate()?;
    let fan_in = cin * spec.k * spec.k;
    let weight = vb.get_with_hints((spec.k * spec.k * cin, cout), "weight", torch_default(fan_in))?;
    let bias = vb.get_with_hints(cout, "bias", torch_default(fan_in))?;
    Ok(Conv2d { weight, bias, spec, cin, cout })
}

/// A transposed convolution with PyTorch's default initialisation (fan-in of its weight
/// `(Cin, Cout, k, k)` as PyTorch computes it: `Cout·k·k`).
pub fn conv_transpose_torch(vb: VarBuilder<'_>, cin: usize, cout: usize, spec: ConvSpec) -> Result<ConvTranspose2d> {
    spec.validate()?;
    let fan_in = cout * spec.k * spec.k;
    let weight = vb.get_with_hints((cin, spec.k * spec.k * cout), "weight", torch_default(fan_in))?;
    let bias = vb.get_with_hints(cout, "bias", torch_default(fan_in))?;
    Ok(ConvTranspose2d { weight, bias, spec, cin, cout })
}

/// NCHW `(B, C, H, W)` images (as the data loader yields them) → NHWC `(B, H, W, C)`.
pub fn to_nhwc(x: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    if c == 1 {
        x.reshape((b, h, w, 1))
    } else {
        x.permute((0, 2, 3, 1))?.contiguous()
    }
}
