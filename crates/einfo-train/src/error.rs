//! Typed errors of training. Messages are one line naming the file, field or step.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("config: {0}")]
    Config(String),
    #[error("unknown preset '{0}': choose one of {list}", list = crate::presets::NAMES.join(", "))]
    UnknownPreset(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {detail}", path.display())]
    Checkpoint { path: PathBuf, detail: String },
    #[error("run directory {} already exists: pass --force to overwrite it, or `einfo resume` it", .0.display())]
    RunExists(PathBuf),
    #[error("{} is not a run directory (no config.toml)", .0.display())]
    NotARun(PathBuf),
    #[error("non-finite loss at step {step}: {term} = {value}; the last good checkpoint is kept — lower the learning rate or the loss weights")]
    NonFinite { step: u64, term: String, value: f64 },
    #[error("{}: interrupted; run the same command again to continue from the last checkpoint", .0.display())]
    Interrupted(PathBuf),
    #[error("device '{0}' is not available: {1}")]
    Device(String, String),
    #[error(transparent)]
    Data(#[from] einfo_data::DataError),
    #[error(transparent)]
    Loss(#[from] einfo_losses::LossError),
    #[error(transparent)]
    Metric(#[from] einfo_metrics::MetricError),
    #[error("tensor: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.into();
    move |source| TrainError::Io { path, source }
}
