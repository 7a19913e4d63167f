//! # einfo-data
//!
//! Data for einfo: fetching MNIST and Fashion-MNIST into a local cache (checksummed),
//! a validating IDX reader, the 50 class-imbalanced MNIST splits of Elastic-InfoGAN and
//! a generator for new ones, seeded batching into candle tensors, and image grids.
//!
//! ```no_run
//! use einfo_data::{Dataset, DatasetKind, DataOptions, Part, Split, Batcher};
//! # fn main() -> einfo_data::Result<()> {
//! let opts = DataOptions::from_env();            // EINFO_DATA / EINFO_CACHE
//! let mnist = Dataset::load(DatasetKind::Mnist, Part::All, &opts)?; // fetched on first use
//! let split = Split::mnist(&mnist, 1, 0)?;        // split 1, seed 0
//! let batcher = Batcher::new(&mnist, &split.indices, 64, 0)?;
//! for batch in batcher.epoch(0, &candle_core::Device::Cpu) {
//!     let batch = batch?;                          // images (64, 1, 28, 28) in [-1, 1]
//! }
//! # Ok(()) }
//! ```

pub mod batch;
pub mod dataset;
pub mod durable;
pub mod error;
pub mod grid;
pub mod idx;
/// The seeded generators (they live in einfo-tensor, which initialises weights with them).
pub use einfo_tensor::rng;
pub mod source;
pub mod splits;

pub use batch::{batch_of, images_of, Batch, Batcher, EpochIter, Images, ImagesIter};
pub use dataset::{Dataset, Part};
pub use error::{DataError, IdxProblem, Result};
pub use source::{ensure, DataOptions, DatasetKind, Source};
pub use splits::{counts_from_ratios, generate_counts, mnist_split, mnist_splits, Split, SplitSpec, NUM_MNIST_SPLITS};
