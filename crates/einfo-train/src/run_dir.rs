//! What a run directory may contain, and who may write it: one einfo process at a time
//! holds `<run>/.lock` (an advisory `flock`, released by the kernel however the process
//! ends, `kill -9` included); `--force` replaces only a directory einfo made; leftovers of
//! interrupted writes are swept up when a run starts.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::checkpoint;
use crate::error::{io_err, Result, TrainError};

/// The lock file's name inside a run directory.
pub const LOCK: &str = ".lock";

/// Entries einfo writes into a run directory (besides `sample-*.png` and leftovers of
/// interrupted atomic writes).
pub const EINFO_ENTRIES: &[&str] = &["config.toml", "split.json", "log.csv", "eval.csv", "metrics.json", "samples.png", "grids", "checkpoints", LOCK];

/// Held for as long as a command writes a run directory. Re-entrant within a process
/// (`einfo cell` trains, then evaluates, under one lock): the lock file stays locked until
/// the last guard of the process goes.
#[derive(Debug)]
pub struct RunLock {
    key: DirKey,
}

/// A directory by its identity (device, inode), not its path: a run directory moved aside by
/// `--force` keeps its lock, and the new directory at the old path is a different one.
type DirKey = (u64, u64);

fn dir_key(dir: &Path) -> Result<DirKey> {
    let meta = std::fs::metadata(dir).map_err(io_err(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Ok((0, 0))
    }
}

/// Lock files this process holds, with their guard counts.
static HELD: std::sync::Mutex<Vec<(DirKey, File, usize)>> = std::sync::Mutex::new(Vec::new());

impl Drop for RunLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = held.iter().position(|(k, _, _)| *k == self.key) {
            held[i].2 -= 1;
            if held[i].2 == 0 {
                held.swap_remove(i);
            }
        }
    }
}

impl RunLock {
    /// Lock `dir` (which must exist) for this process, or say who holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        crate::call_count::record(crate::call_count::Step::Lock);
        let key = dir_key(dir)?;
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = held.iter_mut().find(|(k, _, _)| *k == key) {
            entry.2 += 1;
            return Ok(RunLock { key });
        }
        let file = Self::lock_file(dir)?;
        held.push((key, file, 1));
        Ok(RunLock { key })
    }

    fn lock_file(dir: &Path) -> Result<File> {
        let path = dir.join(LOCK);
        let file = std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).map_err(io_err(&path))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a file descriptor we own; LOCK_NB makes it return at once.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r != 0 {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let who = holder.trim().parse::<u32>().map_or("another einfo process".to_string(), |p| format!("einfo process {p}"));
                return Err(TrainError::RunInUse(dir.into(), who));
            }
            let _ = file.set_len(0);
            let _ = std::fs::write(&path, format!("{}\n", std::process::id()));
        }
        Ok(file)
    }
}

/// The process that holds `dir`'s run lock, if one does, as the kernel's table of locks
/// (`/proc/locks`) lists it (or, where that table names the file's device differently, the
/// process the lock file names, if it has the file open): asking takes no lock, so it cannot
/// make a run that starts at that moment fail. `None` also where there is no such table (not
/// Linux) or no `.lock` file.
pub fn lock_holder(dir: &Path) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let path = dir.join(LOCK);
        let meta = std::fs::metadata(&path).ok()?;
        let table = std::fs::read_to_string("/proc/locks").ok()?;
        flock_holder(&table, (libc::major(meta.dev()), libc::minor(meta.dev())), meta.ino()).or_else(|| {
            // Where the table names another device than stat does (btrfs subvolumes, some
            // overlays): the pid the lock file names, if that process has the file open.
            let pid: u32 = std::fs::read_to_string(&path).ok()?.trim().parse().ok()?;
            let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
            fds.filter_map(|e| e.ok()).filter_map(|e| std::fs::metadata(e.path()).ok()).any(|m| m.ino() == meta.ino() && m.dev() == meta.dev()).then_some(pid)
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        None
    }
}

/// The pid of the granted `FLOCK` on inode `ino` of device `(major, minor)` in a
/// `/proc/locks` table, whose lines read `1: FLOCK  ADVISORY  WRITE 13204 fe:00:10117238 0 EOF`
/// (the device in hex; a process waiting for a lock has `->` after the number).
fn flock_holder(table: &str, dev: (u32, u32), ino: u64) -> Option<u32> {
    let want = format!("{:02x}:{:02x}:{ino}", dev.0, dev.1);
    table.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [_, "FLOCK", _, _, pid, file, ..] if *file == want => pid.parse().ok(),
            _ => None,
        }
    })
}

/// A file einfo writes into a run directory or its `grids/` (atomically, so its temporary
/// copy `<name>.tmp-<pid>-<n>` may be left by a kill).
fn einfo_file(name: &str) -> bool {
    EINFO_ENTRIES.contains(&name) || (name.starts_with("sample-") && name.ends_with(".png")) || (name.starts_with("epoch-") && name.ends_with(".png"))
}

/// A temporary file einfo's own atomic write of an einfo file leaves when killed — and
/// nothing else: a user's `paper.tex.tmp-2024-06` is not one.
fn einfo_leftover(name: &str) -> bool {
    einfo_data::durable::is_atomic_leftover(name) && name.rsplit_once(".tmp-").is_some_and(|(base, _)| einfo_file(base))
}

fn einfo_made(name: &str) -> bool {
    einfo_file(name) || einfo_leftover(name)
}

/// A file einfo writes into a checkpoint directory (or the temporary copy of one).
fn checkpoint_file(name: &str) -> bool {
    let base = if einfo_data::durable::is_atomic_leftover(name) { name.rsplit_once(".tmp-").map_or(name, |(b, _)| b) } else { name };
    base.ends_with(".safetensors") || base == "state.json" || base == checkpoint::STATE_SHA || base == "config.toml"
}

/// A checkpoint directory holding only einfo's checkpoint files.
fn only_checkpoint_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| rd.filter_map(|e| e.ok()).all(|e| e.path().is_file() && checkpoint_file(&e.file_name().to_string_lossy())))
}

/// Entries of `dir` that einfo did not write (sorted), looking into `checkpoints/` (only
/// `step-*` and temporary checkpoint directories holding einfo's files) and `grids/` (only
/// `epoch-*.png`) too.
pub fn foreign_entries(dir: &Path) -> Result<Vec<String>> {
    std::fs::read_dir(dir).map_err(io_err(dir))?;
    let names = |d: &Path| -> Vec<(String, PathBuf)> {
        std::fs::read_dir(d).map(|rd| rd.filter_map(|e| e.ok()).map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())).collect()).unwrap_or_default()
    };
    let mut v = Vec::new();
    for (n, p) in names(dir) {
        if !einfo_made(&n) {
            v.push(n);
        } else if n == "grids" && p.is_dir() {
            v.extend(names(&p).into_iter().filter(|(g, _)| !(g.starts_with("epoch-") && einfo_made(g))).map(|(g, _)| format!("grids/{g}")));
        } else if n == "checkpoints" && p.is_dir() {
            for (c, cp) in names(&p) {
                let ours = (c.starts_with("step-") || c.starts_with(".tmp-step-")) && cp.is_dir();
                if !ours {
                    v.push(format!("checkpoints/{c}"));
                    continue;
                }
                for (f, _) in names(&cp) {
                    if !checkpoint_file(&f) {
                        v.push(format!("checkpoints/{c}/{f}"));
                    }
                }
            }
        }
    }
    v.sort();
    Ok(v)
}

/// Check that `--force` may replace `dir`: an einfo run directory (it has `config.toml`)
/// holding nothing einfo did not write.
pub fn check_replaceable(dir: &Path) -> Result<()> {
    let foreign = foreign_entries(dir)?;
    if !dir.join("config.toml").is_file() || !foreign.is_empty() {
        let what = if foreign.is_empty() {
            "it is not an einfo run directory (no config.toml)".to_string()
        } else {
            format!("it holds files einfo did not write ({})", foreign.join(", "))
        };
        return Err(TrainError::NotReplaceable(dir.into(), what));
    }
    Ok(())
}

/// Remove what einfo wrote into `dir`, keeping the lock this process holds; `config.toml`
/// goes last, so that a directory cleared part-way is still recognised as einfo's.
pub fn clear(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(io_err(dir))?.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == LOCK || name == "config.toml" || !einfo_made(&name) {
            continue;
        }
        let p = e.path();
        let r = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        r.map_err(io_err(&p))?;
    }
    let cfg = dir.join("config.toml");
    if cfg.exists() {
        std::fs::remove_file(&cfg).map_err(io_err(&cfg))?;
    }
    Ok(())
}

/// Sweep up what interrupted writes left (the caller holds the lock, so nothing else is
/// writing): temporary files of einfo's atomic writes in the run directory and `grids/`,
/// temporary checkpoint directories, and checkpoint directories without their
/// `state.json` (a deletion cut short) — a checkpoint directory only when it holds nothing
/// but einfo's checkpoint files. Returns what was removed.
pub fn clean_leftovers(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let mut sweep = |d: &Path, pick: &dyn Fn(&str, &Path) -> bool| -> Result<()> {
        let Ok(rd) = std::fs::read_dir(d) else { return Ok(()) };
        for e in rd.filter_map(|e| e.ok()) {
            let (name, p) = (e.file_name().to_string_lossy().into_owned(), e.path());
            if pick(&name, &p) {
                let r = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
                r.map_err(io_err(&p))?;
                removed.push(p);
            }
        }
        Ok(())
    };
    sweep(dir, &|name, p| einfo_leftover(name) && p.is_file())?;
    sweep(&dir.join("grids"), &|name, p| einfo_leftover(name) && p.is_file())?;
    // A complete temporary checkpoint (state.json written) whose step has no checkpoint: the
    // process died between removing an older copy of that step and the rename. Keep it.
    let ck = checkpoint::checkpoints_dir(dir);
    if let Ok(rd) = std::fs::read_dir(&ck) {
        for e in rd.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(step) = name.strip_prefix(".tmp-step-").and_then(|r| r.split('-').next()) else { continue };
            let fin = ck.join(format!("step-{step}"));
            if e.path().join("state.json").is_file() && !fin.join("state.json").is_file() {
                let _ = std::fs::remove_dir_all(&fin);
                std::fs::rename(e.path(), &fin).map_err(io_err(&fin))?;
            }
        }
    }
    sweep(&checkpoint::checkpoints_dir(dir), &|name, p| {
        (name.starts_with(".tmp-step-") || (name.starts_with("step-") && !p.join("state.json").is_file())) && p.is_dir() && only_checkpoint_files(p)
    })?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("einfo-rundir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn only_einfo_run_directories_are_replaceable() {
        let d = scratch("replace");
        assert!(check_replaceable(&d).unwrap_err().to_string().contains("not an einfo run directory"));
        std::fs::write(d.join("config.toml"), "").unwrap();
        std::fs::create_dir_all(d.join("checkpoints/step-00000005")).unwrap();
        std::fs::write(d.join("sample-all-seed0.png"), "").unwrap();
        std::fs::write(d.join("log.csv.tmp-123-0"), "").unwrap();
        check_replaceable(&d).unwrap();
        std::fs::create_dir_all(d.join("checkpoints/keep-5000")).unwrap();
        let e = check_replaceable(&d).unwrap_err().to_string();
        assert!(e.contains("checkpoints/keep-5000"), "a user's copy inside checkpoints/ is seen: {e}");
        std::fs::remove_dir_all(d.join("checkpoints/keep-5000")).unwrap();
        std::fs::create_dir_all(d.join("thesis")).unwrap();
        std::fs::write(d.join("thesis/ch1.tex"), "x").unwrap();
        let e = check_replaceable(&d).unwrap_err().to_string();
        assert!(e.contains("thesis") && e.contains("did not write"), "{e}");
        clear(&d).unwrap();
        assert!(d.join("thesis/ch1.tex").is_file(), "clear never touches what einfo did not write");
        assert!(!d.join("config.toml").exists() && !d.join("checkpoints").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_second_lock_is_refused_until_the_first_goes() {
        let d = scratch("lock");
        let first = RunLock::acquire(&d).unwrap();
        // Another open file description (as another process would have) is refused.
        let e = RunLock::lock_file(&d).unwrap_err().to_string();
        assert!(e.contains("in use") && e.contains(&std::process::id().to_string()), "{e}");
        // The same process may nest guards; the lock goes with the last one.
        let second = RunLock::acquire(&d).unwrap();
        drop(first);
        assert!(RunLock::lock_file(&d).is_err(), "still held by the second guard");
        drop(second);
        drop(RunLock::lock_file(&d).unwrap());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_lock_holder_is_read_from_the_kernels_table() {
        // The table's format, as this machine's /proc/locks printed it (plus a waiter and a
        // POSIX lock on the same file, which are not the holder of a run lock).
        let table = "1: POSIX  ADVISORY  WRITE 99 fe:00:10117238 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 13204 fe:00:10117238 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 13300 fe:00:10117238 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 13192 fe:00:10379683 0 EOF\n";
        assert_eq!(flock_holder(table, (0xfe, 0), 10117238), Some(13204));
        assert_eq!(flock_holder(table, (0xfe, 0), 10379683), Some(13192));
        assert_eq!(flock_holder(table, (0xfe, 1), 10379683), None, "another device");
        assert_eq!(flock_holder(table, (0xfe, 0), 1011723), None, "an inode is matched whole");
        // And the real table: held while the guard lives, free after.
        let d = scratch("holder");
        assert_eq!(lock_holder(&d), None, "no .lock yet");
        let guard = RunLock::acquire(&d).unwrap();
        if std::path::Path::new("/proc/locks").exists() {
            assert_eq!(lock_holder(&d), Some(std::process::id()));
        }
        drop(guard);
        assert_eq!(lock_holder(&d), None, "released");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_directory_moved_aside_keeps_its_lock_and_the_new_one_is_locked_afresh() {
        let d = scratch("moved");
        let run = d.join("r");
        std::fs::create_dir_all(&run).unwrap();
        let old = RunLock::acquire(&run).unwrap();
        std::fs::rename(&run, d.join("aside")).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        let new = RunLock::acquire(&run).unwrap();
        assert!(RunLock::lock_file(&run).is_err(), "the new directory at the old path is really locked");
        assert!(RunLock::lock_file(&d.join("aside")).is_err(), "the moved one still is");
        drop(new);
        drop(old);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn leftovers_are_swept() {
        let d = scratch("leftovers");
        let ck = checkpoint::checkpoints_dir(&d);
        std::fs::create_dir_all(ck.join(".tmp-step-00000010-77")).unwrap();
        std::fs::create_dir_all(ck.join("step-00000005")).unwrap(); // half deleted: no state.json
        std::fs::create_dir_all(ck.join("step-00000010")).unwrap();
        std::fs::write(ck.join("step-00000010/state.json"), "{}").unwrap();
        std::fs::write(d.join("config.toml.tmp-77-3"), "").unwrap();
        std::fs::write(d.join("notes.tmp-draft"), "").unwrap();
        // A user's files that look like leftovers stay: a name einfo never writes, and a
        // step directory holding something that is not a checkpoint file.
        std::fs::write(d.join("paper.tex.tmp-2024-06"), "").unwrap();
        std::fs::create_dir_all(ck.join("step-00000099")).unwrap();
        std::fs::write(ck.join("step-00000099/my-notes.txt"), "x").unwrap();
        // A complete temporary checkpoint of a step that has none is kept, as that step.
        std::fs::create_dir_all(ck.join(".tmp-step-00000015-78")).unwrap();
        std::fs::write(ck.join(".tmp-step-00000015-78/state.json"), "{}").unwrap();
        let removed = clean_leftovers(&d).unwrap();
        assert_eq!(removed.len(), 3, "{removed:?}");
        assert!(ck.join("step-00000015/state.json").is_file(), "recovered");
        assert!(ck.join("step-00000010/state.json").is_file() && d.join("notes.tmp-draft").is_file());
        assert!(d.join("paper.tex.tmp-2024-06").is_file() && ck.join("step-00000099/my-notes.txt").is_file());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
