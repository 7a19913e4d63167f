//! GEMM backends compared on the elastic step's products, interleaved: each round times
//! every (shape, backend) once, the backends in a rotating order, so a host whose speed
//! drifts between seconds (shared cores, steal time) slows all backends of a round alike
//! and the per-round ratios stay meaningful where the absolute times do not.

use std::time::Instant;

use candle_core::Result;

use super::{gemm_on, Choice};

/// One product of the elastic training step (batch 64) and how many times a step runs it
/// (`einfo bench profile --preset elastic`: the twelve shapes above 2% of the step).
#[derive(Clone, Copy, Debug)]
pub struct StepGemm {
    pub ta: bool,
    pub tb: bool,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub calls: usize,
}

impl StepGemm {
    const fn new(ta: bool, tb: bool, m: usize, n: usize, k: usize, calls: usize) -> Self {
        StepGemm { ta, tb, m, n, k, calls }
    }

    /// `NN m=64 n=1024 k=6272`, as the profile names it.
    pub fn name(&self) -> String {
        let t = |x| if x { 'T' } else { 'N' };
        format!("{}{} m={} n={} k={}", t(self.ta), t(self.tb), self.m, self.n, self.k)
    }

    pub fn flops(&self) -> f64 {
        2.0 * (self.m * self.n * self.k) as f64
    }
}

/// The elastic step's largest products, in the order of their share of a step.
pub const ELASTIC_STEP: [StepGemm; 12] = [
    StepGemm::new(false, false, 64, 1024, 6272, 5),
    StepGemm::new(false, false, 3136, 128, 1024, 5),
    StepGemm::new(false, true, 64, 6272, 1024, 3),
    StepGemm::new(false, true, 3136, 1024, 128, 3),
    StepGemm::new(true, false, 6272, 1024, 64, 2),
    StepGemm::new(true, false, 1024, 128, 3136, 2),
    StepGemm::new(true, false, 1024, 6272, 64, 1),
    StepGemm::new(false, true, 64, 1024, 6272, 1),
    StepGemm::new(false, false, 64, 6272, 1024, 1),
    StepGemm::new(false, false, 3136, 1024, 128, 1),
    StepGemm::new(false, true, 3136, 128, 1024, 1),
    StepGemm::new(true, false, 128, 1024, 3136, 1),
];

/// Seconds per call, `[shape][backend][round]`: each sample the median of three calls.
pub fn interleaved(shapes: &[StepGemm], backends: &[Choice], rounds: usize) -> Result<Vec<Vec<Vec<f64>>>> {
    let mut out = vec![vec![Vec::with_capacity(rounds); backends.len()]; shapes.len()];
    let mut inputs: Vec<_> = shapes.iter().map(|s| (values(s.m * s.k, 1), values(s.k * s.n, 2), vec![0f32; s.m * s.n])).collect();
    for round in 0..rounds {
        for (si, (s, (a, b, c))) in shapes.iter().zip(&mut inputs).enumerate() {
            for i in 0..backends.len() {
                let bi = (i + round) % backends.len();
                let mut t = [0f64; 3];
                for ti in &mut t {
                    let start = Instant::now();
                    gemm_on(backends[bi], s.ta, s.tb, s.m, s.n, s.k, a, b, c, false)?;
                    *ti = start.elapsed().as_secs_f64();
                }
                t.sort_by(f64::total_cmp);
                out[si][bi].push(t[1]);
            }
        }
    }
    Ok(out)
}

/// Deterministic inputs in [-0.5, 0.5).
fn values(len: usize, salt: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 37 + salt * 11) % 23) as f32 / 23.0 - 0.5).collect()
}

/// The `q`-quantile (linear interpolation, NumPy's default) of `xs`.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy() {
        // python3 -c "import numpy as np; x=[3,1,4,1,5,9,2,6]; print(np.quantile(x,[0.25,0.5,0.75]))"
        // [1.75 3.5  5.25]
        let x = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        for (q, want) in [(0.25, 1.75), (0.5, 3.5), (0.75, 5.25)] {
            assert!((quantile(&x, q) - want).abs() < 1e-12, "q={q}");
        }
    }

    #[test]
    fn every_backend_and_shape_gets_one_sample_per_round() {
        let shapes = [StepGemm::new(false, true, 9, 7, 5, 1), StepGemm::new(true, false, 4, 3, 2, 2)];
        let t = interleaved(&shapes, &super::super::available(), 3).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|s| s.len() == super::super::available().len() && s.iter().all(|r| r.len() == 3 && r.iter().all(|&x| x >= 0.0))));
    }
}
