//! # einfo-train
//!
//! Configs and presets, the training loops of the InfoGAN family and JointVAE, a
//! PyTorch-semantics Adam whose state is saved, atomic checkpoints and exact resume,
//! CSV logs, sample grids, and the step benchmark.

pub mod adam;
pub mod bench;
pub mod cell;
pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod error;
pub mod eval;
pub mod infogan;
pub mod jointvae;
pub mod method;
pub mod noise;
pub mod presets;
pub mod run;
pub mod samples;
pub mod signal;

pub use config::Config;
pub use error::{Result, TrainError};
pub use method::Method;
pub use run::{build_method, device_for, prepare_data, read_config, resume, train, RunOptions, RunSummary};
