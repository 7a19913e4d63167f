//! BatchNorm statistics re-estimated on chosen data (PreciseBN, Wu & Johnson 2021,
//! "Rethinking 'Batch' in BatchNorm"), and saved / restored around a measurement.
//!
//! A layer's running statistics are an exponential average of the batches it saw in
//! training. For InfoGAN's code head Q those are mostly *generated* images: a measurement
//! of Q on real images in evaluation mode then normalises real features with fake-image
//! statistics. [`reestimate`] replaces them with the population statistics of the data
//! given — the batch-size-weighted mean of each batch's mean and of each batch's unbiased
//! variance, every layer seeing the batch exactly as training mode would (normalised by the
//! batch, upstream layers included) — and [`SavedStats`] puts the trained ones back after.

use candle_core::{Result, Tensor};

use crate::batch_norm::BatchNorm;

/// The running statistics of some layers, to put back with [`SavedStats::restore`].
#[derive(Debug, Clone)]
pub struct SavedStats(Vec<(Tensor, Tensor)>);

impl SavedStats {
    /// Copy the running mean and variance of every layer.
    pub fn save(layers: &[&BatchNorm]) -> Result<Self> {
        layers.iter().map(|l| Ok((l.running_mean.as_tensor().copy()?, l.running_var.as_tensor().copy()?))).collect::<Result<_>>().map(SavedStats)
    }

    /// Give every layer back the statistics [`SavedStats::save`] copied.
    pub fn restore(&self, layers: &[&BatchNorm]) -> Result<()> {
        if layers.len() != self.0.len() {
            candle_core::bail!("precise_bn: {} saved layers, {} to restore", self.0.len(), layers.len())
        }
        for (l, (mean, var)) in layers.iter().zip(&self.0) {
            l.running_mean.set(mean)?;
            l.running_var.set(var)?;
        }
        Ok(())
    }
}

/// Set the running statistics of `layers` to the population statistics of `batches`
/// batches. `forward(i)` must pass batch `i` through the network in training mode, so that
/// each of `layers` sees it exactly once, and return the batch's size (its weight).
///
/// Each batch's statistics are read from the running ones: they are zeroed before the
/// pass, after which `r = m · s` (`m` the layer's momentum), so `s = r / m` up to one
/// rounding. The layers' trained statistics are lost: save them first.
pub fn reestimate(layers: &[&BatchNorm], batches: usize, mut forward: impl FnMut(usize) -> Result<usize>) -> Result<()> {
    if batches == 0 {
        candle_core::bail!("precise_bn: no batches to estimate the statistics on")
    }
    let mut sums: Vec<Option<(Tensor, Tensor)>> = vec![None; layers.len()];
    let mut total = 0usize;
    for i in 0..batches {
        for l in layers {
            l.running_mean.set(&l.running_mean.as_tensor().zeros_like()?)?;
            l.running_var.set(&l.running_var.as_tensor().zeros_like()?)?;
        }
        let weight = forward(i)?;
        total += weight;
        for (l, sum) in layers.iter().zip(sums.iter_mut()) {
            let w = weight as f64 / l.momentum;
            let (mean, var) = ((l.running_mean.as_tensor() * w)?, (l.running_var.as_tensor() * w)?);
            *sum = Some(match sum.take() {
                None => (mean, var),
                Some((m, v)) => ((m + mean)?, (v + var)?),
            });
        }
    }
    if total == 0 {
        candle_core::bail!("precise_bn: the batches were empty")
    }
    for (l, sum) in layers.iter().zip(sums) {
        let (mean, var) = sum.expect("one sum per layer after at least one batch");
        l.running_mean.set(&(mean / total as f64)?)?;
        l.running_var.set(&(var / total as f64)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    fn layer(vm: &VarMap) -> BatchNorm {
        BatchNorm::new(VarBuilder::from_varmap(vm, DType::F32, &Device::Cpu), 2).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.to_vec1::<f32>().unwrap()
    }

    #[test]
    fn population_statistics_are_the_size_weighted_batch_statistics() {
        let vm = VarMap::new();
        let bn = layer(&vm);
        let batches = [Tensor::new(&[[1f32, 2.], [3., 6.]], &Device::Cpu).unwrap(), Tensor::new(&[[0f32, 1.], [2., 1.], [4., 4.]], &Device::Cpu).unwrap()];
        // Whatever the layer held before must not matter.
        bn.forward_t(&Tensor::new(&[[9f32, -9.], [7., 5.]], &Device::Cpu).unwrap(), true).unwrap();
        reestimate(&[&bn], 2, |i| {
            bn.forward_t(&batches[i], true)?;
            batches[i].dim(0)
        })
        .unwrap();
        // python3 -c "import numpy as np; a=np.array([[1,2],[3,6]]); b=np.array([[0,1],[2,1],[4,4]]); print((2*a.mean(0)+3*b.mean(0))/5, (2*a.var(0,ddof=1)+3*b.var(0,ddof=1))/5)"
        // -> [2.  2.8] [3.2 5. ]
        let close = |got: Vec<f32>, want: [f32; 2]| got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-5);
        assert!(close(values(bn.running_mean.as_tensor()), [2.0, 2.8]), "{:?}", values(bn.running_mean.as_tensor()));
        assert!(close(values(bn.running_var.as_tensor()), [3.2, 5.0]), "{:?}", values(bn.running_var.as_tensor()));
    }

    #[test]
    fn restore_gives_back_the_trained_statistics_bit_for_bit() {
        let vm = VarMap::new();
        let bn = layer(&vm);
        bn.forward_t(&Tensor::new(&[[0.3f32, 2.], [1.7, -6.]], &Device::Cpu).unwrap(), true).unwrap();
        let (mean, var) = (values(bn.running_mean.as_tensor()), values(bn.running_var.as_tensor()));
        let saved = SavedStats::save(&[&bn]).unwrap();
        let x = Tensor::new(&[[5f32, 5.], [8., 1.]], &Device::Cpu).unwrap();
        reestimate(&[&bn], 1, |_| bn.forward_t(&x, true).map(|_| 2)).unwrap();
        assert_ne!(values(bn.running_mean.as_tensor()), mean);
        saved.restore(&[&bn]).unwrap();
        assert_eq!(values(bn.running_mean.as_tensor()), mean);
        assert_eq!(values(bn.running_var.as_tensor()), var);
    }

    #[test]
    fn on_one_batch_evaluation_reproduces_training_mode_through_a_chain() {
        // Linear → BN → LReLU → Linear → BN: the second layer's statistics must be those of
        // its input as training mode makes it (normalised by the batch upstream).
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let (l1, bn1) = (crate::Linear::new(vb.pp("l1"), 6, 8).unwrap(), BatchNorm::new(vb.pp("bn1"), 8).unwrap());
        let (l2, bn2) = (crate::Linear::new(vb.pp("l2"), 8, 4).unwrap(), BatchNorm::new(vb.pp("bn2"), 4).unwrap());
        let net = |x: &Tensor, train: bool| -> Result<Tensor> {
            let h = crate::leaky_relu(&bn1.forward_t(&candle_core::Module::forward(&l1, x)?, train)?, 0.2)?;
            bn2.forward_t(&candle_core::Module::forward(&l2, &h)?, train)
        };
        let x = ((Tensor::randn(0f32, 1f32, (4000, 6), &Device::Cpu).unwrap() * 3.0).unwrap() + 1.5).unwrap();
        let trained = net(&x, true).unwrap();
        reestimate(&[&bn1, &bn2], 1, |_| net(&x, true).map(|_| 4000)).unwrap();
        let evaluated = net(&x, false).unwrap();
        // Equal up to the unbiased variance the running statistics keep: √(3999/4000) ≈ 1 − 1.25e-4.
        let diff = (trained - evaluated).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(diff < 2e-3, "max |train − eval| = {diff}");
        // Without the re-estimation the initial statistics (0, 1) give something else.
        bn1.running_mean.set(&bn1.running_mean.as_tensor().zeros_like().unwrap()).unwrap();
        let stale = net(&x, false).unwrap();
        let stale_diff = (net(&x, true).unwrap() - stale).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(stale_diff > 0.1, "the check can fail: stale statistics differ by {stale_diff}");
    }

    #[test]
    fn no_batches_is_an_error_not_a_division_by_zero() {
        let vm = VarMap::new();
        let bn = layer(&vm);
        assert!(reestimate(&[&bn], 0, |_| Ok(1)).is_err());
    }
}
