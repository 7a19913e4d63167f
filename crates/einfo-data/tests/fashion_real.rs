//! Fashion-MNIST fetched by the project's own code (Debian package), verified and loaded.

use std::path::PathBuf;

use einfo_data::{generate_counts, DataOptions, Dataset, DatasetKind, Part, Split};

#[test]
fn fashion_mnist_loads_with_balanced_classes_and_makes_imbalanced_splits() {
    let mut opts = DataOptions::from_env();
    if std::env::var_os("EINFO_CACHE").is_none() {
        opts.cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data");
    }
    let d = Dataset::load(DatasetKind::FashionMnist, Part::All, &opts).expect("Fashion-MNIST loads");
    assert_eq!(d.len(), 70_000);
    assert_eq!(d.class_counts(), vec![7000; 10]);
    assert_eq!(d.class_counts(), DatasetKind::FashionMnist.class_counts_all().to_vec());
    let counts = generate_counts(&d.class_counts(), Some(6300), 0).unwrap();
    let s = Split::draw(&d, "fashion", &counts, 0, 1).unwrap();
    assert_eq!(s.len(), counts.iter().sum::<usize>());
    assert!(counts.contains(&6300));
}
