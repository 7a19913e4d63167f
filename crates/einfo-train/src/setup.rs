//! Setting a run up: the device, the data and split a config names, the method, and a run
//! directory's config and newest checkpoint loaded back. Training, resuming, evaluation,
//! sampling, the step benchmark and the ablation cells all start here.

use std::path::{Path, PathBuf};

use candle_core::Device;
use einfo_data::{DataOptions, Dataset, DatasetKind, Part, Split};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, TrainState};
use crate::config::{Config, ModelKind};
use crate::error::{Result, TrainError};
use crate::events::{Event, Events};
use crate::infogan::InfoGanMethod;
use crate::jointvae::JointVaeMethod;
use crate::method::Method;

/// `cpu`, `cuda` / `cuda:N`, `metal`. A GPU that cannot be opened — no driver, no such
/// device, a build without the feature — is a one-line error, never a panic (cudarc,
/// which loads the CUDA libraries at run time, panics when they are missing).
pub fn device_for(name: &str) -> Result<Device> {
    crate::call_count::record(crate::call_count::Step::Device);
    let open = |f: &dyn Fn() -> candle_core::Result<Device>| -> Result<Device> {
        quietly(f).map_err(|why| {
            let hint = if why.contains("libcuda") || why.contains("dynamically load") {
                "; is an NVIDIA driver installed (libcuda.so.1 on the library path)?"
            } else {
                ""
            };
            TrainError::Device(name.to_string(), format!("{why}{hint}"))
        })
    };
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" => open(&|| Device::new_cuda(0)),
        "metal" => open(&|| Device::new_metal(0)),
        other => match other.strip_prefix("cuda:").and_then(|i| i.parse().ok()) {
            Some(i) => open(&|| Device::new_cuda(i)),
            None => Err(TrainError::Device(other.into(), "use cpu, cuda, cuda:N or metal".into())),
        },
    }
}

/// Run `f`, turning an error or a panic into its first line (the panic message is not
/// printed).
fn quietly(f: &dyn Fn() -> candle_core::Result<Device>) -> std::result::Result<Device, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    // First line, without cudarc's list of every library name it tried.
    let first = |s: &str| s.lines().next().unwrap_or("").split(" - searched for").next().unwrap_or("").to_string();
    match r {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(first(&e.to_string())),
        Err(p) => Err(first(p.downcast_ref::<String>().map(String::as_str).or(p.downcast_ref::<&str>().copied()).unwrap_or("the GPU library panicked"))),
    }
}

/// The class counts a config's split asks for, without loading any data: `data.counts`,
/// else for MNIST the authors' split `data.split`, else (other data sets) the counts the
/// authors' recipe draws with seed `data.split` (one class at the smallest class size,
/// the others ⌊U(0.1, 1) × that⌋).
pub fn split_counts(cfg: &Config) -> Result<Vec<usize>> {
    let kind: DatasetKind = cfg.data.dataset.parse()?;
    Ok(match (&cfg.data.counts, kind) {
        (Some(c), _) => c.clone(),
        (None, DatasetKind::Mnist) => einfo_data::mnist_split(cfg.data.split)?.counts.clone(),
        (None, k) => einfo_data::generate_counts(&k.class_counts_all(), None, cfg.data.split as u64)?,
    })
}

/// The data set and split a config names.
pub fn prepare_data(cfg: &Config, opts: &DataOptions) -> Result<(Dataset, Split)> {
    let kind: DatasetKind = cfg.data.dataset.parse()?;
    let counts = split_counts(cfg)?;
    let data = Dataset::load(kind, Part::All, opts)?;
    let stream = einfo_data::splits::CUSTOM_SPLIT_STREAM;
    let split = match (&cfg.data.counts, kind) {
        (Some(c), _) => Split::draw(&data, format!("{kind}-custom"), c, cfg.data.split_seed, stream)?,
        (None, DatasetKind::Mnist) => Split::mnist(&data, cfg.data.split, cfg.data.split_seed)?,
        (None, _) => Split::draw(&data, format!("{kind}-generated-{}", cfg.data.split), &counts, cfg.data.split_seed, stream)?,
    };
    Ok((data, split))
}

/// Number of images in the split a config names, without loading any data.
pub fn split_len(cfg: &Config) -> Result<usize> {
    Ok(split_counts(cfg)?.iter().sum())
}

/// Steps a config's budget allows on the split it names, without loading any data.
pub fn budget_steps(cfg: &Config) -> Result<u64> {
    Ok(total_steps(cfg, split_len(cfg)?))
}

/// Steps a config's budget allows on a split of `split_len` images (drop-last batches).
pub fn total_steps(cfg: &Config, split_len: usize) -> u64 {
    let bpe = (split_len / cfg.train.batch_size) as u64;
    cfg.train.epochs.saturating_mul(bpe).min(cfg.train.max_steps.unwrap_or(u64::MAX))
}

/// Build the method a config names (`true_freq`: the split's class frequencies, which the
/// ground-truth prior uses).
pub fn build_method(cfg: &Config, true_freq: &[f64], device: &Device) -> Result<Box<dyn Method>> {
    Ok(match cfg.model {
        ModelKind::Infogan => Box::new(InfoGanMethod::new(cfg, true_freq, device)?),
        ModelKind::Jointvae => Box::new(JointVaeMethod::new(cfg, device)?),
    })
}

/// Fields `einfo resume` may change: the budget, the device, logging and evaluation. Any
/// other difference makes it another experiment.
pub const RESUMABLE_CHANGES: &[&str] = &["train.epochs", "train.max_steps", "train.device", "log.", "eval."];

/// The dotted keys whose values differ between two configs (`a → b`).
pub fn config_differences(a: &Config, b: &Config) -> Vec<String> {
    fn walk(prefix: &str, a: Option<&toml::Value>, b: Option<&toml::Value>, out: &mut Vec<String>) {
        match (a, b) {
            (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    walk(&format!("{prefix}{k}."), x.get(k), y.get(k), out);
                }
            }
            (x, y) if x != y => {
                let show = |v: Option<&toml::Value>| v.map_or("unset".to_string(), |v| v.to_string());
                out.push(format!("{} ({} → {})", prefix.trim_end_matches('.'), show(x), show(y)));
            }
            _ => {}
        }
    }
    let (x, y) = (toml::Value::try_from(a).ok(), toml::Value::try_from(b).ok());
    let mut out = Vec::new();
    walk("", x.as_ref(), y.as_ref(), &mut out);
    out
}

/// Refuse a resume that would change the experiment: every difference between `was` and
/// `now` must be one of [`RESUMABLE_CHANGES`]. `what` names the old config in the message.
pub fn check_resumable(was: &Config, now: &Config, run: &Path, what: &str) -> Result<()> {
    let changed: Vec<String> = config_differences(was, now)
        .into_iter()
        .filter(|d| !RESUMABLE_CHANGES.iter().any(|ok| d.starts_with(ok) && (ok.ends_with('.') || d[ok.len()..].starts_with(' '))))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(TrainError::ResumeChange(
        run.into(),
        format!(
            "resuming would change the experiment against {what}: {}; resume may change only train.epochs, train.max_steps, train.device, log.* and eval.* — start a new run (einfo train) for another experiment",
            changed.join(", ")
        ),
    ))
}

/// Read a run's resolved config.
pub fn read_config(run: &Path) -> Result<Config> {
    let p = run.join("config.toml");
    if !p.is_file() {
        return Err(TrainError::NotARun(run.into()));
    }
    let text = crate::bounded_read::read_regular_text(&p, crate::bounded_read::MAX_CONFIG_BYTES)?;
    Config::from_toml(&text, &p.display().to_string())
}

/// The split a run trained on, recorded beside it (`split.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitRecord {
    pub name: String,
    pub dataset: String,
    pub counts: Vec<usize>,
    pub split_seed: u64,
    pub indices_sha256: String,
    pub frequencies: Vec<f64>,
}

impl SplitRecord {
    pub fn of(cfg: &Config, split: &Split) -> SplitRecord {
        SplitRecord {
            name: split.name.clone(),
            dataset: cfg.data.dataset.clone(),
            counts: split.counts.clone(),
            split_seed: split.seed,
            indices_sha256: split.indices_hash(),
            frequencies: split.frequencies(),
        }
    }

    /// The split record of a run directory (`split.json`); `None` when it has none yet.
    pub fn read(run: &Path) -> Result<Option<SplitRecord>> {
        let p = run.join("split.json");
        let Ok(text) = std::fs::read_to_string(&p) else { return Ok(None) };
        serde_json::from_str(&text).map(Some).map_err(|e| TrainError::Checkpoint { path: p.clone(), detail: format!("unreadable split record: {e}") })
    }

    /// The class frequencies a run directory recorded, computed from its config's counts
    /// when it has no `split.json` yet.
    pub fn frequencies_of(run: &Path, cfg: &Config) -> Result<Vec<f64>> {
        if let Some(r) = Self::read(run)? {
            return Ok(r.frequencies);
        }
        let counts = split_counts(cfg)?;
        let n: usize = counts.iter().sum();
        Ok(counts.iter().map(|&c| c as f64 / n.max(1) as f64).collect())
    }
}

/// Restore a checkpoint into a method: weights, optimiser states and RNG positions; a
/// checkpoint holding NaN or infinite values is refused.
pub fn restore(method: &mut dyn Method, ckpt: &Path) -> Result<TrainState> {
    let st = checkpoint::load_state(ckpt)?;
    checkpoint::verify(ckpt, &st)?;
    method.load(ckpt, &st.optimiser_steps)?;
    if let Some(what) = method.non_finite()? {
        return Err(TrainError::Checkpoint { path: ckpt.into(), detail: format!("{what} holds non-finite values") });
    }
    method.set_rng_positions(checkpoint::parse_pos(&st.noise_pos, ckpt)?, checkpoint::parse_pos(&st.augment_pos, ckpt)?);
    Ok(st)
}

/// Restore the newest checkpoint of `run` that loads; a newer one that does not (a
/// damaged file) is reported on standard error and skipped for the one before it. `None`
/// when the run has no checkpoint; an error naming the newest when none loads.
pub fn restore_newest(method: &mut dyn Method, run: &Path, events: &Events) -> Result<Option<(PathBuf, TrainState)>> {
    // A run training into the directory rotates old checkpoints away while they are read:
    // when every one fails and the listing has changed since, read the new listing.
    let mut all = checkpoint::list(run)?;
    for _ in 0..3 {
        let mut first_err = None;
        for (_, ckpt) in all.iter().rev() {
            match restore(method, ckpt) {
                Ok(st) => {
                    if first_err.is_some() {
                        events.emit(Event::ContinuingFrom { checkpoint: ckpt.clone() });
                    }
                    return Ok(Some((ckpt.clone(), st)));
                }
                Err(e) if !ckpt.join("state.json").is_file() => drop(e), // rotated away meanwhile
                Err(e) => {
                    events.emit(Event::CheckpointSkipped { checkpoint: ckpt.clone(), why: crate::error::first_line(&e) });
                    first_err.get_or_insert(e);
                }
            }
        }
        let now = checkpoint::list(run)?;
        if now == all || now.is_empty() {
            return match first_err {
                Some(e) => Err(TrainError::Checkpoint {
                    path: run.into(),
                    detail: format!("no checkpoint loads ({}); resume from an earlier copy of the run, or retrain it", crate::error::first_line(&e)),
                }),
                None => Ok(None),
            };
        }
        all = now;
    }
    Err(TrainError::Checkpoint { path: run.into(), detail: "its checkpoints kept changing while being read (a run is training into it): try again".into() })
}

/// Refuse a `config.toml` edited after training: it must differ from the config the
/// newest checkpoint was trained with only where a resume may (budget, device, logging,
/// evaluation). Checked before any checkpoint is loaded, so the message names the edit.
pub fn check_against_checkpoint(run: &Path, cfg: &Config) -> Result<()> {
    // The newest checkpoint that is intact (a damaged one is skipped, as loading skips it).
    let intact = checkpoint::list(run)?.into_iter().rev().find(|(_, c)| checkpoint::load_state(c).and_then(|st| checkpoint::verify(c, &st)).is_ok());
    let Some((_, ckpt)) = intact else { return Ok(()) };
    let Some(text) = checkpoint::saved_config(&ckpt) else { return Ok(()) };
    let saved = Config::from_toml(&text, &ckpt.join("config.toml").display().to_string())?;
    check_resumable(&saved, cfg, run, &format!("the config its checkpoint {} was trained with (was config.toml edited? restore it)", ckpt.display()))
}

/// A run directory's model at its newest checkpoint.
pub struct LoadedRun {
    pub cfg: Config,
    pub device: Device,
    pub method: Box<dyn Method>,
    pub checkpoint: PathBuf,
    pub state: TrainState,
}

/// Load a run's config and its newest checkpoint (for `eval`, `sample`).
pub fn load_run(run: &Path, events: &Events) -> Result<LoadedRun> {
    let cfg = read_config(run)?;
    check_against_checkpoint(run, &cfg)?;
    let device = device_for(&cfg.train.device)?;
    let mut method = build_method(&cfg, &SplitRecord::frequencies_of(run, &cfg)?, &device)?;
    let (ckpt, state) = restore_newest(method.as_mut(), run, events)?
        .ok_or_else(|| TrainError::Checkpoint { path: run.into(), detail: "no checkpoint yet: train or resume the run first".into() })?;
    Ok(LoadedRun { cfg, device, method, checkpoint: ckpt, state })
}
