//! `einfo data …` end to end, on the real MNIST cache.

mod common;
use common::*;

#[test]
fn show_split_1_prints_its_counts_and_writes_a_contact_sheet() {
    let dir = scratch("show1");
    let o = einfo(&["data", "show", "--split", "1", "--out", "sheet.png"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("class counts: 6300 1585 1407 6134 5812 4882 2424 4785 6125 3340"), "{out}");
    let png = std::fs::read(dir.join("sheet.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[test]
fn splits_table_lists_all_50() {
    let o = einfo(&["data", "splits"], &root());
    assert!(o.status.success());
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 51);
    assert!(out.lines().nth(50).unwrap().trim_start().starts_with("50 "));
}

#[test]
fn generated_and_ratio_splits() {
    let dir = scratch("gen");
    let o = einfo(&["data", "show", "--generate", "--seed", "3", "--cap", "5000", "--out", "g.png"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("mnist-generated"));
    let o = einfo(&["data", "show", "--ratios", "1,1,1,1,1,1,1,1,1,0.1", "--cap", "1000", "--out", "r.png"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("class counts: 1000 1000 1000 1000 1000 1000 1000 1000 1000 100"), "{}", stdout(&o));
    let o = einfo(&["data", "show", "--ratios", "1,1", "--out", "r.png"], &dir);
    assert_one_line_error(&o, "2 ratios given for a data set of 10 classes");
    let o = einfo(&["data", "show", "--generate", "--cap", "9000", "--out", "r.png"], &dir);
    assert_one_line_error(&o, "9000 images requested");
}

#[test]
fn unknown_split_is_a_one_line_error() {
    let o = einfo(&["data", "show", "--split", "51"], &root());
    assert_one_line_error(&o, "split 51 does not exist: choose a split from 1 to 50");
}

#[test]
fn corrupt_idx_file_is_a_one_line_error() {
    let dir = scratch("corrupt");
    let src = cache().join("mnist");
    // Make sure the cache is there (another test may be fetching it right now).
    assert!(einfo(&["data", "fetch"], &dir).status.success());
    for f in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let bytes = std::fs::read(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &bytes[..bytes.len() - 10]).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_einfo"))
        .args(["data", "fetch", "--from", dir.to_str().unwrap()])
        .env("EINFO_CACHE", dir.join("cache"))
        .output()
        .unwrap();
    assert_one_line_error(&o, "t10k-labels-idx1-ubyte: sha256");
}

#[test]
fn missing_npm_is_a_one_line_error() {
    let dir = scratch("nonpm");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_einfo"))
        .args(["data", "fetch"])
        .env("EINFO_CACHE", dir.join("empty-cache"))
        .env_remove("EINFO_DATA")
        .env("PATH", dir.join("no-bin"))
        .output()
        .unwrap();
    assert_one_line_error(&o, "npm not found on PATH: install Node.js and npm");
}
