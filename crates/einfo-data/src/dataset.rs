//! An in-memory labelled image data set (u8 pixels, row-major), loaded from the cache
//! with every file's checksum verified.

use crate::error::{DataError, Result};
use crate::idx::{check_pair, parse_images, parse_labels};
use crate::source::{ensure, read_verified, DataOptions, DatasetKind};

/// Which part of a data set to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Train,
    Test,
    /// Train followed by test (70,000 images for MNIST): what the imbalanced splits draw from.
    All,
}

/// Images and labels held in memory.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub kind: DatasetKind,
    pub part: Part,
    pub rows: usize,
    pub cols: usize,
    pub num_classes: usize,
    /// `len × rows × cols` bytes.
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Load a data set, fetching it first if it is not cached.
    pub fn load(kind: DatasetKind, part: Part, opts: &DataOptions) -> Result<Self> {
        ensure(kind, opts)?;
        let dir = opts.cache_dir(kind);
        let files = kind.files();
        let load_half = |img: usize, lab: usize| -> Result<(crate::idx::IdxImages, Vec<u8>)> {
            let (ip, lp) = (dir.join(files[img].name), dir.join(files[lab].name));
            let im = parse_images(&read_verified(&ip, &files[img])?).map_err(|problem| DataError::Idx { path: ip.clone(), problem })?;
            let lb = parse_labels(&read_verified(&lp, &files[lab])?, kind.num_classes()).map_err(|problem| DataError::Idx { path: lp.clone(), problem })?;
            check_pair(&im, &lb, &ip.display().to_string(), &lp.display().to_string())?;
            Ok((im, lb))
        };
        let halves = match part {
            Part::Train => vec![load_half(0, 1)?],
            Part::Test => vec![load_half(2, 3)?],
            Part::All => vec![load_half(0, 1)?, load_half(2, 3)?],
        };
        let (rows, cols) = (halves[0].0.rows, halves[0].0.cols);
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for (im, lb) in halves {
            pixels.extend_from_slice(&im.pixels);
            labels.extend_from_slice(&lb);
        }
        Ok(Dataset { kind, part, rows, cols, num_classes: kind.num_classes(), pixels, labels })
    }

    /// Build a data set from raw parts (a user's own data, or tests).
    pub fn from_parts(kind: DatasetKind, rows: usize, cols: usize, num_classes: usize, pixels: Vec<u8>, labels: Vec<u8>) -> Result<Self> {
        if rows == 0 || cols == 0 || pixels.len() != labels.len() * rows * cols {
            return Err(DataError::InvalidSplit(format!("{} pixels do not make {} images of {rows}×{cols}", pixels.len(), labels.len())));
        }
        if let Some(&l) = labels.iter().find(|&&l| l as usize >= num_classes) {
            return Err(DataError::InvalidSplit(format!("label {l} is not below num_classes = {num_classes}")));
        }
        Ok(Dataset { kind, part: Part::All, rows, cols, num_classes, pixels, labels })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Number of images of each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// Indices of each class's images, in data set order.
    pub fn indices_by_class(&self) -> Vec<Vec<u32>> {
        let mut by = vec![Vec::new(); self.num_classes];
        for (i, &l) in self.labels.iter().enumerate() {
            by[l as usize].push(i as u32);
        }
        by
    }
}
