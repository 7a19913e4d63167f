/// A metric could not be computed from its inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    #[error("the count matrix is empty (no samples)")]
    Empty,
    #[error("{what}: {a} vs {b} entries")]
    LengthMismatch { what: &'static str, a: usize, b: usize },
    #[error("{what} label {label} is out of range (expected < {max})")]
    LabelOutOfRange { what: &'static str, label: usize, max: usize },
    #[error("invalid input: {0}")]
    Invalid(String),
}

pub type Result<T, E = MetricError> = std::result::Result<T, E>;
