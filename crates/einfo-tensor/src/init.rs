//! Initialisations used by the InfoGAN family: weights `N(0, 0.02²)`, biases 0,
//! BatchNorm scale 1 and shift 0.

use candle_nn::Init;

/// `N(0, 0.02²)`.
pub fn weight_init() -> Init {
    Init::Randn { mean: 0.0, stdev: 0.02 }
}

pub const ZERO: Init = Init::Const(0.0);
pub const ONE: Init = Init::Const(1.0);
