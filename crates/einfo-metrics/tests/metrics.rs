//! Metric values: hand-worked matrices, scikit-learn / SciPy golden values, and
//! invariance properties.

use einfo_metrics::*;
use proptest::prelude::*;

fn m(rows: &[&[u64]]) -> CountMatrix {
    CountMatrix::from_rows(&rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>()).unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn hand_worked_matrices() {
    let ln2 = 2f64.ln();
    let perfect = m(&[&[0, 5], &[3, 0]]);
    assert_eq!(ent(&perfect).unwrap(), 0.0);
    assert!(close(nmi(&perfect, NmiNorm::Geometric).unwrap(), 1.0, 1e-12));
    let h = hungarian(&perfect).unwrap();
    assert_eq!((h.code_to_class, h.accuracy), (vec![Some(1), Some(0)], 1.0));

    let mixed = m(&[&[1, 1], &[1, 1]]);
    assert!(close(ent(&mixed).unwrap(), ln2, 1e-12));
    assert!(close(nmi(&mixed, NmiNorm::Arithmetic).unwrap(), 0.0, 1e-12));
    assert_eq!(hungarian(&mixed).unwrap().accuracy, 0.5);

    // Row 1 (a code never sampled) counts ln 2; columns [2, 0] have entropy 0:
    // ENT = (ln2 + ln2 + 0 + 0) / 4.
    let empty_row = m(&[&[2, 2], &[0, 0]]);
    assert!(close(ent(&empty_row).unwrap(), ln2 / 2.0, 1e-12));
    assert_eq!(nmi(&empty_row, NmiNorm::Geometric).unwrap(), 0.0);

    // Collapse: every code produces class 0. Rows have entropy 0, column 0 has ln 10 and
    // the nine empty columns count ln 10 each: ENT = 10 ln 10 / 20.
    let mut rows = vec![vec![0u64; 10]; 10];
    for r in rows.iter_mut() {
        r[0] = 100;
    }
    let collapse = CountMatrix::from_rows(&rows).unwrap();
    assert!(close(ent(&collapse).unwrap(), 10f64.ln() / 2.0, 1e-12));
    assert_eq!(nmi(&collapse, NmiNorm::Geometric).unwrap(), 0.0);
    assert!(close(hungarian(&collapse).unwrap().accuracy, 0.1, 1e-12));

    // Both labellings constant: scikit-learn's convention is NMI = 1.
    assert_eq!(nmi(&m(&[&[7]]), NmiNorm::Geometric).unwrap(), 1.0);
}

#[test]
fn classes_covered_counts_the_classes_some_code_stands_for() {
    // One code per class, in any order: every class covered.
    assert_eq!(m(&[&[0, 9, 1], &[8, 0, 0], &[1, 0, 7]]).classes_covered(), 3);
    // Codes 0 and 1 both stand for class 1 (a split); class 2 has no code (a merge into code 2,
    // whose argmax is class 0): {1, 0} → 2.
    assert_eq!(m(&[&[0, 9, 1], &[2, 5, 0], &[6, 0, 4]]).classes_covered(), 2);
    // An unsampled code names no class; a tie goes to the lower class index: {0} → 1.
    assert_eq!(m(&[&[0, 0, 0], &[3, 3, 0], &[5, 1, 1]]).classes_covered(), 1);
    // Fewer codes than classes: at most as many as codes.
    assert_eq!(m(&[&[1, 0, 0, 0], &[0, 0, 0, 2]]).classes_covered(), 2);
}

#[test]
fn errors_instead_of_panics() {
    assert_eq!(ent(&m(&[&[0, 0], &[0, 0]])), Err(MetricError::Empty));
    assert!(CountMatrix::from_labels(&[0, 1], &[0], 2, 2).is_err());
    assert!(CountMatrix::from_labels(&[2], &[0], 2, 2).is_err());
    assert!(CountMatrix::from_labels(&[0], &[5], 2, 2).is_err());
    assert!(CountMatrix::from_rows(&[vec![1, 2], vec![3]]).is_err());
    assert!(CountMatrix::from_rows(&[]).is_err());
    let h = hungarian(&m(&[&[1, 0], &[0, 1]])).unwrap();
    assert!(prior_rmse(&[0.5], &[0.5, 0.5], &h).is_err());
}

#[test]
fn golden_values_from_scikit_learn_and_scipy() {
    // Python (scikit-learn 1.x, SciPy), labels expanded from each matrix M:
    //   u, v = [i for i in ... for _ in range(M[i,j])], [j ...]
    //   [normalized_mutual_info_score(u, v, average_method=a) for a in ('geometric','arithmetic','max','min')]
    //   r, c = linear_sum_assignment(-M); M[r, c].sum() / M.sum()
    // Matrices from np.random.default_rng(0).integers(0, 30 | 50, ...).
    type Golden = (Vec<Vec<u64>>, [f64; 4], f64, Option<f64>);
    let cases: Vec<Golden> = vec![
        (
            vec![vec![25, 19, 15, 8], vec![9, 1, 2, 0], vec![5, 24, 19, 27], vec![15, 18, 29, 21]],
            [0.07764321228675168, 0.07752656478227742, 0.07349920489471577, 0.08202086570652145],
            0.35443037974683544,
            Some(1.1501854811831314), // ENT, scipy.stats.entropy per row and column
        ),
        (
            vec![vec![18, 16, 0, 28], vec![8, 24, 0, 0], vec![11, 25, 0, 1], vec![22, 21, 0, 5]],
            [0.13329107768272552, 0.1320858092692079, 0.11645978990514767, 0.15255489816951032],
            0.41899441340782123,
            Some(0.9907876795359181), // empty column 2 counted as ln 4
        ),
        (
            vec![
                vec![4, 43, 1, 27, 4, 14, 24, 21, 20, 1],
                vec![0, 6, 0, 33, 26, 32, 12, 30, 38, 19],
                vec![23, 49, 40, 49, 18, 34, 47, 32, 42, 34],
                vec![35, 19, 43, 6, 28, 36, 42, 26, 18, 15],
                vec![21, 24, 35, 44, 3, 46, 26, 17, 33, 28],
                vec![12, 16, 35, 29, 25, 16, 38, 19, 16, 44],
                vec![13, 11, 35, 31, 2, 4, 18, 41, 20, 39],
                vec![15, 11, 39, 43, 3, 2, 33, 16, 28, 7],
                vec![43, 22, 44, 39, 35, 11, 38, 2, 28, 20],
                vec![49, 9, 47, 4, 31, 29, 44, 14, 45, 33],
            ],
            [0.06383452867693071, 0.06383443981818405, 0.06372810680342753, 0.0639411282681746],
            0.1705087440381558,
            None,
        ),
    ];
    for (rows, nmis, acc, ent_ref) in cases {
        let mat = CountMatrix::from_rows(&rows).unwrap();
        for (norm, want) in NmiNorm::ALL.iter().zip(nmis) {
            let got = nmi(&mat, *norm).unwrap();
            assert!(close(got, want, 1e-12), "{norm:?}: {got} vs {want}");
        }
        assert!(close(hungarian(&mat).unwrap().accuracy, acc, 1e-12));
        if let Some(e) = ent_ref {
            assert!(close(ent(&mat).unwrap(), e, 1e-12));
        }
    }
}

#[test]
fn prior_rmse_uses_the_matching() {
    // Code 0 ↔ class 1, code 1 ↔ class 0: the prior [0.7, 0.3] in class order is
    // [0.3, 0.7]; against [0.25, 0.75] the RMSE is √((0.05² + 0.05²)/2) = 0.05.
    let h = hungarian(&m(&[&[0, 9], &[9, 0]])).unwrap();
    assert!(close(prior_rmse(&[0.7, 0.3], &[0.25, 0.75], &h).unwrap(), 0.05, 1e-12));
    // np.sqrt(np.mean((np.array([.1,.2,.7]) - np.array([.2,.2,.6]))**2)) = 0.08164966
    let id = hungarian(&m(&[&[5, 0, 0], &[0, 5, 0], &[0, 0, 5]])).unwrap();
    assert!(close(prior_rmse(&[0.1, 0.2, 0.7], &[0.2, 0.2, 0.6], &id).unwrap(), 0.081649658, 1e-8));
}

#[test]
fn cluster_accuracy_and_aggregation() {
    assert_eq!(cluster_accuracy(&[2, 2, 0, 1], &[0, 0, 1, 1], 3, 2).unwrap(), 0.75);
    // More codes than classes: one code stays unmatched.
    let h = hungarian(&m(&[&[3, 0], &[0, 3], &[1, 1]])).unwrap();
    assert_eq!(h.code_to_class, vec![Some(0), Some(1), None]);
    let s = MeanStd::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
    // np.mean, np.std (ddof=0): 2.5, 1.118033988749895
    assert!(close(s.mean, 2.5, 1e-15) && close(s.std, 1.118033988749895, 1e-15));
    assert_eq!(format!("{s:.2}"), "2.50 ± 1.12");
    assert!(MeanStd::of(&[]).is_none());
}

fn matrix_strategy() -> impl Strategy<Value = (usize, Vec<u64>)> {
    (2usize..7).prop_flat_map(|k| (Just(k), prop::collection::vec(0u64..30, k * k))).prop_filter("non-empty", |(_, v)| v.iter().sum::<u64>() > 0)
}

proptest! {
    #[test]
    fn permuting_codes_or_classes_changes_nothing((k, counts) in matrix_strategy(), seed in any::<u64>()) {
        let mat = CountMatrix { rows: k, cols: k, counts };
        // A permutation from the seed.
        let mut perm: Vec<usize> = (0..k).collect();
        let mut s = seed;
        for i in (1..k).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            perm.swap(i, (s >> 33) as usize % (i + 1));
        }
        let rows_p = mat.permute_rows(&perm);
        let cols_p = CountMatrix { rows: k, cols: k, counts: (0..k).flat_map(|r| perm.iter().map(|&c| mat.get(r, c)).collect::<Vec<_>>()).collect() };
        for other in [rows_p, cols_p] {
            prop_assert!(close(ent(&mat).unwrap(), ent(&other).unwrap(), 1e-12));
            for norm in NmiNorm::ALL {
                prop_assert!(close(nmi(&mat, norm).unwrap(), nmi(&other, norm).unwrap(), 1e-12));
            }
            prop_assert!(close(hungarian(&mat).unwrap().accuracy, hungarian(&other).unwrap().accuracy, 1e-12));
        }
    }

    #[test]
    fn nmi_is_in_the_unit_interval_and_ent_is_bounded((k, counts) in matrix_strategy()) {
        let mat = CountMatrix { rows: k, cols: k, counts };
        for norm in NmiNorm::ALL {
            let v = nmi(&mat, norm).unwrap();
            prop_assert!((0.0..=1.0).contains(&v), "{:?} {}", norm, v);
        }
        let e = ent(&mat).unwrap();
        prop_assert!(e >= 0.0 && e <= (k as f64).ln() + 1e-12);
        let a = hungarian(&mat).unwrap().accuracy;
        prop_assert!(a >= 1.0 / k as f64 - 1e-12 && a <= 1.0);
    }

    #[test]
    fn a_one_to_one_matrix_is_perfect(k in 2usize..11, seed in any::<u64>(), n in 1u64..1000) {
        let mut perm: Vec<usize> = (0..k).collect();
        let mut s = seed;
        for i in (1..k).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            perm.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut counts = vec![0u64; k * k];
        for (r, &c) in perm.iter().enumerate() {
            counts[r * k + c] = n + r as u64;
        }
        let mat = CountMatrix { rows: k, cols: k, counts };
        prop_assert_eq!(ent(&mat).unwrap(), 0.0);
        prop_assert!(close(nmi(&mat, NmiNorm::Geometric).unwrap(), 1.0, 1e-12));
        let h = hungarian(&mat).unwrap();
        prop_assert_eq!(h.accuracy, 1.0);
        prop_assert_eq!(h.code_to_class, perm.iter().map(|&c| Some(c)).collect::<Vec<_>>());
        prop_assert_eq!(mat.classes_covered(), k);
    }

    #[test]
    fn a_uniform_matrix_carries_no_information(n in 1u64..500) {
        let mat = CountMatrix { rows: 10, cols: 10, counts: vec![n; 100] };
        for norm in NmiNorm::ALL {
            prop_assert!(nmi(&mat, norm).unwrap().abs() < 1e-12);
        }
        prop_assert!(close(ent(&mat).unwrap(), 10f64.ln(), 1e-12));
    }
}
