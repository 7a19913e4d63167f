//! Where each cell of a matrix stands: from its run directory (checkpoints, metrics, the
//! end of its logs, the process holding its lock) and, for a Slurm launch, from the
//! scheduler's queue.

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

/// How far a running cell has got, from the last row of its `log.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The last logged step (ahead of the last checkpoint).
    pub step: u64,
    /// The cell's budget, in steps.
    pub total: u64,
    /// Training speed over the last (up to) ten logged intervals.
    pub images_per_s: Option<f64>,
    /// Seconds of training left at that speed (the evaluations not counted).
    pub left_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Not started (or stopped before its first checkpoint).
    NotStarted,
    /// Waiting in the scheduler's queue.
    Queued,
    /// Running: under the scheduler, or a local process (`pid`, running `einfo <command>`)
    /// holding its run directory's lock; `progress` when its log has a row.
    Running {
        pid: Option<u32>,
        command: Option<String>,
        progress: Option<Progress>,
    },
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
            Status::Running { .. } => "running",
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

/// The log rows whose speeds [`progress`] averages.
const SPEED_ROWS: usize = 10;

/// How far the run in `dir` has got by its `log.csv` (`None` before its first row), for a
/// budget of `total` steps of `batch` images.
pub fn progress(dir: &Path, total: u64, batch: usize) -> Option<Progress> {
    let log = einfo_train::train_log::read(&dir.join("log.csv")).ok()?;
    let col = |name: &str| log.header.iter().position(|h| h == name);
    let last = log.rows.last()?;
    let step = (*last.get(col("step")?)?)? as u64;
    // Over the last rows' intervals (equal in steps): total images over total time, the
    // harmonic mean of their speeds — one slow interval does not make the estimate.
    let speeds: Vec<f64> = col("img_per_s")
        .map(|i| log.rows.iter().rev().take(SPEED_ROWS).filter_map(|r| r.get(i).copied().flatten()).filter(|v| *v > 0.0).collect())
        .unwrap_or_default();
    let images_per_s = (!speeds.is_empty()).then(|| speeds.len() as f64 / speeds.iter().map(|v| 1.0 / v).sum::<f64>());
    let left_s = images_per_s.map(|r| total.saturating_sub(step) as f64 * batch as f64 / r);
    Some(Progress { step, total, images_per_s, left_s })
}

/// Every cell's status; `queue` maps cell ids to what a scheduler reports. A cell not in the
/// queue whose directory's lock a process holds is running locally.
pub fn statuses(matrix: &Matrix, cells: &[Cell], queue: &BTreeMap<String, Queued>) -> Result<Vec<(Cell, Status)>> {
    let mut v = Vec::new();
    for c in cells {
        let (dir, cfg) = (matrix.dir(c), matrix.config(c)?);
        let st = match (queue.get(&c.id()), cell_state(&cfg, &dir)?) {
            (Some(Queued::Running), _) => running(&dir, &cfg, None)?,
            (Some(Queued::Pending), _) => Status::Queued,
            (None, CellState::Finished { step }) => Status::Finished { step },
            (None, other) => match einfo_train::run_dir::lock_holder(&dir) {
                Some(pid) => running(&dir, &cfg, Some(pid))?,
                None => stopped(other, &crate::launch_log(&matrix.root, c)),
            },
        };
        v.push((c.clone(), st));
    }
    Ok(v)
}

/// A running cell: the process (`pid`, for a local one) and how far its log has got.
fn running(dir: &Path, cfg: &einfo_train::config::Config, pid: Option<u32>) -> Result<Status> {
    let total = einfo_train::setup::budget_steps(cfg)?;
    Ok(Status::Running { pid, command: pid.and_then(einfo_command), progress: progress(dir, total, cfg.train.batch_size) })
}

/// The einfo subcommand process `pid` runs (`cell`, `eval`, …), from its command line.
fn einfo_command(pid: u32) -> Option<String> {
    let line = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = line.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    args.get(1).filter(|a| !a.is_empty()).cloned()
}

/// A cell that is neither finished nor running: failed (by its launch log), interrupted or
/// not started.
fn stopped(state: CellState, log: &Path) -> Status {
    let step = match state {
        CellState::Partial { step, .. } => step,
        _ => 0,
    };
    match (ended_in_error(log), state) {
        (Some(tail), _) => Status::Failed { step, tail },
        (None, CellState::Partial { step, total }) => Status::Interrupted { step, total },
        (None, _) => Status::NotStarted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_the_last_complete_row_and_the_time_left_at_its_speed() {
        let d = std::env::temp_dir().join(format!("einfo-progress-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(progress(&d, 100, 64), None, "no log");
        std::fs::write(d.join("log.csv"), "step,epoch,d_loss,img_per_s\n").unwrap();
        assert_eq!(progress(&d, 100, 64), None, "no row yet");
        // The last complete row counts, not one cut short by a write in progress.
        std::fs::write(d.join("log.csv"), "step,epoch,d_loss,img_per_s\n50,0,1.2,60.0\n60,0,1.1,64.0\n70,0,1.").unwrap();
        // Speed: 2 intervals / (1/60 + 1/64 s per image) = 61.935…; (100 - 60) steps x 64
        // images at that speed = 41.33 s.
        // python3 -c "r=2/(1/60+1/64); print(r, 40*64/r)"  → 61.93548387096775 41.33333333333333
        let p = progress(&d, 100, 64).unwrap();
        assert_eq!((p.step, p.total), (60, 100));
        assert!((p.images_per_s.unwrap() - 61.93548387096775).abs() < 1e-9 && (p.left_s.unwrap() - 41.33333333333333).abs() < 1e-9, "{p:?}");
        // Only the last ten rows count.
        let rows: String = (1..=12).map(|i| format!("{},0,1.0,{}\n", i * 10, if i <= 2 { 1.0 } else { 50.0 })).collect();
        std::fs::write(d.join("log.csv"), format!("step,epoch,d_loss,img_per_s\n{rows}")).unwrap();
        let p = progress(&d, 100, 64).unwrap();
        assert!((p.images_per_s.unwrap() - 50.0).abs() < 1e-9 && p.left_s == Some(0.0), "the two slow rows are older: {p:?}");
        // A log from before the speed column: the step, no estimate.
        std::fs::write(d.join("log.csv"), "step,epoch\n50,0\n").unwrap();
        assert_eq!(progress(&d, 100, 64), Some(Progress { step: 50, total: 100, images_per_s: None, left_s: None }));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
