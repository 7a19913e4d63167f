//! Counts of the once-per-command steps taken in this process (debug builds only; a
//! release build counts nothing and reports zeros): a [`crate::plan::RunPlan`] built, a device
//! opened, a run lock requested. `tests/once_per_command.rs` holds every command to one each.
#[cfg(debug_assertions)]
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

#[cfg(debug_assertions)]
static COUNTS: [AtomicUsize; 3] = [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)];

/// Count one `step`.
pub fn record(step: Step) {
    #[cfg(debug_assertions)]
    COUNTS[step as usize].fetch_add(1, Ordering::Relaxed);
    #[cfg(not(debug_assertions))]
    let _ = step;
}

/// How often `step` was taken so far.
pub fn count(step: Step) -> usize {
    #[cfg(debug_assertions)]
    return COUNTS[step as usize].load(Ordering::Relaxed);
    #[cfg(not(debug_assertions))]
    {
        let _ = step;
        0
    }
}
