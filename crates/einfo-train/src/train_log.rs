//! `log.csv`, a run's training log: one row of every loss term, the prior, images/s and
//! the diagnostics every `log.every_steps` steps. Resuming keeps the rows up to the
//! checkpoint's step, so a row never appears twice.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{io_err, Result};

/// Keep the header and the rows of steps ≤ `step` of a CSV whose first column is the step
/// (rows logged after the checkpoint being resumed would otherwise appear twice).
pub fn truncate_csv(path: &Path, step: u64) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.split(',').next().and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s <= step))
        .map(|(_, l)| l)
        .collect();
    einfo_data::source::write_atomic(path, (kept.join("\n") + "\n").as_bytes())?;
    Ok(())
}

/// The open training log of a run.
pub struct TrainLog {
    path: PathBuf,
    file: File,
}

impl TrainLog {
    /// Open `<run>/log.csv` keeping the rows of steps ≤ `keep_step` (0 for a new run) and
    /// writing `header` when the file is new or empty.
    pub fn open(run_dir: &Path, keep_step: u64, header: &[String]) -> Result<TrainLog> {
        let path = run_dir.join("log.csv");
        truncate_csv(&path, keep_step)?;
        let new = std::fs::metadata(&path).map(|m| m.len() == 0).unwrap_or(true);
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
        if new {
            writeln!(file, "{}", header.join(",")).map_err(io_err(&path))?;
        }
        Ok(TrainLog { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one row.
    pub fn row(&mut self, fields: &[String]) -> Result<()> {
        writeln!(self.file, "{}", fields.join(",")).map_err(io_err(&self.path))
    }

    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(io_err(&self.path))
    }
}
