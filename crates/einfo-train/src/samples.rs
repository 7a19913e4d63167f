//! Sample grids: one row per code, one column per fixed noise vector.

use std::path::Path;

use candle_core::{Device, Tensor};
use einfo_data::grid::{save_png, tile_grid};

use crate::error::Result;
use crate::method::Method;
use crate::noise::NoiseSource;

/// Stream of the fixed grid noise (the same z in every epoch's grid and after resuming).
pub const GRID_STREAM: u64 = 99;

/// The fixed `(columns, noise_dim)` noise of a run's grids.
pub fn grid_noise(seed: u64, columns: usize, noise_dim: usize, device: &Device) -> Result<Tensor> {
    NoiseSource::new(seed, GRID_STREAM).normal(columns, noise_dim, device)
}

/// Images `(N, H, W, C)` in `[-1, 1]` → u8 tiles (first channel).
pub fn to_tiles(images: &Tensor) -> Result<(Vec<Vec<u8>>, usize, usize)> {
    let (n, h, w, _) = images.dims4()?;
    let first = images.narrow(3, 0, 1)?.reshape((n, h * w))?;
    let v: Vec<Vec<f32>> = ((first + 1.0)? * 127.5)?.clamp(0.0, 255.0)?.to_vec2()?;
    Ok((v.into_iter().map(|r| r.into_iter().map(|p| p.round() as u8).collect()).collect(), h, w))
}

/// Write a grid PNG: row = code (all codes, or only `code`), column = fixed z.
pub fn write_grid(method: &dyn Method, z: &Tensor, code: Option<u32>, path: &Path) -> Result<()> {
    let cols = z.dim(0)?;
    let codes: Vec<u32> = match code {
        Some(k) => vec![k],
        None => (0..method.num_codes() as u32).collect(),
    };
    // One code row at a time, so memory stays that of `cols` images however many rows.
    let (mut tiles, mut h, mut w) = (Vec::with_capacity(codes.len() * cols), 0, 0);
    for &k in &codes {
        let images = method.generate(&vec![k; cols], z)?;
        let (row, th, tw) = to_tiles(&images)?;
        (h, w) = (th, tw);
        tiles.extend(row);
    }
    let refs: Vec<&[u8]> = tiles.iter().map(|t| t.as_slice()).collect();
    save_png(&tile_grid(&refs, h, w, cols, 2, 2)?, path)?;
    Ok(())
}
