//! Reader for the IDX format of MNIST-style data sets (raw or gzip-compressed).
//!
//! An IDX file is a 4-byte magic number `00 00 <type> <ndim>`, `ndim` big-endian u32
//! dimensions, then the data in row-major order. Only the unsigned-byte type (`0x08`)
//! is used by MNIST and Fashion-MNIST, and only it is accepted. Every malformed input
//! gets an [`IdxProblem`] naming the file; nothing here panics on bad bytes.

use std::io::Read;
use std::path::Path;

use crate::error::{io_err, DataError, IdxProblem, Result};

/// A decoded unsigned-byte IDX array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Images as read from an IDX3 file: `count` images of `rows × cols` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Read a file's bytes, transparently decompressing gzip (detected by its magic bytes,
/// whatever the file is called).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(io_err(path))?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Idx { path: path.to_owned(), problem: IdxProblem::Gzip(e.to_string()) })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parse IDX bytes, requiring `rank` dimensions.
pub fn parse(bytes: &[u8], rank: usize) -> Result<IdxArray, IdxProblem> {
    if bytes.is_empty() {
        return Err(IdxProblem::Empty);
    }
    if bytes.len() < 4 {
        return Err(IdxProblem::TruncatedHeader { len: bytes.len(), needed: 4 });
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] == 0 {
        return Err(IdxProblem::BadMagic(magic));
    }
    let ndim = magic[3] as usize;
    if ndim != rank {
        return Err(IdxProblem::WrongRank { expected: rank, found: ndim });
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(IdxProblem::TruncatedHeader { len: bytes.len(), needed: header });
    }
    let dims: Vec<usize> = bytes[4..header].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    if dims.contains(&0) {
        return Err(IdxProblem::ZeroDimension(dims));
    }
    let found = bytes.len() - header;
    // Checked product: a garbage header must not overflow into a "valid" size.
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match expected {
        Some(e) if e == found => {}
        Some(e) if found > e => return Err(IdxProblem::TrailingBytes { extra: found - e }),
        Some(e) => return Err(IdxProblem::Truncated { dims, expected: e, found }),
        None => return Err(IdxProblem::Truncated { dims, expected: usize::MAX, found }),
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}

/// Parse an IDX3 image file's bytes.
pub fn parse_images(bytes: &[u8]) -> Result<IdxImages, IdxProblem> {
    let a = parse(bytes, 3)?;
    Ok(IdxImages { count: a.dims[0], rows: a.dims[1], cols: a.dims[2], pixels: a.data })
}

/// Parse an IDX1 label file's bytes, checking every label is `< num_classes`.
pub fn parse_labels(bytes: &[u8], num_classes: usize) -> Result<Vec<u8>, IdxProblem> {
    let a = parse(bytes, 1)?;
    if let Some((index, &label)) = a.data.iter().enumerate().find(|(_, &l)| l as usize >= num_classes) {
        return Err(IdxProblem::LabelOutOfRange { label, index, num_classes });
    }
    Ok(a.data)
}

/// Read an IDX3 image file (raw or `.gz`).
pub fn read_images(path: &Path) -> Result<IdxImages> {
    let bytes = read_maybe_gz(path)?;
    parse_images(&bytes).map_err(|problem| DataError::Idx { path: path.to_owned(), problem })
}

/// Read an IDX1 label file (raw or `.gz`).
pub fn read_labels(path: &Path, num_classes: usize) -> Result<Vec<u8>> {
    let bytes = read_maybe_gz(path)?;
    parse_labels(&bytes, num_classes).map_err(|problem| DataError::Idx { path: path.to_owned(), problem })
}

/// Read a matching image / label pair, checking their counts agree.
pub fn read_pair(images: &Path, labels: &Path, num_classes: usize) -> Result<(IdxImages, Vec<u8>)> {
    let im = read_images(images)?;
    let lb = read_labels(labels, num_classes)?;
    check_pair(&im, &lb, &images.display().to_string(), &labels.display().to_string())?;
    Ok((im, lb))
}

pub(crate) fn check_pair(im: &IdxImages, lb: &[u8], images: &str, labels: &str) -> Result<()> {
    if im.count != lb.len() {
        return Err(DataError::CountMismatch { images: images.to_owned(), n_images: im.count, labels: labels.to_owned(), n_labels: lb.len() });
    }
    Ok(())
}

/// Encode an unsigned-byte IDX file (used by tests and by tools that write data sets).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
