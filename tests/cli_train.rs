//! `einfo train / resume / sample` end to end on real MNIST: every preset trains a few
//! steps, checkpoints, resumes and draws a grid; Ctrl-C and bad input behave.

mod common;
use common::*;

use std::path::Path;

const PRESETS: [&str; 9] = ["uniform", "ground-truth", "ground-truth-trans", "gumbel", "gumbel-trans", "elastic", "jointvae", "elastic-ntxent", "elastic-em"];

fn log_steps(run: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(run.join("log.csv")).unwrap();
    text.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect()
}

fn small(args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    for s in ["train.batch_size=16", "log.every_steps=1", "log.checkpoint_every=2", "log.grid_columns=4", "log.probe_images=64"] {
        v.push("--set".into());
        v.push(s.into());
    }
    v.push("--quiet".into());
    v
}

fn run_einfo(args: &[String], cwd: &Path) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    einfo(&refs, cwd)
}

#[test]
fn every_preset_trains_checkpoints_resumes_and_draws_a_grid() {
    let dir = scratch("presets");
    for preset in PRESETS {
        let run = dir.join(preset);
        let o = run_einfo(&small(&["train", "--preset", preset, "--max-steps", "3", "--out", run.to_str().unwrap()]), &dir);
        assert!(o.status.success(), "{preset}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("done: 3 steps") && out.contains("grid:") && out.contains("checkpoint:"), "{preset}: {out}");
        for f in ["config.toml", "split.json", "log.csv", "samples.png"] {
            assert!(run.join(f).is_file(), "{preset}: missing {f}");
        }
        assert!(run.join("checkpoints/step-00000002/state.json").is_file(), "{preset}");
        assert!(run.join("checkpoints/step-00000003/state.json").is_file(), "{preset}");
        assert_eq!(log_steps(&run), vec![1, 2, 3], "{preset}");

        let o = einfo(&["resume", run.to_str().unwrap(), "--max-steps", "5", "--quiet"], &dir);
        assert!(o.status.success(), "{preset} resume: {}", stderr(&o));
        assert!(stdout(&o).contains("done: 5 steps"), "{preset}: {}", stdout(&o));
        assert_eq!(log_steps(&run), vec![1, 2, 3, 4, 5], "{preset}: the log continues without duplicates");

        let o = einfo(&["sample", run.to_str().unwrap(), "--code", "3", "--columns", "6", "--out", "s.png"], &run);
        assert!(o.status.success(), "{preset} sample: {}", stderr(&o));
        let png = image::open(run.join("s.png")).unwrap();
        assert_eq!((png.width(), png.height()), (6 * 56 + 7 * 2, 56 + 2 * 2), "{preset}");
    }
}

#[test]
fn bad_input_is_a_one_line_error() {
    let dir = scratch("bad");
    let run = dir.join("r");
    assert_one_line_error(&einfo(&["train", "--preset", "nope"], &dir), "unknown preset 'nope'");
    assert_one_line_error(&einfo(&["train", "--set", "losses.bogus=1", "--out", "x"], &dir), "unknown field `bogus`");
    assert_one_line_error(&einfo(&["train", "--set", "optim.lr_g=-1", "--out", "x"], &dir), "optim.lr_g = -1");
    assert_one_line_error(&einfo(&["train", "--split", "51", "--out", "x"], &dir), "split 51 does not exist");
    let o = run_einfo(&small(&["train", "--preset", "gumbel", "--max-steps", "2", "--out", run.to_str().unwrap()]), &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_one_line_error(
        &run_einfo(&small(&["train", "--preset", "gumbel", "--max-steps", "2", "--out", run.to_str().unwrap()]), &dir),
        "already exists: pass --force",
    );
    assert_one_line_error(&einfo(&["resume", dir.to_str().unwrap()], &dir), "is not a run directory");
    assert_one_line_error(&einfo(&["sample", run.to_str().unwrap(), "--code", "10"], &dir), "--code 10 is out of range");
    // A loss that blows up stops the run naming the step and the term.
    let blow = dir.join("blow");
    let o = run_einfo(&small(&["train", "--preset", "gumbel", "--max-steps", "4", "--set", "optim.lr_d=1e30", "--out", blow.to_str().unwrap()]), &dir);
    assert_one_line_error(&o, "non-finite loss at step");
    assert_one_line_error(&o, "no checkpoint had been written yet");
    // A resume that would change the experiment is refused, and the config stays as it was.
    let before = std::fs::read(run.join("config.toml")).unwrap();
    let o = einfo(&["resume", run.to_str().unwrap(), "--set", "prior.kind=uniform", "--quiet"], &dir);
    assert_one_line_error(&o, "prior.kind");
    assert_eq!(std::fs::read(run.join("config.toml")).unwrap(), before);
    // An edited config.toml is caught against the config the checkpoint recorded.
    let edited = String::from_utf8(before.clone()).unwrap().replace("split = 1", "split = 2");
    std::fs::write(run.join("config.toml"), edited).unwrap();
    assert_one_line_error(&einfo(&["resume", run.to_str().unwrap(), "--quiet"], &dir), "data.split (1 → 2)");
    std::fs::write(run.join("config.toml"), &before).unwrap();
    // Checked before anything is created, so the same command can simply be run again.
    for (args, needle) in [
        (vec!["--set", "net.image_size=32"], "net.image_size = 32"),
        (vec!["--set", "data.dataset=cifar"], "cifar"),
        (vec!["--set", "train.device=tpu"], "device 'tpu'"),
        (vec!["--set", "data.counts=[1,1,1,1,1,1,1,1,1,1]"], "cannot fill one batch"),
        (vec!["--max-steps", "0"], "train.max_steps = 0"),
        (vec!["--epochs", "4611686018427387904"], "at most 100000"),
        (vec!["--set", "train.batch_size=40000"], "at most 4096"),
    ] {
        let fresh = dir.join("fresh");
        let mut a = vec!["train", "--out", fresh.to_str().unwrap()];
        a.extend(args);
        assert_one_line_error(&einfo(&a, &dir), needle);
        assert!(!fresh.exists(), "{needle}: nothing is created before the config and data are checked");
    }
    assert_one_line_error(&einfo(&["train", "--seed", "18446744073709551615"], &dir), "not in 0..=9223372036854775807");
    assert_one_line_error(&einfo(&["sample", run.to_str().unwrap(), "--columns", "100000"], &dir), "--columns 100000");
}

#[test]
fn errors_stay_on_one_line() {
    let dir = scratch("oneline");
    // An OS error is reported once, naming the path.
    std::fs::write(dir.join("file"), "x").unwrap();
    let o = einfo(&["train", "--out", dir.join("file/run").to_str().unwrap(), "--max-steps", "1", "--set", "eval.every_epochs=0"], &dir);
    assert_one_line_error(&o, "file/run");
    let line = stderr(&o);
    assert_eq!(line.matches("os error").count(), 1, "{line}");
    // With RUST_BACKTRACE set, candle's backtraces stay out of the message.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_einfo"))
        .args(["sample", dir.to_str().unwrap()])
        .env("RUST_BACKTRACE", "1")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_one_line_error(&o, "not a run directory");
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn ctrl_c_finishes_the_step_checkpoints_and_resumes() {
    let dir = scratch("sigint");
    let run = dir.join("r");
    let args = small(&["train", "--preset", "uniform", "--max-steps", "100000", "--out", run.to_str().unwrap()]);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_einfo"))
        .args(&args)
        .current_dir(&dir)
        .env("EINFO_CACHE", cache())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (at most 120 s) until a few steps are logged.
    let t0 = std::time::Instant::now();
    while !(run.join("log.csv").exists() && log_steps(&run).len() >= 3) {
        assert!(t0.elapsed().as_secs() < 120, "training did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: sending SIGINT to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("interrupted:") && out.contains("einfo resume"), "{out}");
    let (step, _) = einfo_train::checkpoint::latest(&run).unwrap().unwrap();
    assert!((3..100000).contains(&step), "checkpoint at step {step}");
    let o = einfo(&["resume", run.to_str().unwrap(), "--max-steps", &(step + 2).to_string(), "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(*log_steps(&run).last().unwrap(), step + 2);
}

#[test]
fn resume_refuses_what_would_change_the_experiment_instead_of_looping() {
    // The probe's repro: a checkpoint at batch 5 of 25 (batch 8), then a resume with batch
    // 16 (12 batches an epoch) used to spin forever, deaf to signals, and wrote the override
    // into config.toml first so that every later resume spun too.
    let dir = scratch("resumeloop");
    let run = dir.join("r");
    let r = run.to_str().unwrap();
    let o = einfo(
        &[
            "train",
            "--out",
            r,
            "--quiet",
            "--max-steps",
            "20",
            "--set",
            "eval.every_epochs=0",
            "--set",
            "data.counts=[20,20,20,20,20,20,20,20,20,20]",
            "--set",
            "train.batch_size=8",
            "--set",
            "log.checkpoint_every=5",
            "--set",
            "log.probe_images=0",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let before = std::fs::read(run.join("config.toml")).unwrap();
    let t0 = std::time::Instant::now();
    assert_one_line_error(&einfo(&["resume", r, "--set", "train.batch_size=16", "--max-steps", "40"], &dir), "train.batch_size (8 → 16)");
    assert_one_line_error(&einfo(&["resume", r, "--set", "net.num_codes=5"], &dir), "net.num_codes (10 → 5)");
    assert!(t0.elapsed().as_secs() < 60, "refused at once, not after looping");
    assert_eq!(std::fs::read(run.join("config.toml")).unwrap(), before, "nothing written");
    // A plain resume, and one that raises the budget, still work.
    let o = einfo(&["resume", r, "--max-steps", "30", "--quiet"], &dir);
    assert!(o.status.success() && stdout(&o).contains("done: 30 steps"), "{}", stderr(&o));
}

#[test]
fn bench_gemm_times_every_backend_on_every_product_of_the_step() {
    let dir = scratch("bench-gemm");
    let o = einfo(&["bench", "gemm", "--rounds", "1"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let rows: Vec<Vec<&str>> =
        out.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| product")).map(|l| l.split('|').map(str::trim).collect()).collect();
    assert_eq!(rows.len(), 13, "twelve products and the step's total:\n{out}");
    assert!(rows[0][1] == "NN m=64 n=1024 k=6272" && rows[12][1].contains("the step's GEMMs"), "{out}");
    let backends = out.lines().filter(|l| l.starts_with("- ")).count();
    assert!(out.contains("- gemm: gemm (pure Rust)") && backends >= 1, "{out}");
    for r in &rows {
        // | product | calls | one GFLOP/s per backend | a ratio per backend other than gemm |
        assert_eq!(r.len(), 3 + 2 * backends, "{r:?}");
        assert!(r[3..3 + backends].iter().all(|g| g.parse::<f64>().is_ok_and(|g| g > 0.0)), "{r:?}");
    }
    assert_one_line_error(&einfo(&["bench", "gemm", "--rounds", "0"], &dir), "--rounds must be at least 1");
}

#[test]
fn bench_profile_accounts_for_the_whole_step() {
    let dir = scratch("bench-profile");
    let o = einfo(&["bench", "profile", "--steps", "2", "--warmup", "1", "--batch", "8"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // The family table: `| family | ms/step | share | GFLOP/s |`; its rows end before the
    // per-op table's header.
    let family: Vec<(String, f64, f64)> = out
        .split("| op family |")
        .nth(1)
        .and_then(|t| t.split("| op |").next())
        .unwrap_or_else(|| panic!("{out}"))
        .lines()
        .skip(2)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('|').map(str::trim).collect();
            (c.len() > 4).then(|| (c[1].to_string(), c[2].parse().unwrap(), c[3].trim_end_matches('%').parse().unwrap()))
        })
        .collect();
    for name in ["gemm", "batch norm", "adam", "im2col", "col2im", "leaky relu", "augmentation"] {
        assert!(family.iter().any(|(f, ..)| f == name), "{name} missing from\n{out}");
    }
    // The timed kernels are leaves (none inside another), so the rest is not negative and the
    // shares add up to the whole step.
    let rest = family.iter().find(|(f, ..)| f.starts_with("rest of the step")).unwrap_or_else(|| panic!("{out}"));
    assert!(rest.1 >= 0.0, "{out}");
    let total: f64 = family.iter().map(|f| f.2).sum();
    assert!((total - 100.0).abs() < 0.5, "shares add up to {total}%:\n{out}");
    assert!(out.contains("| gemm NN m=8 n=1024 k=6272 |"), "the trunk's linear layer by shape:\n{out}");
    let o = einfo(&["bench", "profile", "--set", "train.device=\"cuda\""], &dir);
    assert_one_line_error(&o, "times the CPU kernels");
}
