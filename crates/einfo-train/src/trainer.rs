//! The training loop around a [`Method`]: epochs of label-free batches, one step each,
//! with its side duties in their own types — the CSV log ([`TrainLog`]), checkpoints
//! ([`Checkpointer`]), evaluation on a schedule ([`EpochEval`]), the label-based
//! diagnostics of a log row ([`LabelProbe`]) — plus per-epoch grids and Ctrl-C. Its
//! progress (start, each step, logging steps, end) goes out as events; the binary draws
//! the progress bar.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use einfo_data::{Batcher, Dataset, Split};
use einfo_models::to_nhwc;

use crate::checkpointer::{Checkpointer, Position};
use crate::config::Config;
use crate::epoch_eval::EpochEval;
use crate::error::{Result, TrainError};
use crate::eval::MeasuredAt;
use crate::events::Event;
use crate::label_probe::{self, LabelProbe};
use crate::method::{term_values, Method};
use crate::samples::{grid_noise, write_grid};
use crate::setup::total_steps;
use crate::train_log::TrainLog;

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
    /// The scheduled evaluation of the run's last step, when this fit made it and was not
    /// interrupted: the run's final measurement, which a cell writes as its `metrics.json`
    /// instead of measuring the same weights again.
    pub final_eval: Option<Box<MeasuredAt>>,
}

/// Everything the loop works on.
pub struct Trainer<'a> {
    pub cfg: &'a Config,
    pub run_dir: &'a Path,
    pub data: &'a Dataset,
    pub split: &'a Split,
    pub device: &'a Device,
    /// Polled between steps: a requested stop checkpoints and returns.
    pub stop: crate::signal::Stop,
    /// Where the loop's messages go (evaluations, a replaced run).
    pub events: &'a crate::events::Events,
    /// The checkpoint the run continues from (`None` for a new run).
    pub restored: Option<(u64, PathBuf)>,
    /// A run being started: it counts (and a run it replaces is deleted) once it has a
    /// checkpoint.
    pub new: Option<&'a crate::new_run::NewRun>,
}

fn header(method: &dyn Method) -> Vec<String> {
    let mut h = vec!["step".to_string(), "epoch".into()];
    h.extend(method.term_names().iter().map(|s| s.to_string()));
    h.extend((0..method.num_codes()).map(|i| format!("prior_{i}")));
    h.push("img_per_s".into());
    h.extend(label_probe::COLUMNS.iter().map(|s| s.to_string()));
    h
}

/// The loop's side duties, opened once per `fit`.
struct Duties {
    log: TrainLog,
    evals: EpochEval,
    probe: Option<LabelProbe>,
    checkpoints: Checkpointer,
    grid_z: candle_core::Tensor,
    /// The newest scheduled evaluation of this fit.
    measured: Option<MeasuredAt>,
    /// Told `FitEnded` when the duties are dropped, however the loop ends.
    events: crate::events::Events,
}

impl Drop for Duties {
    fn drop(&mut self) {
        self.events.emit(Event::FitEnded);
    }
}

/// Where the loop is, and the images/s window of the log.
struct Cursor {
    at: Position,
    window_images: usize,
    window_start: Instant,
    rate: f64,
}

impl Trainer<'_> {
    /// Train `method` (fresh, or restored to `start`) to the config's budget.
    pub fn fit(&self, method: &mut dyn Method, start: Position) -> Result<RunSummary> {
        let cfg = self.cfg;
        let batcher = Batcher::new(self.data, &self.split.indices, cfg.train.batch_size, cfg.train.seed)?;
        let bpe = batcher.batches_per_epoch() as u64;
        let total = total_steps(cfg, self.split.len());
        if start.batch_in_epoch as u64 > bpe || (start.batch_in_epoch as u64 == bpe && bpe > 0) {
            return Err(TrainError::Config(format!(
                "the checkpoint is at batch {} of epoch {}, but an epoch has {bpe} batches under this config: was train.batch_size or the split changed?",
                start.batch_in_epoch,
                start.epoch + 1
            )));
        }
        let mut d = self.open_duties(method, start.step, total)?;
        let mut cur = Cursor { at: start, window_images: 0, window_start: Instant::now(), rate: 0.0 };
        let (run_start, start_step) = (Instant::now(), start.step);
        let mut interrupted = false;
        // A run stopped during an evaluation at an epoch's end resumes there: evaluate first.
        if cur.at.step > 0 && cur.at.batch_in_epoch == 0 && !crate::curve::has(self.run_dir, cur.at.step)? {
            match d.evals.after_epoch(method, &self.eval_inputs(), cur.at.epoch, cur.at.step) {
                Err(TrainError::Stopped) => interrupted = true,
                r => d.measured = r?.map(|measurement| MeasuredAt { step: cur.at.step, epoch: cur.at.epoch, measurement }),
            }
        }
        'epochs: while cur.at.epoch < cfg.train.epochs && cur.at.step < total && !interrupted {
            if self.stop.requested() {
                interrupted = true;
                break;
            }
            for batch in batcher.images_from(cur.at.epoch, cur.at.batch_in_epoch, self.device) {
                if cur.at.step >= total {
                    break 'epochs;
                }
                if self.stop.requested() {
                    interrupted = true;
                    break 'epochs;
                }
                self.train_batch(method, &to_nhwc(&batch?.images)?, &mut d, &mut cur, bpe, total)?;
            }
            if cur.at.batch_in_epoch as u64 == bpe && self.end_epoch(method, &mut d, &mut cur)? {
                interrupted = true;
                break 'epochs;
            }
        }
        if interrupted && cur.at.step == 0 && self.new.is_some() {
            // A new run stopped before its first step is not a run: no checkpoint, and the
            // caller aborts it (a run `--force` was replacing comes back).
            return Err(TrainError::Stopped);
        }
        self.finish(method, d, &cur, interrupted, (run_start, start_step))
    }

    /// The end of a fit, finished or interrupted: the last checkpoint, the final grid, the
    /// summary (`since`: when and at which step this fit started).
    fn finish(&self, method: &mut dyn Method, mut d: Duties, cur: &Cursor, interrupted: bool, since: (Instant, u64)) -> Result<RunSummary> {
        d.log.flush()?;
        let checkpoint = d.checkpoints.finish(method, cur.at)?;
        self.commit_new();
        let grid = self.run_dir.join("samples.png");
        write_grid(method, &d.grid_z, None, &grid)?;
        let done = cur.at.step - since.1;
        let images_per_s = if done > 0 { (done as usize * self.cfg.train.batch_size) as f64 / since.0.elapsed().as_secs_f64() } else { cur.rate };
        Ok(RunSummary {
            run_dir: self.run_dir.into(),
            steps: cur.at.step,
            interrupted,
            checkpoint,
            grid,
            log: PathBuf::from(d.log.path()),
            images_per_s,
            prior: method.prior()?,
            final_eval: d.measured.take().filter(|m| !interrupted && m.step == cur.at.step).map(Box::new),
        })
    }

    fn open_duties(&self, method: &dyn Method, step: u64, total: u64) -> Result<Duties> {
        let (cfg, run_dir, device) = (self.cfg, self.run_dir, self.device);
        let log = TrainLog::open(run_dir, step, &header(method))?;
        crate::curve::truncate(run_dir, step)?;
        let duties = Duties {
            log,
            evals: EpochEval::new(cfg, run_dir, device)?,
            probe: LabelProbe::new(self.data, self.split, cfg.log.probe_images, device)?,
            checkpoints: Checkpointer::new(run_dir, cfg, self.restored.clone())?,
            grid_z: grid_noise(cfg.train.seed, cfg.log.grid_columns, method.noise_dim(), device)?,
            measured: None,
            events: self.events.clone(),
        };
        // Once the duties exist, so that their drop answers it with FitEnded.
        self.events.emit(Event::FitStarted { method: cfg.method.clone(), step, total });
        Ok(duties)
    }

    /// One step on a batch, its log row on logging steps, a checkpoint on the cadence.
    fn train_batch(&self, method: &mut dyn Method, x: &candle_core::Tensor, d: &mut Duties, cur: &mut Cursor, bpe: u64, total: u64) -> Result<()> {
        let cfg = self.cfg;
        if (cur.at.step + 1) % cfg.log.every_steps == 0 {
            method.probe_next_step();
        }
        let terms = method.step(x)?;
        cur.at.step += 1;
        cur.at.batch_in_epoch += 1;
        cur.window_images += x.dim(0)?;
        let step = cur.at.step;
        if step % cfg.log.every_steps == 0 || step == total {
            // The terms are read (and checked) on logging steps only.
            let terms = term_values(&terms)?;
            if let Some((name, v)) = terms.iter().find(|(_, v)| !v.is_finite()) {
                return Err(TrainError::NonFinite { step, term: name.to_string(), value: *v, kept: d.checkpoints.last_path() });
            }
            cur.rate = cur.window_images as f64 / cur.window_start.elapsed().as_secs_f64();
            (cur.window_images, cur.window_start) = (0, Instant::now());
            d.log.row(&self.log_row(method, d.probe.as_ref(), &terms, step, cur.at.epoch, cur.rate)?)?;
            let main = terms.iter().take(3).map(|(n, v)| (n.to_string(), *v)).collect();
            self.events.emit(Event::Logged { step, epoch: cur.at.epoch + 1, images_per_s: cur.rate, terms: main });
        }
        self.events.emit(Event::Stepped { step });
        let at = if cur.at.batch_in_epoch as u64 == bpe { Position { step, epoch: cur.at.epoch + 1, batch_in_epoch: 0 } } else { cur.at };
        d.checkpoints.after_step(method, at)?;
        if d.checkpoints.last_path().is_some() {
            self.commit_new();
        }
        Ok(())
    }

    /// The end of an epoch: its grid, then the evaluation on the schedule. `true` when a
    /// stop was requested during the evaluation.
    fn end_epoch(&self, method: &mut dyn Method, d: &mut Duties, cur: &mut Cursor) -> Result<bool> {
        write_grid(method, &d.grid_z, None, &self.run_dir.join("grids").join(format!("epoch-{:03}.png", cur.at.epoch + 1)))?;
        cur.at.epoch += 1;
        cur.at.batch_in_epoch = 0;
        let (epoch, step) = (cur.at.epoch, cur.at.step);
        let measured = match d.evals.after_epoch(method, &self.eval_inputs(), epoch, step) {
            Err(TrainError::Stopped) => return Ok(true),
            r => r?,
        };
        if let Some(m) = measured {
            let event = Event::Evaluated {
                method: self.cfg.method.clone(),
                epoch,
                step,
                ent: m.ent,
                nmi: m.nmi.geometric,
                prior_rmse: m.prior_rmse,
                real_cluster_accuracy: m.real_cluster_accuracy,
                real_cluster_accuracy_bn: m.real_cluster_accuracy_bn,
            };
            self.events.emit(event);
            d.measured = Some(MeasuredAt { step, epoch, measurement: m });
        }
        Ok(false)
    }

    fn eval_inputs(&self) -> crate::epoch_eval::Inputs<'_> {
        crate::epoch_eval::Inputs { data: self.data, split: self.split, device: self.device, stop: self.stop }
    }

    fn commit_new(&self) {
        if let Some(line) = self.new.and_then(|n| n.commit()) {
            self.events.emit(Event::Replaced { run_dir: self.run_dir.into(), line });
        }
    }

    /// One row of `log.csv`: step, epoch, the terms, the prior, images/s, diagnostics.
    fn log_row(&self, method: &mut dyn Method, probe: Option<&LabelProbe>, terms: &[(&str, f64)], step: u64, epoch: u64, rate: f64) -> Result<Vec<String>> {
        let prior = method.prior()?;
        let mut row = vec![step.to_string(), epoch.to_string()];
        row.extend(terms.iter().map(|(_, v)| format!("{v:.6}")));
        row.extend(prior.iter().map(|p| format!("{p:.6}")));
        row.push(format!("{rate:.1}"));
        let theta = method.prior_probe()?;
        match probe {
            Some(p) => row.extend(p.measure(method, &prior, theta.as_ref())?.iter().map(|v| if v.is_finite() { format!("{v:.6}") } else { String::new() })),
            None => row.extend(label_probe::COLUMNS.iter().map(|_| String::new())),
        }
        Ok(row)
    }
}
