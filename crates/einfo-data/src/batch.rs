//! Seeded, shuffled, drop-last epochs of a split, as candle tensors.
//!
//! Epoch `e`'s order depends only on `(seed, e)`, so a resumed run sees exactly the
//! batches it would have seen without the interruption, with no RNG state to save.

use candle_core::{Device, Tensor};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::rng::{rng_for, shuffle};

/// Streams below this are used for split selection; epochs use their own range.
const EPOCH_STREAM_BASE: u64 = 1 << 40;

/// One batch: images in `[-1, 1]` and their labels.
///
/// Labels are for evaluation only: the unsupervised training loops never read them.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `(B, 1, rows, cols)`, f32, `x / 255 · 2 − 1`.
    pub images: Tensor,
    /// `(B,)`, u32.
    pub labels: Tensor,
    /// The data set indices of the batch's images.
    pub indices: Vec<u32>,
}

/// A batch of images without their labels: what the unsupervised training loops get, so
/// that no training step can read a label.
#[derive(Debug, Clone)]
pub struct Images {
    /// `(B, 1, rows, cols)`, f32, `x / 255 · 2 − 1`.
    pub images: Tensor,
    /// The data set indices of the batch's images.
    pub indices: Vec<u32>,
}

/// Makes epochs of batches over a subset of a data set.
#[derive(Debug, Clone)]
pub struct Batcher<'a> {
    data: &'a Dataset,
    indices: &'a [u32],
    batch_size: usize,
    seed: u64,
}

impl<'a> Batcher<'a> {
    pub fn new(data: &'a Dataset, indices: &'a [u32], batch_size: usize, seed: u64) -> Result<Self> {
        if batch_size == 0 {
            return Err(DataError::InvalidSplit("batch size must be at least 1".into()));
        }
        if indices.len() < batch_size {
            return Err(DataError::InvalidSplit(format!("{} images cannot fill one batch of {batch_size} (drop-last): use a smaller batch", indices.len())));
        }
        if let Some(&i) = indices.iter().find(|&&i| i as usize >= data.len()) {
            return Err(DataError::InvalidSplit(format!("index {i} is outside the data set of {} images", data.len())));
        }
        Ok(Batcher { data, indices, batch_size, seed })
    }

    /// Full batches per epoch (the remainder is dropped).
    pub fn batches_per_epoch(&self) -> usize {
        self.indices.len() / self.batch_size
    }

    /// The shuffled order of epoch `epoch`.
    pub fn order(&self, epoch: u64) -> Vec<u32> {
        let mut order = self.indices.to_vec();
        shuffle(&mut rng_for(self.seed, EPOCH_STREAM_BASE + epoch), &mut order);
        order
    }

    /// Iterate over epoch `epoch`'s batches.
    pub fn epoch(&self, epoch: u64, device: &Device) -> EpochIter<'a> {
        self.epoch_from(epoch, 0, device)
    }

    /// Iterate over epoch `epoch`'s batches starting at batch `start` (for resuming).
    pub fn epoch_from(&self, epoch: u64, start: usize, device: &Device) -> EpochIter<'a> {
        EpochIter { data: self.data, order: self.order(epoch), batch_size: self.batch_size, next: start, device: device.clone() }
    }

    /// The same batches as [`Batcher::epoch_from`], images only (labels are never read).
    pub fn images_from(&self, epoch: u64, start: usize, device: &Device) -> ImagesIter<'a> {
        ImagesIter(self.epoch_from(epoch, start, device))
    }
}

/// The batches of one epoch without labels.
pub struct ImagesIter<'a>(EpochIter<'a>);

impl Iterator for ImagesIter<'_> {
    type Item = Result<Images>;

    fn next(&mut self) -> Option<Self::Item> {
        let idx = self.0.next_indices()?;
        Some(images_of(self.0.data, &idx, &self.0.device))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// The batches of one epoch.
pub struct EpochIter<'a> {
    data: &'a Dataset,
    order: Vec<u32>,
    batch_size: usize,
    next: usize,
    device: Device,
}

impl EpochIter<'_> {
    fn next_indices(&mut self) -> Option<Vec<u32>> {
        let start = self.next * self.batch_size;
        let end = start + self.batch_size;
        if end > self.order.len() {
            return None;
        }
        self.next += 1;
        Some(self.order[start..end].to_vec())
    }
}

impl Iterator for EpochIter<'_> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        let idx = self.next_indices()?;
        Some(batch_of(self.data, &idx, &self.device))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.order.len() / self.batch_size).saturating_sub(self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for EpochIter<'_> {}

/// The images `idx` of `data` on `device`, without their labels.
pub fn images_of(data: &Dataset, idx: &[u32], device: &Device) -> Result<Images> {
    let n = data.image_len();
    let mut px = Vec::with_capacity(idx.len() * n);
    for &i in idx {
        px.extend(data.image(i as usize).iter().map(|&p| p as f32 * (2.0 / 255.0) - 1.0));
    }
    Ok(Images { images: Tensor::from_vec(px, (idx.len(), 1, data.rows, data.cols), device)?, indices: idx.to_vec() })
}

/// The images `idx` of `data` and their labels as a batch on `device`.
pub fn batch_of(data: &Dataset, idx: &[u32], device: &Device) -> Result<Batch> {
    let Images { images, indices } = images_of(data, idx, device)?;
    let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i as usize] as u32).collect();
    Ok(Batch { images, labels: Tensor::from_vec(labels, idx.len(), device)?, indices })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::DatasetKind;

    fn toy(n: usize) -> Dataset {
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let pixels: Vec<u8> = (0..n * 4).map(|i| (i % 256) as u8).collect();
        Dataset::from_parts(DatasetKind::Mnist, 2, 2, 10, pixels, labels).unwrap()
    }

    #[test]
    fn epochs_drop_the_last_partial_batch_and_cover_each_index_once() {
        let d = toy(103);
        let idx: Vec<u32> = (0..103).collect();
        let b = Batcher::new(&d, &idx, 10, 5).unwrap();
        assert_eq!(b.batches_per_epoch(), 10);
        let batches: Vec<Batch> = b.epoch(0, &Device::Cpu).collect::<Result<_>>().unwrap();
        assert_eq!(batches.len(), 10);
        let mut seen: Vec<u32> = batches.iter().flat_map(|x| x.indices.clone()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 100);
        assert_eq!(batches[0].images.dims(), &[10, 1, 2, 2]);
        assert_eq!(batches[0].labels.dims(), &[10]);
    }

    #[test]
    fn pixels_are_scaled_to_minus_one_one_and_labels_match() {
        let d = Dataset::from_parts(DatasetKind::Mnist, 1, 2, 10, vec![0, 255, 51, 204], vec![3, 7]).unwrap();
        let b = batch_of(&d, &[1, 0], &Device::Cpu).unwrap();
        let v: Vec<f32> = b.images.flatten_all().unwrap().to_vec1().unwrap();
        let want = [-0.6, 0.6, -1.0, 1.0];
        for (a, w) in v.iter().zip(want) {
            assert!((a - w).abs() < 1e-6, "{v:?}");
        }
        assert_eq!(b.labels.to_vec1::<u32>().unwrap(), vec![7, 3]);
    }

    #[test]
    fn order_is_seeded_per_epoch_and_resumable() {
        let d = toy(50);
        let idx: Vec<u32> = (0..50).collect();
        let b = Batcher::new(&d, &idx, 8, 1).unwrap();
        assert_eq!(b.order(0), b.order(0));
        assert_ne!(b.order(0), b.order(1));
        assert_ne!(b.order(0), Batcher::new(&d, &idx, 8, 2).unwrap().order(0));
        let all: Vec<Vec<u32>> = b.epoch(3, &Device::Cpu).map(|x| x.unwrap().indices).collect();
        let tail: Vec<Vec<u32>> = b.epoch_from(3, 2, &Device::Cpu).map(|x| x.unwrap().indices).collect();
        assert_eq!(&all[2..], &tail[..]);
        // The label-free batches are the same images in the same order.
        let imgs: Vec<Vec<u32>> = b.images_from(3, 2, &Device::Cpu).map(|x| x.unwrap().indices).collect();
        assert_eq!(imgs, tail);
    }

    #[test]
    fn bad_batchers_are_rejected() {
        let d = toy(5);
        let idx: Vec<u32> = (0..5).collect();
        assert!(Batcher::new(&d, &idx, 0, 0).is_err());
        assert!(Batcher::new(&d, &idx, 6, 0).is_err());
        assert!(Batcher::new(&d, &[9], 1, 0).is_err());
    }
}
