//! Network sizes, shared by every model so the same code serves MNIST, Fashion-MNIST and
//! a user's own 28×28 or 32×32 data.

use candle_core::{bail, Result};
use serde::{Deserialize, Serialize};

/// Sizes of the InfoGAN networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetConfig {
    /// Image height and width (square; a multiple of 4, e.g. 28 or 32).
    pub image_size: usize,
    /// Image channels (1 for grey-scale).
    pub channels: usize,
    /// Categories of the discrete code `c`.
    pub num_codes: usize,
    /// Dimension of the noise `z`.
    pub noise_dim: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig { image_size: 28, channels: 1, num_codes: 10, noise_dim: 62 }
    }
}

impl NetConfig {
    pub fn validate(&self) -> Result<()> {
        if self.image_size < 8 || self.image_size % 4 != 0 {
            bail!("image_size {} is not supported: use a multiple of 4 of at least 8 (e.g. 28 or 32)", self.image_size)
        }
        if self.channels == 0 || self.num_codes < 2 || self.noise_dim == 0 {
            bail!("channels ({}) and noise_dim ({}) must be positive and num_codes ({}) at least 2", self.channels, self.noise_dim, self.num_codes)
        }
        Ok(())
    }

    /// Side of the smallest feature map (`image_size / 4`).
    pub fn base(&self) -> usize {
        self.image_size / 4
    }
}
