//! Typed errors of the data crate. Every message is one line that names the file or
//! value at fault and, where there is one, what to do about it.

use std::path::PathBuf;

/// What is wrong with an IDX file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdxProblem {
    #[error("the file is empty")]
    Empty,
    #[error("bad magic number {0:02x?}: expected 00 00 08 <ndim> (unsigned-byte IDX)")]
    BadMagic([u8; 4]),
    #[error("expected {expected} dimension(s), the header says {found}")]
    WrongRank { expected: usize, found: usize },
    #[error("header is truncated ({len} bytes, needs {needed})")]
    TruncatedHeader { len: usize, needed: usize },
    #[error("a dimension is zero: {0:?}")]
    ZeroDimension(Vec<usize>),
    #[error("data is truncated: dimensions {dims:?} need {expected} bytes, found {found}")]
    Truncated { dims: Vec<usize>, expected: usize, found: usize },
    #[error("{extra} unexpected trailing byte(s) after the data")]
    TrailingBytes { extra: usize },
    #[error("label {label} at index {index} is out of range (expected < {num_classes})")]
    LabelOutOfRange { label: u8, index: usize, num_classes: usize },
    #[error("not a valid gzip stream: {0}")]
    Gzip(String),
}

/// Errors of `einfo-data`.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error(transparent)]
    Write(#[from] crate::durable::WriteError),

    #[error("{}: {problem}", path.display())]
    Idx { path: PathBuf, problem: IdxProblem },

    #[error("{images} has {n_images} images but {labels} has {n_labels} labels: use the matching pair of IDX files")]
    CountMismatch { images: String, n_images: usize, labels: String, n_labels: usize },

    #[error("{}: sha256 {actual} does not match the expected {expected}; the file is corrupt or not the canonical one: replace it (for the cache: delete it and run `einfo data fetch`)", path.display())]
    Checksum { path: PathBuf, expected: String, actual: String },

    #[error("{what}")]
    Fetch { what: String },

    /// A split id outside `1..=max`.
    #[error("split {id} does not exist: choose a split from 1 to {max}")]
    UnknownSplit { id: usize, max: usize },

    #[error("invalid split request: {0}")]
    InvalidSplit(String),

    #[error("class {class}: {wanted} images requested but only {available} exist; lower the count or the cap")]
    NotEnoughImages { class: usize, wanted: usize, available: usize },

    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),

    #[error("image error: {0}")]
    Image(String),
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Attach a path to an I/O error.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DataError {
    let path = path.into();
    move |source| DataError::Io { path, source }
}
