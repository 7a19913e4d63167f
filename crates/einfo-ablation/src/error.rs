//! Typed errors of the ablation runner: one line naming the cell, file or value.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AblationError {
    #[error("{0}")]
    Invalid(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {detail}", path.display())]
    File { path: PathBuf, detail: String },
    #[error("{count} cell(s) failed: {ids} (see their logs under <root>/logs/; run the same command again to retry them)", count = .0.len(), ids = .0.join(", "))]
    CellsFailed(Vec<String>),
    #[error("plot {0}: {1}")]
    Plot(String, String),
    #[error(transparent)]
    Train(#[from] einfo_train::TrainError),
}

pub type Result<T, E = AblationError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AblationError {
    let path = path.into();
    move |source| AblationError::Io { path, source }
}
