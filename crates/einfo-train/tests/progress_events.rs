//! The training loop's progress goes out as events (the binary draws the bar from them):
//! one `FitStarted` at the run's step and budget, one `Stepped` per step in order, a
//! `Logged` on each logging step, and one `FitEnded` last, also when the loop fails.

mod common;
use common::*;

use std::sync::{Arc, Mutex};

use einfo_train::events::{Event, Events};
use einfo_train::{resume, train, Config, RunOptions};

fn tiny(steps: u64) -> Config {
    tiny_uniform(steps, &["log.every_steps=2"])
}

fn recording() -> (RunOptions, Arc<Mutex<Vec<Event>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (RunOptions { events: Events::new(move |e| sink.lock().unwrap().push(e.clone())), ..opts(false) }, seen)
}

fn progress(seen: &Mutex<Vec<Event>>) -> Vec<Event> {
    seen.lock().unwrap().iter().filter(|e| e.is_progress()).cloned().collect()
}

#[test]
fn a_fit_reports_its_start_each_step_its_log_rows_and_its_end() {
    let dir = std::env::temp_dir().join(format!("einfo-progress-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = dir.join("run");
    let (o, seen) = recording();
    train(&tiny(5), &run, &o).unwrap();
    let p = progress(&seen);
    assert_eq!(p.first(), Some(&Event::FitStarted { method: "uniform".into(), step: 0, total: 5 }), "{p:?}");
    assert_eq!(p.last(), Some(&Event::FitEnded), "{p:?}");
    assert_eq!(p.iter().filter(|e| **e == Event::FitEnded).count(), 1, "{p:?}");
    let steps: Vec<u64> = p.iter().filter_map(|e| if let Event::Stepped { step } = e { Some(*step) } else { None }).collect();
    assert_eq!(steps, [1, 2, 3, 4, 5]);
    // Logged on steps 2 and 4 (log.every_steps = 2) and on the last step, each before its
    // Stepped, with the first three terms of the step.
    let logged: Vec<(u64, usize)> =
        p.iter().filter_map(|e| if let Event::Logged { step, terms, .. } = e { Some((*step, terms.len())) } else { None }).collect();
    assert_eq!(logged, [(2, 3), (4, 3), (5, 3)]);
    let at = |want: &Event| p.iter().position(|e| e == want).unwrap();
    assert!(p.iter().position(|e| matches!(e, Event::Logged { step: 4, .. })).unwrap() < at(&Event::Stepped { step: 4 }));

    // A resumed fit starts at its checkpoint's step.
    let (o, seen) = recording();
    resume(&run, &["train.max_steps=7".to_string()], &o).unwrap();
    let p = progress(&seen);
    assert_eq!(p.first(), Some(&Event::FitStarted { method: "uniform".into(), step: 5, total: 7 }), "{p:?}");
    assert_eq!(p.last(), Some(&Event::FitEnded));

    // A loop that fails still ends the bar: a non-finite loss at its first logging step.
    let (o, seen) = recording();
    let mut cfg = tiny(4);
    (cfg.optim.lr_g, cfg.optim.lr_d) = (1e30, 1e30);
    let err = train(&cfg, &dir.join("diverged"), &o).expect_err("a step of 1e30 diverges");
    assert!(matches!(err, einfo_train::TrainError::NonFinite { .. }), "{err}");
    let p = progress(&seen);
    assert_eq!(p.last(), Some(&Event::FitEnded), "{p:?}");
    assert_eq!(p.iter().filter(|e| **e == Event::FitEnded).count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
