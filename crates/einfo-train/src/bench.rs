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

/// The preset's method (uniform prior for the ground-truth one) and a random batch, after
/// `warmup` untimed steps. Reading the terms back waits for the device, so a timed step is
/// the whole step on a GPU too (on the CPU the values are already there).
fn warmed_up(cfg: &Config, warmup: usize) -> Result<(Box<dyn crate::method::Method>, Tensor)> {
    let device = device_for(&cfg.train.device)?;
    let k = cfg.net.num_codes;
    let mut method = build_method(cfg, &vec![1.0 / k as f64; k], &device)?;
    let n = cfg.net.image_size;
    let x = Tensor::rand(-1f32, 1., (cfg.train.batch_size, n, n, cfg.net.channels), &device)?;
    for _ in 0..warmup {
        term_values(&method.step(&x)?)?;
    }
    Ok((method, x))
}

pub fn bench_step(cfg: &Config, warmup: usize, steps: usize) -> Result<BenchResult> {
    let (mut method, x) = warmed_up(cfg, warmup)?;
    let b = cfg.train.batch_size;
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

/// Where a training step's time goes: `einfo_tensor::profile`'s per-op timers over `steps`
/// steps after `warmup` untimed ones.
#[derive(Debug, Clone)]
pub struct StepProfile {
    pub steps: usize,
    pub batch: usize,
    /// Wall time of the timed steps together.
    pub total_s: f64,
    /// Each timed op's totals over the timed steps, largest first.
    pub ops: Vec<einfo_tensor::profile::OpTime>,
}

pub fn profile_step(cfg: &Config, warmup: usize, steps: usize) -> Result<StepProfile> {
    let (mut method, x) = warmed_up(cfg, warmup)?;
    let b = cfg.train.batch_size;
    let steps = steps.max(1);
    einfo_tensor::profile::enable(true);
    let t = Instant::now();
    let timed = (0..steps).try_for_each(|_| term_values(&method.step(&x)?).map(drop));
    let total_s = t.elapsed().as_secs_f64();
    let ops = einfo_tensor::profile::take();
    einfo_tensor::profile::enable(false);
    timed?;
    Ok(StepProfile { steps, batch: b, total_s, ops })
}

impl StepProfile {
    /// The op family of a timed op: its name up to the first space (`gemm`, `im2col`, …).
    fn family(op: &str) -> &str {
        match op.split_once(' ') {
            Some((f, _)) if !matches!(f, "batch" | "leaky" | "column") => f,
            _ => op.trim_end_matches(" backward"),
        }
    }

    /// Two Markdown tables: per op family (with the step's untimed rest), then per op.
    pub fn markdown(&self) -> String {
        let per_step = |s: f64| 1e3 * s / self.steps as f64;
        let share = |s: f64| 100.0 * s / self.total_s;
        let mut fam: Vec<(String, f64, f64)> = Vec::new();
        for o in &self.ops {
            let f = Self::family(&o.op);
            match fam.iter_mut().find(|(n, ..)| n == f) {
                Some(e) => (e.1, e.2) = (e.1 + o.seconds, e.2 + o.flops),
                None => fam.push((f.to_string(), o.seconds, o.flops)),
            }
        }
        let timed: f64 = self.ops.iter().map(|o| o.seconds).sum();
        fam.sort_by(|a, b| b.1.total_cmp(&a.1));
        fam.push(("rest of the step (candle ops, losses, autograd, allocation)".into(), self.total_s - timed, 0.0));
        let gflops = |f: f64, s: f64| if f > 0.0 { format!("{:.1}", f / s / 1e9) } else { "–".into() };
        let mut out = format!(
            "{} timed steps, batch {}: {:.1} ms/step, {:.1} images/s\n\n| op family | ms/step | share | GFLOP/s |\n|---|---|---|---|\n",
            self.steps,
            self.batch,
            per_step(self.total_s),
            (self.steps * self.batch) as f64 / self.total_s
        );
        for (f, s, fl) in &fam {
            out += &format!("| {f} | {:.2} | {:.1}% | {} |\n", per_step(*s), share(*s), gflops(*fl, *s));
        }
        out += "\n| op | calls/step | ms/step | share | GFLOP/s |\n|---|---|---|---|---|\n";
        for o in &self.ops {
            let calls = o.calls as f64 / self.steps as f64;
            out += &format!("| {} | {calls:.1} | {:.2} | {:.1}% | {} |\n", o.op, per_step(o.seconds), share(o.seconds), gflops(o.flops, o.seconds));
        }
        out
    }
}
