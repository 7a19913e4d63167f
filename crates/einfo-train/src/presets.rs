//! The named presets: TOML overlays on the default [`Config`], shipped in
//! `experiments/presets/` and compiled into the binary.

use crate::config::Config;
use crate::error::{Result, TrainError};

macro_rules! presets {
    ($($name:literal),* $(,)?) => {
        /// Preset names, in the order of the paper's table (then the controls, then the extras).
        pub const NAMES: &[&str] = &[$($name),*];
        const TEXTS: &[&str] = &[$(include_str!(concat!("../../../experiments/presets/", $name, ".toml"))),*];
    };
}

presets![
    "uniform",
    "ground-truth",
    "ground-truth-trans",
    "gumbel",
    "gumbel-trans",
    "elastic",
    "jointvae",
    "uniform-trans",
    "elastic-frozen-prior",
    "elastic-ntxent",
    "elastic-fast-prior",
    "elastic-em",
    "elastic-floor",
    "elastic-sinkhorn",
    "elastic-uot"
];

/// The seven methods of the paper's ablation table.
pub const PAPER_METHODS: &[&str] = &["uniform", "ground-truth", "ground-truth-trans", "gumbel", "gumbel-trans", "elastic", "jointvae"];

/// Controls (not paper rows): each removes one cause of `elastic`'s gain over `uniform`.
/// `uniform-trans` keeps only L_trans; `elastic-frozen-prior` keeps L_trans, L_ent and the soft
/// Gumbel codes with θ frozen at uniform.
pub const CONTROLS: &[&str] = &["uniform-trans", "elastic-frozen-prior"];

/// The TOML text of a preset.
pub fn preset_text(name: &str) -> Result<&'static str> {
    NAMES.iter().position(|n| *n == name).map(|i| TEXTS[i]).ok_or_else(|| TrainError::UnknownPreset(name.to_string(), NAMES.join(", ")))
}

/// A preset by name, or a TOML file by path (anything containing `/` or ending in `.toml`).
pub fn load(name_or_path: &str) -> Result<Config> {
    if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
        let text = crate::bounded_read::read_regular_text(std::path::Path::new(name_or_path), crate::bounded_read::MAX_CONFIG_BYTES)?;
        return Config::from_toml(&text, name_or_path);
    }
    Config::from_toml(preset_text(name_or_path)?, &format!("preset {name_or_path}"))
}
