//! Tiling grey-scale images into one PNG (contact sheets, sample grids).

use std::path::Path;

use image::{GrayImage, Luma};

use crate::error::{io_err, DataError, Result};

/// Lay `tiles` (each `h × w` bytes, row-major) out row by row, `ncols` per row, with a
/// `pad`-pixel border of grey 128, every pixel drawn `scale × scale`.
pub fn tile_grid(tiles: &[&[u8]], h: usize, w: usize, ncols: usize, pad: usize, scale: usize) -> Result<GrayImage> {
    if tiles.is_empty() || ncols == 0 || scale == 0 || h == 0 || w == 0 {
        return Err(DataError::Image("nothing to draw: no tiles, zero columns or zero size".into()));
    }
    if let Some(t) = tiles.iter().find(|t| t.len() != h * w) {
        return Err(DataError::Image(format!("a tile has {} pixels, expected {h}×{w}", t.len())));
    }
    let nrows = tiles.len().div_ceil(ncols);
    let (th, tw) = (h * scale, w * scale);
    let width = ncols * tw + (ncols + 1) * pad;
    let height = nrows * th + (nrows + 1) * pad;
    let mut img = GrayImage::from_pixel(width as u32, height as u32, Luma([128]));
    for (t, tile) in tiles.iter().enumerate() {
        let (r, c) = (t / ncols, t % ncols);
        let (y0, x0) = (pad + r * (th + pad), pad + c * (tw + pad));
        for y in 0..th {
            for x in 0..tw {
                img.put_pixel((x0 + x) as u32, (y0 + y) as u32, Luma([tile[(y / scale) * w + x / scale]]));
            }
        }
    }
    Ok(img)
}

/// Save a PNG atomically (temporary file, then rename), creating parent directories.
pub fn save_png(img: &GrayImage, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).map_err(|e| DataError::Image(format!("{}: {e}", path.display())))?;
    Ok(crate::durable::write_atomic(path, &bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_land_where_expected() {
        let a = [0u8, 10, 20, 30];
        let b = [255u8; 4];
        let g = tile_grid(&[&a, &b, &a], 2, 2, 2, 1, 2).unwrap();
        assert_eq!(g.dimensions(), (2 * 4 + 3, 2 * 4 + 3));
        assert_eq!(g.get_pixel(0, 0).0[0], 128);
        assert_eq!(g.get_pixel(1, 1).0[0], 0);
        assert_eq!(g.get_pixel(3, 1).0[0], 10);
        assert_eq!(g.get_pixel(1, 3).0[0], 20);
        assert_eq!(g.get_pixel(6, 1).0[0], 255);
        assert_eq!(g.get_pixel(1, 6).0[0], 0);
        assert!(tile_grid(&[&a[..3]], 2, 2, 1, 0, 1).is_err());
        assert!(tile_grid(&[], 2, 2, 1, 0, 1).is_err());
    }
}
