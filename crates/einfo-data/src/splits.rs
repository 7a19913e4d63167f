//! Class-imbalanced splits.
//!
//! The 50 MNIST splits of Elastic-InfoGAN are per-class count vectors
//! (`datasets/mnist_imbalance_50.csv`): in each, one class has exactly 6300 images and
//! the others `⌊U(0.1, 1) × 6300⌋`. A split is built from the 70,000 MNIST images
//! (train then test) by drawing, for each class, that many of its images without
//! replacement, then shuffling the union — all with a seeded ChaCha8 stream
//! ([`crate::rng`]) so that the same `(split, seed)` selects the same images everywhere.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::dataset::{Dataset, Part};
use crate::error::{DataError, Result};
use crate::rng::{below, rng_for, shuffle, unit_f64};
use crate::source::DatasetKind;

/// Number of predefined MNIST splits.
pub const NUM_MNIST_SPLITS: usize = 50;

/// The per-class counts of the authors' 50 MNIST splits, verbatim.
pub const MNIST_SPLITS_CSV: &str = include_str!("../../../datasets/mnist_imbalance_50.csv");

/// Stream used for splits made by [`generate_counts`] / [`counts_from_ratios`].
pub const CUSTOM_SPLIT_STREAM: u64 = 1_000_000;

/// One row of the predefined split table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitSpec {
    pub id: usize,
    pub counts: Vec<usize>,
}

impl SplitSpec {
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }
}

fn parse_csv(text: &str) -> std::result::Result<Vec<SplitSpec>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or("empty table")?;
    if !header.starts_with("split,d0") {
        return Err(format!("unexpected header '{header}'"));
    }
    lines
        .map(|line| {
            let f: Vec<usize> =
                line.split(',').map(|x| x.trim().parse::<usize>().map_err(|e| format!("'{line}': {e}"))).collect::<std::result::Result<_, _>>()?;
            if f.len() != 12 {
                return Err(format!("'{line}': expected 12 fields"));
            }
            let counts = f[1..11].to_vec();
            if counts.iter().sum::<usize>() != f[11] {
                return Err(format!("'{line}': counts do not add up to the total"));
            }
            Ok(SplitSpec { id: f[0], counts })
        })
        .collect()
}

/// The 50 predefined MNIST splits (ids 1..=50).
pub fn mnist_splits() -> &'static [SplitSpec] {
    static TABLE: OnceLock<Vec<SplitSpec>> = OnceLock::new();
    TABLE.get_or_init(|| parse_csv(MNIST_SPLITS_CSV).expect("the embedded split table is valid (tested)"))
}

/// One predefined MNIST split by id (1..=50).
pub fn mnist_split(id: usize) -> Result<&'static SplitSpec> {
    mnist_splits().iter().find(|s| s.id == id).ok_or(DataError::UnknownSplit { id, max: NUM_MNIST_SPLITS })
}

/// A concrete split: which images of a data set it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// e.g. `mnist-split1` or `fashion-mnist-custom`.
    pub name: String,
    pub counts: Vec<usize>,
    pub seed: u64,
    /// Indices into the data set, shuffled.
    pub indices: Vec<u32>,
}

impl Split {
    /// Draw `counts[k]` images of each class `k` without replacement, then shuffle.
    pub fn draw(data: &Dataset, name: impl Into<String>, counts: &[usize], seed: u64, stream: u64) -> Result<Split> {
        if counts.is_empty() {
            return Err(DataError::InvalidSplit("no classes: give one count per class".into()));
        }
        if counts.len() != data.num_classes {
            return Err(DataError::InvalidSplit(format!("{} counts given for a data set of {} classes", counts.len(), data.num_classes)));
        }
        if counts.iter().all(|&c| c == 0) {
            return Err(DataError::InvalidSplit("every class count is zero".into()));
        }
        let by_class = data.indices_by_class();
        for (class, (&wanted, pool)) in counts.iter().zip(&by_class).enumerate() {
            if wanted > pool.len() {
                return Err(DataError::NotEnoughImages { class, wanted, available: pool.len() });
            }
        }
        let mut rng = rng_for(seed, stream);
        let mut indices = Vec::with_capacity(counts.iter().sum());
        for (&wanted, pool) in counts.iter().zip(by_class) {
            let mut pool = pool;
            shuffle(&mut rng, &mut pool);
            indices.extend_from_slice(&pool[..wanted]);
        }
        shuffle(&mut rng, &mut indices);
        Ok(Split { name: name.into(), counts: counts.to_vec(), seed, indices })
    }

    /// Predefined MNIST split `id` (1..=50) drawn from all 70,000 MNIST images.
    pub fn mnist(data: &Dataset, id: usize, seed: u64) -> Result<Split> {
        if data.kind != DatasetKind::Mnist || data.part != Part::All {
            return Err(DataError::InvalidSplit("the predefined splits draw from all 70,000 MNIST images (Part::All)".into()));
        }
        let spec = mnist_split(id)?;
        Split::draw(data, format!("mnist-split{id}"), &spec.counts, seed, id as u64)
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// True class frequencies `counts / total` (the ground-truth prior).
    pub fn frequencies(&self) -> Vec<f64> {
        let total: usize = self.counts.iter().sum();
        self.counts.iter().map(|&c| c as f64 / total as f64).collect()
    }

    /// sha256 of the indices as little-endian u32s: records exactly which images, in
    /// which order, a run trained on.
    pub fn indices_hash(&self) -> String {
        let mut h = Sha256::new();
        for i in &self.indices {
            h.update(i.to_le_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// New counts following the authors' protocol: one class (chosen at random) at `cap`,
/// every other class `⌊U(0.1, 1) × cap⌋`. `cap` defaults to the smallest class size.
pub fn generate_counts(available: &[usize], cap: Option<usize>, seed: u64) -> Result<Vec<usize>> {
    if available.is_empty() {
        return Err(DataError::InvalidSplit("no classes: the data set has no labelled images".into()));
    }
    let cap = cap.unwrap_or_else(|| *available.iter().min().unwrap_or(&0));
    if cap == 0 {
        return Err(DataError::InvalidSplit("the cap is zero: every class would be empty".into()));
    }
    let mut rng = rng_for(seed, CUSTOM_SPLIT_STREAM);
    let full = below(&mut rng, available.len() as u64) as usize;
    let counts: Vec<usize> = (0..available.len()).map(|k| if k == full { cap } else { ((0.1 + 0.9 * unit_f64(&mut rng)) * cap as f64) as usize }).collect();
    check_available(&counts, available)?;
    Ok(counts)
}

/// Counts from user-given class ratios: the largest ratio gets `cap` images, the others
/// `⌊ratio / max_ratio × cap⌋`. `cap` defaults to the smallest class size.
pub fn counts_from_ratios(available: &[usize], ratios: &[f64], cap: Option<usize>) -> Result<Vec<usize>> {
    if ratios.is_empty() || available.is_empty() {
        return Err(DataError::InvalidSplit("no classes: give one ratio per class".into()));
    }
    if ratios.len() != available.len() {
        return Err(DataError::InvalidSplit(format!("{} ratios given for a data set of {} classes", ratios.len(), available.len())));
    }
    if let Some(r) = ratios.iter().find(|r| !r.is_finite() || **r < 0.0) {
        return Err(DataError::InvalidSplit(format!("ratio {r} is not a finite non-negative number")));
    }
    let max = ratios.iter().cloned().fold(0.0, f64::max);
    if max <= 0.0 {
        return Err(DataError::InvalidSplit("every ratio is zero".into()));
    }
    let cap = cap.unwrap_or_else(|| *available.iter().min().unwrap_or(&0));
    let counts: Vec<usize> = ratios.iter().map(|r| (r / max * cap as f64) as usize).collect();
    check_available(&counts, available)?;
    Ok(counts)
}

fn check_available(counts: &[usize], available: &[usize]) -> Result<()> {
    for (class, (&wanted, &avail)) in counts.iter().zip(available).enumerate() {
        if wanted > avail {
            return Err(DataError::NotEnoughImages { class, wanted, available: avail });
        }
    }
    if counts.iter().all(|&c| c == 0) {
        return Err(DataError::InvalidSplit("every class count is zero".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_with_the_documented_shape() {
        let t = mnist_splits();
        assert_eq!(t.len(), NUM_MNIST_SPLITS);
        for (i, s) in t.iter().enumerate() {
            assert_eq!(s.id, i + 1);
            assert_eq!(s.counts.len(), 10);
            assert_eq!(*s.counts.iter().max().unwrap(), 6300, "split {}", s.id);
            assert!(s.counts.iter().all(|&c| c >= 630), "split {}", s.id);
        }
        assert_eq!(mnist_split(1).unwrap().counts, vec![6300, 1585, 1407, 6134, 5812, 4882, 2424, 4785, 6125, 3340]);
        let totals: Vec<usize> = t.iter().map(|s| s.total()).collect();
        assert_eq!(*totals.iter().min().unwrap(), 29_640);
        assert_eq!(*totals.iter().max().unwrap(), 48_122);
    }

    #[test]
    fn unknown_split_is_an_error() {
        for id in [0, 51, 1000] {
            let e = mnist_split(id).unwrap_err().to_string();
            assert!(e.contains(&format!("split {id} does not exist")), "{e}");
        }
    }

    #[test]
    fn malformed_tables_are_rejected() {
        assert!(parse_csv("").is_err());
        assert!(parse_csv("x,y\n1,2").is_err());
        assert!(parse_csv("split,d0\n1,2,3").is_err());
        let bad_total = "split,d0,d1,d2,d3,d4,d5,d6,d7,d8,d9,total\n1,1,1,1,1,1,1,1,1,1,1,11";
        assert!(parse_csv(bad_total).unwrap_err().contains("add up"));
    }

    #[test]
    fn generated_counts_follow_the_protocol() {
        let avail = vec![7000; 10];
        for seed in 0..20 {
            let c = generate_counts(&avail, Some(6000), seed).unwrap();
            // Exactly one class at the cap: the others are ⌊U(0.1, 1) × cap⌋ < cap.
            assert_eq!(c.iter().filter(|&&x| x == 6000).count(), 1, "{c:?}");
            assert!(c.iter().all(|&x| (600..=6000).contains(&x)), "{c:?}");
            assert_eq!(c, generate_counts(&avail, Some(6000), seed).unwrap());
        }
        assert_ne!(generate_counts(&avail, None, 1).unwrap(), generate_counts(&avail, None, 2).unwrap());
    }

    #[test]
    fn impossible_requests_are_rejected() {
        assert!(matches!(generate_counts(&[], None, 0), Err(DataError::InvalidSplit(_))));
        assert!(matches!(generate_counts(&[100, 100], Some(150), 0), Err(DataError::NotEnoughImages { wanted: 150, available: 100, .. })));
        assert!(counts_from_ratios(&[10, 10], &[1.0], None).is_err());
        assert!(counts_from_ratios(&[10, 10], &[0.0, 0.0], None).is_err());
        assert!(counts_from_ratios(&[10, 10], &[f64::NAN, 1.0], None).is_err());
        assert!(counts_from_ratios(&[10, 10], &[-1.0, 1.0], None).is_err());
        assert!(counts_from_ratios(&[], &[], None).is_err());
        assert_eq!(counts_from_ratios(&[100, 100, 100], &[1.0, 0.5, 0.25], Some(80)).unwrap(), vec![80, 40, 20]);
        assert!(matches!(counts_from_ratios(&[100, 10], &[1.0, 1.0], Some(50)), Err(DataError::NotEnoughImages { class: 1, wanted: 50, available: 10 })));
    }

    fn toy() -> Dataset {
        let labels: Vec<u8> = (0..300).map(|i| (i % 3) as u8).collect();
        let pixels = vec![0u8; 300 * 4];
        Dataset::from_parts(DatasetKind::Mnist, 2, 2, 3, pixels, labels).unwrap()
    }

    #[test]
    fn draw_takes_the_counts_without_replacement() {
        let d = toy();
        let s = Split::draw(&d, "toy", &[100, 10, 55], 3, 0).unwrap();
        assert_eq!(s.len(), 165);
        let mut seen = s.indices.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 165, "no index twice");
        let mut per = [0; 3];
        for &i in &s.indices {
            per[d.labels[i as usize] as usize] += 1;
        }
        assert_eq!(per, [100, 10, 55]);
        assert_eq!(s, Split::draw(&d, "toy", &[100, 10, 55], 3, 0).unwrap());
        assert_ne!(s.indices, Split::draw(&d, "toy", &[100, 10, 55], 4, 0).unwrap().indices);
        assert!(matches!(Split::draw(&d, "t", &[101, 0, 0], 0, 0), Err(DataError::NotEnoughImages { class: 0, .. })));
        assert!(Split::draw(&d, "t", &[], 0, 0).is_err());
        assert!(Split::draw(&d, "t", &[0, 0, 0], 0, 0).is_err());
        assert!(Split::draw(&d, "t", &[1, 1], 0, 0).is_err());
        let f = s.frequencies();
        assert!((f.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(Split::mnist(&d, 1, 0).is_err(), "a toy set is not MNIST Part::All");
    }

    #[test]
    fn hash_is_pinned_for_a_toy_draw() {
        // Pins the sampling algorithm itself: if this changes, every recorded split changes.
        let s = Split::draw(&toy(), "toy", &[100, 10, 55], 3, 0).unwrap();
        assert_eq!(s.indices[..8], PINNED_TOY_PREFIX);
    }
    const PINNED_TOY_PREFIX: [u32; 8] = [230, 81, 239, 80, 27, 212, 150, 143];
}
