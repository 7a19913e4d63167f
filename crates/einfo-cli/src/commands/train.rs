//! `einfo train`, `einfo resume`, `einfo sample`, `einfo bench step`: thin wrappers over
//! `einfo-train`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use einfo_data::DataOptions;
use einfo_train::{cell, presets, run, Config, RunOptions, RunSummary};

#[derive(Args)]
pub struct TrainArgs {
    /// Preset name (the paper's uniform, ground-truth, ground-truth-trans, gumbel,
    /// gumbel-trans, elastic, jointvae; the authors' code's elastic-ntxent; controls
    /// uniform-trans, elastic-frozen-prior; extensions elastic-fast-prior, elastic-em,
    /// elastic-floor, elastic-sinkhorn, elastic-uot) or a TOML config file.
    #[arg(long, default_value = "elastic")]
    pub preset: String,
    /// MNIST split (1..=50).
    #[arg(long)]
    pub split: Option<usize>,
    /// Training seed (weights, batch order, noise, transforms), 0 to 2^63 − 1.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub seed: Option<u64>,
    /// Epochs (default: the preset's).
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Stop after this many steps in total.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Device: cpu, cuda, cuda:N, metal.
    #[arg(long)]
    pub device: Option<String>,
    /// Run directory (default: runs/<preset>-split<k>-seed<s>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite an existing run directory.
    #[arg(long)]
    pub force: bool,
    /// Override any config field, e.g. --set losses.ent_weight=0.05 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    /// The resolved config: preset, then flags, then --set.
    pub fn config(&self) -> Result<Config> {
        let mut sets = Vec::new();
        if let Some(v) = self.split {
            sets.push(format!("data.split={v}"));
        }
        if let Some(v) = self.seed {
            sets.push(format!("train.seed={v}"));
        }
        if let Some(v) = self.epochs {
            sets.push(format!("train.epochs={v}"));
        }
        if let Some(v) = self.max_steps {
            sets.push(format!("train.max_steps={v}"));
        }
        if let Some(v) = &self.device {
            sets.push(format!("train.device=\"{v}\""));
        }
        sets.extend(self.sets.iter().cloned());
        Ok(presets::load(&self.preset)?.with_overrides(&sets)?)
    }
}

fn report(s: &RunSummary) {
    let state = if s.interrupted { "interrupted" } else { "done" };
    // A run already at its budget trains nothing: no speed to report.
    let speed = if s.images_per_s > 0.0 { format!(", {:.0} images/s", s.images_per_s) } else { " (nothing left to train)".into() };
    println!("{state}: {} steps{speed}", s.steps);
    println!("prior:      {}", s.prior.iter().map(|p| format!("{p:.3}")).collect::<Vec<_>>().join(" "));
    println!("grid:       {}", s.grid.display());
    println!("log:        {}", s.log.display());
    println!("checkpoint: {}", s.checkpoint.display());
    if s.interrupted {
        println!("continue with: einfo resume {}", s.run_dir.display());
    }
}

fn default_out(cfg: &Config) -> PathBuf {
    let split = cfg.data.counts.as_ref().map_or(format!("split{}", cfg.data.split), |_| "custom".into());
    PathBuf::from(format!("runs/{}-{split}-seed{}", cfg.method, cfg.train.seed))
}

pub fn run(args: TrainArgs, opts: DataOptions) -> Result<()> {
    let cfg = args.config()?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&cfg));
    let split = match &cfg.data.counts {
        Some(c) => format!("a custom split (counts {c:?})"),
        None => format!("split {}", cfg.data.split),
    };
    eprintln!(
        "einfo: training {} on {} {split} (seed {}) for {} epoch(s) into {}",
        cfg.method,
        cfg.data.dataset,
        cfg.train.seed,
        cfg.train.epochs,
        out.display()
    );
    let s = run::train(&cfg, &out, &RunOptions { data: opts, force: args.force, stop: crate::stop(), events: crate::events(!args.quiet) })?;
    report(&s);
    Ok(())
}

/// `einfo cell`: train or resume to the budget, then evaluate; nothing to do when finished.
pub fn cell(args: TrainArgs, opts: DataOptions) -> Result<()> {
    if args.force {
        bail!("einfo cell never overwrites: remove the run directory instead of passing --force");
    }
    let cfg = args.config()?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&cfg));
    let t0 = std::time::Instant::now();
    match cell::run_cell(&cfg, &out, &RunOptions { data: opts, force: false, stop: crate::stop(), events: crate::events(!args.quiet) })? {
        cell::CellOutcome::AlreadyFinished => println!("{}: already finished and evaluated", out.display()),
        cell::CellOutcome::Ran { from_step, report: r } => {
            let how = if from_step > 0 { format!("resumed from step {from_step}") } else { "trained".into() };
            println!(
                "{}: {how} to step {} in {:.0} s; ENT {:.4}, NMI {:.4}, prior RMSE {:.4}, real cluster acc. {:.4}",
                out.display(),
                r.step,
                t0.elapsed().as_secs_f64(),
                r.ent,
                r.nmi.geometric,
                r.prior_rmse,
                r.real_cluster_accuracy
            );
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct ResumeArgs {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Raise the budget to this many epochs.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Raise the budget to this many steps in total.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Override config fields (saved into the run's config.toml).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    #[arg(long)]
    pub quiet: bool,
}

pub fn resume(args: ResumeArgs, opts: DataOptions) -> Result<()> {
    let mut sets = args.sets.clone();
    if let Some(v) = args.epochs {
        sets.push(format!("train.epochs={v}"));
    }
    if let Some(v) = args.max_steps {
        sets.push(format!("train.max_steps={v}"));
    }
    let s = run::resume(&args.run_dir, &sets, &RunOptions { data: opts, force: false, stop: crate::stop(), events: crate::events(!args.quiet) })?;
    report(&s);
    Ok(())
}

#[derive(Args)]
pub struct SampleArgs {
    /// The run directory (its newest checkpoint is used).
    pub run_dir: PathBuf,
    /// Only this code (one row).
    #[arg(long)]
    pub code: Option<u32>,
    /// Columns (noise vectors).
    #[arg(long, default_value_t = 10)]
    pub columns: usize,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output PNG (default: <run>/sample-<code|all>-seed<seed>.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Widest sample grid (`--columns`): 10 codes × 1,000 images stay small in memory.
const MAX_COLUMNS: usize = 1000;

pub fn sample(args: SampleArgs) -> Result<()> {
    if args.columns == 0 || args.columns > MAX_COLUMNS {
        bail!("--columns {}: give 1 to {MAX_COLUMNS} (one image per column and code)", args.columns);
    }
    let einfo_train::LoadedRun { method, device, state: st, .. } = einfo_train::load_run(&args.run_dir, &crate::events(false))?;
    if let Some(c) = args.code {
        if c as usize >= method.num_codes() {
            bail!("--code {c} is out of range: the model has codes 0..{}", method.num_codes() - 1);
        }
    }
    let z = einfo_train::noise::NoiseSource::new(args.seed, einfo_train::samples::GRID_STREAM).normal(args.columns, method.noise_dim(), &device)?;
    let name = args.code.map_or("all".to_string(), |c| c.to_string());
    let out = args.out.unwrap_or_else(|| args.run_dir.join(format!("sample-{name}-seed{}.png", args.seed)));
    einfo_train::samples::write_grid(method.as_ref(), &z, args.code, &out)?;
    println!("{} (step {}): {}", args.run_dir.display(), st.step, out.display());
    Ok(())
}

/// What both benchmarks run: a preset's training step on random data.
#[derive(Args)]
pub struct StepArgs {
    #[arg(long, default_value = "elastic")]
    preset: String,
    /// Timed steps (step: the median is reported; profile: the mean per step).
    #[arg(long, default_value_t = 20)]
    steps: usize,
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Images per batch (default: the preset's, 64).
    #[arg(long)]
    batch: Option<usize>,
    /// Override config fields.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

impl StepArgs {
    /// The preset with `--batch`, `device` and the `--set`s applied.
    fn config(&self, device: Option<&str>) -> Result<Config> {
        let mut sets = self.sets.clone();
        if let Some(d) = device {
            sets.push(format!("train.device=\"{d}\""));
        }
        if let Some(b) = self.batch {
            sets.push(format!("train.batch_size={b}"));
        }
        Ok(presets::load(&self.preset)?.with_overrides(&sets)?)
    }
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Training-step throughput of a preset (random data, batch from the config).
    Step {
        #[command(flatten)]
        step: StepArgs,
        /// Device: cpu, cuda, cuda:N, metal (default: the preset's, cpu).
        #[arg(long)]
        device: Option<String>,
    },
    /// Where a training step's time goes: per-op wall time (every GEMM by shape, im2col,
    /// col2im, BatchNorm, activations, augmentation, Adam) as Markdown tables.
    Profile {
        #[command(flatten)]
        step: StepArgs,
    },
    /// Every GEMM backend this machine has (blas, gemm) on the elastic step's products,
    /// interleaved round by round; GFLOP/s and the median per-round speed ratio of the
    /// pure-Rust `gemm` to the BLAS, with the interquartile range of the ratios.
    Gemm {
        /// Rounds; each times every (shape, backend) once.
        #[arg(long, default_value_t = 15)]
        rounds: usize,
    },
}

pub fn bench(cmd: BenchCommand) -> Result<()> {
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    match cmd {
        BenchCommand::Step { step, device } => {
            let cfg = step.config(device.as_deref())?;
            let r = einfo_train::bench::bench_step(&cfg, step.warmup, step.steps)?;
            println!("GEMM backend: {}", einfo_tensor::gemm::backend_name());
            println!(
                "RESULT einfo preset={} device={} threads={threads} batch={} median_step_s={:.4} imgs_per_s={:.1}",
                step.preset, cfg.train.device, cfg.train.batch_size, r.median_step_s, r.images_per_s
            );
            Ok(())
        }
        BenchCommand::Profile { step } => {
            let cfg = step.config(None)?;
            if cfg.train.device != "cpu" {
                bail!("bench profile times the CPU kernels: use --set train.device=\"cpu\" (the preset says {})", cfg.train.device);
            }
            let p = einfo_train::bench::profile_step(&cfg, step.warmup, step.steps)?;
            println!("preset {}, {threads} threads, GEMM backend: {}\n", step.preset, einfo_tensor::gemm::backend_name());
            print!("{}", p.markdown());
            Ok(())
        }
        BenchCommand::Gemm { rounds } => bench_gemm(rounds, &threads),
    }
}

/// `einfo bench gemm`: the table of [`einfo_tensor::gemm::compare`].
fn bench_gemm(rounds: usize, threads: &str) -> Result<()> {
    use einfo_tensor::gemm::{available, compare, describe, Choice};
    if rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let backends = available();
    let shapes = compare::ELASTIC_STEP;
    let t = compare::interleaved(&shapes, &backends, rounds)?;
    println!("{rounds} rounds, {threads} threads (RAYON_NUM_THREADS; the BLAS follows it unless OPENBLAS_NUM_THREADS or MKL_NUM_THREADS is set)");
    for b in &backends {
        println!("- {}: {}", b.env_name(), describe(*b));
    }
    let pure = backends.iter().position(|b| *b == Choice::Crate).expect("the gemm crate is always available");
    let others: Vec<usize> = (0..backends.len()).filter(|&i| i != pure).collect();
    let median = |xs: &[f64]| compare::quantile(xs, 0.5);
    let ratio = |num: &[f64], den: &[f64]| {
        // gemm's speed over another's: the other's time over gemm's, round by round.
        let r: Vec<f64> = num.iter().zip(den).map(|(o, r)| o / r).collect();
        format!("{:.2}× [{:.2}, {:.2}]", median(&r), compare::quantile(&r, 0.25), compare::quantile(&r, 0.75))
    };
    let mut head = "\n| product | calls/step |".to_string();
    backends.iter().for_each(|b| head += &format!(" {} GFLOP/s |", b.env_name()));
    others.iter().for_each(|&o| head += &format!(" gemm vs {} |", backends[o].env_name()));
    println!("{head}\n|{}", "---|".repeat(2 + backends.len() + others.len()));
    let mut step = vec![vec![0.0; rounds]; backends.len()];
    for (s, times) in shapes.iter().zip(&t) {
        let mut row = format!("| {} | {} |", s.name(), s.calls);
        times.iter().for_each(|ts| row += &format!(" {:.1} |", s.flops() / median(ts) / 1e9));
        others.iter().for_each(|&o| row += &format!(" {} |", ratio(&times[o], &times[pure])));
        println!("{row}");
        for (bi, ts) in times.iter().enumerate() {
            step[bi].iter_mut().zip(ts).for_each(|(acc, x)| *acc += s.calls as f64 * x);
        }
    }
    let mut row = "| **the step's GEMMs** (calls × time) | – |".to_string();
    let flops: f64 = shapes.iter().map(|s| s.calls as f64 * s.flops()).sum();
    step.iter().for_each(|ts| row += &format!(" {:.1} |", flops / median(ts) / 1e9));
    others.iter().for_each(|&o| row += &format!(" {} |", ratio(&step[o], &step[pure])));
    println!("{row}");
    Ok(())
}
