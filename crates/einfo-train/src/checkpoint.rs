//! Checkpoints: one directory per step under `<run>/checkpoints/`, written atomically
//! (a temporary directory, then a rename), the newest `keep` kept.
//!
//! ```text
//! checkpoints/step-00000500/
//!   state.json            position, RNG positions, optimiser steps, learned prior, and
//!                         the sha256 of every other file (verified before loading)
//!   <group>.safetensors   weights (and BatchNorm buffers) of each parameter group
//!   opt-<group>.safetensors  Adam moments
//!   config.toml           the run's config at this step
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io_err, Result, TrainError};

/// Everything but tensors needed to continue a run exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Steps done.
    pub step: u64,
    /// Where to continue: epoch and batch within it.
    pub epoch: u64,
    pub batch_in_epoch: usize,
    /// Positions of the noise and augmentation generators (as decimal strings: u128).
    pub noise_pos: String,
    pub augment_pos: String,
    /// Adam step counts per optimiser.
    pub optimiser_steps: Vec<u64>,
    /// The learned (or fixed) prior at this step.
    pub prior: Vec<f64>,
    /// sha256 of every other file of the checkpoint, by name (absent in checkpoints written
    /// before it was recorded: those are loaded unchecked).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

pub fn checkpoints_dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

fn step_of(name: &str) -> Option<u64> {
    name.strip_prefix("step-")?.parse().ok()
}

/// Finished checkpoints of a run, oldest first.
pub fn list(run: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let dir = checkpoints_dir(run);
    if !dir.exists() {
        return Ok(vec![]);
    }
    let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
        .map_err(io_err(&dir))?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((step_of(e.file_name().to_str()?)?, e.path())))
        .filter(|(_, p)| p.join("state.json").is_file())
        .collect();
    v.sort();
    Ok(v)
}

/// The newest checkpoint, if any.
pub fn latest(run: &Path) -> Result<Option<(u64, PathBuf)>> {
    Ok(list(run)?.pop())
}

/// Write a checkpoint: `write_tensors` fills a fresh directory and returns the
/// optimisers' step counts, which complete `state`; then the state and `config` (the run's
/// config at this step, so a later resume can tell whether the experiment changed) are
/// written, every file and the directory are flushed to disk, and the directory is renamed
/// into place; older checkpoints beyond `keep` go. On any failure the temporary directory
/// is removed (a full disk does not fill further with each retry) and the error names the
/// checkpoint.
pub fn save(run: &Path, mut state: TrainState, config: &str, keep: usize, write_tensors: impl FnOnce(&Path) -> Result<Vec<u64>>) -> Result<PathBuf> {
    let dir = checkpoints_dir(run);
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let final_dir = dir.join(format!("step-{:08}", state.step));
    let tmp = dir.join(format!(".tmp-step-{:08}-{}", state.step, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let written = (|| -> Result<()> {
        std::fs::create_dir_all(&tmp).map_err(io_err(&final_dir))?;
        // Errors name the checkpoint, not its temporary directory.
        let named = |e: TrainError| TrainError::Checkpoint {
            path: final_dir.clone(),
            detail: crate::error::first_line(&e).replace(&format!("{}/", tmp.display()), "").replace(&tmp.display().to_string(), ""),
        };
        state.optimiser_steps = write_tensors(&tmp).map_err(named)?;
        if crate::signal::kill_in_checkpoint(state.step) {
            crate::signal::crash();
        }
        std::fs::write(tmp.join("config.toml"), config).map_err(io_err(final_dir.join("config.toml")))?;
        state.files = digests(&tmp)?;
        let json = serde_json::to_string_pretty(&state).expect("state serialises");
        std::fs::write(tmp.join("state.json"), &json).map_err(io_err(final_dir.join("state.json")))?;
        let state_sha = format!("{}  state.json\n", einfo_data::source::sha256_hex(json.as_bytes()));
        std::fs::write(tmp.join(STATE_SHA), state_sha).map_err(io_err(final_dir.join(STATE_SHA)))?;
        for e in std::fs::read_dir(&tmp).map_err(io_err(&final_dir))?.filter_map(|e| e.ok()) {
            std::fs::File::open(e.path()).and_then(|f| f.sync_all()).map_err(io_err(final_dir.join(e.file_name())))?;
        }
        einfo_data::durable::sync_dir(&tmp);
        // Re-saving a step (a damaged one, or the end of a resumed run): the old directory
        // loses its state.json first, so a kill in between leaves the complete temporary one,
        // which the next start renames into place (run_dir::clean_leftovers).
        if final_dir.exists() {
            let _ = std::fs::remove_file(final_dir.join("state.json"));
            std::fs::remove_dir_all(&final_dir).map_err(io_err(&final_dir))?;
        }
        std::fs::rename(&tmp, &final_dir).map_err(io_err(&final_dir))?;
        einfo_data::durable::sync_dir(&dir);
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let all = list(run)?;
    if all.len() > keep {
        for (_, old) in &all[..all.len() - keep] {
            // state.json first: a deletion cut short leaves a directory no one loads, which
            // the next run's start sweeps up.
            let _ = std::fs::remove_file(old.join("state.json"));
            let _ = std::fs::remove_dir_all(old);
        }
    }
    Ok(final_dir)
}

/// The sha256 of `state.json` itself, beside it (`sha256sum` format).
pub const STATE_SHA: &str = "state.sha256";

/// sha256 of every file in a checkpoint directory but `state.json` and its own digest.
fn digests(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))?.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "state.json" && name != STATE_SHA {
            let bytes = std::fs::read(e.path()).map_err(io_err(e.path()))?;
            files.insert(name, einfo_data::source::sha256_hex(&bytes));
        }
    }
    Ok(files)
}

/// Check a checkpoint against its `state.json`: `state.json` has the digest recorded beside
/// it, the step is its directory's, and every other file has the sha256 recorded when it
/// was written (a flipped bit, a truncated or edited file, a missing or an added one are
/// refused). Checkpoints written before digests were recorded are checked for the step only.
pub fn verify(ckpt: &Path, state: &TrainState) -> Result<()> {
    let bad = |detail: String| Err(TrainError::Checkpoint { path: ckpt.into(), detail });
    let name = ckpt.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if step_of(&name) != Some(state.step) {
        return bad(format!("state.json says step {}, the directory {name}", state.step));
    }
    if let Ok(recorded) = std::fs::read_to_string(ckpt.join(STATE_SHA)) {
        let bytes = std::fs::read(ckpt.join("state.json")).map_err(io_err(ckpt.join("state.json")))?;
        if recorded.split_whitespace().next() != Some(einfo_data::source::sha256_hex(&bytes).as_str()) {
            return bad("state.json does not match the sha256 recorded when it was written (damaged)".into());
        }
    }
    if state.files.is_empty() {
        return Ok(());
    }
    let found = digests(ckpt)?;
    for (file, sha) in &state.files {
        match found.get(file) {
            None => return bad(format!("{file} is missing")),
            Some(h) if h != sha => return bad(format!("{file} does not match the sha256 recorded when it was written (damaged)")),
            Some(_) => {}
        }
    }
    if let Some(extra) = found.keys().find(|f| !state.files.contains_key(*f)) {
        return bad(format!("{extra} was not written with this checkpoint"));
    }
    Ok(())
}

/// The run config a checkpoint recorded (`None` for checkpoints written before it was).
pub fn saved_config(ckpt: &Path) -> Option<String> {
    std::fs::read_to_string(ckpt.join("config.toml")).ok()
}

/// Read a checkpoint's state.
pub fn load_state(ckpt: &Path) -> Result<TrainState> {
    let p = ckpt.join("state.json");
    let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint { path: p, detail: format!("unreadable state: {e}") })
}

pub fn parse_pos(s: &str, path: &Path) -> Result<u128> {
    s.parse().map_err(|_| TrainError::Checkpoint { path: path.into(), detail: format!("bad RNG position '{s}'") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(step: u64) -> TrainState {
        TrainState {
            step,
            epoch: 0,
            batch_in_epoch: 0,
            noise_pos: "0".into(),
            augment_pos: "0".into(),
            optimiser_steps: vec![],
            prior: vec![],
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn keeps_the_newest_and_ignores_unfinished() {
        let run = std::env::temp_dir().join(format!("einfo-ckpt-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        for s in [5, 10, 15, 20] {
            save(&run, state(s), "", 2, |_| Ok(vec![])).unwrap();
        }
        // A crash mid-write leaves a temporary directory, which is never picked up.
        std::fs::create_dir_all(checkpoints_dir(&run).join(".tmp-step-00000025-1")).unwrap();
        let steps: Vec<u64> = list(&run).unwrap().iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, vec![15, 20]);
        assert_eq!(load_state(&latest(&run).unwrap().unwrap().1).unwrap().step, 20);
        // A failed tensor write leaves the previous checkpoint as the latest.
        assert!(save(&run, state(30), "", 2, |_| Err(TrainError::Config("disk full".into()))).is_err());
        assert!(!checkpoints_dir(&run).join(format!(".tmp-step-00000030-{}", std::process::id())).exists(), "a failed write leaves no temporary directory");
        assert_eq!(latest(&run).unwrap().unwrap().0, 20);
        std::fs::remove_dir_all(&run).unwrap();
    }

    #[test]
    fn every_file_is_checked_against_its_recorded_digest() {
        let run = std::env::temp_dir().join(format!("einfo-ckpt-sha-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        let ck = save(&run, state(7), "cfg", 2, |d| {
            std::fs::write(d.join("g.safetensors"), [1u8, 2, 3, 4]).unwrap();
            Ok(vec![])
        })
        .unwrap();
        let st = load_state(&ck).unwrap();
        assert_eq!(st.files.len(), 2, "g.safetensors and config.toml: {:?}", st.files);
        verify(&ck, &st).unwrap();
        // state.json itself: a flipped bit anywhere is caught by its own digest.
        let json = std::fs::read(ck.join("state.json")).unwrap();
        let mut flipped = json.clone();
        flipped[json.len() / 2] ^= 4;
        std::fs::write(ck.join("state.json"), &flipped).unwrap();
        assert!(verify(&ck, &st).unwrap_err().to_string().contains("state.json does not match"));
        std::fs::write(ck.join("state.json"), &json).unwrap();
        // Every byte of every file matters: flip one bit in each position in turn.
        for i in 0..4 {
            let mut b = vec![1u8, 2, 3, 4];
            b[i] ^= 1;
            std::fs::write(ck.join("g.safetensors"), &b).unwrap();
            assert!(verify(&ck, &st).unwrap_err().to_string().contains("g.safetensors does not match"));
        }
        std::fs::write(ck.join("g.safetensors"), [1u8, 2, 3, 4]).unwrap();
        std::fs::write(ck.join("config.toml"), "cfg ").unwrap();
        assert!(verify(&ck, &st).is_err(), "an edited config.toml");
        std::fs::write(ck.join("config.toml"), "cfg").unwrap();
        std::fs::write(ck.join("extra.safetensors"), "x").unwrap();
        assert!(verify(&ck, &st).unwrap_err().to_string().contains("extra.safetensors"));
        std::fs::remove_file(ck.join("extra.safetensors")).unwrap();
        let mut moved = st.clone();
        moved.step = 999;
        assert!(verify(&ck, &moved).unwrap_err().to_string().contains("step 999"));
        std::fs::remove_dir_all(&run).unwrap();
    }
}
