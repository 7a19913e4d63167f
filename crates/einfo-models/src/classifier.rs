//! The LeNet evaluation classifier used for ENT / NMI:
//! `Conv(C,20,k5), ReLU, maxpool 2 → Conv(20,50,k5), ReLU, maxpool 2 → Linear(50·4·4, 500),
//!  ReLU → Linear(500, 10)`, on NHWC 28×28 images in `[-1, 1]` (the generator's range).

use candle_core::{bail, Module, Result, Tensor};
use candle_nn::VarBuilder;
use einfo_tensor::{Conv2d, ConvSpec, Linear};

use crate::layers::{conv_torch, linear_torch};

const K5: ConvSpec = ConvSpec { k: 5, stride: 1, pad: 0 };

#[derive(Debug, Clone)]
pub struct LeNet {
    c1: Conv2d,
    c2: Conv2d,
    f1: Linear,
    f2: Linear,
    channels: usize,
}

/// 2×2 max pooling with stride 2 on NHWC `(B, H, W, C)` (H, W even).
pub fn max_pool2(x: &Tensor) -> Result<Tensor> {
    let (b, h, w, c) = x.dims4()?;
    if h % 2 != 0 || w % 2 != 0 {
        bail!("max_pool2: {h}×{w} is not even")
    }
    x.reshape((b, h / 2, 2, w / 2, 2, c))?.max(4)?.max(2)
}

impl LeNet {
    pub fn new(vb: VarBuilder<'_>, channels: usize, num_classes: usize) -> Result<Self> {
        Ok(LeNet {
            c1: conv_torch(vb.pp("c1"), channels, 20, K5)?,
            c2: conv_torch(vb.pp("c2"), 20, 50, K5)?,
            f1: linear_torch(vb.pp("f1"), 50 * 4 * 4, 500)?,
            f2: linear_torch(vb.pp("f2"), 500, num_classes)?,
            channels,
        })
    }

    /// NHWC images `(B, 28, 28, C)` in `[-1, 1]` → class logits `(B, classes)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match x.dims() {
            &[_, 28, 28, c] if c == self.channels => {}
            d => bail!("classifier: expected NHWC images (B, 28, 28, {}), got {d:?}", self.channels),
        }
        let b = x.dim(0)?;
        let h = max_pool2(&self.c1.forward(x)?.relu()?)?;
        let h = max_pool2(&self.c2.forward(&h)?.relu()?)?;
        self.f2.forward(&self.f1.forward(&h.reshape((b, ()))?)?.relu()?)
    }
}
