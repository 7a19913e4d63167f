//! Errors of the loss functions: wrong shapes or arguments are reported, never panics.

/// A loss could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum LossError {
    /// An input's shape does not fit (e.g. logits `(B, K)` against targets `(B', K)`).
    #[error("{loss}: {detail}")]
    Shape { loss: &'static str, detail: String },
    /// An argument is out of its domain (a temperature ≤ 0, probabilities that do not sum to 1, …).
    #[error("{loss}: {detail}")]
    Argument { loss: &'static str, detail: String },
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub type Result<T, E = LossError> = std::result::Result<T, E>;

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
