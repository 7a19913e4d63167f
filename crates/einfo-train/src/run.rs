//! The training loop around a [`Method`]: data, run directory, CSV log, per-epoch grids,
//! atomic checkpoints, resume, Ctrl-C, progress bar.
//!
//! A run directory holds everything of one result:
//! `config.toml` (resolved, written before the first step), `split.json`, `log.csv`,
//! `grids/epoch-NNN.png`, `eval.csv` (the evaluation protocol every `eval.every_epochs`),
//! `samples.png`, `checkpoints/step-NNNNNNNN/`, and after `einfo eval`, `metrics.json`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use einfo_data::{Batcher, DataOptions, Dataset, DatasetKind, Part, Split};
use einfo_models::to_nhwc;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, TrainState};
use crate::config::{Config, ModelKind};
use crate::error::{io_err, Result, TrainError};
use crate::eval::{append_curve, load_classifier, measure};
use crate::infogan::InfoGanMethod;
use crate::jointvae::JointVaeMethod;
use crate::method::Method;
use crate::samples::{grid_noise, write_grid};
use crate::signal;

/// How to run (not part of the result).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub data: DataOptions,
    /// Draw a progress bar (only shown on a terminal).
    pub progress: bool,
    /// Overwrite an existing run directory.
    pub force: bool,
}

/// What a finished (or interrupted) run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub steps: u64,
    pub interrupted: bool,
    pub checkpoint: PathBuf,
    pub grid: PathBuf,
    pub log: PathBuf,
    pub images_per_s: f64,
    pub prior: Vec<f64>,
}

/// The split a run trained on, recorded beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitRecord {
    pub name: String,
    pub dataset: String,
    pub counts: Vec<usize>,
    pub split_seed: u64,
    pub indices_sha256: String,
    pub frequencies: Vec<f64>,
}

/// `cpu`, `cuda` / `cuda:N`, `metal`.
pub fn device_for(name: &str) -> Result<Device> {
    let err = |e: candle_core::Error| TrainError::Device(name.to_string(), e.to_string().lines().next().unwrap_or("").to_string());
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" => Device::new_cuda(0).map_err(err),
        "metal" => Device::new_metal(0).map_err(err),
        other => match other.strip_prefix("cuda:").and_then(|i| i.parse().ok()) {
            Some(i) => Device::new_cuda(i).map_err(err),
            None => Err(TrainError::Device(other.into(), "use cpu, cuda, cuda:N or metal".into())),
        },
    }
}

/// The data set and split a config names.
pub fn prepare_data(cfg: &Config, opts: &DataOptions) -> Result<(Dataset, Split)> {
    let kind: DatasetKind = cfg.data.dataset.parse()?;
    if cfg.data.counts.is_none() {
        if kind != DatasetKind::Mnist {
            return Err(TrainError::Config(format!("data.split names an MNIST split; for {kind} give data.counts")));
        }
        einfo_data::mnist_split(cfg.data.split)?;
    }
    let data = Dataset::load(kind, Part::All, opts)?;
    let split = match &cfg.data.counts {
        Some(c) => Split::draw(&data, format!("{kind}-custom"), c, cfg.data.split_seed, einfo_data::splits::CUSTOM_SPLIT_STREAM)?,
        None => Split::mnist(&data, cfg.data.split, cfg.data.split_seed)?,
    };
    Ok((data, split))
}

/// Build the method a config names.
pub fn build_method(cfg: &Config, true_freq: &[f64], device: &Device) -> Result<Box<dyn Method>> {
    Ok(match cfg.model {
        ModelKind::Infogan => Box::new(InfoGanMethod::new(cfg, true_freq, device)?),
        ModelKind::Jointvae => Box::new(JointVaeMethod::new(cfg, device)?),
    })
}

/// Read a run's resolved config.
pub fn read_config(run: &Path) -> Result<Config> {
    let p = run.join("config.toml");
    if !p.is_file() {
        return Err(TrainError::NotARun(run.into()));
    }
    let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
    Config::from_toml(&text, &p.display().to_string())
}

fn write_text_atomic(path: &Path, text: &str) -> Result<()> {
    einfo_data::source::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Steps a config's budget allows on a split of `split_len` images (drop-last batches).
pub fn total_steps(cfg: &Config, split_len: usize) -> u64 {
    let bpe = (split_len / cfg.train.batch_size) as u64;
    (cfg.train.epochs * bpe).min(cfg.train.max_steps.unwrap_or(u64::MAX))
}

/// Number of images in the split a config names, without loading any data.
pub fn split_len(cfg: &Config) -> Result<usize> {
    Ok(match &cfg.data.counts {
        Some(c) => c.iter().sum(),
        None => einfo_data::mnist_split(cfg.data.split)?.total(),
    })
}

/// Start a new run in `run_dir`.
pub fn train(cfg: &Config, run_dir: &Path, opts: &RunOptions) -> Result<RunSummary> {
    cfg.validate()?;
    if run_dir.exists() && std::fs::read_dir(run_dir).map_err(io_err(run_dir))?.next().is_some() {
        if !opts.force {
            return Err(TrainError::RunExists(run_dir.into()));
        }
        std::fs::remove_dir_all(run_dir).map_err(io_err(run_dir))?;
    }
    std::fs::create_dir_all(run_dir).map_err(io_err(run_dir))?;
    write_text_atomic(&run_dir.join("config.toml"), &cfg.to_toml())?;
    run_loop(cfg, run_dir, opts, None)
}

/// Continue a run from its newest checkpoint; `overrides` may raise the budget
/// (`train.epochs=10`, `train.max_steps=…`) and are saved into its `config.toml`.
pub fn resume(run_dir: &Path, overrides: &[String], opts: &RunOptions) -> Result<RunSummary> {
    let mut cfg = read_config(run_dir)?;
    if !overrides.is_empty() {
        cfg = cfg.with_overrides(overrides)?;
        write_text_atomic(&run_dir.join("config.toml"), &cfg.to_toml())?;
    }
    let start = checkpoint::latest(run_dir)?;
    run_loop(&cfg, run_dir, opts, start.map(|(_, p)| p))
}

/// Keep the header and the rows of steps ≤ `step` (rows logged after the checkpoint
/// that is being resumed would otherwise appear twice).
fn truncate_log(path: &Path, step: u64) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.split(',').next().and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s <= step))
        .map(|(_, l)| l)
        .collect();
    write_text_atomic(path, &(kept.join("\n") + "\n"))
}

fn run_loop(cfg: &Config, run_dir: &Path, opts: &RunOptions, resume_from: Option<PathBuf>) -> Result<RunSummary> {
    let device = device_for(&cfg.train.device)?;
    let (data, split) = prepare_data(cfg, &opts.data)?;
    let record = SplitRecord {
        name: split.name.clone(),
        dataset: cfg.data.dataset.clone(),
        counts: split.counts.clone(),
        split_seed: split.seed,
        indices_sha256: split.indices_hash(),
        frequencies: split.frequencies(),
    };
    write_text_atomic(&run_dir.join("split.json"), &serde_json::to_string_pretty(&record).expect("serialises"))?;
    let mut method = build_method(cfg, &record.frequencies, &device)?;
    let classifier = if cfg.eval.every_epochs > 0 { Some(load_classifier(cfg, None, &device)?) } else { None };

    let batcher = Batcher::new(&data, &split.indices, cfg.train.batch_size, cfg.train.seed)?;
    let bpe = batcher.batches_per_epoch() as u64;
    let total = total_steps(cfg, split.len());
    let (mut step, mut epoch, mut batch_in_epoch) = (0u64, 0u64, 0usize);
    let log_path = run_dir.join("log.csv");
    if let Some(ckpt) = &resume_from {
        let st = checkpoint::load_state(ckpt)?;
        method.load(ckpt, &st.optimiser_steps)?;
        method.set_rng_positions(checkpoint::parse_pos(&st.noise_pos, ckpt)?, checkpoint::parse_pos(&st.augment_pos, ckpt)?);
        (step, epoch, batch_in_epoch) = (st.step, st.epoch, st.batch_in_epoch);
        truncate_log(&log_path, step)?;
        truncate_log(&run_dir.join("eval.csv"), step)?;
    } else {
        truncate_log(&log_path, 0)?;
        truncate_log(&run_dir.join("eval.csv"), 0)?;
    }

    let k = method.num_codes();
    let new_log = !log_path.exists() || std::fs::metadata(&log_path).map(|m| m.len() == 0).unwrap_or(true);
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(io_err(&log_path))?;
    if new_log {
        let mut header = vec!["step".to_string(), "epoch".into()];
        header.extend(method.term_names().iter().map(|s| s.to_string()));
        header.extend((0..k).map(|i| format!("prior_{i}")));
        header.push("img_per_s".into());
        writeln!(log, "{}", header.join(",")).map_err(io_err(&log_path))?;
    }

    let grid_z = grid_noise(cfg.train.seed, cfg.log.grid_columns, method.noise_dim(), &device)?;
    let grids = run_dir.join("grids");
    let pb = if opts.progress { ProgressBar::new(total) } else { ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden()) };
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps, ETA {eta} | {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_position(step);
    pb.set_prefix(cfg.method.clone());

    signal::install();
    let crash_at = signal::crash_step(&cfg.method);
    let save = |method: &dyn Method, step: u64, epoch: u64, bie: usize| -> Result<PathBuf> {
        let (np, ap) = method.rng_positions();
        let state = TrainState { step, epoch, batch_in_epoch: bie, noise_pos: np.to_string(), augment_pos: ap.to_string(), optimiser_steps: vec![], prior: method.prior()? };
        checkpoint::save(run_dir, state, cfg.log.keep_checkpoints, |dir| method.save(dir))
    };

    let mut last_ckpt: Option<(u64, PathBuf)> = checkpoint::latest(run_dir)?;
    let (mut window_images, mut window_start) = (0usize, Instant::now());
    let (run_start, start_step) = (Instant::now(), step);
    let mut rate = 0.0;
    let mut interrupted = false;
    'epochs: while epoch < cfg.train.epochs && step < total {
        for batch in batcher.epoch_from(epoch, batch_in_epoch, &device) {
            if step >= total {
                break 'epochs;
            }
            if signal::requested() {
                interrupted = true;
                break 'epochs;
            }
            let batch = batch?;
            let x = to_nhwc(&batch.images)?;
            let terms = method.step(&x)?;
            if let Some((name, v)) = terms.iter().find(|(_, v)| !v.is_finite()) {
                return Err(TrainError::NonFinite { step: step + 1, term: name.to_string(), value: *v });
            }
            step += 1;
            batch_in_epoch += 1;
            window_images += x.dim(0)?;
            if step % cfg.log.every_steps == 0 || step == total {
                rate = window_images as f64 / window_start.elapsed().as_secs_f64();
                (window_images, window_start) = (0, Instant::now());
                let prior = method.prior()?;
                let mut row = vec![step.to_string(), epoch.to_string()];
                row.extend(terms.iter().map(|(_, v)| format!("{v:.6}")));
                row.extend(prior.iter().map(|p| format!("{p:.6}")));
                row.push(format!("{rate:.1}"));
                writeln!(log, "{}", row.join(",")).map_err(io_err(&log_path))?;
                let main: Vec<String> = terms.iter().take(3).map(|(n, v)| format!("{n} {v:.3}")).collect();
                pb.set_message(format!("epoch {} | {rate:.0} img/s | {}", epoch + 1, main.join(", ")));
            }
            pb.set_position(step);
            if step % cfg.log.checkpoint_every == 0 || crash_at == Some(step) {
                let (e, b) = if batch_in_epoch as u64 == bpe { (epoch + 1, 0) } else { (epoch, batch_in_epoch) };
                last_ckpt = Some((step, save(method.as_ref(), step, e, b)?));
                if crash_at == Some(step) {
                    signal::crash();
                }
            }
        }
        if batch_in_epoch as u64 == bpe {
            write_grid(method.as_ref(), &grid_z, None, &grids.join(format!("epoch-{:03}.png", epoch + 1)))?;
            epoch += 1;
            batch_in_epoch = 0;
            if let Some(c) = classifier.as_ref().filter(|_| epoch % cfg.eval.every_epochs == 0) {
                let m = measure(method.as_ref(), cfg.model, &data, &split, c, &cfg.eval, &device)?;
                append_curve(run_dir, step, epoch, &m)?;
                pb.suspend(|| {
                    eprintln!(
                        "{}: epoch {epoch} (step {step}): ENT {:.3}, NMI {:.3}, prior RMSE {:.3}, real cluster acc. {:.3}",
                        cfg.method, m.ent, m.nmi.geometric, m.prior_rmse, m.real_cluster_accuracy
                    )
                });
            }
        }
    }
    pb.finish_and_clear();
    log.flush().map_err(io_err(&log_path))?;
    let checkpoint = match last_ckpt {
        Some((s, p)) if s == step => p,
        _ => save(method.as_ref(), step, epoch, batch_in_epoch)?,
    };
    let grid = run_dir.join("samples.png");
    write_grid(method.as_ref(), &grid_z, None, &grid)?;
    let done = step - start_step;
    let images_per_s = if done > 0 { (done as usize * cfg.train.batch_size) as f64 / run_start.elapsed().as_secs_f64() } else { rate };
    Ok(RunSummary { run_dir: run_dir.into(), steps: step, interrupted, checkpoint, grid, log: log_path, images_per_s, prior: method.prior()? })
}
