//! Durable file writes, shared by every crate that writes a run directory, a matrix
//! manifest, a grid or the data cache: [`write_atomic`] (temporary file, flush, rename,
//! directory flush), [`sync_dir`], and [`is_atomic_leftover`] to recognise what a write
//! killed midway leaves. Its error is its own ([`WriteError`]), not a data-set error.

use std::path::{Path, PathBuf};

/// A file that could not be written (or renamed into place): the file and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// A name no other writer in any process uses at the same time.
pub(crate) fn unique_suffix() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// Write a file atomically and durably: a temporary file beside it, flushed to disk,
/// renamed over `path`, then the directory flushed — so a reader, a crash or a power loss
/// sees the old file or the new one, never a part. On failure the temporary file is
/// removed and the error names `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", unique_suffix()));
    let tmp = path.with_file_name(name);
    let written = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(WriteError { path: path.into(), source: e });
    }
    sync_dir(path.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// Flush a directory's entries to disk (after a rename into it). Best effort: some file
/// systems refuse to open or sync a directory, and nothing is lost by skipping it there.
pub fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Is `name` a temporary file [`write_atomic`] leaves behind when it is killed mid-write?
pub fn is_atomic_leftover(name: &str) -> bool {
    name.rsplit_once(".tmp-")
        .is_some_and(|(_, suffix)| suffix.split('-').count() == 2 && suffix.split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_a_failure_names_the_file_and_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("einfo-durable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("metrics.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        // A directory where the file should go: the rename fails.
        let blocked = dir.join("blocked");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        let e = write_atomic(&blocked, b"x").unwrap_err();
        assert_eq!(e.path, blocked);
        assert!(e.to_string().starts_with(&blocked.display().to_string()), "{e}");
        let names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(!names.iter().any(|n| is_atomic_leftover(n)), "no temporary file left: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn leftovers_are_recognised_by_their_suffix_only() {
        assert!(is_atomic_leftover("log.csv.tmp-1234-0"));
        assert!(!is_atomic_leftover("log.csv"));
        assert!(!is_atomic_leftover("log.csv.tmp-1234"));
        assert!(!is_atomic_leftover("log.csv.tmp-12a4-0"));
    }
}
