//! Per-op wall-clock timers for profiling a training step (`einfo bench profile`).
//!
//! Off by default: a disabled [`span`] is one relaxed atomic load and records nothing. When
//! [`enable`]d, every CPU kernel of this crate (each GEMM, keyed by its shape, `im2col`,
//! `col2im`, BatchNorm, the leaky ReLU, column sums, augmentation) and einfo-train's fused
//! Adam time themselves on the calling thread; [`take`] returns the totals. The spans are
//! leaves — none encloses another — so their times add up, and whatever the step spends
//! outside them (candle's element-wise ops, the losses, autograd bookkeeping, allocation)
//! is the step's time minus their sum.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);
static TOTALS: Mutex<Option<HashMap<String, OpTime>>> = Mutex::new(None);

/// One op's accumulated time since the last [`take`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpTime {
    /// The op's name; a GEMM's is `gemm NT m=… n=… k=…` (BLAS's N / T for each operand).
    pub op: String,
    pub calls: u64,
    pub seconds: f64,
    /// Floating-point operations done (2·m·n·k for a GEMM, 0 for the others).
    pub flops: f64,
}

/// Turns the timers on or off (they start off) and clears the totals.
pub fn enable(on: bool) {
    *TOTALS.lock().unwrap_or_else(|e| e.into_inner()) = None;
    ENABLED.store(on, Ordering::Relaxed);
}

/// The totals since the last call (or [`enable`]), largest time first, and clears them.
pub fn take() -> Vec<OpTime> {
    let map = TOTALS.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
    let mut v: Vec<OpTime> = map.into_values().collect();
    v.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then_with(|| a.op.cmp(&b.op)));
    v
}

/// A running timer; records its op when dropped.
#[must_use = "a span measures until it is dropped"]
pub struct Span {
    start: Option<(Instant, String, f64)>,
}

fn start(label: impl FnOnce() -> (String, f64)) -> Span {
    Span {
        start: ENABLED.load(Ordering::Relaxed).then(|| {
            let (name, flops) = label();
            (Instant::now(), name, flops)
        }),
    }
}

/// Times the enclosing scope as `op`.
pub fn span(op: &'static str) -> Span {
    start(|| (op.to_string(), 0.0))
}

/// Times the enclosing scope under a name built only when the timers are on.
pub fn span_with(op: impl FnOnce() -> String) -> Span {
    start(|| (op(), 0.0))
}

/// Times a GEMM `op(A) (m×k) · op(B) (k×n)`; it is recorded under its shape.
pub fn gemm_span(ta: bool, tb: bool, m: usize, n: usize, k: usize) -> Span {
    let t = |on: bool| if on { 'T' } else { 'N' };
    start(|| (format!("gemm {}{} m={m} n={n} k={k}", t(ta), t(tb)), 2.0 * (m * n * k) as f64))
}

impl Drop for Span {
    fn drop(&mut self) {
        let Some((t0, name, flops)) = self.start.take() else { return };
        let seconds = t0.elapsed().as_secs_f64();
        let mut guard = TOTALS.lock().unwrap_or_else(|e| e.into_inner());
        let e = guard.get_or_insert_with(HashMap::new).entry(name.clone()).or_insert_with(|| OpTime { op: name, ..OpTime::default() });
        e.calls += 1;
        e.seconds += seconds;
        e.flops += flops;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_record_only_while_enabled_and_gemms_by_shape() {
        {
            let _s = span("off");
        }
        enable(true);
        for _ in 0..3 {
            let _g = gemm_span(false, true, 64, 1024, 6272);
        }
        {
            let _s = span_with(|| format!("b{}", "n"));
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let t = take();
        enable(false);
        {
            let _s = span("after");
        }
        // Other tests of this binary run ops meanwhile; only this test's names are checked.
        assert!(!take().iter().any(|o| o.op == "after"), "nothing recorded while disabled");
        let bn = t.iter().find(|o| o.op == "bn").expect("bn recorded");
        assert_eq!(bn.calls, 1);
        assert!(bn.seconds >= 0.002, "{}", bn.seconds);
        assert!(t.windows(2).all(|w| w[0].seconds >= w[1].seconds), "largest time first: {t:?}");
        let g = t.iter().find(|o| o.op == "gemm NT m=64 n=1024 k=6272").expect("gemm recorded by shape");
        assert_eq!(g.calls, 3);
        // 3 · 2·64·1024·6272
        assert_eq!(g.flops, 3.0 * 2.0 * 64.0 * 1024.0 * 6272.0);
        assert!(!t.iter().any(|o| o.op == "off" || o.op == "after"));
    }
}
