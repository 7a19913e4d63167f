//! # einfo-metrics
//!
//! How well a categorical code captures object identity: the count matrix
//! `M[code, predicted class]`, ENT (average row / column entropy), NMI with a selectable
//! normalisation, Hungarian matching with matched accuracy, RMSE between a learned prior
//! and the true class frequencies, and mean ± population std across runs. Definitions
//! follow `docs/method.md`; each is tested against hand-worked matrices, scikit-learn / SciPy
//! golden values, and invariance properties.
//!
//! ```
//! use einfo_metrics::{ent, hungarian, nmi, CountMatrix, NmiNorm};
//! let m = CountMatrix::from_labels(&[0, 0, 1, 1], &[1, 1, 0, 0], 2, 2).unwrap();
//! assert_eq!(ent(&m).unwrap(), 0.0);
//! assert!((nmi(&m, NmiNorm::Geometric).unwrap() - 1.0).abs() < 1e-12);
//! assert_eq!(hungarian(&m).unwrap().code_to_class, vec![Some(1), Some(0)]);
//! ```

pub mod aggregate;
pub mod correction;
pub mod count;
pub mod ent;
pub mod error;
pub mod interval;
pub mod matching;
pub mod nmi;
pub mod student;

pub use aggregate::MeanStd;
pub use correction::holm;
pub use count::{entropy_of_counts, CountMatrix};
pub use ent::ent;
pub use error::{MetricError, Result};
pub use interval::{sign_test, t975, MeanCi, Paired};
pub use matching::{cluster_accuracy, hungarian, prior_alignment_p, prior_by_class, prior_log_cosine, prior_rmse, sorted_prior_rmse, Matching};
pub use nmi::{mutual_information, nmi, NmiNorm};
pub use student::{paired_t_p, t_two_sided_p};
