//! Every command decides its run once: one plan (config validated, data loaded), one
//! device opened and one run lock requested, however many layers the command passes
//! through (`einfo cell` trains or resumes and then evaluates; `einfo train`, `resume`,
//! `eval`). Counted by `einfo_train::call_count`. One test in its own
//! file: the counters are per process, and tests in one binary run side by side.

mod common;
use common::*;

use einfo_train::call_count::{count, Step};
use einfo_train::cell::{run_cell, CellOutcome};
use einfo_train::eval::{evaluate, EvalOptions};
use einfo_train::{presets, resume, train, Config};

/// 200 images (20 per digit), batch 20: 10 steps per epoch.
fn tiny(epochs: u64) -> Config {
    let sets: Vec<String> =
        ["data.counts=[20,20,20,20,20,20,20,20,20,20]".to_string(), "train.batch_size=20".into(), format!("train.epochs={epochs}"), "eval.per_code=20".into()]
            .into();
    presets::load("elastic").unwrap().with_overrides(&sets).unwrap()
}

/// (plans, devices, locks) taken by `f`.
fn taken(f: impl FnOnce()) -> (usize, usize, usize) {
    let now = || (count(Step::Plan), count(Step::Device), count(Step::Lock));
    let before = now();
    f();
    let after = now();
    (after.0 - before.0, after.1 - before.1, after.2 - before.2)
}

#[test]
fn each_command_plans_opens_its_device_and_locks_once() {
    let base = std::env::temp_dir().join(format!("einfo-once-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let dir = base.join("cell");

    // `einfo cell` on nothing: train from scratch, evaluate on schedule and at the end.
    let fresh = taken(|| assert!(matches!(run_cell(&tiny(1), &dir, &opts(false)).unwrap(), CellOutcome::Ran { from_step: 0, .. })));
    assert_eq!(fresh, (1, 1, 1), "cell, from scratch: (plans, devices, locks)");
    // `einfo cell` with a larger budget: resume, then evaluate.
    let resumed = taken(|| assert!(matches!(run_cell(&tiny(2), &dir, &opts(false)).unwrap(), CellOutcome::Ran { from_step: 10, .. })));
    assert_eq!(resumed, (1, 1, 1), "cell, resumed");
    // `einfo eval`: no plan (nothing is trained), one device, one lock.
    let eval = taken(|| drop(evaluate(&dir, &EvalOptions::default(), &opts(false).data).unwrap()));
    assert_eq!(eval, (0, 1, 1), "eval");

    // `einfo cell` over a run killed before its first checkpoint (a config, no checkpoint): the
    // run is replaced by a new directory at the same path. Locks: the cell's on the old
    // directory, the replacement's re-entrant hold on it while moving it aside, and the new
    // directory's, kept from training through the evaluation.
    let killed = base.join("killed");
    std::fs::create_dir_all(&killed).unwrap();
    std::fs::write(killed.join("config.toml"), tiny(1).to_toml()).unwrap();
    let replaced = taken(|| assert!(matches!(run_cell(&tiny(1), &killed, &opts(false)).unwrap(), CellOutcome::Ran { from_step: 0, .. })));
    assert_eq!(replaced, (1, 1, 3), "cell over a killed run: (plans, devices, locks)");
    assert!(killed.join("metrics.json").is_file());

    // `einfo train`, then `einfo resume` with a larger budget.
    let run = base.join("run");
    let trained = taken(|| drop(train(&tiny(1), &run, &opts(false)).unwrap()));
    assert_eq!(trained, (1, 1, 1), "train");
    let more = taken(|| drop(resume(&run, &["train.epochs=2".into()], &opts(false)).unwrap()));
    assert_eq!(more, (1, 1, 1), "resume");
    std::fs::remove_dir_all(&base).unwrap();
}
