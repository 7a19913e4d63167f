//! What a command reports while it works, as events. Library code never prints: it emits
//! an [`Event`] to the [`Events`] its caller passed in (`RunOptions::events`,
//! `EvalOptions::events`), and the binary decides what to show (`einfo` draws the training
//! loop's progress events as a progress bar and writes every other event to standard
//! error above it). An event's `Display` is its one-line message.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Something worth telling the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An evaluation on the training schedule finished.
    Evaluated { method: String, epoch: u64, step: u64, ent: f64, nmi: f64, prior_rmse: f64, real_cluster_accuracy: f64, real_cluster_accuracy_bn: f64 },
    /// Files that interrupted writes left in a run directory were removed.
    Swept { run_dir: PathBuf, removed: Vec<String> },
    /// A run that `--force` replaced is kept aside (the command stopped before the new
    /// run's first checkpoint).
    Stranded { run_dir: PathBuf, aside: PathBuf },
    /// What became of the run a `--force` replaced, when it is worth a line.
    Replaced { run_dir: PathBuf, line: String },
    /// A checkpoint that does not load was skipped for the one before it.
    CheckpointSkipped { checkpoint: PathBuf, why: String },
    /// The run continues from this checkpoint instead of a newer, damaged one.
    ContinuingFrom { checkpoint: PathBuf },
    /// A training loop starts (or resumes) at `step` of `total` (a progress bar's cue).
    FitStarted { method: String, step: u64, total: u64 },
    /// A training step finished.
    Stepped { step: u64 },
    /// A logging step's numbers: the epoch under way (1-based), images/s since the last
    /// logging step, and the first terms of the step's loss.
    Logged { step: u64, epoch: u64, images_per_s: f64, terms: Vec<(String, f64)> },
    /// The training loop ended, finished, stopped or failed.
    FitEnded,
}

impl Event {
    /// Whether the event is the training loop's progress (for a progress bar), not a
    /// message worth a line of its own.
    pub fn is_progress(&self) -> bool {
        matches!(self, Event::FitStarted { .. } | Event::Stepped { .. } | Event::Logged { .. } | Event::FitEnded)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Evaluated { method, epoch, step, ent, nmi, prior_rmse, real_cluster_accuracy, real_cluster_accuracy_bn } => write!(
                f,
                "{method}: epoch {epoch} (step {step}): ENT {ent:.3}, NMI {nmi:.3}, prior RMSE {prior_rmse:.3}, real cluster acc. {real_cluster_accuracy:.3} ({real_cluster_accuracy_bn:.3} with BN re-estimated)"
            ),
            Event::Swept { run_dir, removed } => write!(f, "einfo: {}: removed what interrupted writes left: {}", run_dir.display(), removed.join(", ")),
            Event::Stranded { run_dir, aside } => write!(
                f,
                "einfo: {}: a run that `--force` replaced is kept at {} (the command stopped before the new run's first checkpoint): rename it back to restore it, or delete it",
                run_dir.display(),
                aside.display()
            ),
            Event::Replaced { run_dir, line } => write!(f, "einfo: {}: {line}", run_dir.display()),
            Event::CheckpointSkipped { checkpoint, why } => write!(f, "einfo: warning: checkpoint {} does not load ({why}); trying the one before it", checkpoint.display()),
            Event::ContinuingFrom { checkpoint } => write!(f, "einfo: continuing from {} instead", checkpoint.display()),
            Event::FitStarted { method, step, total } => write!(f, "{method}: training from step {step} of {total}"),
            Event::Stepped { step } => write!(f, "step {step}"),
            Event::Logged { step, epoch, images_per_s, terms } => {
                let terms: Vec<String> = terms.iter().map(|(n, v)| format!("{n} {v:.3}")).collect();
                write!(f, "step {step}, epoch {epoch} | {images_per_s:.0} img/s | {}", terms.join(", "))
            }
            Event::FitEnded => write!(f, "training stopped"),
        }
    }
}

/// Where a command's events go.
#[derive(Clone)]
pub struct Events(Arc<dyn Fn(&Event) + Send + Sync>);

impl Events {
    /// Call `f` on every event.
    pub fn new(f: impl Fn(&Event) + Send + Sync + 'static) -> Events {
        Events(Arc::new(f))
    }

    /// Drop every event (the default: a library caller that wants them subscribes).
    pub fn ignore() -> Events {
        Events::new(|_| {})
    }

    pub fn emit(&self, event: Event) {
        (self.0)(&event)
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::ignore()
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Events")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_subscriber_gets_each_event_and_its_message_is_one_line() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let events = Events::new(move |e| sink.lock().unwrap().push(e.to_string()));
        events.emit(Event::ContinuingFrom { checkpoint: "runs/x/checkpoints/step-00000500".into() });
        events.emit(Event::Swept { run_dir: "runs/x".into(), removed: vec!["a.tmp".into(), "b.tmp".into()] });
        let seen = seen.lock().unwrap();
        assert_eq!(
            *seen,
            ["einfo: continuing from runs/x/checkpoints/step-00000500 instead", "einfo: runs/x: removed what interrupted writes left: a.tmp, b.tmp"]
        );
        assert!(seen.iter().all(|l| !l.contains('\n')));
    }
}
