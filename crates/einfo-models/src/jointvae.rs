//! JointVAE (Dupont 2018) for 32×32 images: continuous Gaussian latent plus one
//! categorical latent.
//!
//! Encoder: `Conv(C,32) → Conv(32,64) → Conv(64,64)` (k4 s2 p1, ReLU) → flatten
//! `64·(s/8)²` → `Linear(·, 256)`, ReLU → heads μ, log σ² (`cont_dim` each) and α logits
//! (`disc_dim`). Decoder: `Linear(cont+disc, 256)`, ReLU → `Linear(256, 64·(s/8)²)`, ReLU
//! → `(s/8, s/8, 64)` → `ConvT(64,32)`, ReLU → `ConvT(32,32)`, ReLU → `ConvT(32,C)` →
//! pixel logits (the sigmoid is in the loss). PyTorch default initialisation.

use candle_core::{bail, Module, Result, Tensor};
use candle_nn::VarBuilder;
use einfo_tensor::{Conv2d, ConvTranspose2d, Linear};
use serde::{Deserialize, Serialize};

use crate::layers::{conv_torch, conv_transpose_torch, linear_torch, K4S2P1};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JointVaeNet {
    /// Input side (a multiple of 8; MNIST's 28×28 is zero-padded to 32).
    pub image_size: usize,
    pub channels: usize,
    /// Continuous (Gaussian) latent dimensions.
    pub cont_dim: usize,
    /// Classes of the categorical latent.
    pub disc_dim: usize,
}

impl Default for JointVaeNet {
    fn default() -> Self {
        JointVaeNet { image_size: 32, channels: 1, cont_dim: 10, disc_dim: 10 }
    }
}

/// What the encoder returns for a batch.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub mu: Tensor,
    pub logvar: Tensor,
    pub alpha_logits: Tensor,
}

#[derive(Debug, Clone)]
pub struct JointVae {
    cfg: JointVaeNet,
    c1: Conv2d,
    c2: Conv2d,
    c3: Conv2d,
    fc: Linear,
    mu: Linear,
    logvar: Linear,
    alpha: Linear,
    d1: Linear,
    d2: Linear,
    u1: ConvTranspose2d,
    u2: ConvTranspose2d,
    u3: ConvTranspose2d,
}

impl JointVae {
    pub fn new(vb: VarBuilder<'_>, cfg: &JointVaeNet) -> Result<Self> {
        if cfg.image_size < 8 || cfg.image_size % 8 != 0 || cfg.cont_dim == 0 || cfg.disc_dim < 2 || cfg.channels == 0 {
            bail!("jointvae: image_size must be a multiple of 8, cont_dim ≥ 1, disc_dim ≥ 2 (got {cfg:?})")
        }
        let flat = 64 * (cfg.image_size / 8).pow(2);
        let (e, d) = (vb.pp("enc"), vb.pp("dec"));
        Ok(JointVae {
            cfg: cfg.clone(),
            c1: conv_torch(e.pp("c1"), cfg.channels, 32, K4S2P1)?,
            c2: conv_torch(e.pp("c2"), 32, 64, K4S2P1)?,
            c3: conv_torch(e.pp("c3"), 64, 64, K4S2P1)?,
            fc: linear_torch(e.pp("fc"), flat, 256)?,
            mu: linear_torch(e.pp("mu"), 256, cfg.cont_dim)?,
            logvar: linear_torch(e.pp("logvar"), 256, cfg.cont_dim)?,
            alpha: linear_torch(e.pp("alpha"), 256, cfg.disc_dim)?,
            d1: linear_torch(d.pp("fc1"), cfg.cont_dim + cfg.disc_dim, 256)?,
            d2: linear_torch(d.pp("fc2"), 256, flat)?,
            u1: conv_transpose_torch(d.pp("u1"), 64, 32, K4S2P1)?,
            u2: conv_transpose_torch(d.pp("u2"), 32, 32, K4S2P1)?,
            u3: conv_transpose_torch(d.pp("u3"), 32, cfg.channels, K4S2P1)?,
        })
    }

    pub fn config(&self) -> &JointVaeNet {
        &self.cfg
    }

    /// NHWC images `(B, s, s, C)` in `[0, 1]` → posterior parameters.
    pub fn encode(&self, x: &Tensor) -> Result<Encoded> {
        let s = self.cfg.image_size;
        match x.dims() {
            &[_, h, w, c] if h == s && w == s && c == self.cfg.channels => {}
            d => bail!("jointvae: expected NHWC images (B, {s}, {s}, {}), got {d:?}", self.cfg.channels),
        }
        let b = x.dim(0)?;
        let h = self.c3.forward(&self.c2.forward(&self.c1.forward(x)?.relu()?)?.relu()?)?.relu()?;
        let h = self.fc.forward(&h.reshape((b, ()))?)?.relu()?;
        Ok(Encoded { mu: self.mu.forward(&h)?, logvar: self.logvar.forward(&h)?, alpha_logits: self.alpha.forward(&h)? })
    }

    /// Latent `[z; c]` `(B, cont_dim + disc_dim)` → pixel logits `(B, s, s, C)`.
    pub fn decode(&self, latent: &Tensor) -> Result<Tensor> {
        let b = latent.dim(0)?;
        let side = self.cfg.image_size / 8;
        let h = self.d2.forward(&self.d1.forward(latent)?.relu()?)?.relu()?;
        let h = h.reshape((b, side, side, 64))?;
        self.u3.forward(&self.u2.forward(&self.u1.forward(&h)?.relu()?)?.relu()?)
    }
}

/// Zero-pad NHWC images `(B, H, W, C)` symmetrically to `(B, size, size, C)`.
pub fn pad_to(x: &Tensor, size: usize) -> Result<Tensor> {
    let (_, h, w, _) = x.dims4()?;
    if h > size || w > size || (size - h) % 2 != 0 || (size - w) % 2 != 0 {
        bail!("pad_to: cannot pad {h}×{w} symmetrically to {size}×{size}")
    }
    let (ph, pw) = ((size - h) / 2, (size - w) / 2);
    x.pad_with_zeros(1, ph, ph)?.pad_with_zeros(2, pw, pw)
}
