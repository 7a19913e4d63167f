//! Identity-preserving transforms δ for L_trans: per-sample random rotation (whole
//! degrees), zoom, translation and horizontal flip, applied as one affine warp with
//! bilinear sampling and zero fill.
//!
//! For an output pixel `p` (centre `c = ((W−1)/2, (H−1)/2)`), the source position is
//! `q = R(−θ)·(p − c − t)/s + c`, x mirrored first when flipped; the output is the
//! bilinear interpolation of the input at `q`, 0 outside. Sampling weights and indices
//! are computed on the host (cheap) and applied on the tensor's device with a gather, so
//! it works on every device. The MNIST recipe of the authors is rotation in [−20°, 20°]
//! and zoom in [0.9, 1.1] ([`AugmentConfig::default`]).

use candle_core::{bail, Device, Result, Tensor};
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

/// Ranges of the random transform (also the `[augment]` section of a run's config: every
/// field has a default, unknown fields are rejected).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    /// Rotation: a whole number of degrees, uniform in `[−max_rotation_deg, max_rotation_deg]`.
    pub max_rotation_deg: u32,
    /// Zoom factor, uniform in `[zoom_min, zoom_max]` (> 1 enlarges).
    pub zoom_min: f64,
    pub zoom_max: f64,
    /// Translation in pixels along each axis, uniform in `[−max_translate_px, max_translate_px]`.
    pub max_translate_px: f64,
    /// Mirror horizontally with probability 1/2.
    pub hflip: bool,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig { max_rotation_deg: 20, zoom_min: 0.9, zoom_max: 1.1, max_translate_px: 0.0, hflip: false }
    }
}

impl AugmentConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.zoom_min > 0.0 && self.zoom_min <= self.zoom_max && self.zoom_max.is_finite()) {
            bail!("augment: zoom range [{}, {}] must satisfy 0 < min ≤ max", self.zoom_min, self.zoom_max)
        }
        if self.max_rotation_deg > 180 {
            bail!("augment: rotation {}° must be at most 180°", self.max_rotation_deg)
        }
        if !(self.max_translate_px >= 0.0 && self.max_translate_px.is_finite()) {
            bail!("augment: translation {} must be a finite non-negative number of pixels", self.max_translate_px)
        }
        Ok(())
    }
}

/// The transform of one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AffineParams {
    pub angle_deg: f64,
    pub zoom: f64,
    pub tx: f64,
    pub ty: f64,
    pub flip: bool,
}

impl AffineParams {
    pub const IDENTITY: AffineParams = AffineParams { angle_deg: 0.0, zoom: 1.0, tx: 0.0, ty: 0.0, flip: false };
}

/// A seeded source of per-sample transforms.
#[derive(Debug, Clone)]
pub struct Augmenter {
    pub config: AugmentConfig,
    rng: ChaCha8Rng,
}

impl Augmenter {
    pub fn new(config: AugmentConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        Ok(Augmenter { config, rng: crate::rng::rng_for(seed, 0) })
    }

    /// The generator's position, to save in a checkpoint.
    pub fn word_pos(&self) -> u128 {
        self.rng.get_word_pos()
    }

    /// Restore a position saved with [`Augmenter::word_pos`].
    pub fn set_word_pos(&mut self, pos: u128) {
        self.rng.set_word_pos(pos)
    }

    /// Random parameters for `n` samples.
    pub fn sample(&mut self, n: usize) -> Vec<AffineParams> {
        let c = &self.config;
        (0..n)
            .map(|_| {
                let r = c.max_rotation_deg as i64;
                let angle_deg = self.rng.random_range(-r..=r) as f64;
                let zoom = if c.zoom_max > c.zoom_min { self.rng.random_range(c.zoom_min..=c.zoom_max) } else { c.zoom_min };
                let t = c.max_translate_px;
                let (tx, ty) = if t > 0.0 { (self.rng.random_range(-t..=t), self.rng.random_range(-t..=t)) } else { (0.0, 0.0) };
                let flip = c.hflip && self.rng.next_u32() & 1 == 1;
                AffineParams { angle_deg, zoom, tx, ty, flip }
            })
            .collect()
    }

    /// Transform a batch `(B, H, W, C)` with fresh random parameters.
    pub fn apply(&mut self, x: &Tensor) -> Result<Tensor> {
        let params = self.sample(x.dim(0)?);
        warp(x, &params)
    }
}

/// Apply one affine transform per sample to `x: (B, H, W, C)`. No gradient flows to the
/// sampling positions (they are constants); gradients do flow to `x`.
pub fn warp(x: &Tensor, params: &[AffineParams]) -> Result<Tensor> {
    let _p = crate::profile::span("augmentation");
    let (b, h, w, c) = x.dims4()?;
    if params.len() != b {
        bail!("augment: {} parameter sets for a batch of {b}", params.len())
    }
    let n = b * h * w;
    // Four taps per output pixel: indices into the (B·H·W) pixels and bilinear weights.
    let mut idx = vec![0u32; 4 * n];
    let mut wts = vec![0f32; 4 * n];
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    for (bi, p) in params.iter().enumerate() {
        let (sin, cos) = (-p.angle_deg.to_radians()).sin_cos();
        for oy in 0..h {
            for ox in 0..w {
                let o = (bi * h + oy) * w + ox;
                let mut dx = (ox as f64 - cx - p.tx) / p.zoom;
                let dy = (oy as f64 - cy - p.ty) / p.zoom;
                if p.flip {
                    dx = -dx;
                }
                let sx = cos * dx - sin * dy + cx;
                let sy = sin * dx + cos * dy + cy;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let taps = [(0.0, 0.0, (1.0 - fx) * (1.0 - fy)), (1.0, 0.0, fx * (1.0 - fy)), (0.0, 1.0, (1.0 - fx) * fy), (1.0, 1.0, fx * fy)];
                for (t, &(ddx, ddy, wt)) in taps.iter().enumerate() {
                    let (xx, yy) = (x0 + ddx, y0 + ddy);
                    if xx >= 0.0 && yy >= 0.0 && xx < w as f64 && yy < h as f64 && wt > 0.0 {
                        idx[t * n + o] = ((bi * h + yy as usize) * w + xx as usize) as u32;
                        wts[t * n + o] = wt as f32;
                    }
                }
            }
        }
    }
    let dev: &Device = x.device();
    let idx = Tensor::from_vec(idx, 4 * n, dev)?;
    let wts = Tensor::from_vec(wts, (4, n, 1), dev)?.to_dtype(x.dtype())?;
    let gathered = x.reshape((n, c))?.index_select(&idx, 0)?.reshape((4, n, c))?;
    gathered.broadcast_mul(&wts)?.sum(0)?.reshape((b, h, w, c))
}
