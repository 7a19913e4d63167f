//! Reading a user-named file with a limit: only regular files (not `/dev/zero`, a FIFO or
//! a directory), at most a given size, so that a wrong path is a one-line error instead of
//! an unbounded read.

use std::io::Read;
use std::path::Path;

use crate::error::{io_err, Result, TrainError};

/// Largest config or preset file read (real ones are a few kB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The bytes of `path`, a regular file of at most `cap` bytes.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    let refuse = |why: String| TrainError::Checkpoint { path: path.into(), detail: why };
    if !meta.is_file() {
        return Err(refuse("not a regular file: name a file".into()));
    }
    if meta.len() > cap {
        return Err(refuse(format!("{} bytes, more than the {cap} this file can be: is it the right file?", meta.len())));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path).and_then(|f| f.take(cap + 1).read_to_end(&mut bytes)).map_err(io_err(path))?;
    if bytes.len() as u64 > cap {
        return Err(refuse(format!("grew past {cap} bytes while being read")));
    }
    Ok(bytes)
}

/// The text of `path`, a regular UTF-8 file of at most `cap` bytes.
pub fn read_regular_text(path: &Path, cap: u64) -> Result<String> {
    String::from_utf8(read_regular(path, cap)?).map_err(|_| TrainError::Checkpoint { path: path.into(), detail: "not UTF-8 text: name a TOML file".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_regular_files() {
        let e = read_regular(Path::new("/dev/zero"), 10).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_regular(Path::new("/"), 10).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let p = std::env::temp_dir().join(format!("einfo-bounded-{}", std::process::id()));
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_regular(&p, 10).unwrap(), b"0123456789");
        let e = read_regular(&p, 9).unwrap_err().to_string();
        assert!(e.contains("10 bytes, more than the 9"), "{e}");
        std::fs::write(&p, [0xffu8, 0xfe]).unwrap();
        assert!(read_regular_text(&p, 10).unwrap_err().to_string().contains("not UTF-8"));
        std::fs::remove_file(p).unwrap();
    }
}
