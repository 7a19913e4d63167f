//! Diagnostics a log row measures with the split's labels, after the step and outside it:
//! Q's clustering of a fixed, evenly strided subset of the real images, the prior's
//! distance to the true class frequencies (Hungarian-matched on that clustering, and
//! sorted, mapping-free), and whether θ's mean gradient points towards the truth. Nothing
//! here is fed back to training: the method only ever sees images.

use candle_core::{Device, Tensor};
use einfo_data::{batch_of, Dataset, Split};
use einfo_metrics::{hungarian, prior_by_class, prior_rmse, sorted_prior_rmse, CountMatrix};
use einfo_models::to_nhwc;

use crate::error::Result;
use crate::method::{Method, PriorProbe};

/// Column names the probe adds to `log.csv`, in order.
pub const COLUMNS: &[&str] = &[
    "theta_grad",
    "theta_coherence",
    "theta_step",
    "theta_drift",
    "theta_grad_adv",
    "theta_grad_info",
    "theta_grad_em",
    "theta_truth_cos",
    "probe_cluster_acc",
    "probe_prior_rmse",
    "prior_rmse_sorted",
];

/// A labelled subset of the split's real images.
pub struct LabelProbe {
    images: Vec<Tensor>,
    labels: Vec<usize>,
    classes: usize,
    truth: Vec<f64>,
}

impl LabelProbe {
    /// `n` images evenly strided over the split (`None` when `n` is 0).
    pub fn new(data: &Dataset, split: &Split, n: usize, device: &Device) -> Result<Option<Self>> {
        if n == 0 {
            return Ok(None);
        }
        let n = n.min(split.len());
        let idx: Vec<u32> = (0..n).map(|i| split.indices[i * split.len() / n]).collect();
        let images = idx.chunks(500).map(|c| Ok(to_nhwc(&batch_of(data, c, device)?.images)?)).collect::<Result<Vec<_>>>()?;
        let labels = idx.iter().map(|&i| data.labels[i as usize] as usize).collect();
        Ok(Some(LabelProbe { images, labels, classes: data.num_classes, truth: split.frequencies() }))
    }

    /// The row's values, one per [`COLUMNS`] entry (NaN where a value does not apply).
    pub fn measure(&self, method: &dyn Method, prior: &[f64], probe: Option<&PriorProbe>) -> Result<Vec<f64>> {
        let mut codes = Vec::with_capacity(self.labels.len());
        for x in &self.images {
            codes.extend(method.infer_codes(x)?.into_iter().map(|c| c as usize));
        }
        let m = CountMatrix::from_labels(&codes, &self.labels, method.num_codes(), self.classes)?;
        let matching = hungarian(&m)?;
        let matched = prior_rmse(prior, &self.truth, &matching).unwrap_or(f64::NAN);
        let sorted = sorted_prior_rmse(prior, &self.truth).unwrap_or(f64::NAN);
        let nan = f64::NAN;
        let mut row = vec![nan; 8];
        if let Some(p) = probe {
            let term = |name: &str| p.term_grads.iter().find(|(n, _)| *n == name).map_or(nan, |(_, v)| *v);
            row = vec![p.grad_norm, p.coherence, p.step_norm, p.drift, term("adv"), term("info"), term("em"), nan];
            // Direction to the truth in logit space: θ* = log of the frequency of the class each
            // code is matched to, both centred (softmax ignores a shift).
            let by_class = prior_by_class(prior, self.classes, &matching)?;
            let mut target = vec![nan; prior.len()];
            for (code, class) in matching.code_to_class.iter().enumerate() {
                if let Some(c) = class {
                    target[code] = self.truth[*c].max(1e-6).ln();
                }
            }
            if target.iter().all(|v| v.is_finite()) && by_class.iter().all(Option::is_some) {
                row[7] = cosine(&centred(&target), &centred(&p.logits), &p.mean_grad);
            }
        }
        row.extend([matching.accuracy, matched, sorted]);
        Ok(row)
    }
}

fn centred(v: &[f64]) -> Vec<f64> {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| x - mean).collect()
}

/// Cosine between the descent direction `−g` and the way to the target, `θ* − θ`.
fn cosine(target: &[f64], theta: &[f64], grad: &[f64]) -> f64 {
    let d: Vec<f64> = target.iter().zip(theta).map(|(t, th)| t - th).collect();
    let dot: f64 = d.iter().zip(grad).map(|(a, g)| -a * g).sum();
    let n = d.iter().map(|a| a * a).sum::<f64>().sqrt() * grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    if n > 0.0 {
        dot / n
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_descent_towards_the_target() {
        // Target above θ on the first logit: a gradient pointing down there (descent up) scores +1.
        assert!((cosine(&[1.0, -1.0], &[0.0, 0.0], &[-1.0, 1.0]) - 1.0).abs() < 1e-12);
        assert!((cosine(&[1.0, -1.0], &[0.0, 0.0], &[1.0, -1.0]) + 1.0).abs() < 1e-12);
        assert!(cosine(&[1.0, -1.0], &[0.0, 0.0], &[0.0, 0.0]).is_nan());
        assert_eq!(centred(&[1.0, 3.0]), vec![-1.0, 1.0]);
    }
}
