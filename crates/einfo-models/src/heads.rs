//! The discriminator head D and the code head Q on the trunk's 1024 features.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use einfo_tensor::{leaky_relu, BatchNorm, Linear};

use crate::config::NetConfig;
use crate::trunk::LRELU_SLOPE;

/// `D: Linear(1024, 1)`, a real/fake logit.
#[derive(Debug, Clone)]
pub struct DHead {
    fc: Linear,
}

impl DHead {
    pub fn new(vb: VarBuilder<'_>) -> Result<Self> {
        Ok(DHead { fc: Linear::new(vb.pp("fc"), 1024, 1)? })
    }

    /// The head with its parameters detached (see [`crate::Trunk::detached`]).
    pub fn detached(&self) -> Self {
        DHead { fc: self.fc.detached() }
    }

    /// Features `(B, 1024)` → logits `(B, 1)`.
    pub fn forward(&self, h: &Tensor) -> Result<Tensor> {
        self.fc.forward(h)
    }
}

/// What Q returns: its 128-d hidden feature (for NT-Xent) and the code logits.
#[derive(Debug, Clone)]
pub struct QOutput {
    /// `(B, 128)`.
    pub feature: Tensor,
    /// `(B, num_codes)`.
    pub logits: Tensor,
}

/// `Q: Linear(1024, 128), BN, LReLU → a; Linear(128, K) → code logits`.
#[derive(Debug, Clone)]
pub struct QHead {
    fc1: Linear,
    bn: BatchNorm,
    fc2: Linear,
}

impl QHead {
    pub fn new(vb: VarBuilder<'_>, cfg: &NetConfig) -> Result<Self> {
        Ok(QHead { fc1: Linear::new(vb.pp("fc1"), 1024, 128)?, bn: BatchNorm::new(vb.pp("bn"), 128)?, fc2: Linear::new(vb.pp("fc2"), 128, cfg.num_codes)? })
    }

    /// Its BatchNorm layer.
    pub fn batch_norm(&self) -> &BatchNorm {
        &self.bn
    }

    pub fn forward_t(&self, h: &Tensor, train: bool) -> Result<QOutput> {
        let feature = leaky_relu(&self.bn.forward_t(&self.fc1.forward(h)?, train)?, LRELU_SLOPE)?;
        let logits = self.fc2.forward(&feature)?;
        Ok(QOutput { feature, logits })
    }
}
