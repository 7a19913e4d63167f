//! The shared trunk FE of D and Q:
//! `Conv(C, 64, k4 s2 p1), LReLU(0.2) → Conv(64, 128, k4 s2 p1), BN, LReLU
//!  → flatten 128·s² → Linear(128·s², 1024), BN, LReLU`. Input NHWC images.

use candle_core::{bail, Module, Result, Tensor};
use candle_nn::VarBuilder;
use einfo_tensor::{leaky_relu, BatchNorm, Conv2d, Linear};

use crate::config::NetConfig;
use crate::layers::K4S2P1;

/// LeakyReLU slope of the InfoGAN discriminator side.
pub const LRELU_SLOPE: f64 = 0.2;

#[derive(Debug, Clone)]
pub struct Trunk {
    conv1: Conv2d,
    conv2: Conv2d,
    bn2: BatchNorm,
    fc: Linear,
    bn3: BatchNorm,
    cfg: NetConfig,
}

impl Trunk {
    pub fn new(vb: VarBuilder<'_>, cfg: &NetConfig) -> Result<Self> {
        cfg.validate()?;
        let s = cfg.base();
        Ok(Trunk {
            conv1: Conv2d::new(vb.pp("conv1"), cfg.channels, 64, K4S2P1)?,
            conv2: Conv2d::new(vb.pp("conv2"), 64, 128, K4S2P1)?,
            bn2: BatchNorm::new(vb.pp("bn2"), 128)?,
            fc: Linear::new(vb.pp("fc"), 128 * s * s, 1024)?,
            bn3: BatchNorm::new(vb.pp("bn3"), 1024)?,
            cfg: cfg.clone(),
        })
    }

    /// The trunk with its parameters detached, for passes whose gradient must reach the
    /// input but not the trunk's weights (the generator step: FE belongs to D's optimiser,
    /// so its weight gradients there would be computed and thrown away).
    pub fn detached(&self) -> Self {
        Trunk {
            conv1: self.conv1.detached(),
            conv2: self.conv2.detached(),
            bn2: self.bn2.detached(),
            fc: self.fc.detached(),
            bn3: self.bn3.detached(),
            cfg: self.cfg.clone(),
        }
    }

    /// The BatchNorm layers, input side first.
    pub fn batch_norms(&self) -> Vec<&BatchNorm> {
        vec![&self.bn2, &self.bn3]
    }

    /// Images `(B, size, size, C)` → features `(B, 1024)`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let n = self.cfg.image_size;
        match x.dims() {
            &[_, h, w, c] if h == n && w == n && c == self.cfg.channels => {}
            d => bail!("trunk: expected NHWC images (B, {n}, {n}, {}), got {d:?}", self.cfg.channels),
        }
        let b = x.dim(0)?;
        let x = leaky_relu(&self.conv1.forward(x)?, LRELU_SLOPE)?;
        let x = leaky_relu(&self.bn2.forward_t(&self.conv2.forward(&x)?, train)?, LRELU_SLOPE)?;
        let x = x.reshape((b, ()))?;
        leaky_relu(&self.bn3.forward_t(&self.fc.forward(&x)?, train)?, LRELU_SLOPE)
    }
}
