//! What the CUDA build depends on beyond what the CPU build already compiles, and the
//! record of the last `build-cuda --check` that passed on it.
//!
//! einfo has no `cfg(feature = "cuda")` code of its own: `--features cuda` only switches
//! candle (the vendored candle-core and candle-kernels, whose build script compiles every
//! kernel with nvcc — most of the check's time). So the check can only fail when the
//! compiler, the manifests, the lock file, `.cargo/config.toml`, the vendored crates, the
//! build-cuda code itself, or an einfo source that mentions the feature change. `build-cuda --check` records the digest of
//! those inputs in [`RECORD`] when it passes; `--if-changed` (what CI runs) skips the check
//! when the inputs still match the record, and runs it when anything changed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// The record of the last passing check, committed with the repository.
pub const RECORD: &str = ".ci/cuda-checked";

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// The inputs of the CUDA build under the repository `root`, sorted, relative to it.
pub fn inputs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut all = Vec::new();
    for d in ["crates", "xtask", "vendor"] {
        walk(&root.join(d), &mut all)?;
    }
    let mut v: Vec<PathBuf> = all
        .into_iter()
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            p.starts_with(root.join("vendor"))
                || name == "Cargo.toml"
                || p.ends_with("xtask/src/cuda.rs")
                || p.ends_with("xtask/src/cuda_inputs.rs")
                || (name.ends_with(".rs")
                    && std::fs::read_to_string(p).is_ok_and(|t| t.contains("feature = \"cuda\"") && !p.ends_with("xtask/src/cuda_inputs.rs")))
        })
        .map(|p| p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p))
        .collect();
    v.extend(["Cargo.toml", "Cargo.lock"].map(PathBuf::from));
    if root.join(".cargo/config.toml").is_file() {
        v.push(PathBuf::from(".cargo/config.toml"));
    }
    v.sort();
    v.dedup();
    Ok(v)
}

/// sha256 over the compiler's version (`rustc -V`) and each input's path and contents, in
/// order.
pub fn digest(root: &Path) -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(&rustc).arg("-V").output().with_context(|| format!("running {rustc} -V"))?;
    let mut h = Sha256::new();
    h.update(&version.stdout);
    for p in inputs(root)? {
        let bytes = std::fs::read(root.join(&p)).with_context(|| format!("reading {}", p.display()))?;
        h.update(p.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The digest the last passing check recorded, if any.
pub fn recorded(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(RECORD)).ok()?;
    text.lines().find(|l| !l.starts_with('#')).and_then(|l| l.split_whitespace().next()).map(str::to_string)
}

/// Record `digest` as checked.
pub fn record(root: &Path, digest: &str, compute_cap: u32) -> Result<()> {
    let text = format!(
        "# sha256 of the CUDA build's inputs (xtask/src/cuda_inputs.rs) when `cargo xtask build-cuda --check` last passed\n# (compute capability {compute_cap}); CI skips the check while they match. Written by the check: do not edit.\n{digest}\n"
    );
    let path = root.join(RECORD);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inputs_are_the_manifests_the_lock_the_vendored_crates_and_this_code() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let v = inputs(root).unwrap();
        for want in ["Cargo.lock", "Cargo.toml", "crates/einfo-tensor/Cargo.toml", "xtask/src/cuda.rs", "vendor/candle-core/Cargo.toml"] {
            assert!(v.contains(&PathBuf::from(want)), "{want} missing from {v:?}");
        }
        assert!(!v.contains(&PathBuf::from("crates/einfo-train/src/trainer.rs")), "a source without the feature does not count");
        assert_eq!(digest(root).unwrap(), digest(root).unwrap());
    }
}
