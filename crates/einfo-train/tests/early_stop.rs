//! A stop that comes before a new run's first step (while its data load or device open,
//! or right as training starts) leaves no run behind, and `--force` gives the run it was
//! replacing back untouched. (Its own test binary: the stop flag is process-wide.)

mod common;
use common::*;

use std::sync::atomic::{AtomicBool, Ordering};

use einfo_train::signal::Stop;
use einfo_train::{train, Config, TrainError};

static STOP: AtomicBool = AtomicBool::new(false);

fn tiny(steps: u64) -> Config {
    tiny_uniform(steps, &[])
}

fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> =
        walk(dir).into_iter().map(|p| (p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap())).collect();
    v.sort();
    v
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.file_name().is_some_and(|n| n != einfo_train::run_dir::LOCK) {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_stop_before_the_first_step_keeps_the_old_run_and_makes_no_new_one() {
    let base = std::env::temp_dir().join(format!("einfo-early-stop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let old = base.join("run");
    train(&tiny(2), &old, &opts(false)).unwrap();
    let before = files(&old);

    STOP.store(true, Ordering::SeqCst);
    let stopped = einfo_train::RunOptions { stop: Stop::new(&STOP), ..opts(true) };
    let err = train(&tiny(4), &old, &stopped).unwrap_err();
    assert!(matches!(err, TrainError::Stopped), "{err}");
    assert_eq!(files(&old), before, "--force stopped before its first step: the old run is untouched");
    let left: Vec<_> = std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("run")], "nothing left beside it");

    let fresh = base.join("fresh");
    assert!(matches!(train(&tiny(4), &fresh, &stopped).unwrap_err(), TrainError::Stopped));
    assert!(!fresh.exists(), "a new run stopped before its first step leaves no directory");
    std::fs::remove_dir_all(&base).unwrap();
}
