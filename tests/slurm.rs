//! The Slurm launcher against a real single-node Slurm on localhost (started by
//! `tests/slurm/start.sh`: munged, slurmctld, slurmd; stopped by PID at the end, also when
//! the test fails). The smoke matrix goes through a job array with one cell killed mid-run
//! (SIGKILL after a checkpoint); a second submission continues only that cell; the
//! aggregated table equals the one the local launcher produces for the same cells.
//!
//! Opt-in (`#[ignore]`): it needs root, installs the Debian packages if missing and writes
//! `/etc/munge/munge.key`. CI runs it explicitly (`.ci/run`):
//! `cargo test -p einfo-cli --test slurm -- --ignored`.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use einfo_ablation::local::{run_local, LocalOptions};
use einfo_ablation::manifest::{now_unix, Launch, Manifest};
use einfo_ablation::slurm::{queue, submit, SlurmOptions};
use einfo_ablation::status::{statuses, Status};
use einfo_ablation::{aggregate::aggregate, Matrix};

/// Stops the daemons when dropped (on success and on panic).
struct Daemons(PathBuf);

impl Drop for Daemons {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(root().join("tests/slurm/stop.sh")).arg(&self.0).status();
    }
}

fn wait_for_queue(root: &Path, timeout: Duration) {
    let t0 = Instant::now();
    loop {
        let q = queue(root).unwrap();
        if q.is_empty() {
            return;
        }
        assert!(t0.elapsed() < timeout, "Slurm tasks still queued after {timeout:?}: {q:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn submit_and_record(m: &Matrix, cells: &[einfo_ablation::Cell], opts: &SlurmOptions) -> Vec<String> {
    let sub = submit(m, cells, opts).unwrap();
    let launch = Launch {
        launcher: "slurm".into(),
        command: "test".into(),
        git_commit: Some(opts.commit.clone()),
        unix_time: now_unix(),
        matrix: m.clone(),
        cells: sub.cells.clone(),
        slurm_job: Some(sub.job_id),
        jobs: None,
        threads_per_cell: Some(opts.cpus_per_task),
        cpu: None,
    };
    Manifest::record(&m.root, launch).unwrap();
    sub.cells
}

#[test]
#[ignore = "changes the machine (installs Debian's Slurm packages, writes /etc/munge/munge.key, starts daemons as root): run it with `cargo test -p einfo-cli --test slurm -- --ignored`"]
fn the_smoke_matrix_through_slurm_matches_the_local_launcher() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "the Slurm test starts daemons as root: run it as root, on a machine you may change");
    let dir = scratch("slurm");
    let sdir = scratch("slurm-daemons");
    let daemons = Daemons(sdir.to_path_buf());
    let t0 = Instant::now();
    let out = Command::new("timeout").arg("300").arg("bash").arg(root().join("tests/slurm/start.sh")).arg(&*sdir).output().unwrap();
    assert!(out.status.success(), "start.sh: {}{}", stdout(&out), stderr(&out));
    let conf = stdout(&out).lines().find_map(|l| l.strip_prefix("SLURM_CONF=").map(str::to_string)).expect("start.sh prints SLURM_CONF");
    eprintln!("slurm up in {:.1} s", t0.elapsed().as_secs_f64());
    std::env::set_var("SLURM_CONF", &conf);
    std::env::set_var("EINFO_CACHE", cache());
    std::env::remove_var("EINFO_DATA");

    // Reference: the same cells with the local launcher, one thread per cell.
    let local = smoke_matrix(&dir.join("local"));
    let lo = LocalOptions { einfo: env!("CARGO_BIN_EXE_einfo").into(), jobs: 2, threads: Some(1), verbose: false, env: vec![], stop: Default::default() };
    assert_eq!(run_local(&local, &local.cells(), &lo).unwrap().finished.len(), 7);

    // Slurm, first submission: the elastic task dies after its step-1 checkpoint.
    let m = smoke_matrix(&dir.join("slurm"));
    let opts = SlurmOptions {
        einfo: env!("CARGO_BIN_EXE_einfo").into(),
        partition: None,
        time: Some("00:10:00".into()),
        cpus_per_task: 1,
        gpus_per_task: None,
        throttle: Some(2),
        commit: "test".into(),
        workdir: dir.to_path_buf(),
    };
    std::env::set_var("EINFO_TEST_CRASH", "elastic@1");
    let first = submit_and_record(&m, &m.cells(), &opts);
    std::env::remove_var("EINFO_TEST_CRASH");
    assert_eq!(first.len(), 7);
    wait_for_queue(&m.root, Duration::from_secs(300));
    let elastic = m.cells().into_iter().find(|c| c.method == "elastic").unwrap();
    for (c, s) in statuses(&m, &m.cells(), &BTreeMap::new()).unwrap() {
        let want = if c == elastic { Status::Interrupted { step: 1, total: 3 } } else { Status::Finished { step: 3 } };
        assert_eq!(s, want, "{} after the first submission", c.id());
    }
    let before = std::fs::metadata(m.dir(&m.cells()[0]).join("metrics.json")).unwrap().modified().unwrap();

    // Second submission: only the unfinished cell, continued from its checkpoint.
    let todo = einfo_ablation::local::unfinished(&m, &m.cells()).unwrap();
    assert_eq!(todo, vec![elastic.clone()]);
    submit_and_record(&m, &todo, &opts);
    wait_for_queue(&m.root, Duration::from_secs(300));
    let log = std::fs::read_to_string(einfo_ablation::launch_log(&m.root, &elastic)).unwrap();
    assert!(log.contains("resumed from step 1 to step 3"), "{log}");
    assert_eq!(log.matches("== slurm ").count(), 2, "{log}");
    assert_eq!(std::fs::metadata(m.dir(&m.cells()[0]).join("metrics.json")).unwrap().modified().unwrap(), before, "finished cells are not redone");
    assert!(std::fs::read_dir(m.root.join("slurm")).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".out")), "per-task Slurm logs");

    // Same table from either launcher.
    let a = aggregate(&local.root, &dir.join("res-local"), "smoke", "test").unwrap();
    let b = aggregate(&m.root, &dir.join("res-slurm"), "smoke", "test").unwrap();
    assert_eq!(b.cells, 7);
    assert_eq!(std::fs::read_to_string(&a.csv).unwrap(), std::fs::read_to_string(&b.csv).unwrap());
    drop(daemons); // stop the daemons before their state directory is removed
}
