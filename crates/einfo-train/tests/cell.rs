//! A cell runs to its budget once: evaluation on a schedule during training (`eval.csv`),
//! `metrics.json` at the end, nothing redone when finished, interrupted runs continued,
//! larger budgets resumed, a different experiment in the same directory refused.

mod common;
use common::*;

use einfo_train::cell::{cell_state, run_cell, CellOutcome, CellState};
use einfo_train::eval::{evaluate, EvalOptions};
use einfo_train::{presets, train, Config};

/// 200 images (20 per digit), batch 20: 10 steps per epoch.
fn tiny(preset: &str, epochs: u64) -> Config {
    let sets: Vec<String> = [
        "data.counts=[20,20,20,20,20,20,20,20,20,20]".to_string(),
        "train.batch_size=20".into(),
        format!("train.epochs={epochs}"),
        "eval.per_code=20".into(),
        "log.checkpoint_every=1000".into(),
    ]
    .into();
    presets::load(preset).unwrap().with_overrides(&sets).unwrap()
}

fn curve_steps(dir: &std::path::Path) -> Vec<u64> {
    let text = std::fs::read_to_string(dir.join("eval.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(einfo_train::curve::HEADER));
    lines.map(|l| l.split(',').next().unwrap().parse().unwrap()).collect()
}

#[test]
fn a_cell_trains_evaluates_on_schedule_and_is_idempotent() {
    let dir = std::env::temp_dir().join(format!("einfo-cell-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = tiny("gumbel", 2);
    assert_eq!(cell_state(&cfg, &dir).unwrap(), CellState::Pending);

    // Interrupted after 5 steps (a run with a step cap stands in for a killed one).
    let capped = cfg.with_overrides(&["train.max_steps=5".into()]).unwrap();
    train(&capped, &dir, &opts(false)).unwrap();
    assert_eq!(cell_state(&cfg, &dir).unwrap(), CellState::Partial { step: 5, total: 20 });

    // The cell continues it from step 5, evaluates after each epoch and at the end.
    match run_cell(&cfg, &dir, &opts(false)).unwrap() {
        CellOutcome::Ran { from_step, report } => {
            assert_eq!(from_step, 5);
            assert_eq!(report.step, 20);
            assert_eq!(report.per_code, 20);
            assert_eq!(report.count_matrix.iter().flatten().sum::<u64>(), 200);
            assert_eq!(report.real_images, 200);
            assert!((0.0..=1.0).contains(&report.nmi.geometric));
        }
        other => panic!("expected a run, got {other:?}"),
    }
    assert_eq!(curve_steps(&dir), vec![10, 20], "one point per epoch; the final evaluation adds no duplicate");
    assert_eq!(cell_state(&cfg, &dir).unwrap(), CellState::Finished { step: 20 });
    let metrics = std::fs::read(dir.join("metrics.json")).unwrap();

    // Finished: nothing is run again.
    assert!(matches!(run_cell(&cfg, &dir, &opts(false)).unwrap(), CellOutcome::AlreadyFinished));
    assert_eq!(std::fs::read(dir.join("metrics.json")).unwrap(), metrics);

    // A larger budget resumes the run.
    let more = tiny("gumbel", 3);
    assert_eq!(cell_state(&more, &dir).unwrap(), CellState::Partial { step: 20, total: 30 });
    assert!(matches!(run_cell(&more, &dir, &opts(false)).unwrap(), CellOutcome::Ran { from_step: 20, .. }));
    assert_eq!(curve_steps(&dir), vec![10, 20, 30]);

    // Another experiment in the same directory is refused, naming it.
    let err = run_cell(&tiny("uniform", 3), &dir, &opts(false)).unwrap_err().to_string();
    assert!(err.contains("different configuration") && err.contains(&dir.display().to_string()), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The cell's `metrics.json` is the training loop's own evaluation of the final step (not a
/// second pass of the protocol), and it is byte for byte what a fresh evaluation of the final
/// checkpoint writes: the checkpoint holds the model that was measured. A fit whose last step
/// had no scheduled evaluation hands none on.
#[test]
fn the_final_scheduled_evaluation_is_the_cells_and_equals_a_fresh_one() {
    for preset in ["gumbel", "elastic"] {
        let dir = std::env::temp_dir().join(format!("einfo-cell-final-{preset}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = tiny(preset, 2);
        let off_epoch = cfg.with_overrides(&["train.max_steps=15".into()]).unwrap();
        assert!(train(&off_epoch, &dir.join("capped"), &opts(false)).unwrap().final_eval.is_none(), "{preset}: step 15 ends no epoch");
        let summary = train(&cfg, &dir.join("trained"), &opts(false)).unwrap();
        let at = summary.final_eval.expect("the last epoch's evaluation is handed on");
        assert_eq!((at.step, at.epoch), (20, 2), "{preset}");

        let cell = dir.join("cell");
        assert!(matches!(run_cell(&cfg, &cell, &opts(false)).unwrap(), CellOutcome::Ran { from_step: 0, .. }));
        let from_training = std::fs::read(cell.join("metrics.json")).unwrap();
        let fresh = evaluate(&cell, &EvalOptions::default(), &opts(false).data).unwrap();
        assert_eq!(fresh.step, 20);
        assert_eq!(std::fs::read(cell.join("metrics.json")).unwrap(), from_training, "{preset}: the fresh evaluation differs");
        assert_eq!(curve_steps(&cell), vec![10, 20], "{preset}");

        // Stopped at the budget before the last evaluation (no point for step 20, no
        // metrics.json): the resume measures the final step once and that is the cell's.
        std::fs::remove_file(cell.join("metrics.json")).unwrap();
        let csv = std::fs::read_to_string(cell.join("eval.csv")).unwrap();
        let kept: Vec<&str> = csv.lines().filter(|l| !l.starts_with("20,")).collect();
        std::fs::write(cell.join("eval.csv"), kept.join("\n") + "\n").unwrap();
        assert!(matches!(run_cell(&cfg, &cell, &opts(false)).unwrap(), CellOutcome::Ran { from_step: 20, .. }));
        assert_eq!(std::fs::read(cell.join("metrics.json")).unwrap(), from_training, "{preset}: after a resume at the budget");
        assert_eq!(curve_steps(&cell), vec![10, 20], "{preset}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
