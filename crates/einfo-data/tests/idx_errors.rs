//! Every kind of malformed IDX input gets its own typed error naming the file; none panics.

use std::io::Write;
use std::path::PathBuf;

use einfo_data::idx::{encode, read_images, read_labels, read_pair};
use einfo_data::{DataError, IdxProblem};

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("einfo-idx-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn problem(e: DataError) -> IdxProblem {
    match e {
        DataError::Idx { problem, .. } => problem,
        other => panic!("expected an IDX problem, got {other}"),
    }
}

fn images(n: usize) -> Vec<u8> {
    encode(&[n, 2, 3], &vec![7u8; n * 6])
}

#[test]
fn valid_raw_and_gz_files_read_back() {
    let raw = tmp("ok-images", &images(4));
    let zipped = tmp("ok-images.gz", &gz(&images(4)));
    for p in [raw, zipped] {
        let im = read_images(&p).unwrap();
        assert_eq!((im.count, im.rows, im.cols, im.pixels.len()), (4, 2, 3, 24));
    }
    let labels = tmp("ok-labels", &encode(&[4], &[0, 9, 3, 1]));
    assert_eq!(read_labels(&labels, 10).unwrap(), vec![0, 9, 3, 1]);
}

#[test]
fn empty_file() {
    let p = tmp("empty", &[]);
    let e = read_images(&p).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("empty") && msg.contains(&*p.to_string_lossy()), "{msg}");
    assert_eq!(problem(e), IdxProblem::Empty);
}

#[test]
fn wrong_magic() {
    let mut b = images(2);
    b[2] = 0x0D; // float type
    assert!(matches!(problem(read_images(&tmp("magic-type", &b)).unwrap_err()), IdxProblem::BadMagic(_)));
    let mut b = images(2);
    b[0] = 0x1f;
    b[1] = 0x00;
    assert!(matches!(problem(read_images(&tmp("magic-first", &b)).unwrap_err()), IdxProblem::BadMagic(_)));
    // A label file read as images has the wrong rank.
    let lab = encode(&[3], &[1, 2, 3]);
    assert_eq!(problem(read_images(&tmp("rank", &lab)).unwrap_err()), IdxProblem::WrongRank { expected: 3, found: 1 });
}

#[test]
fn truncated_files() {
    let full = images(5);
    for cut in [1, 3, 9, 15] {
        let e = problem(read_images(&tmp(&format!("trunc-header-{cut}"), &full[..cut])).unwrap_err());
        assert!(matches!(e, IdxProblem::TruncatedHeader { .. }), "{cut}: {e:?}");
    }
    let e = problem(read_images(&tmp("trunc-data", &full[..full.len() - 1])).unwrap_err());
    assert_eq!(e, IdxProblem::Truncated { dims: vec![5, 2, 3], expected: 30, found: 29 });
    let mut long = full.clone();
    long.push(0);
    assert_eq!(problem(read_images(&tmp("trailing", &long)).unwrap_err()), IdxProblem::TrailingBytes { extra: 1 });
    // A truncated gzip stream.
    let z = gz(&full);
    let e = problem(read_images(&tmp("trunc.gz", &z[..z.len() / 2])).unwrap_err());
    assert!(matches!(e, IdxProblem::Gzip(_) | IdxProblem::Truncated { .. }), "{e:?}");
}

#[test]
fn absurd_dimensions_do_not_allocate_or_overflow() {
    let mut b = vec![0, 0, 8, 3];
    for d in [u32::MAX, u32::MAX, u32::MAX] {
        b.extend_from_slice(&d.to_be_bytes());
    }
    assert!(matches!(problem(read_images(&tmp("huge", &b)).unwrap_err()), IdxProblem::Truncated { .. }));
    let zero = encode(&[0, 28, 28], &[]);
    assert!(matches!(problem(read_images(&tmp("zero", &zero)).unwrap_err()), IdxProblem::ZeroDimension(_)));
}

#[test]
fn labels_out_of_range() {
    let p = tmp("labels-10", &encode(&[4], &[0, 9, 10, 1]));
    let e = read_labels(&p, 10).unwrap_err();
    assert!(e.to_string().contains("label 10 at index 2"), "{e}");
    assert_eq!(problem(e), IdxProblem::LabelOutOfRange { label: 10, index: 2, num_classes: 10 });
}

#[test]
fn mismatched_image_and_label_counts() {
    let im = tmp("pair-images", &images(3));
    let lb = tmp("pair-labels", &encode(&[4], &[0, 1, 2, 3]));
    match read_pair(&im, &lb, 10).unwrap_err() {
        DataError::CountMismatch { n_images: 3, n_labels: 4, .. } => {}
        other => panic!("{other}"),
    }
}

#[test]
fn missing_file_names_the_path() {
    let e = read_images(std::path::Path::new("/nonexistent/einfo/train-images")).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/einfo/train-images"));
}

mod generated {
    //! Property-based pass: arbitrary bytes, and valid files cut or with one byte changed,
    //! never panic the reader; every failure is a typed, one-line error naming the file.
    use super::*;
    use proptest::prelude::*;

    fn read_both(bytes: &[u8], name: &str) {
        let p = tmp(name, bytes);
        for r in [read_images(&p).map(|_| ()), read_labels(&p, 10).map(|_| ())] {
            if let Err(e) = r {
                let msg = e.to_string();
                assert!(!msg.contains('\n') && msg.contains(name), "{msg}");
            }
        }
        let _ = std::fs::remove_file(p);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            read_both(&bytes, "arbitrary");
            read_both(&gz(&bytes), "arbitrary-gz");
        }

        #[test]
        fn valid_files_cut_or_changed(cut in 0usize..400, at in 0usize..400, byte in any::<u8>(), labels in any::<bool>()) {
            let mut b = if labels { encode(&[5], &[1, 2, 3, 4, 9]) } else { images(3) };
            let at = at % b.len();
            b[at] = byte;
            b.truncate(cut.min(b.len()));
            read_both(&b, "mutated");
            read_both(&gz(&b), "mutated-gz");
        }
    }
}
