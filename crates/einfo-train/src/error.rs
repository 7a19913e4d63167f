//! Typed errors of training. Messages are one line naming the file, field or step.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("config: {0}")]
    Config(String),
    #[error("unknown preset '{0}': choose one of {1}")]
    UnknownPreset(String, String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {detail}", path.display())]
    Checkpoint { path: PathBuf, detail: String },
    #[error("run directory {} already exists: pass --force to overwrite it, or `einfo resume` it", .0.display())]
    RunExists(PathBuf),
    #[error("{} is not a run directory (no config.toml)", .0.display())]
    NotARun(PathBuf),
    #[error("non-finite loss at step {step}: {term} = {value}; {kept} — train anew (`einfo train`; `resume` keeps them) with a lower learning rate or loss weights", kept = kept_checkpoint(.kept))]
    NonFinite { step: u64, term: String, value: f64, kept: Option<PathBuf> },
    #[error("step {step}: {what} holds non-finite values (the run diverged); nothing was saved, {kept} — train anew (`einfo train`; `resume` keeps them) with a lower learning rate or loss weights", kept = kept_checkpoint(.kept))]
    NonFiniteState { step: u64, what: String, kept: Option<PathBuf> },
    #[error("{} is in use by {who}: wait for it to finish (or stop it) and run this again", .0.display(), who = .1)]
    RunInUse(PathBuf, String),
    #[error("--force will not replace {}: {why}; move them away or choose another --out", .0.display(), why = .1)]
    NotReplaceable(PathBuf, String),
    #[error("{}: {why}", .0.display(), why = .1)]
    ResumeChange(PathBuf, String),
    #[error("{}: interrupted; run the same command again to continue from the last checkpoint", .0.display())]
    Interrupted(PathBuf),
    #[error("stopped by a signal before it finished")]
    Stopped,
    #[error("device '{0}' is not available: {1}")]
    Device(String, String),
    #[error(transparent)]
    Write(#[from] einfo_data::durable::WriteError),
    #[error(transparent)]
    Data(#[from] einfo_data::DataError),
    #[error(transparent)]
    Loss(#[from] einfo_losses::LossError),
    #[error(transparent)]
    Metric(#[from] einfo_metrics::MetricError),
    #[error("tensor: {}", first_line(.0))]
    Candle(#[from] candle_core::Error),
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// The first line of an error (candle appends a backtrace when RUST_BACKTRACE is set).
pub(crate) fn first_line(e: &impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

fn kept_checkpoint(kept: &Option<PathBuf>) -> String {
    match kept {
        Some(p) => format!("the last good checkpoint, {}, is kept", p.display()),
        None => "no checkpoint had been written yet".into(),
    }
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.into();
    move |source| TrainError::Io { path, source }
}
