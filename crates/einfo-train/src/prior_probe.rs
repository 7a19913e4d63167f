//! The window accumulator behind [`PriorProbe`]: how the learnable prior's logits θ were
//! pushed and moved between two log rows. Sums stay on the device; they are read only
//! when a window is taken (every `log.every_steps`).

use candle_core::{DType, Tensor};

use crate::error::Result;
use crate::method::PriorProbe;

/// Running sums over the steps since the last [`ProbeWindow::take`].
#[derive(Debug, Default)]
pub struct ProbeWindow {
    sum_grad: Option<Tensor>,
    sum_norm: Option<Tensor>,
    sum_step: Option<Tensor>,
    start: Option<Tensor>,
    steps: u64,
    term_grads: Vec<(&'static str, f64)>,
}

fn add(acc: &mut Option<Tensor>, t: Tensor) -> Result<()> {
    *acc = Some(match acc.take() {
        Some(a) => (a + t)?,
        None => t,
    });
    Ok(())
}

fn norm(t: &Tensor) -> Result<Tensor> {
    Ok(t.to_dtype(DType::F32)?.sqr()?.sum_all()?.sqrt()?)
}

fn host(t: &Option<Tensor>) -> Result<Vec<f64>> {
    Ok(match t {
        Some(t) => crate::method::to_host_f64(t)?,
        None => vec![],
    })
}

impl ProbeWindow {
    /// One step: θ's gradient, θ before the optimiser step and θ after it.
    pub fn record(&mut self, grad: &Tensor, before: &Tensor, after: &Tensor) -> Result<()> {
        if self.start.is_none() {
            self.start = Some(before.copy()?);
        }
        let g = grad.to_dtype(DType::F32)?;
        add(&mut self.sum_norm, norm(&g)?)?;
        add(&mut self.sum_grad, g)?;
        add(&mut self.sum_step, norm(&(after - before)?)?)?;
        self.steps += 1;
        Ok(())
    }

    /// Per-term gradient norms measured on the last step.
    pub fn set_term_grads(&mut self, terms: Vec<(&'static str, f64)>) {
        self.term_grads = terms;
    }

    /// The window's summary (θ now: `theta`), and start a new window.
    pub fn take(&mut self, theta: &Tensor) -> Result<PriorProbe> {
        let n = self.steps.max(1) as f64;
        let sum_grad = host(&self.sum_grad)?;
        let sum_norm = host(&self.sum_norm)?.first().copied().unwrap_or(0.0);
        let sum_step = host(&self.sum_step)?.first().copied().unwrap_or(0.0);
        let logits = crate::method::to_host_f64(theta)?;
        let start = host(&self.start)?;
        let drift = if start.is_empty() { 0.0 } else { logits.iter().zip(&start).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt() };
        let resultant = sum_grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        let probe = PriorProbe {
            steps: self.steps,
            grad_norm: sum_norm / n,
            coherence: if sum_norm > 0.0 { resultant / sum_norm } else { 0.0 },
            mean_grad: sum_grad.iter().map(|g| g / n).collect(),
            step_norm: sum_step / n,
            drift,
            logits,
            term_grads: std::mem::take(&mut self.term_grads),
        };
        *self = ProbeWindow::default();
        Ok(probe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn coherent_and_cancelling_gradients() {
        let d = Device::Cpu;
        let t = |v: &[f32]| Tensor::new(v, &d).unwrap();
        let mut w = ProbeWindow::default();
        // Two identical pushes: coherence 1; θ moves 0 → (0.3, 0.4) → (0.6, 0.8).
        w.record(&t(&[3.0, 4.0]), &t(&[0.0, 0.0]), &t(&[0.3, 0.4])).unwrap();
        w.record(&t(&[3.0, 4.0]), &t(&[0.3, 0.4]), &t(&[0.6, 0.8])).unwrap();
        let p = w.take(&t(&[0.6, 0.8])).unwrap();
        assert_eq!(p.steps, 2);
        assert!((p.grad_norm - 5.0).abs() < 1e-6 && (p.coherence - 1.0).abs() < 1e-6, "{p:?}");
        assert!((p.step_norm - 0.5).abs() < 1e-6 && (p.drift - 1.0).abs() < 1e-6, "{p:?}");
        assert_eq!(p.mean_grad.len(), 2);
        // Opposite pushes cancel: coherence 0, no drift.
        w.record(&t(&[3.0, 4.0]), &t(&[0.0, 0.0]), &t(&[0.1, 0.0])).unwrap();
        w.record(&t(&[-3.0, -4.0]), &t(&[0.1, 0.0]), &t(&[0.0, 0.0])).unwrap();
        let p = w.take(&t(&[0.0, 0.0])).unwrap();
        assert!(p.coherence.abs() < 1e-6 && p.drift.abs() < 1e-6 && (p.grad_norm - 5.0).abs() < 1e-6, "{p:?}");
        // An empty window is all zeros, not NaN.
        let p = w.take(&t(&[0.0, 0.0])).unwrap();
        assert_eq!((p.steps, p.coherence, p.grad_norm), (0, 0.0, 0.0));
    }
}
