//! The binary runs from anywhere: copied into an empty directory away from the checkout,
//! with only a data cache, it trains, evaluates (the committed classifier is compiled in),
//! samples and runs a cell. No path of the build machine's checkout is compiled in.

mod common;
use common::*;

use std::process::{Command, Output};

fn run(bin: &std::path::Path, args: &[&str], cwd: &std::path::Path) -> Output {
    Command::new(bin).args(args).current_dir(cwd).env("EINFO_CACHE", cache()).env_remove("EINFO_DATA").output().unwrap()
}

#[test]
fn a_copied_binary_trains_evaluates_samples_and_runs_a_cell_from_an_empty_directory() {
    let dir = scratch("relocated");
    let bin = dir.join("bin/einfo");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_einfo"), &bin).unwrap();
    let bytes = std::fs::read(&bin).unwrap();
    // The old bug: `<checkout>/crates/einfo-train/../../datasets/…` compiled in by env!().
    let needle = b"einfo-train/../../datasets";
    assert!(!bytes.windows(needle.len()).any(|w| w == needle), "the binary names a path inside the build checkout");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let tiny = ["--set", "train.batch_size=16", "--set", "eval.per_code=20", "--set", "eval.real_images=200", "--quiet"];
    let ok = |o: Output, what: &str| {
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        stdout(&o)
    };
    ok(run(&bin, &[&["train", "--preset", "uniform", "--max-steps", "2", "--out", "r"][..], &tiny[..]].concat(), &work), "train");
    ok(run(&bin, &["eval", "r", "--per-code", "20", "--real-images", "200"], &work), "eval");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(work.join("r/metrics.json")).unwrap()).unwrap();
    assert_eq!(m["classifier_path"].as_str(), Some("datasets/classifiers/mnist-lenet.safetensors"));
    let committed = std::fs::read_to_string(root().join("datasets/classifiers/mnist-lenet.sha256")).unwrap();
    assert_eq!(Some(committed.split_whitespace().next().unwrap()), m["classifier_sha256"].as_str());
    ok(run(&bin, &["sample", "r", "--columns", "4", "--out", "s.png"], &work), "sample");
    assert!(work.join("s.png").is_file());
    ok(run(&bin, &[&["cell", "--preset", "gumbel", "--max-steps", "2", "--out", "c"][..], &tiny[..]].concat(), &work), "cell");
    assert!(work.join("c/metrics.json").is_file());
    // `classifier train` away from a checkout needs --out (it would otherwise write into the
    // committed location); one line says so, nothing is trained.
    assert_one_line_error(&run(&bin, &["classifier", "train", "--epochs", "1"], &work), "pass --out FILE");
}
