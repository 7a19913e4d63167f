//! The fault suite: what a hostile but fair user, a crashing machine or a full disk can do
//! to a run directory, and that nothing is lost. Each test trains a tiny run (batch 16,
//! a checkpoint every few steps) with the real binary and compares its final checkpoint
//! byte for byte with a straight run of the same config.
//!
//! - `kill -9` at seeded random moments, and inside checkpoint writes, then resume;
//! - a full disk (a small tmpfs; needs root, as CI runs) then resume once space is freed;
//! - concurrent commands on one run directory;
//! - a damaged newest checkpoint, leftovers of interrupted writes, a diverged run;
//! - signals: SIGHUP, Ctrl-C during an evaluation, a Ctrl-C repeated within a second.
//!
//! The property-based passes over the IDX reader, the config parser and the checkpoint
//! loader live beside them in their crates (`einfo-data/tests/idx_errors.rs`,
//! `einfo-train/tests/bad_input.rs`).

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tiny run every test uses: 24 steps of elastic at batch 16, a checkpoint every 3.
const STEPS: u64 = 24;

fn args(run: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["train", "--preset", "elastic", "--quiet", "--out", run.to_str().unwrap()].iter().map(|s| s.to_string()).collect();
    if !extra.contains(&"--max-steps") {
        v.extend(["--max-steps".to_string(), STEPS.to_string()]);
    }
    for s in [
        "train.batch_size=16",
        "log.every_steps=2",
        "log.checkpoint_every=3",
        "log.keep_checkpoints=2",
        "log.probe_images=32",
        "eval.every_epochs=0",
        "log.grid_columns=2",
    ] {
        v.push("--set".into());
        v.push(s.into());
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn spawn(args: &[String], envs: &[(&str, &str)]) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_einfo"));
    c.args(args).env("EINFO_CACHE", cache()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

fn run_to_end(args: &[String]) -> std::process::Output {
    spawn(args, &[]).wait_with_output().unwrap()
}

/// The final checkpoint's files, by name (weights, Adam moments, state, config).
fn final_checkpoint(run: &Path) -> Vec<(String, Vec<u8>)> {
    let (step, ckpt) = einfo_train::checkpoint::latest(run).unwrap().expect("a checkpoint");
    assert_eq!(step, STEPS, "{}", run.display());
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&ckpt)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

/// The straight run all others are compared with (trained once per test binary).
fn reference() -> &'static Vec<(String, Vec<u8>)> {
    static REF: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    REF.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("einfo-faults-ref-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let o = run_to_end(&args(&dir, &[]));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r = final_checkpoint(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        r
    })
}

fn assert_same_as_straight(run: &Path, what: &str) {
    let (a, b) = (reference(), final_checkpoint(run));
    assert_eq!(a.len(), b.len(), "{what}");
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb, "{what}");
        assert!(ta == tb, "{what}: {na} differs from the straight run");
    }
}

fn resume_args(run: &Path) -> Vec<String> {
    vec!["resume".into(), run.to_str().unwrap().into(), "--quiet".into()]
}

/// SplitMix64, for seeded "random" kill times.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn kill_9_at_random_moments_then_resume_is_exact() {
    let dir = scratch("kill9");
    let run = dir.join("r");
    let mut rng = 0x5eed_u64;
    let (mut kills, mut launches) = (0, 0);
    // Kill each launch once it has trained at least one step more (so that every launch
    // makes progress however loaded the machine is), after a further seeded delay of 0–1.5 s
    // (during training, logging and checkpoint writes); then relaunch (train first, then
    // resume), until a launch finishes on its own.
    loop {
        launches += 1;
        assert!(launches < 100, "the run never finished");
        let a = if einfo_train::checkpoint::latest(&run).ok().flatten().is_some() || run.join("config.toml").exists() {
            resume_args(&run)
        } else {
            args(&run, &[])
        };
        let logged = |r: &Path| {
            std::fs::read_to_string(r.join("log.csv"))
                .map(|t| t.lines().last().unwrap_or("").split(',').next().unwrap_or("").parse::<u64>().unwrap_or(0))
                .unwrap_or(0)
        };
        let start = logged(&run);
        let mut child = spawn(&a, &[]);
        let extra = Duration::from_millis(splitmix(&mut rng) % 1500);
        let mut finished = None;
        let mut progressed: Option<Instant> = None;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                finished = Some(st);
                break;
            }
            if progressed.is_none() && logged(&run) > start {
                progressed = Some(Instant::now());
            }
            if progressed.is_some_and(|t| t.elapsed() >= extra) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        match finished {
            Some(st) => {
                let o = child.wait_with_output().unwrap();
                assert!(st.success(), "launch {launches}: {}", String::from_utf8_lossy(&o.stderr));
                if einfo_train::checkpoint::latest(&run).unwrap().map(|(s, _)| s) == Some(STEPS) {
                    break;
                }
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
    }
    assert!(kills >= 3, "only {kills} kills landed: the delays are too long for this machine");
    assert_same_as_straight(&run, &format!("{kills} kill -9s"));
    eprintln!("kill -9 at random moments: {kills} kills in {launches} launches, final checkpoint identical to the straight run");
}

#[test]
fn kill_9_inside_a_checkpoint_write_leaves_the_previous_one() {
    let dir = scratch("killsave");
    let run = dir.join("r");
    // Dies halfway through writing the step-9 checkpoint (tensors written, not renamed).
    let o = spawn(&args(&run, &[]), &[("EINFO_TEST_KILL_IN_CHECKPOINT", "9")]).wait_with_output().unwrap();
    assert!(!o.status.success());
    let steps: Vec<u64> = einfo_train::checkpoint::list(&run).unwrap().iter().map(|(s, _)| *s).collect();
    assert_eq!(steps, vec![3, 6], "the half-written checkpoint is never listed");
    let leftovers: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    let o = run_to_end(&resume_args(&run));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("removed what interrupted writes left: checkpoints/.tmp-step-00000009"),
        "the resume sweeps the temporary directory up, naming it"
    );
    assert!(std::fs::read_dir(run.join("checkpoints")).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with(".tmp")));
    assert_same_as_straight(&run, "a kill inside a checkpoint write");
}

#[test]
fn a_full_disk_fails_cleanly_and_resumes_once_space_is_freed() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let dir = scratch("fulldisk");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mount = |opts: &str| Command::new("mount").args(["-t", "tmpfs", "-o", opts, "tmpfs", mnt.to_str().unwrap()]).status().unwrap();
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    // One checkpoint of elastic is ~160 MB: 250 MB holds the first but not the second
    // beside it.
    assert!(mount("size=250m").success(), "mount tmpfs");
    let _guard = Unmount(mnt.clone());
    let run = mnt.join("r");
    let o = run_to_end(&args(&run, &[]));
    assert!(!o.status.success(), "the second checkpoint cannot fit");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("No space left") || err.contains("os error 28"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("einfo: error:")).count(), 1, "{err}");
    assert!(err.contains("checkpoints/step-"), "the error names the checkpoint, not a temporary file: {err}");
    let names: Vec<String> = std::fs::read_dir(run.join("checkpoints")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["step-00000003".to_string()], "the failed write left nothing behind");
    // Retrying on the full disk fails the same way without filling it further.
    // (The same files, and the same checkpoint bytes: log.csv's images/s column varies.)
    let before = (walk_files(&run), walk_size(&run.join("checkpoints")));
    assert!(!run_to_end(&resume_args(&run)).status.success());
    assert_eq!((walk_files(&run), walk_size(&run.join("checkpoints"))), before, "a retry on a full disk leaves nothing more behind");
    // Free space, resume, and finish exactly as a straight run.
    assert!(Command::new("mount").args(["-o", "remount,size=1g", mnt.to_str().unwrap()]).status().unwrap().success());
    let o = run_to_end(&resume_args(&run));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_same_as_straight(&run, "a full disk, then more space");
}

fn walk_files(p: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(p)
        .map(|rd| rd.filter_map(|e| e.ok()).flat_map(|e| if e.path().is_dir() { walk_files(&e.path()) } else { vec![e.path()] }).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn walk_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() {
                        walk_size(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn concurrent_commands_on_one_run_directory_are_refused() {
    let dir = scratch("concurrent");
    let run = dir.join("r");
    // Two trains started together: exactly one runs, the other is refused.
    let (a, b) = (spawn(&args(&run, &[]), &[]), spawn(&args(&run, &[]), &[]));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(
        [a.status.success(), b.status.success()].iter().filter(|s| **s).count(),
        1,
        "{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let loser = if a.status.success() { &b } else { &a };
    let msg = String::from_utf8_lossy(&loser.stderr);
    assert!(msg.contains("in use by einfo process") || msg.contains("already exists"), "{msg}");
    assert_same_as_straight(&run, "the winner of two concurrent trains");
    // While a run trains: another train --force, a resume and an eval are refused, and the
    // running one's files stay.
    let long = dir.join("long");
    let mut child = spawn(&args(&long, &["--max-steps", "100000"]), &[]);
    let t0 = Instant::now();
    while !long.join("log.csv").exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "training did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for a in [args(&long, &["--force"]), resume_args(&long), vec!["eval".into(), long.to_str().unwrap().into()]] {
        let o = run_to_end(&a);
        let refs: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        assert!(!o.status.success(), "{refs:?} ran beside a training run");
        assert!(String::from_utf8_lossy(&o.stderr).contains("in use by einfo process"), "{refs:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(long.join("log.csv").exists() && long.join("config.toml").exists(), "{refs:?} removed the running run's files");
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success(), "SIGTERM checkpoints and exits 0");
}

#[test]
fn force_replaces_only_einfo_runs_and_only_after_checking() {
    let dir = scratch("force");
    let run = dir.join("r");
    assert!(run_to_end(&args(&run, &[])).status.success());
    // A bad config with --force leaves the good run whole.
    let o = run_to_end(&args(&run, &["--force", "--split", "51"]));
    assert_one_line_error(&o, "split 51 does not exist");
    assert_same_as_straight(&run, "a refused --force");
    // A directory with files einfo did not write is never replaced.
    let v = dir.join("v");
    std::fs::create_dir_all(v.join("thesis")).unwrap();
    std::fs::write(v.join("thesis/ch1.tex"), "x").unwrap();
    assert_one_line_error(&run_to_end(&args(&v, &["--force"])), "thesis");
    assert_eq!(std::fs::read_to_string(v.join("thesis/ch1.tex")).unwrap(), "x");
    // An einfo run is replaced by --force.
    let o = run_to_end(&args(&run, &["--force", "--seed", "1"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(run.join("config.toml")).unwrap().contains("seed = 1"));
}

#[test]
fn a_damaged_newest_checkpoint_falls_back_to_the_one_before() {
    let dir = scratch("damaged");
    let run = dir.join("r");
    let o = run_to_end(&args(&run, &["--max-steps", "12"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let newest = run.join("checkpoints/step-00000012");
    let g = newest.join("g.safetensors");
    let bytes = std::fs::read(&g).unwrap();
    std::fs::write(&g, &bytes[..bytes.len() / 2]).unwrap();
    // eval and sample use the one before, saying so.
    let o = einfo(&["sample", run.to_str().unwrap(), "--columns", "2"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not load") && stdout(&o).contains("(step 9)"), "{}{}", stderr(&o), stdout(&o));
    // The resume continues from step 9 and ends exactly as a straight run.
    let mut r = resume_args(&run);
    r.extend(["--max-steps".to_string(), STEPS.to_string()]);
    let o = run_to_end(&r);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_same_as_straight(&run, "a damaged newest checkpoint");
    // A damaged final checkpoint off the checkpoint cadence (step 13; a checkpoint every 3)
    // is written again by the resume that retrains up to it.
    let fin = dir.join("final");
    assert!(run_to_end(&args(&fin, &["--max-steps", "13"])).status.success());
    let g = fin.join("checkpoints/step-00000013/g.safetensors");
    let bytes = std::fs::read(&g).unwrap();
    std::fs::write(&g, &bytes[..bytes.len() / 3]).unwrap();
    let o = run_to_end(&resume_args(&fin));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = einfo(&["sample", fin.to_str().unwrap(), "--columns", "2"], &dir);
    assert!(o.status.success() && !stderr(&o).contains("does not load") && stdout(&o).contains("(step 13)"), "{}{}", stderr(&o), stdout(&o));
}

#[test]
fn a_diverged_run_saves_nothing_non_finite_and_nan_moments_are_refused() {
    let dir = scratch("diverge");
    let run = dir.join("r");
    let o = run_to_end(&args(&run, &["--set", "optim.lr_g=1e8", "--set", "optim.lr_d=1e8"]));
    assert!(!o.status.success(), "a run at lr 1e8 must not end 'done'");
    assert_one_line_error(&o, "non-finite");
    for (_, ckpt) in einfo_train::checkpoint::list(&run).unwrap() {
        for e in std::fs::read_dir(&ckpt).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "safetensors") {
                let t = candle_core::safetensors::load(&p, &candle_core::Device::Cpu).unwrap();
                for (name, v) in t {
                    let v: Vec<f32> = v.flatten_all().unwrap().to_dtype(candle_core::DType::F32).unwrap().to_vec1().unwrap();
                    assert!(v.iter().all(|x| x.is_finite()), "{}: {name} saved non-finite", p.display());
                }
            }
        }
    }
    // A checkpoint whose Adam moments hold NaN is refused on load.
    let good = dir.join("good");
    assert!(run_to_end(&args(&good, &["--max-steps", "3"])).status.success());
    let opt = good.join("checkpoints/step-00000003/opt-g.safetensors");
    let mut t = candle_core::safetensors::load(&opt, &candle_core::Device::Cpu).unwrap();
    let (k, v) = t.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
    t.insert(k, (v.zeros_like().unwrap() / 0.0).unwrap());
    candle_core::safetensors::save(&t, &opt).unwrap();
    let o = einfo(&["resume", good.to_str().unwrap(), "--quiet"], &dir);
    assert_one_line_error(&o, "opt-g.safetensors does not match the sha256");
    // A checkpoint written before digests were recorded is still checked for NaN on load.
    let ckpt = good.join("checkpoints/step-00000003");
    let mut state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(ckpt.join("state.json")).unwrap()).unwrap();
    state.as_object_mut().unwrap().remove("files");
    std::fs::write(ckpt.join("state.json"), serde_json::to_string_pretty(&state).unwrap()).unwrap();
    std::fs::remove_file(ckpt.join("state.sha256")).unwrap();
    let o = einfo(&["resume", good.to_str().unwrap(), "--quiet"], &dir);
    assert_one_line_error(&o, "non-finite");
}

#[test]
fn signals_checkpoint_and_a_repeated_ctrl_c_is_one_stop() {
    let dir = scratch("signals");
    // SIGHUP (a closed terminal) checkpoints like Ctrl-C.
    let run = dir.join("hup");
    let child = spawn(&args(&run, &["--max-steps", "100000"]), &[]);
    let t0 = Instant::now();
    while einfo_train::checkpoint::latest(&run).ok().flatten().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("interrupted:"), "{}", String::from_utf8_lossy(&o.stderr));
    // Ctrl-C during an evaluation stops it between batches; the resume evaluates that epoch.
    let ev = dir.join("eval");
    let small_split =
        ["--set", "data.counts=[40,40,40,40,40,40,40,40,40,40]", "--set", "eval.every_epochs=1", "--set", "eval.per_code=20000", "--max-steps", "100000"];
    let child = spawn(&args(&ev, &small_split), &[]);
    let t0 = Instant::now();
    while !ev.join("grids/epoch-001.png").exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "the first epoch did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let t1 = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(t1.elapsed() < Duration::from_secs(10), "Ctrl-C during an evaluation took {:?}", t1.elapsed());
    assert!(!einfo_train::curve::has(&ev, 25).unwrap(), "the interrupted evaluation wrote no point");
    // The resume evaluates that epoch before it trains on (a smaller evaluation: eval.* may change).
    let mut r = resume_args(&ev);
    r.extend(["--set", "eval.per_code=20", "--max-steps", "30"].map(String::from));
    let o = run_to_end(&r);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(einfo_train::curve::has(&ev, 25).unwrap(), "the resumed run evaluated the interrupted epoch");
    // A repeated Ctrl-C within a second (as `timeout` sends to the child and its process
    // group) is the same stop: the run still checkpoints and exits 0. (A second Ctrl-C a
    // second or more later exits at once with 130: `signal::second_signal_exits`.)
    let mut r = resume_args(&ev);
    r.extend(["--set", "eval.per_code=50000", "--max-steps", "100000"].map(String::from));
    let child = spawn(&r, &[]);
    let t0 = Instant::now();
    while !ev.join("grids/epoch-002.png").exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "the second epoch did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..2 {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        // (Apart, so that the kernel does not merge them into one pending signal.)
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("interrupted:"), "{:?}: {}", o.status, String::from_utf8_lossy(&o.stderr));
}
