//! Training never reads a label: the same run on a copy of the data whose labels are
//! scrambled ends with byte-identical weights, optimiser states and RNG positions, for
//! every preset that learns a prior from real images (the paper's and the extensions).
//! Only the label-based diagnostics (`log.csv`'s probe columns, `eval.csv`) may differ.

mod common;
use common::*;

use std::path::Path;

use einfo_data::{Dataset, DatasetKind, Part};
use einfo_train::run::run_on;
use einfo_train::{prepare_data, presets, Config, RunPlan};

fn train_with(cfg: &Config, data: &Dataset, dir: &Path) -> Vec<(String, Vec<u8>)> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let (_, split) = prepare_data(cfg, &opts(true).data).unwrap();
    let lock = einfo_train::run_dir::RunLock::acquire(dir).unwrap();
    let plan = RunPlan::on_data(cfg, dir, &opts(true), data.clone(), split).unwrap();
    run_on(&plan, &lock, false, None).unwrap();
    final_tensors(dir)
}

#[test]
fn scrambled_labels_change_nothing_but_the_diagnostics() {
    let real = Dataset::load(DatasetKind::Mnist, Part::All, &opts(true).data).unwrap();
    // Labels unrelated to the images (image i gets label i mod 10): a training step that
    // read one would change.
    let labels = (0..real.labels.len()).map(|i| (i % 10) as u8).collect();
    let scrambled = Dataset::from_parts(DatasetKind::Mnist, real.rows, real.cols, real.num_classes, real.pixels.clone(), labels).unwrap();
    for preset in ["elastic", "elastic-em", "elastic-floor", "elastic-sinkhorn", "elastic-uot"] {
        let cfg = presets::load(preset)
            .unwrap()
            .with_overrides(&[
                "train.batch_size=16".into(),
                "train.max_steps=6".into(),
                "log.every_steps=2".into(),
                "log.probe_images=200".into(),
                "eval.every_epochs=0".into(),
            ])
            .unwrap();
        let base = std::env::temp_dir().join(format!("einfo-labels-{}-{preset}", std::process::id()));
        let a = train_with(&cfg, &real, &base.join("real"));
        let b = train_with(&cfg, &scrambled, &base.join("scrambled"));
        assert_eq!(a.len(), b.len());
        for ((na, ta), (_, tb)) in a.iter().zip(&b) {
            assert!(ta == tb, "{preset}: {na} depends on the labels");
        }
        // The diagnostics did read them: the probe's cluster accuracy differs.
        let log = |d: &str| std::fs::read_to_string(base.join(d).join("log.csv")).unwrap();
        let col = |text: &str| -> Vec<String> {
            let mut lines = text.lines();
            let head: Vec<&str> = lines.next().unwrap().split(',').collect();
            let i = head.iter().position(|h| *h == "probe_cluster_acc").unwrap();
            lines.map(|l| l.split(',').nth(i).unwrap().to_string()).collect()
        };
        assert_ne!(col(&log("real")), col(&log("scrambled")), "{preset}: the probe should see the scrambled labels");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
