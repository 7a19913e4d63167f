//! The real data: all 70,000 MNIST images fetched by the project's own code, the
//! canonical class counts, and the splits' determinism (pinned hashes).

use std::path::PathBuf;
use std::sync::OnceLock;

use einfo_data::{mnist_splits, DataOptions, Dataset, DatasetKind, Part, Split};

/// The workspace's cache (`<repo>/data`) unless EINFO_CACHE says otherwise.
fn opts() -> DataOptions {
    let mut o = DataOptions::from_env();
    if std::env::var_os("EINFO_CACHE").is_none() {
        o.cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data");
    }
    o
}

fn mnist() -> &'static Dataset {
    static D: OnceLock<Dataset> = OnceLock::new();
    D.get_or_init(|| Dataset::load(DatasetKind::Mnist, Part::All, &opts()).expect("MNIST loads (fetched with npm)"))
}

#[test]
fn all_70k_images_with_canonical_counts() {
    let d = mnist();
    assert_eq!(d.len(), 70_000);
    assert_eq!((d.rows, d.cols), (28, 28));
    assert_eq!(d.pixels.len(), 70_000 * 784);
    // Train 5923 6742 5958 6131 5842 5421 5918 6265 5851 5949 plus test
    // 980 1135 1032 1010 982 892 958 1028 974 1009.
    assert_eq!(d.class_counts(), vec![6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958]);
    assert_eq!(d.class_counts(), DatasetKind::Mnist.class_counts_all().to_vec());
    let train = Dataset::load(DatasetKind::Mnist, Part::Train, &opts()).unwrap();
    assert_eq!(train.class_counts(), vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(&d.pixels[..784 * 10], &train.pixels[..784 * 10], "Part::All starts with the training set");
    // Real digits, not zeros: mean intensity of MNIST is about 33.3.
    let mean = d.pixels.iter().map(|&p| p as f64).sum::<f64>() / d.pixels.len() as f64;
    assert!((mean - 33.3).abs() < 0.5, "mean pixel {mean}");
}

#[test]
fn every_split_draws_its_counts_from_the_70k() {
    let d = mnist();
    for spec in mnist_splits() {
        let s = Split::mnist(d, spec.id, 0).unwrap();
        let mut per = vec![0; 10];
        for &i in &s.indices {
            per[d.labels[i as usize] as usize] += 1;
        }
        assert_eq!(per, spec.counts, "split {}", spec.id);
        assert_eq!(s.len(), spec.total());
    }
}

#[test]
fn split_selection_is_pinned_across_machines() {
    let d = mnist();
    let s1 = Split::mnist(d, 1, 0).unwrap();
    assert_eq!(s1.counts, vec![6300, 1585, 1407, 6134, 5812, 4882, 2424, 4785, 6125, 3340]);
    assert_eq!(s1.indices_hash(), SPLIT1_SEED0);
    assert_eq!(Split::mnist(d, 2, 7).unwrap().indices_hash(), SPLIT2_SEED7);
    // Same seed, same images; another seed, other images.
    assert_eq!(Split::mnist(d, 1, 0).unwrap(), s1);
    assert_ne!(Split::mnist(d, 1, 1).unwrap().indices_hash(), s1.indices_hash());
}

const SPLIT1_SEED0: &str = "376c6e86aaf92b3e7566ddc384b1dec297a949dacc685aa9d95f77af5471905f";
const SPLIT2_SEED7: &str = "2c7ff7aff8fc9dc68801e56a4575fdc67693fe3c435e9590edd3b6743ca332d6";
