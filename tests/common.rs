//! Helpers shared by the end-to-end tests of the `einfo` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The shared data cache (`<repo>/data`), unless EINFO_CACHE names another.
pub fn cache() -> PathBuf {
    std::env::var_os("EINFO_CACHE").map(PathBuf::from).unwrap_or_else(|| root().join("data"))
}

/// A fresh scratch directory for one test, removed when the test passes (kept, for
/// inspection, when it panics). A full run of the tests writes ~4 GB of checkpoints here.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: its scratch directory is kept at {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn scratch(name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("einfo-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

/// `einfo ARGS` with the shared cache, run in `cwd`.
pub fn einfo(args: &[&str], cwd: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_einfo")).args(args).current_dir(cwd).env("EINFO_CACHE", cache()).env_remove("EINFO_DATA").output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert a failed run printed exactly one `einfo: error:` line that contains `needle`.
pub fn assert_one_line_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("einfo: error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(needle), "expected '{needle}' in: {err}");
}

/// The smoke matrix CI runs (the seven paper methods, the smoke profile's splits, seed 0)
/// rooted at `root`.
pub fn smoke_matrix(root: &Path) -> einfo_ablation::Matrix {
    let p: einfo_ablation::Profile = "smoke".parse().unwrap();
    einfo_ablation::Matrix {
        root: root.into(),
        methods: einfo_train::presets::PAPER_METHODS.iter().map(|s| s.to_string()).collect(),
        splits: p.splits(),
        seeds: vec![0],
        budget: p.budget(),
    }
}

/// Running as root (the tmpfs and `chattr` fault cases need it; CI runs as root).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
