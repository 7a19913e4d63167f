//! Named budgets — the splits, seeds and [`Budget`] a matrix gets unless told otherwise —
//! shipped as TOML files in `experiments/profiles/` beside the presets and compiled into
//! the binaries.

use serde::Deserialize;

use crate::error::{AblationError, Result};
use crate::matrix::Budget;

macro_rules! profiles {
    ($($name:literal),* $(,)?) => {
        /// Profile names.
        pub const NAMES: &[&str] = &[$($name),*];
        const TEXTS: &[&str] = &[$(include_str!(concat!("../../../experiments/profiles/", $name, ".toml"))),*];
    };
}

profiles!["smoke", "cpu", "paper"];

/// A profile file: its splits, seeds and budget.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    /// Splits of the data set (MNIST: 1–50).
    splits: Vec<usize>,
    /// Training seeds.
    seeds: Vec<u64>,
    budget: Budget,
}

/// A named budget with its default splits and seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    name: &'static str,
    file: ProfileFile,
}

impl std::str::FromStr for Profile {
    type Err = AblationError;
    fn from_str(s: &str) -> Result<Profile> {
        let i = NAMES.iter().position(|n| *n == s).ok_or_else(|| AblationError::Invalid(format!("unknown profile '{s}': choose {}", NAMES.join(", "))))?;
        let file: ProfileFile = toml::from_str(TEXTS[i]).map_err(|e| AblationError::Invalid(format!("experiments/profiles/{s}.toml: {}", e.message())))?;
        if file.splits.is_empty() || file.seeds.is_empty() {
            return Err(AblationError::Invalid(format!("experiments/profiles/{s}.toml: give at least one split and one seed")));
        }
        Ok(Profile { name: NAMES[i], file })
    }
}

impl Profile {
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn budget(&self) -> Budget {
        self.file.budget.clone()
    }

    /// Training seeds.
    pub fn seeds(&self) -> Vec<u64> {
        self.file.seeds.clone()
    }

    pub fn splits(&self) -> Vec<usize> {
        self.file.splits.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Schedules;

    #[test]
    fn every_profile_file_loads_and_the_cpu_budget_is_the_matrix_s() {
        for name in NAMES {
            let p: Profile = name.parse().unwrap();
            assert_eq!(p.name(), *name);
        }
        let cpu: Profile = "cpu".parse().unwrap();
        let b = cpu.budget();
        assert_eq!((b.epochs, b.max_steps, b.eval_every_epochs, b.eval_per_code, b.eval_real_images), (5, None, 1, 1000, 0));
        assert_eq!((b.device.as_str(), b.dataset.as_str(), b.schedules), ("cpu", "mnist", Schedules::Paper));
        assert_eq!((cpu.splits(), cpu.seeds()), (vec![1, 2, 3], vec![0, 1, 2]));
        let smoke: Profile = "smoke".parse().unwrap();
        assert_eq!((smoke.budget().max_steps, smoke.budget().schedules), (Some(3), Schedules::Budget));
        let paper: Profile = "paper".parse().unwrap();
        assert_eq!((paper.budget().epochs, paper.budget().device.as_str(), paper.splits()), (200, "cuda", (1..=50).collect::<Vec<_>>()));
        let err = "gpu".parse::<Profile>().unwrap_err().to_string();
        assert!(err.contains("unknown profile 'gpu'") && err.contains("smoke, cpu, paper"), "{err}");
    }
}
