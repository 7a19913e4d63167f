//! # einfo-train
//!
//! Configs and presets, the training loops of the InfoGAN family and JointVAE, a
//! PyTorch-semantics Adam whose state is saved, atomic checkpoints and exact resume,
//! CSV logs, sample grids, and the step benchmark.
//!
//! The way in: a [`Config`] (from [`presets::load`]) and [`RunOptions`] — where the data
//! cache is, a [`Stop`] handle the caller's signals set, an [`Events`] subscriber for the
//! messages — then [`train`], [`resume`], [`cell::run_cell`] (train or resume, then evaluate)
//! or [`evaluate`]. Each builds one [`RunPlan`] (config validated, device opened, data
//! loaded) before anything on disk changes. A run directory's files are defined once each:
//! `config.toml` ([`Config`]), `split.json` ([`setup::SplitRecord`]), `log.csv`
//! ([`train_log`]), `eval.csv` ([`curve`]), `metrics.json` ([`EvalReport`]), checkpoints
//! ([`checkpoint`]).

/// The CPU, vector tier and GEMM backend recorded beside results, and the process set-up that
/// picks the BLAS kernels (call first in `main`, as `einfo` does, so that what a launcher
/// records is what its cells run).
pub use einfo_tensor::{cpu_kind, tune_threads};

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

pub use cell::{run_cell, CellOutcome};
pub use config::Config;
pub use error::{Result, TrainError};
pub use eval::{evaluate, EvalOptions, EvalReport};
pub use events::{Event, Events};
pub use method::Method;
pub use plan::RunPlan;
pub use run::{resume, train, RunOptions, RunSummary};
pub use setup::{build_method, device_for, load_run, prepare_data, read_config, LoadedRun};
pub use signal::Stop;
