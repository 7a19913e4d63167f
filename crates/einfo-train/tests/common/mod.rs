//! Helpers shared by einfo-train's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use einfo_data::DataOptions;
use einfo_train::{presets, Config, RunOptions};

/// Run options on the shared data cache (`<repo>/data` unless `EINFO_CACHE` says), quiet.
pub fn opts(force: bool) -> RunOptions {
    let mut data = DataOptions::from_env();
    if std::env::var_os("EINFO_CACHE").is_none() {
        data.cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data");
    }
    data.verbose = false;
    RunOptions { data, force, stop: Default::default(), events: Default::default() }
}

/// The newest checkpoint's tensor files of a run, by name, as bytes.
pub fn final_tensors(run: &Path) -> Vec<(String, Vec<u8>)> {
    let (_, ckpt) = einfo_train::checkpoint::latest(run).unwrap().unwrap();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&ckpt)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

/// A uniform-preset run of 10 classes × 20 images, batch 20, `steps` steps, no evaluation,
/// with `extra` overrides after those.
pub fn tiny_uniform(steps: u64, extra: &[&str]) -> Config {
    let mut sets: Vec<String> = vec![
        "data.counts=[20,20,20,20,20,20,20,20,20,20]".into(),
        "train.batch_size=20".into(),
        format!("train.max_steps={steps}"),
        "eval.every_epochs=0".into(),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    presets::load("uniform").unwrap().with_overrides(&sets).unwrap()
}
