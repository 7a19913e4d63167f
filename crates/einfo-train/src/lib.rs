//! # einfo-train
//!
//! Configs and presets, the training loops of the InfoGAN family and JointVAE, a
//! PyTorch-semantics Adam whose state is saved, atomic checkpoints and exact resume,
//! CSV logs, sample grids, and the step benchmark.

pub mod adam;
pub mod bench;
pub mod bounded_read;
pub mod call_count;
pub mod cell;
pub mod checkpoint;
pub mod checkpointer;
pub mod classifier;
pub mod config;
pub mod curve;
pub mod epoch_eval;
pub mod error;
pub mod eval;
pub mod events;
pub mod infogan;
pub mod jointvae;
pub mod label_probe;
pub mod method;
pub mod new_run;
pub mod noise;
pub mod plan;
pub mod presets;
pub mod prior_probe;
pub mod run;
pub mod run_dir;
pub mod samples;
pub mod setup;
pub mod signal;
pub mod train_log;
pub mod trainer;

pub use config::Config;
pub use error::{Result, TrainError};
pub use method::Method;
pub use plan::RunPlan;
pub use run::{resume, train, RunOptions, RunSummary};
pub use setup::{build_method, device_for, load_run, prepare_data, read_config, LoadedRun};
