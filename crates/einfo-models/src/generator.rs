//! InfoGAN generator `G(z, c)`:
//! `[z; c] → Linear(nz+K, 1024), BN, ReLU → Linear(1024, 128·s²), BN, ReLU → (s, s, 128)
//!  → ConvT(128, 64, k4 s2 p1), BN, ReLU → ConvT(64, C, k4 s2 p1) → tanh`, `s = size/4`.
//! Output NHWC `(B, size, size, C)` in `[-1, 1]`.

use candle_core::{bail, Module, Result, Tensor};
use candle_nn::VarBuilder;
use einfo_tensor::{BatchNorm, ConvTranspose2d, Linear};

use crate::config::NetConfig;
use crate::layers::K4S2P1;

#[derive(Debug, Clone)]
pub struct Generator {
    fc1: Linear,
    bn1: BatchNorm,
    fc2: Linear,
    bn2: BatchNorm,
    up1: ConvTranspose2d,
    bn3: BatchNorm,
    up2: ConvTranspose2d,
    cfg: NetConfig,
}

impl Generator {
    pub fn new(vb: VarBuilder<'_>, cfg: &NetConfig) -> Result<Self> {
        cfg.validate()?;
        let s = cfg.base();
        Ok(Generator {
            fc1: Linear::new(vb.pp("fc1"), cfg.noise_dim + cfg.num_codes, 1024)?,
            bn1: BatchNorm::new(vb.pp("bn1"), 1024)?,
            fc2: Linear::new(vb.pp("fc2"), 1024, 128 * s * s)?,
            bn2: BatchNorm::new(vb.pp("bn2"), 128 * s * s)?,
            up1: ConvTranspose2d::new(vb.pp("up1"), 128, 64, K4S2P1)?,
            bn3: BatchNorm::new(vb.pp("bn3"), 64)?,
            up2: ConvTranspose2d::new(vb.pp("up2"), 64, cfg.channels, K4S2P1)?,
            cfg: cfg.clone(),
        })
    }

    /// `z: (B, noise_dim)`, `c: (B, num_codes)` → images `(B, size, size, C)`.
    pub fn forward_t(&self, z: &Tensor, c: &Tensor, train: bool) -> Result<Tensor> {
        let (b, nz) = z.dims2()?;
        if nz != self.cfg.noise_dim || c.dims() != [b, self.cfg.num_codes] {
            bail!("generator: expected z ({b}, {}) and c ({b}, {}), got {:?} and {:?}", self.cfg.noise_dim, self.cfg.num_codes, z.dims(), c.dims())
        }
        let x = Tensor::cat(&[z, &c.to_dtype(z.dtype())?], 1)?;
        let x = self.bn1.forward_t(&self.fc1.forward(&x)?, train)?.relu()?;
        let x = self.bn2.forward_t(&self.fc2.forward(&x)?, train)?.relu()?;
        // NHWC: the 128·s² features are read as an (s, s, 128) map (a fixed permutation
        // of PyTorch's (128, s, s) view, absorbed by fc2's weights).
        let s = self.cfg.base();
        let x = x.reshape((b, s, s, 128))?;
        let x = self.bn3.forward_t(&self.up1.forward(&x)?, train)?.relu()?;
        self.up2.forward(&x)?.tanh()
    }
}
