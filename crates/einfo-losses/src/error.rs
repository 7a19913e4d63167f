//! Errors of the loss functions: wrong shapes or arguments are reported, never panics.

/// A loss could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum LossError {
    /// An input's shape does not fit (e.g. logits `(B, K)` against targets `(B', K)`).
    #[error("{loss}: {detail}")]
    Shape {
        /// The loss that was asked.
        loss: &'static str,
        /// What does not fit.
        detail: String,
    },
    /// An argument is out of its domain (a temperature ≤ 0, probabilities that do not sum to 1, …).
    #[error("{loss}: {detail}")]
    Argument {
        /// The loss that was asked.
        loss: &'static str,
        /// Which argument, and why.
        detail: String,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Results of the loss functions.
pub type Result<T, E = LossError> = std::result::Result<T, E>;

/// So that `?` works on a loss inside code returning `candle_core::Result`, as with
/// candle-nn's losses.
impl From<LossError> for candle_core::Error {
    fn from(e: LossError) -> Self {
        match e {
            LossError::Candle(c) => c,
            other => candle_core::Error::Msg(other.to_string()),
        }
    }
}

pub(crate) fn shape_err(loss: &'static str, detail: impl Into<String>) -> LossError {
    LossError::Shape { loss, detail: detail.into() }
}

pub(crate) fn arg_err(loss: &'static str, detail: impl Into<String>) -> LossError {
    LossError::Argument { loss, detail: detail.into() }
}

/// Check `t` is `(B, K)` and return `(B, K)`.
pub(crate) fn dims2(loss: &'static str, what: &str, t: &candle_core::Tensor) -> Result<(usize, usize)> {
    match t.dims() {
        &[b, k] if b > 0 && k > 0 => Ok((b, k)),
        d => Err(shape_err(loss, format!("{what} must be a non-empty (batch, classes) matrix, got {d:?}"))),
    }
}

pub(crate) fn same_shape(loss: &'static str, a: &candle_core::Tensor, b: &candle_core::Tensor) -> Result<()> {
    if a.dims() != b.dims() {
        return Err(shape_err(loss, format!("shapes differ: {:?} vs {:?}", a.dims(), b.dims())));
    }
    Ok(())
}
