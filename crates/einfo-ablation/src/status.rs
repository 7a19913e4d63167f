//! Where each cell of a matrix stands: from its run directory (checkpoints, metrics, the
//! end of its log) and, for a Slurm launch, from the scheduler's queue.

use std::collections::BTreeMap;
use std::path::Path;

use einfo_train::cell::{cell_state, CellState};

use crate::error::Result;
use crate::matrix::{Cell, Matrix};

/// What the scheduler says about a cell (Slurm launches only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    Pending,
    Running,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not started (or stopped before its first checkpoint).
    NotStarted,
    /// Waiting in the scheduler's queue.
    Queued,
    /// Running under the scheduler.
    Running,
    /// Stopped part-way (killed, interrupted, time limit): the next launch continues it.
    Interrupted {
        step: u64,
        total: u64,
    },
    /// Its last attempt ended in an error: the tail of its log.
    Failed {
        step: u64,
        tail: String,
    },
    Finished {
        step: u64,
    },
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Status::NotStarted => "pending",
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Interrupted { .. } => "interrupted",
            Status::Failed { .. } => "failed",
            Status::Finished { .. } => "finished",
        }
    }
}

/// The last `n` non-empty lines of a log (`None` when it cannot be read).
pub fn log_tail(path: &Path, n: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    Some(lines[lines.len().saturating_sub(n)..].join("\n"))
}

/// Did the last attempt logged in `log` end in an error?
fn ended_in_error(log: &Path) -> Option<String> {
    let tail = log_tail(log, 5)?;
    let last = tail.lines().last()?.to_string();
    if last.contains(": interrupted;") {
        return None; // SIGTERM / Ctrl-C / time limit: checkpointed, not failed
    }
    let failed =
        last.starts_with("einfo: error") || last.contains("panicked") || last.contains("CANCELLED") || last.contains("Killed") || last.contains("error:");
    failed.then_some(tail)
}

/// Every cell's status; `queue` maps cell ids to what a scheduler reports.
pub fn statuses(matrix: &Matrix, cells: &[Cell], queue: &BTreeMap<String, Queued>) -> Result<Vec<(Cell, Status)>> {
    let mut v = Vec::new();
    for c in cells {
        let dir = matrix.dir(c);
        let st = match queue.get(&c.id()) {
            Some(Queued::Running) => Status::Running,
            Some(Queued::Pending) => Status::Queued,
            None => match cell_state(&matrix.config(c)?, &dir)? {
                CellState::Finished { step } => Status::Finished { step },
                other => {
                    let step = match other {
                        CellState::Partial { step, .. } => step,
                        _ => 0,
                    };
                    let log = crate::launch_log(&matrix.root, c);
                    match ended_in_error(&log) {
                        Some(tail) => Status::Failed { step, tail },
                        None => match other {
                            CellState::Partial { step, total } => Status::Interrupted { step, total },
                            _ => Status::NotStarted,
                        },
                    }
                }
            },
        };
        v.push((c.clone(), st));
    }
    Ok(v)
}
