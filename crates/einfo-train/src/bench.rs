//! `einfo bench step`: training-step throughput of a preset on random data of the right
//! shape (images/s, median over timed steps after warm-up) — the same measurement as
//! `experiments/bench/torch_step.py`.

use std::time::Instant;

use candle_core::Tensor;

use crate::config::Config;
use crate::error::Result;
use crate::method::term_values;
use crate::setup::{build_method, device_for};

#[derive(Debug, Clone)]
pub struct BenchResult {
    pub median_step_s: f64,
    pub images_per_s: f64,
    pub steps: usize,
}

pub fn bench_step(cfg: &Config, warmup: usize, steps: usize) -> Result<BenchResult> {
    let device = device_for(&cfg.train.device)?;
    let k = cfg.net.num_codes;
    let mut method = build_method(cfg, &vec![1.0 / k as f64; k], &device)?;
    let b = cfg.train.batch_size;
    let n = cfg.net.image_size;
    let x = Tensor::rand(-1f32, 1., (b, n, n, cfg.net.channels), &device)?;
    // Reading the terms back waits for the device, so each timed step is the whole step
    // on a GPU too (on the CPU the values are already there).
    for _ in 0..warmup {
        term_values(&method.step(&x)?)?;
    }
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps.max(1) {
        let t = Instant::now();
        term_values(&method.step(&x)?)?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let median = times[times.len() / 2];
    Ok(BenchResult { median_step_s: median, images_per_s: b as f64 / median, steps: times.len() })
}
