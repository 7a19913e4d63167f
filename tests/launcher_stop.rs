//! Stopping the local launcher (Ctrl-C, SIGTERM, SIGHUP to the launcher's process): no new
//! cell starts, the running cell is told to stop, checkpoints and exits, and the launcher
//! returns. (Its own test binary: the stop flag is process-wide.)

mod common;
use common::*;

use std::sync::atomic::{AtomicBool, Ordering};

use einfo_ablation::local::{run_local, LocalOptions};
use einfo_ablation::{Matrix, Profile};
use einfo_train::signal::{install, Repeat, Stop};

/// A matrix of `methods` on split 1, seed 0, whose cells train (unevaluated) far longer than
/// any test waits.
fn long_matrix(root: std::path::PathBuf, methods: &[&str]) -> Matrix {
    let mut budget = "smoke".parse::<Profile>().unwrap().budget();
    budget.max_steps = Some(1_000_000);
    budget.eval_every_epochs = 0;
    Matrix { root, methods: methods.iter().map(|m| m.to_string()).collect(), splits: vec![1], seeds: vec![0], budget }
}

/// The launcher's stop flag, as `cargo xtask run-ablations` routes its signals to one.
static STOP: AtomicBool = AtomicBool::new(false);

/// One single-threaded cell at a time, with the shared data cache.
fn one_job() -> LocalOptions {
    LocalOptions {
        einfo: env!("CARGO_BIN_EXE_einfo").into(),
        jobs: 1,
        threads: Some(1),
        verbose: false,
        env: vec![("EINFO_CACHE".into(), cache().display().to_string())],
        stop: Stop::new(&STOP),
    }
}

#[test]
fn a_signal_to_the_launcher_stops_it_cleanly() {
    let dir = scratch("launcher-stop");
    let m = long_matrix(dir.join("runs"), &["uniform", "gumbel"]);
    let cells = m.cells();
    let opts = one_job();
    let first = m.dir(&cells[0]);
    let watcher = std::thread::spawn(move || {
        let t0 = std::time::Instant::now();
        while einfo_train::checkpoint::latest(&first).ok().flatten().is_none() && !first.join("log.csv").exists() {
            assert!(t0.elapsed().as_secs() < 120, "the first cell did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: raising a signal in our own process; the handler only sets a flag.
        unsafe { libc::raise(libc::SIGTERM) };
    });
    install(&STOP, Repeat::Ignore);
    let t0 = std::time::Instant::now();
    let report = run_local(&m, &cells, &opts).unwrap();
    watcher.join().unwrap();
    assert!(STOP.load(Ordering::SeqCst));
    assert!(t0.elapsed().as_secs() < 300, "the launcher returned");
    assert_eq!(report.failed, vec![cells[0].id()], "the running cell stopped (interrupted): {report:?}");
    assert!(einfo_train::checkpoint::latest(&m.dir(&cells[0])).unwrap().is_some(), "it checkpointed on the way out");
    assert!(!m.dir(&cells[1]).exists(), "no cell started after the signal");
}

/// Run by [`a_killed_launcher_takes_its_cells_with_it`] in a child process: a launcher with
/// one long cell under `$EINFO_TEST_LAUNCHER_ROOT`.
#[test]
#[ignore = "a helper, run in a child process by a_killed_launcher_takes_its_cells_with_it"]
fn launcher_helper() {
    let Ok(root) = std::env::var("EINFO_TEST_LAUNCHER_ROOT") else { return };
    let m = long_matrix(root.into(), &["uniform"]);
    run_local(&m, &m.cells(), &one_job()).unwrap();
}

#[test]
fn a_killed_launcher_takes_its_cells_with_it() {
    let dir = scratch("launcher-kill");
    let root = dir.join("runs");
    let mut launcher = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["launcher_helper", "--exact", "--ignored", "--nocapture"])
        .env("EINFO_TEST_LAUNCHER_ROOT", &root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cell = root.join("uniform/split1/seed0");
    let t0 = std::time::Instant::now();
    while !cell.join("log.csv").exists() {
        assert!(t0.elapsed().as_secs() < 120, "the cell did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    launcher.kill().unwrap(); // SIGKILL: no handler runs in the launcher.
    launcher.wait().unwrap();
    // The cell is told (SIGTERM via its parent-death signal), checkpoints and exits: its run
    // directory's lock comes free.
    let t1 = std::time::Instant::now();
    loop {
        match einfo_train::run_dir::RunLock::acquire(&cell) {
            Ok(_) => break,
            Err(e) => assert!(t1.elapsed().as_secs() < 60, "the cell outlived its launcher: {e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(einfo_train::checkpoint::latest(&cell).unwrap().is_some(), "it checkpointed on the way out");
}
