//! The evaluation classifier and `einfo eval` end to end.

mod common;
use common::*;

/// `einfo classifier eval --dataset D`: the committed classifier's test accuracy, in %.
fn committed_accuracy(dataset: &str) -> f64 {
    let o = einfo(&["classifier", "eval", "--dataset", dataset], &root());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    out.split("test accuracy ").nth(1).and_then(|s| s.trim().trim_end_matches('%').parse().ok()).unwrap_or_else(|| panic!("{out}"))
}

#[test]
fn committed_classifier_reproduces_its_test_accuracy() {
    let acc = committed_accuracy("mnist");
    assert!(acc >= 99.0, "committed LeNet: {acc}% on the MNIST test set");
}

#[test]
fn committed_fashion_classifier_reproduces_its_test_accuracy() {
    // Trained by `einfo classifier train --dataset fashion-mnist` (10 epochs, seed 0): 90.89%.
    let acc = committed_accuracy("fashion-mnist");
    assert!(acc >= 90.0, "committed LeNet: {acc}% on the Fashion-MNIST test set");
}

#[test]
fn a_tampered_classifier_is_refused() {
    let dir = scratch("tamper");
    let src = root().join("datasets/classifiers/mnist-lenet.safetensors");
    let dst = dir.join("mnist-lenet.safetensors");
    let mut bytes = std::fs::read(&src).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0xff;
    std::fs::write(&dst, bytes).unwrap();
    std::fs::copy(src.with_extension("sha256"), dst.with_extension("sha256")).unwrap();
    let o = einfo(&["classifier", "eval", "--weights", dst.to_str().unwrap()], &dir);
    assert_one_line_error(&o, "does not match the recorded");
    std::fs::write(&dst, b"not a safetensors file").unwrap();
    std::fs::remove_file(dst.with_extension("sha256")).unwrap();
    let o = einfo(&["classifier", "eval", "--weights", dst.to_str().unwrap()], &dir);
    assert_one_line_error(&o, "not a LeNet classifier");
}

#[test]
fn eval_writes_metrics_for_a_run() {
    let dir = scratch("eval");
    for preset in ["gumbel", "jointvae"] {
        let run = dir.join(preset);
        let o = einfo(&["train", "--preset", preset, "--max-steps", "2", "--out", run.to_str().unwrap(), "--quiet", "--set", "train.batch_size=16"], &dir);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = einfo(&["eval", run.to_str().unwrap(), "--per-code", "30", "--real-images", "2000"], &dir);
        assert!(o.status.success(), "{preset}: {}", stderr(&o));
        assert!(stdout(&o).contains("NMI geometric"), "{}", stdout(&o));
        let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
        let ent = m["ent"].as_f64().unwrap();
        assert!((0.0..=10f64.ln() + 1e-9).contains(&ent));
        for k in ["geometric", "arithmetic", "max", "min"] {
            assert!((0.0..=1.0).contains(&m["nmi"][k].as_f64().unwrap()));
        }
        let rows: Vec<u64> = m["count_matrix"].as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum()).collect();
        assert_eq!(rows, vec![30; 10], "30 images per code");
        assert_eq!(m["step"].as_u64(), Some(2));
        assert_eq!(m["classifier_sha256"].as_str().unwrap().len(), 64);
        assert!(m["config"]["method"].as_str() == Some(preset));
        assert_eq!(m["true_frequencies"].as_array().unwrap().len(), 10);
        assert_eq!(m["real_images"].as_u64(), Some(2000));
        for k in ["real_cluster_accuracy", "real_cluster_accuracy_bn"] {
            assert!((0.0..=1.0).contains(&m[k].as_f64().unwrap()), "{k}: {}", m[k]);
        }
    }
    assert_one_line_error(&einfo(&["eval", dir.to_str().unwrap()], &dir), "is not a run directory");
}
