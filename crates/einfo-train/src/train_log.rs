//! `log.csv`, a run's training log: one row of every loss term, the prior, images/s and
//! the diagnostics every `log.every_steps` steps. Resuming keeps the rows up to the
//! checkpoint's step, so a row never appears twice.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{io_err, Result};

/// Keep the header and the complete rows of steps ≤ `step` of a CSV whose first column is
/// the step: rows logged after the checkpoint being resumed would otherwise appear twice,
/// and a row cut short by a full disk or a kill (no newline, or too few fields) would
/// otherwise stay in the log.
pub fn truncate_csv(path: &Path, step: u64) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let text = crate::curve::complete_lines(&text);
    let fields = text.lines().next().map_or(0, |h| h.split(',').count());
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || (l.split(',').count() == fields && l.split(',').next().and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s <= step)))
        .map(|(_, l)| l)
        .collect();
    let out = if kept.is_empty() { String::new() } else { kept.join("\n") + "\n" };
    einfo_data::durable::write_atomic(path, out.as_bytes())?;
    Ok(())
}

/// Bring a CSV written by another version of einfo to `header`: when its header differs,
/// rewrite it with `header`, each old row's values moved under their column's name (empty
/// where a column is new; a column no longer written is dropped). Rows then always line up
/// with the header, also for a run resumed across versions.
pub fn align_csv(path: &Path, header: &[String]) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let mut lines = text.lines();
    let Some(old) = lines.next() else { return Ok(()) };
    let old: Vec<&str> = old.split(',').collect();
    if old.len() == header.len() && old.iter().zip(header).all(|(a, b)| a == b) {
        return Ok(());
    }
    let pos: Vec<Option<usize>> = header.iter().map(|h| old.iter().position(|o| o == h)).collect();
    let mut out = header.join(",") + "\n";
    for l in lines.filter(|l| !l.is_empty()) {
        let vals: Vec<&str> = l.split(',').collect();
        let row: Vec<&str> = pos.iter().map(|p| p.and_then(|i| vals.get(i).copied()).unwrap_or("")).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    einfo_data::durable::write_atomic(path, out.as_bytes())?;
    Ok(())
}

/// `log.csv` as its readers get it: the header, and each complete row's values by column
/// (`None` where a cell is empty or not a number). Defined here, beside its writer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Option<f64>>>,
}

/// Read a run's `log.csv`; a last row cut short (no newline) is left out.
pub fn read(path: &Path) -> Result<LogTable> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut lines = crate::curve::complete_lines(&text).lines();
    let header: Vec<String> = lines.next().unwrap_or("").split(',').map(str::to_string).collect();
    let rows = lines.filter(|l| !l.is_empty()).map(|l| l.split(',').map(|v| v.parse::<f64>().ok()).collect()).collect();
    Ok(LogTable { header, rows })
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
        align_csv(&path, header)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_header_is_migrated_by_column_name() {
        let dir = std::env::temp_dir().join(format!("einfo-align-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("log.csv");
        std::fs::write(&p, "step,loss,old\n1,0.5,x\n2,0.4,y\n").unwrap();
        let h: Vec<String> = ["step", "new", "loss"].iter().map(|s| s.to_string()).collect();
        align_csv(&p, &h).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "step,new,loss\n1,,0.5\n2,,0.4\n");
        align_csv(&p, &h).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "step,new,loss\n1,,0.5\n2,,0.4\n", "a current file is left alone");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resuming_drops_later_rows_and_rows_cut_short() {
        let dir = std::env::temp_dir().join(format!("einfo-trunc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("log.csv");
        std::fs::write(&p, "step,a,b\n1,0.5,1\n2,0.4\n3,0.3,1\n4,0.2,1\n5,0.1,1").unwrap();
        truncate_csv(&p, 4).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "step,a,b\n1,0.5,1\n3,0.3,1\n4,0.2,1\n");
        truncate_csv(&p, 3).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "step,a,b\n1,0.5,1\n3,0.3,1\n");
        std::fs::write(&p, "step,a").unwrap();
        truncate_csv(&p, 3).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "", "a cut header: the log starts afresh");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
