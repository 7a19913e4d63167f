//! Counts of the once-per-command steps taken in this process: a [`crate::plan::RunPlan`]
//! built, a device opened, a run lock requested. `tests/once_per_command.rs` holds every
//! command to one of each. (A relaxed atomic add per step: nothing a run would notice, and
//! the same code in every build profile.)

use std::sync::atomic::{AtomicUsize, Ordering};

/// A step a command should take once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A [`crate::plan::RunPlan`] built (the config validated, the data loaded).
    Plan,
    /// A device opened ([`crate::setup::device_for`]).
    Device,
    /// A run directory's lock requested ([`crate::run_dir::RunLock::acquire`]),
    /// re-entrant requests included.
    Lock,
}

static COUNTS: [AtomicUsize; 3] = [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)];

/// Count one `step`.
pub fn record(step: Step) {
    COUNTS[step as usize].fetch_add(1, Ordering::Relaxed);
}

/// How often `step` was taken so far.
pub fn count(step: Step) -> usize {
    COUNTS[step as usize].load(Ordering::Relaxed)
}
