//! Starting a run as a transaction. A new run directory, or one that `--force` replaces,
//! counts only once the new run has written its first checkpoint: until then the old run
//! waits beside it, moved aside by one rename (`.<name>.einfo-replaced-<pid>`), and a run
//! that fails before that point — a step that rejects the config, a non-finite loss, a
//! full disk — is removed and the old run renamed back. So a failed command leaves the
//! directory as it found it, and `--force` never loses the old run to a bad new config.
//! (A process killed in between leaves the old run at the aside name; the next
//! `train --force` or `resume` of the directory says so.)

use std::cell::Cell;
use std::path::{Path, PathBuf};

use crate::error::{io_err, Result, TrainError};
use crate::run_dir::{self, RunLock};

/// A run directory being (re)started.
#[derive(Debug)]
pub struct NewRun {
    dir: PathBuf,
    /// Where the replaced run waits until the new one has a checkpoint.
    aside: Option<PathBuf>,
    /// This command created the directory (so removes it on failure).
    created: bool,
    committed: Cell<bool>,
}

/// The name a replaced run waits under, beside `dir`.
pub fn aside_path(dir: &Path) -> Result<PathBuf> {
    let name = dir.file_name().ok_or_else(|| TrainError::Config(format!("{}: name a run directory, not a root", dir.display())))?;
    Ok(dir.with_file_name(format!(".{}.einfo-replaced-{}", name.to_string_lossy(), std::process::id())))
}

/// Replaced runs a killed `--force` left beside `dir` (`.<name>.einfo-replaced-*`, other
/// than this process's own).
pub fn stranded(dir: &Path) -> Vec<PathBuf> {
    let own = aside_path(dir).ok();
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else { return Vec::new() };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    let prefix = format!(".{}.einfo-replaced-", name.to_string_lossy());
    let mut v: Vec<PathBuf> = std::fs::read_dir(parent)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .filter(|p| Some(p) != own.as_ref())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A run directory can go at `dir`: nothing is there, or a directory.
pub fn check_target(dir: &Path) -> Result<()> {
    if std::fs::symlink_metadata(dir).is_ok() && !dir.is_dir() {
        return Err(TrainError::Config(format!("--out {}: a file or a dangling link is there, not a directory: choose another --out", dir.display())));
    }
    Ok(())
}

impl NewRun {
    /// Make `dir` ready for a new run. `replace`: it holds a run, which must be einfo's
    /// and not in use; it is moved aside in one rename and an empty directory takes its
    /// place. Otherwise `dir` is created if missing.
    pub fn begin(dir: &Path, replace: bool) -> Result<NewRun> {
        check_target(dir)?;
        let created = !dir.exists();
        let mut aside = None;
        if replace {
            let to = aside_path(dir)?;
            {
                // Checked before the lock too, so that a refused directory gets no `.lock`.
                run_dir::check_replaceable(dir)?;
                let _old = RunLock::acquire(dir)?;
                run_dir::check_replaceable(dir)?;
                std::fs::rename(dir, &to).map_err(io_err(dir))?;
            }
            aside = Some(to);
        }
        if let Err(e) = std::fs::create_dir_all(dir) {
            if let Some(a) = &aside {
                let _ = std::fs::rename(a, dir);
            }
            return Err(io_err(dir)(e));
        }
        Ok(NewRun { dir: dir.into(), aside, created: created || replace, committed: Cell::new(false) })
    }

    /// The new run has a checkpoint: it counts, and the run it replaced is deleted. A
    /// replaced run that cannot be deleted (an immutable file) is left at its aside name,
    /// and the returned line says where.
    pub fn commit(&self) -> Option<String> {
        if self.committed.replace(true) {
            return None;
        }
        let aside = self.aside.as_ref()?;
        match std::fs::remove_dir_all(aside) {
            Ok(()) => None,
            Err(e) => Some(format!("the replaced run could not be deleted ({e}); it is kept at {}", aside.display())),
        }
    }

    /// The new run failed before its first checkpoint: remove what it wrote and put the
    /// replaced run back. Returns a line saying what could not be undone, if anything.
    pub fn abort(self) -> Option<String> {
        if self.committed.get() {
            return None;
        }
        let removed = run_dir::clear(&self.dir).and_then(|()| {
            let lock = self.dir.join(run_dir::LOCK);
            if lock.exists() {
                std::fs::remove_file(&lock).map_err(io_err(&lock))?;
            }
            if self.created {
                std::fs::remove_dir(&self.dir).map_err(io_err(&self.dir))?;
            }
            Ok(())
        });
        match (removed, &self.aside) {
            (Ok(()), Some(a)) => {
                std::fs::rename(a, &self.dir).err().map(|e| format!("the replaced run could not be moved back ({e}); it is at {}", a.display()))
            }
            (Ok(()), None) => None,
            (Err(e), Some(a)) => Some(format!("the failed new run could not be removed ({e}); the replaced run is at {}", a.display())),
            (Err(e), None) => Some(format!("the failed new run could not be removed ({e})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("einfo-newrun-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn old_run(dir: &Path) {
        std::fs::create_dir_all(dir.join("checkpoints/step-00000005")).unwrap();
        std::fs::write(dir.join("config.toml"), "old").unwrap();
        std::fs::write(dir.join("checkpoints/step-00000005/state.json"), "{}").unwrap();
    }

    #[test]
    fn a_failed_replacement_restores_the_old_run_and_a_committed_one_deletes_it() {
        let root = scratch("replace");
        let dir = root.join("run");
        old_run(&dir);
        let t = NewRun::begin(&dir, true).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "an empty directory takes the old run's place");
        assert!(aside_path(&dir).unwrap().join("config.toml").is_file(), "the old run waits aside");
        assert!(stranded(&dir).is_empty(), "this process's own aside is not stranded");
        std::fs::write(dir.join("config.toml"), "new").unwrap();
        assert_eq!(t.abort(), None);
        assert_eq!(std::fs::read_to_string(dir.join("config.toml")).unwrap(), "old");
        assert!(dir.join("checkpoints/step-00000005/state.json").is_file() && !aside_path(&dir).unwrap().exists());

        let t = NewRun::begin(&dir, true).unwrap();
        std::fs::write(dir.join("config.toml"), "new").unwrap();
        assert_eq!(t.commit(), None);
        assert_eq!(t.abort(), None, "after the commit nothing is undone");
        assert_eq!(std::fs::read_to_string(dir.join("config.toml")).unwrap(), "new");
        assert!(!aside_path(&dir).unwrap().exists(), "the old run is deleted");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_failed_new_run_leaves_nothing_and_a_foreign_directory_is_not_replaced() {
        let root = scratch("fresh");
        let dir = root.join("a/run");
        let t = NewRun::begin(&dir, false).unwrap();
        std::fs::write(dir.join("config.toml"), "new").unwrap();
        assert_eq!(t.abort(), None);
        assert!(!dir.exists());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("thesis.tex"), "x").unwrap();
        let e = NewRun::begin(&dir, true).unwrap_err().to_string();
        assert!(e.contains("will not replace"), "{e}");
        assert!(dir.join("thesis.tex").is_file() && !aside_path(&dir).unwrap().exists());
        assert!(!dir.join(".lock").exists(), "a refused directory gets no lock file");
        let file = root.join("a-file");
        std::fs::write(&file, "x").unwrap();
        assert!(NewRun::begin(&file, false).unwrap_err().to_string().contains("not a directory"));
        std::fs::remove_dir_all(root).unwrap();
    }
}
