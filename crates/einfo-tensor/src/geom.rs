//! Geometry of a 2-D convolution over NHWC tensors, and its validation.

use candle_core::{bail, Result};

/// A square-kernel convolution from an `h × w × c` image to `ho × wo` positions:
/// `ho = (h + 2·pad − k) / stride + 1` (exact division required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub batch: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub ho: usize,
    pub wo: usize,
}

/// Kernel / stride / padding combinations supported by the fast path and the layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvSpec {
    /// Reject what the layers do not support, with a message saying what is allowed.
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 || self.k > 7 {
            bail!("kernel size {} is not supported: use 1 to 7", self.k)
        }
        if self.stride == 0 || self.stride > self.k.max(1) {
            bail!("stride {} is not supported with kernel {}: use 1 ≤ stride ≤ kernel", self.stride, self.k)
        }
        if self.pad >= self.k {
            bail!("padding {} is not supported with kernel {}: use padding < kernel", self.pad, self.k)
        }
        Ok(())
    }

    /// Output size of a convolution over `n` input positions.
    pub fn conv_out(&self, n: usize) -> Result<usize> {
        let span = n + 2 * self.pad;
        if span < self.k {
            bail!("input size {n} is smaller than kernel {} with padding {}", self.k, self.pad)
        }
        Ok((span - self.k) / self.stride + 1)
    }

    /// Output size of a transposed convolution over `n` input positions
    /// (`(n − 1)·stride − 2·pad + k`).
    pub fn conv_transpose_out(&self, n: usize) -> Result<usize> {
        let full = (n - 1) * self.stride + self.k;
        if full <= 2 * self.pad {
            bail!("transposed convolution of size {n} with padding {} is empty", self.pad)
        }
        Ok(full - 2 * self.pad)
    }

    /// Geometry of a convolution over a `(batch, h, w, c)` image.
    pub fn geom(&self, batch: usize, h: usize, w: usize, c: usize) -> Result<ConvGeom> {
        self.validate()?;
        Ok(ConvGeom { batch, h, w, c, k: self.k, stride: self.stride, pad: self.pad, ho: self.conv_out(h)?, wo: self.conv_out(w)? })
    }
}

impl ConvGeom {
    /// `h×w×c k… s… → ho×wo`, for profiles.
    pub fn label(&self) -> String {
        format!("{}×{}×{} k{} s{} → {}×{}", self.h, self.w, self.c, self.k, self.stride, self.ho, self.wo)
    }

    /// Rows of the column matrix: one per output position.
    pub fn rows(&self) -> usize {
        self.batch * self.ho * self.wo
    }

    /// Columns of the column matrix: one per kernel tap and channel, `(ky·k + kx)·c + ch`.
    pub fn cols(&self) -> usize {
        self.k * self.k * self.c
    }

    pub fn image_len(&self) -> usize {
        self.batch * self.h * self.w * self.c
    }

    /// The kernel columns `kx0..kx1` whose input column `ox·stride + kx − pad` lies inside
    /// `0..w` for output column `ox` (contiguous, since the input column grows with `kx`);
    /// empty (`kx0 == kx1`) when none does.
    pub fn taps_inside(&self, ox: usize) -> (usize, usize) {
        let start = ox * self.stride; // input column of tap kx, shifted by +pad
        let kx0 = self.pad.saturating_sub(start).min(self.k);
        let kx1 = (self.w + self.pad).saturating_sub(start).min(self.k).max(kx0);
        (kx0, kx1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `taps_inside` equals the taps found by testing every kernel column.
    #[test]
    fn taps_inside_matches_brute_force() {
        for k in 1..=7 {
            for stride in 1..=k {
                for pad in 0..k {
                    for w in 1..=12 {
                        let spec = ConvSpec { k, stride, pad };
                        let Ok(g) = spec.geom(1, w, w, 1) else { continue };
                        for ox in 0..g.wo {
                            let inside: Vec<usize> =
                                (0..k).filter(|&kx| (ox * stride + kx) as isize - pad as isize >= 0 && ox * stride + kx < w + pad).collect();
                            let (kx0, kx1) = g.taps_inside(ox);
                            assert_eq!((kx0..kx1).collect::<Vec<_>>(), inside, "k{k} s{stride} p{pad} w{w} ox{ox}");
                        }
                    }
                }
            }
        }
    }
}
