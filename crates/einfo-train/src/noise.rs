//! Seeded noise for training (z, the prior's uniform noise, JointVAE's ε), drawn on the
//! host from ChaCha8 so that a run is reproducible and resumable: the generator's
//! position is saved in every checkpoint.

use candle_core::{Device, Tensor};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::Result;

#[derive(Debug, Clone)]
pub struct NoiseSource {
    rng: ChaCha8Rng,
}

impl NoiseSource {
    pub fn new(seed: u64, stream: u64) -> Self {
        NoiseSource { rng: einfo_tensor::rng::rng_for(seed, stream) }
    }

    pub fn word_pos(&self) -> u128 {
        self.rng.get_word_pos()
    }

    pub fn set_word_pos(&mut self, pos: u128) {
        self.rng.set_word_pos(pos)
    }

    /// `(rows, cols)` of N(0, 1).
    pub fn normal(&mut self, rows: usize, cols: usize, device: &Device) -> Result<Tensor> {
        let v: Vec<f32> = (0..rows * cols).map(|_| <StandardNormal as Distribution<f32>>::sample(&StandardNormal, &mut self.rng)).collect();
        Ok(Tensor::from_vec(v, (rows, cols), device)?)
    }

    /// `(rows, cols)` of U(0, 1).
    pub fn uniform(&mut self, rows: usize, cols: usize, device: &Device) -> Result<Tensor> {
        let v: Vec<f32> = (0..rows * cols).map(|_| (self.rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32).collect();
        Ok(Tensor::from_vec(v, (rows, cols), device)?)
    }
}
