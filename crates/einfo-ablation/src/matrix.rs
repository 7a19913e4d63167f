//! The experiment matrix: methods × splits × seeds under one budget. Each cell has a
//! deterministic id, `<method>/split<k>/seed<s>`, which is also its run directory under
//! the matrix root, and one command line (`einfo cell …`) that every launcher runs.

use std::path::{Path, PathBuf};

use einfo_train::{presets, Config};
use serde::{Deserialize, Serialize};

use crate::error::{AblationError, Result};

/// The training and evaluation budget of every cell (recorded in each cell's config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Epochs over the split.
    pub epochs: u64,
    /// Cap on the steps (smoke runs); `None`: the epochs decide.
    pub max_steps: Option<u64>,
    /// Evaluate during training after every this many epochs (the convergence curve).
    pub eval_every_epochs: u64,
    /// Generated images per code in each evaluation.
    pub eval_per_code: usize,
    /// Real images for the cluster accuracy (0: the whole split).
    pub eval_real_images: usize,
    /// `cpu`, `cuda`, `cuda:N` or `metal`.
    pub device: String,
    /// `mnist` (the authors' 50 splits) or `fashion-mnist` (split k = the split the
    /// authors' recipe draws with seed k).
    #[serde(default = "default_dataset")]
    pub dataset: String,
    /// How schedules written for the paper's budget (JointVAE's capacity ramp) are run.
    #[serde(default)]
    pub schedules: Schedules,
}

pub(crate) fn default_dataset() -> String {
    "mnist".into()
}

/// Schedules that the reference settings tie to a number of iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedules {
    /// As published (JointVAE: capacities 0 → 5 nats over 25,000 iterations).
    #[default]
    Paper,
    /// Scaled to the cell's budget: JointVAE's capacities reach their maximum after the
    /// same fraction of training as in Dupont (2018) on MNIST, 25,000 of 100 epochs × 937.5
    /// iterations (26.7%), so that a short budget does not end before the ramp has begun.
    Budget,
}

/// Fraction of training over which Dupont's MNIST capacities ramp up: 25,000 / 93,750.
pub const JOINTVAE_RAMP_FRACTION: f64 = 25_000.0 / 93_750.0;

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    pub method: String,
    pub split: usize,
    pub seed: u64,
}

impl Cell {
    /// `<method>/split<k>/seed<s>`: the cell's id and its directory under the root.
    pub fn id(&self) -> String {
        format!("{}/split{}/seed{}", self.method, self.split, self.seed)
    }

    /// Parse an id back (`elastic/split1/seed0`).
    pub fn parse(id: &str) -> Result<Cell> {
        let bad = || AblationError::Invalid(format!("cell id '{id}' is not <method>/split<k>/seed<s> (e.g. elastic/split1/seed0)"));
        let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
        let [method, split, seed] = parts[..] else { return Err(bad()) };
        Ok(Cell {
            method: method.to_string(),
            split: split.strip_prefix("split").and_then(|s| s.parse().ok()).ok_or_else(bad)?,
            seed: seed.strip_prefix("seed").and_then(|s| s.parse().ok()).ok_or_else(bad)?,
        })
    }
}

/// Methods × splits × seeds under one budget, rooted at a directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub root: PathBuf,
    pub methods: Vec<String>,
    pub splits: Vec<usize>,
    pub seeds: Vec<u64>,
    pub budget: Budget,
}

impl Matrix {
    /// Check every method is a preset and every split exists.
    pub fn validate(&self) -> Result<()> {
        if self.methods.is_empty() || self.splits.is_empty() || self.seeds.is_empty() {
            return Err(AblationError::Invalid("the matrix is empty: give at least one method, split and seed".into()));
        }
        for m in &self.methods {
            presets::load(m).map_err(|_| AblationError::Invalid(format!("unknown method '{m}': choose from {}", presets::NAMES.join(", "))))?;
        }
        for c in self.cells() {
            let cfg = self.config(&c)?;
            einfo_train::setup::split_len(&cfg).map_err(|e| AblationError::Invalid(format!("cell {}: {e}", c.id())))?;
        }
        Ok(())
    }

    /// Every cell, split-major (all methods of the first split and seed come first, so a
    /// matrix stopped part-way has complete rows to compare).
    pub fn cells(&self) -> Vec<Cell> {
        let mut v = Vec::new();
        for &seed in &self.seeds {
            for &split in &self.splits {
                for method in &self.methods {
                    v.push(Cell { method: method.clone(), split, seed });
                }
            }
        }
        v
    }

    /// Cells named by `only` (ids), in matrix order; all cells when `only` is empty.
    pub fn select(&self, only: &[String]) -> Result<Vec<Cell>> {
        let all = self.cells();
        if only.is_empty() {
            return Ok(all);
        }
        let wanted: Vec<Cell> = only.iter().map(|id| Cell::parse(id)).collect::<Result<_>>()?;
        if let Some(c) = wanted.iter().find(|c| !all.contains(c)) {
            return Err(AblationError::Invalid(format!(
                "--only {}: not a cell of this matrix (methods {}, splits {:?}, seeds {:?})",
                c.id(),
                self.methods.join(","),
                self.splits,
                self.seeds
            )));
        }
        Ok(all.into_iter().filter(|c| wanted.contains(c)).collect())
    }

    pub fn dir(&self, cell: &Cell) -> PathBuf {
        self.root.join(cell.id())
    }

    /// The config overrides that make a preset into this cell.
    pub fn overrides(&self, cell: &Cell) -> Vec<String> {
        let b = &self.budget;
        let mut v = vec![
            format!("data.split={}", cell.split),
            format!("train.seed={}", cell.seed),
            format!("train.epochs={}", b.epochs),
            format!("train.device=\"{}\"", b.device),
            format!("eval.every_epochs={}", b.eval_every_epochs),
            format!("eval.per_code={}", b.eval_per_code),
            format!("eval.real_images={}", b.eval_real_images),
        ];
        if let Some(s) = b.max_steps {
            v.push(format!("train.max_steps={s}"));
        }
        if b.dataset != "mnist" {
            v.push(format!("data.dataset=\"{}\"", b.dataset));
        }
        if b.schedules == Schedules::Budget {
            if let Some(iters) = self.scaled_capacity_iters(cell, &v) {
                v.push(format!("jointvae.capacity_iters={iters}"));
            }
        }
        v
    }

    /// JointVAE cells under [`Schedules::Budget`]: the capacity ramp's length in steps.
    fn scaled_capacity_iters(&self, cell: &Cell, overrides: &[String]) -> Option<u64> {
        let cfg = presets::load(&cell.method).ok()?.with_overrides(overrides).ok()?;
        if cfg.model != einfo_train::config::ModelKind::Jointvae {
            return None;
        }
        let total = einfo_train::setup::budget_steps(&cfg).ok()?;
        Some(((total as f64 * JOINTVAE_RAMP_FRACTION).round() as u64).max(1))
    }

    /// The cell's resolved config (what `einfo cell` resolves from [`Matrix::cell_args`]).
    pub fn config(&self, cell: &Cell) -> Result<Config> {
        Ok(presets::load(&cell.method)?.with_overrides(&self.overrides(cell))?)
    }

    /// Arguments of the `einfo` command that runs the cell, the same for every launcher.
    pub fn cell_args(&self, cell: &Cell) -> Vec<String> {
        let mut v = vec!["cell".to_string(), "--preset".into(), cell.method.clone(), "--out".into(), path_str(&self.dir(cell)), "--quiet".into()];
        for s in self.overrides(cell) {
            v.push("--set".into());
            v.push(s);
        }
        v
    }
}

pub(crate) fn path_str(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix() -> Matrix {
        Matrix {
            root: "runs/ablations".into(),
            methods: vec!["uniform".into(), "elastic".into()],
            splits: vec![1, 2],
            seeds: vec![0],
            budget: "smoke".parse::<crate::Profile>().unwrap().budget(),
        }
    }

    #[test]
    fn ids_round_trip_and_cells_are_split_major() {
        let m = matrix();
        let ids: Vec<String> = m.cells().iter().map(Cell::id).collect();
        assert_eq!(ids, ["uniform/split1/seed0", "elastic/split1/seed0", "uniform/split2/seed0", "elastic/split2/seed0"]);
        for c in m.cells() {
            assert_eq!(Cell::parse(&c.id()).unwrap(), c);
        }
        assert!(Cell::parse("elastic/split1").is_err());
        assert!(Cell::parse("elastic/s1/seed0").is_err());
    }

    #[test]
    fn select_and_config() {
        let m = matrix();
        assert_eq!(m.select(&["elastic/split2/seed0".into()]).unwrap().len(), 1);
        let err = m.select(&["elastic/split3/seed0".into()]).unwrap_err().to_string();
        assert!(err.contains("not a cell of this matrix"), "{err}");
        let cfg = m.config(&Cell { method: "elastic".into(), split: 2, seed: 0 }).unwrap();
        assert_eq!((cfg.data.split, cfg.train.max_steps, cfg.eval.per_code), (2, Some(3), 20));
        m.validate().unwrap();
        // JointVAE's capacity ramp scaled to the budget: 5 epochs of split 1 (42,794 images,
        // 668 batches of 64) = 3,340 steps; 3,340 × 25,000 / 93,750 = 890.7 → 891.
        let mut cpu = m.clone();
        cpu.budget = "cpu".parse::<crate::Profile>().unwrap().budget();
        assert_eq!(cpu.budget.schedules, Schedules::Paper, "the cpu profile keeps the published ramp");
        cpu.budget.schedules = Schedules::Budget;
        let vae = Cell { method: "jointvae".into(), split: 1, seed: 0 };
        assert_eq!(cpu.config(&vae).unwrap().jointvae.capacity_iters, 891);
        assert_eq!(cpu.config(&Cell { method: "elastic".into(), ..vae.clone() }).unwrap().jointvae.capacity_iters, 25_000, "only JointVAE cells");
        cpu.budget.schedules = Schedules::Paper;
        assert_eq!(cpu.config(&vae).unwrap().jointvae.capacity_iters, 25_000);
        // Another data set: its generated split k.
        cpu.budget.dataset = "fashion-mnist".into();
        let cfg = cpu.config(&Cell { method: "uniform".into(), split: 2, seed: 1 }).unwrap();
        assert_eq!((cfg.data.dataset.as_str(), cfg.data.split, cfg.train.seed), ("fashion-mnist", 2, 1));
        let mut bad = m.clone();
        bad.methods.push("nonsense".into());
        assert!(bad.validate().unwrap_err().to_string().contains("unknown method 'nonsense'"));
    }
}
