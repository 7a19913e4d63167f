//! The fault suite, second part: commands that used to lose or corrupt a run (the
//! reliability issue's repros), each with the real binary. `--force` is a transaction,
//! checkpoints are checksummed, curves and logs survive cut rows, the start-up sweep
//! touches only einfo's own leftovers, reads are bounded, and a resume or an evaluation
//! refuses an edited run instead of trusting it.

mod common;
use common::*;

use std::path::{Path, PathBuf};

/// A tiny run: 6 steps of elastic at batch 8 on 20 images per class, a checkpoint every 2.
fn tiny(run: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["train", "--preset", "elastic", "--quiet", "--out", run.to_str().unwrap()].map(String::from).to_vec();
    if !extra.contains(&"--max-steps") {
        v.extend(["--max-steps".to_string(), "6".to_string()]);
    }
    for s in [
        "data.counts=[20,20,20,20,20,20,20,20,20,20]",
        "train.batch_size=8",
        "eval.every_epochs=0",
        "log.checkpoint_every=2",
        "log.every_steps=1",
        "log.probe_images=0",
    ] {
        v.extend(["--set".to_string(), s.to_string()]);
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run(args: &[String], cwd: &Path) -> std::process::Output {
    einfo(&args.iter().map(String::as_str).collect::<Vec<_>>(), cwd)
}

/// Every file under `dir` (but the lock) with its bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
            if e.is_dir() {
                stack.push(e);
            } else if e.file_name().is_some_and(|n| n != ".lock") {
                out.push((e.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&e).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn force_with_a_config_that_fails_once_training_started_keeps_the_old_run_byte_identical() {
    let dir = scratch("force-late");
    let r = dir.join("r");
    let o = run(&tiny(&r, &[]), &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = snapshot(&r);
    // Configs every up-front check accepts that fail at step 1–2 (a diverging rate), and
    // ones only the up-front checks catch now (they used to fail after the clear).
    let late: &[&[&str]] = &[
        &["--set", "optim.lr_g=1e30", "--set", "optim.lr_d=1e30"],
        &["--set", "losses.info_weight=1e6", "--set", "optim.lr_g=1e20"],
        &["--preset", "elastic-ntxent", "--set", "losses.nt_xent_temperature=0"],
        &["--set", "optim.eps=0"],
        &["--set", "net.noise_dim=100000000"],
        &["--set", "jointvae.gamma=1e308"],
    ];
    for extra in late {
        let mut a = tiny(&r, &["--force"]);
        a.extend(extra.iter().map(|s| s.to_string()));
        let o = run(&a, &dir);
        assert!(!o.status.success(), "{extra:?} trained");
        assert!(!stderr(&o).contains("panicked"), "{extra:?}: {}", stderr(&o));
        assert!(snapshot(&r) == before, "{extra:?} changed the old run");
        let left: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(left, vec!["r".to_string()], "{extra:?} left something beside it");
    }
    // A new run that fails the same way creates nothing.
    let fresh = dir.join("fresh");
    let o = run(&tiny(&fresh, &["--set", "optim.lr_g=1e30", "--set", "optim.lr_d=1e30"]), &dir);
    assert!(!o.status.success());
    assert!(!fresh.exists(), "a failed new run left {}", fresh.display());
}

#[test]
fn an_immutable_file_in_the_old_run_does_not_cost_the_new_one() {
    let dir = scratch("force-immutable");
    let r = dir.join("r");
    assert!(run(&tiny(&r, &[]), &dir).status.success());
    let split = r.join("split.json");
    let immutable = std::process::Command::new("chattr").arg("+i").arg(&split).status().is_ok_and(|s| s.success());
    if !immutable {
        eprintln!("chattr +i is not available here (not root, or the file system has no such flag): skipped");
        return;
    }
    let o = run(&tiny(&r, &["--force", "--seed", "3"]), &dir);
    let aside: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_string_lossy().contains("einfo-replaced")).collect();
    for p in &aside {
        let _ = std::process::Command::new("chattr").arg("-i").arg(p.join("split.json")).status();
    }
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(r.join("config.toml")).unwrap().contains("seed = 3"), "the new run is whole");
    assert!(stderr(&o).contains("could not be deleted") && aside.len() == 1, "the old run's remains are named: {}", stderr(&o));
}

#[test]
fn flipped_bits_in_any_checkpoint_file_are_caught_and_the_one_before_is_used() {
    let dir = scratch("bitflip");
    let r = dir.join("r");
    assert!(run(&tiny(&r, &[]), &dir).status.success());
    let newest = r.join("checkpoints/step-00000006");
    let files: Vec<PathBuf> = std::fs::read_dir(&newest).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(files.len() >= 6, "{files:?}");
    for f in files {
        let good = std::fs::read(&f).unwrap();
        let mut bad = good.clone();
        let at = bad.len() * 2 / 3;
        bad[at] ^= 0x10;
        std::fs::write(&f, &bad).unwrap();
        let o = einfo(&["sample", r.to_str().unwrap(), "--columns", "2", "--out", "s.png"], &dir);
        assert!(o.status.success(), "{}: {}", f.display(), stderr(&o));
        assert!(stderr(&o).contains("does not load") && stdout(&o).contains("(step 4)"), "{}: {}{}", f.display(), stderr(&o), stdout(&o));
        std::fs::write(&f, &good).unwrap();
    }
    // Restored, the newest loads again.
    let o = einfo(&["sample", r.to_str().unwrap(), "--columns", "2", "--out", "s.png"], &dir);
    assert!(stdout(&o).contains("(step 6)") && !stderr(&o).contains("does not load"), "{}", stderr(&o));
}

#[test]
fn the_start_up_sweep_leaves_a_users_files_alone() {
    let dir = scratch("sweep");
    let r = dir.join("r");
    assert!(run(&tiny(&r, &["--max-steps", "4"]), &dir).status.success());
    std::fs::write(r.join("paper.tex.tmp-2024-06"), "draft").unwrap();
    std::fs::create_dir_all(r.join("checkpoints/step-00000099")).unwrap();
    std::fs::write(r.join("checkpoints/step-00000099/notes.txt"), "mine").unwrap();
    std::fs::write(r.join("log.csv.tmp-77-3"), "").unwrap();
    let o = einfo(&["resume", r.to_str().unwrap(), "--max-steps", "6", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(r.join("paper.tex.tmp-2024-06").is_file() && r.join("checkpoints/step-00000099/notes.txt").is_file());
    assert!(!r.join("log.csv.tmp-77-3").exists() && stderr(&o).contains("log.csv.tmp-77-3"), "einfo's own leftover is removed and named: {}", stderr(&o));
}

#[test]
fn edited_runs_and_shrunk_budgets_are_refused_with_what_to_do() {
    let dir = scratch("edited");
    let r = dir.join("r");
    assert!(run(&tiny(&r, &[]), &dir).status.success());
    // A budget below the run's step is refused, and nothing is saved.
    let cfg = std::fs::read_to_string(r.join("config.toml")).unwrap();
    assert_one_line_error(&einfo(&["resume", r.to_str().unwrap(), "--max-steps", "3"], &dir), "past a budget of 3 steps");
    assert_eq!(std::fs::read_to_string(r.join("config.toml")).unwrap(), cfg);
    // An edited config.toml: eval and resume name the edit instead of scoring another split
    // or advising a retrain.
    std::fs::write(r.join("config.toml"), cfg.replace("split_seed = 0", "split_seed = 7")).unwrap();
    assert_one_line_error(&einfo(&["eval", r.to_str().unwrap(), "--per-code", "5"], &dir), "was config.toml edited");
    std::fs::write(r.join("config.toml"), cfg.replace("noise_dim = 62", "noise_dim = 64")).unwrap();
    assert_one_line_error(&einfo(&["resume", r.to_str().unwrap()], &dir), "net.noise_dim");
    std::fs::write(r.join("config.toml"), &cfg).unwrap();
    // Unbounded or special files are refused before they are read.
    assert_one_line_error(&einfo(&["train", "--preset", "/dev/zero", "--out", "x"], &dir), "not a regular file");
    assert_one_line_error(&einfo(&["classifier", "eval", "--weights", "/dev/zero"], &dir), "not a regular file");
    assert!(!dir.join("x").exists());
}

#[test]
fn messages_say_what_to_do_and_leave_nothing_behind() {
    let dir = scratch("messages");
    // A private file named as a preset: the error names the line, never quotes it.
    std::fs::write(dir.join("secret.toml"), "root:$6$hash-of-a-password:19000:0:99999:7:::\n").unwrap();
    let o = einfo(&["train", "--preset", dir.join("secret.toml").to_str().unwrap(), "--out", "x"], &dir);
    assert_one_line_error(&o, "(line 1)");
    assert!(!stderr(&o).contains("hash-of-a-password"), "{}", stderr(&o));
    // --out through a file or a dangling link.
    std::fs::write(dir.join("f"), "x").unwrap();
    assert_one_line_error(&run(&tiny(&dir.join("f"), &[]), &dir), "not a directory");
    std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("dangling")).unwrap();
    assert_one_line_error(&run(&tiny(&dir.join("dangling"), &[]), &dir), "not a directory");
    // --force refused on a directory einfo did not make leaves no lock file in it.
    std::fs::create_dir_all(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/notes.txt"), "x").unwrap();
    assert_one_line_error(&run(&tiny(&dir.join("mine"), &["--force"]), &dir), "will not replace");
    assert!(!dir.join("mine/.lock").exists());
    // A custom split is announced as one; a run already at its budget reports no speed.
    let r = dir.join("r");
    let o = run(&tiny(&r, &["--max-steps", "2"]), &dir);
    assert!(o.status.success() && stderr(&o).contains("a custom split (counts [20,"), "{}", stderr(&o));
    let o = einfo(&["resume", r.to_str().unwrap(), "--quiet"], &dir);
    assert!(o.status.success() && stdout(&o).contains("done: 2 steps (nothing left to train)"), "{}", stdout(&o));
    // An integer past i64 in --set is named as such.
    assert_one_line_error(&einfo(&["train", "--set", "data.counts=[18446744073709551615,1]", "--out", "y"], &dir), "not a valid value");
}

/// Fill the file system holding `dir` with one file; returns it (remove it to free space).
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).unwrap();
    let chunk = vec![0u8; 1 << 20];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.flush();
    p
}

#[test]
fn a_full_disk_during_eval_and_log_appends_leaves_whole_files_and_the_matrix_aggregates() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let dir = scratch("fulldisk-eval");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    assert!(std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=450m", "tmpfs", mnt.to_str().unwrap()]).status().unwrap().success());
    let _guard = Unmount(mnt.clone());
    // A cell of a matrix root: trained, then evaluated on a full disk.
    let r = mnt.join("m/elastic/split1/seed0");
    let keep_one = ["--max-steps", "4", "--set", "log.keep_checkpoints=1"];
    let o = run(&tiny(&r, &keep_one), &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let eval = ["eval", r.to_str().unwrap(), "--per-code", "20", "--real-images", "100"];
    let filler = fill(&mnt);
    let o = einfo(&eval, &dir);
    assert_one_line_error(&o, "No space left");
    assert!(!r.join("metrics.json").exists() && !r.join("eval.csv").exists(), "nothing half-written");
    // Training on: the log.csv appends and the checkpoint fail on the full disk.
    assert!(!einfo(&["resume", r.to_str().unwrap(), "--max-steps", "6", "--quiet"], &dir).status.success());
    std::fs::remove_file(filler).unwrap();
    let o = einfo(&["resume", r.to_str().unwrap(), "--max-steps", "6", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = std::fs::read_to_string(r.join("log.csv")).unwrap();
    let fields = log.lines().next().unwrap().split(',').count();
    assert!(log.ends_with('\n') && log.lines().all(|l| l.split(',').count() == fields), "every log row whole:\n{log}");
    let steps: Vec<&str> = log.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(steps, vec!["1", "2", "3", "4", "5", "6"], "no row twice, none missing");
    let o = einfo(&eval, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(einfo_train::curve::read(&r.join("eval.csv")).unwrap().len(), 1);
    let w = einfo_ablation::aggregate::aggregate(&mnt.join("m"), &dir.join("out"), "t", "test").unwrap();
    assert_eq!(w.cells, 1);
}
