//! The ablation runner end to end on the `smoke` profile: every paper method on split 1,
//! run as `einfo cell` processes by the local launcher; a cell killed mid-run (SIGKILL after
//! a checkpoint) is continued by the next launch, finished cells are never redone, and the
//! results aggregate into tables and pictures.

mod common;
use common::*;

use std::collections::BTreeMap;

use einfo_ablation::aggregate::aggregate;
use einfo_ablation::local::{run_local, LocalOptions};
use einfo_ablation::status::{statuses, Status};

fn opts() -> LocalOptions {
    LocalOptions {
        einfo: env!("CARGO_BIN_EXE_einfo").into(),
        jobs: 2,
        threads: Some(1),
        verbose: false,
        env: vec![("EINFO_CACHE".into(), cache().display().to_string())],
        stop: Default::default(),
    }
}

#[test]
fn smoke_matrix_runs_skips_resumes_and_aggregates() {
    let dir = scratch("ablations");
    let m = smoke_matrix(&dir.join("runs"));
    m.validate().unwrap();
    let cells = m.cells();
    assert_eq!(cells.len(), 7);

    let elastic = cells.iter().find(|c| c.method == "elastic").unwrap();

    // First launch: the elastic cell's process dies by SIGKILL right after its step-1
    // checkpoint (fault injection), as on a node failure; the others finish.
    let mut crashing = opts();
    crashing.env.push(("EINFO_TEST_CRASH".into(), "elastic@1".into()));
    let first = run_local(&m, &cells, &crashing).unwrap();
    assert_eq!((first.finished.len(), first.failed.clone()), (6, vec![elastic.id()]), "{first:?}");
    let st = statuses(&m, &cells, &BTreeMap::new()).unwrap();
    for (c, s) in &st {
        let want = if c == elastic { Status::Interrupted { step: 1, total: 3 } } else { Status::Finished { step: 3 } };
        assert_eq!(*s, want, "{}", c.id());
    }
    // While a process holds the interrupted cell's lock (here: this test), the cell is
    // running — not "interrupted" (its log has no row yet: logging is every 50 steps).
    let guard = einfo_train::run_dir::RunLock::acquire(&m.dir(elastic)).unwrap();
    if std::path::Path::new("/proc/locks").exists() {
        let st = statuses(&m, &cells, &BTreeMap::new()).unwrap();
        let (_, s) = st.iter().find(|(c, _)| c == elastic).unwrap();
        let Status::Running { pid, progress, .. } = s else { panic!("{s:?}") };
        assert_eq!((*pid, progress), (Some(std::process::id()), &None));
    }
    drop(guard);
    let finished_metrics = std::fs::metadata(m.dir(&cells[0]).join("metrics.json")).unwrap().modified().unwrap();

    // Second launch: only the interrupted cell runs, continuing from its checkpoint.
    let second = run_local(&m, &cells, &opts()).unwrap();
    assert_eq!((second.skipped.len(), second.finished.clone()), (6, vec![elastic.id()]));
    let log = std::fs::read_to_string(einfo_ablation::launch_log(&m.root, elastic)).unwrap();
    assert!(log.contains("resumed from step 1 to step 3"), "{log}");
    assert_eq!(std::fs::metadata(m.dir(&cells[0]).join("metrics.json")).unwrap().modified().unwrap(), finished_metrics, "finished cells are not redone");
    for (c, s) in statuses(&m, &cells, &BTreeMap::new()).unwrap() {
        assert_eq!(s, Status::Finished { step: 3 }, "{}", c.id());
    }

    // A third launch finds nothing to do.
    let again = run_local(&m, &cells, &opts()).unwrap();
    assert_eq!((again.skipped.len(), again.finished.len()), (7, 0));

    // Aggregation: a row per method, per-cell files, pictures.
    let out = dir.join("results");
    let w = aggregate(&m.root, &out, "smoke", "test").unwrap();
    assert_eq!(w.cells, 7);
    let csv = std::fs::read_to_string(&w.csv).unwrap();
    let methods: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(methods, einfo_train::presets::PAPER_METHODS);
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    for m in einfo_train::presets::PAPER_METHODS {
        assert!(md.contains(&format!("| {m} | 1 ep., ≤ 3 steps | 1 | 1 |")), "{m} row missing:\n{md}");
    }
    // Every method paired with the baseline and with the paper's method; paired.csv names
    // the reference of each difference.
    for reference in ["uniform", "elastic"] {
        assert!(md.contains(&format!("## Paired against `{reference}`")), "{reference} section missing:\n{md}");
    }
    assert!(md.contains("| uniform (1 ep.) | "), "uniform is paired with elastic:\n{md}");
    let paired = std::fs::read_to_string(out.join("smoke/paired.csv")).unwrap();
    let header: Vec<&str> = paired.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "reference").expect("a reference column");
    let unit = header.iter().position(|h| *h == "unit").expect("a unit column");
    let refs = |method: &str| -> Vec<String> {
        paired
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f[0] == method && f[2] == "NMI")
            .map(|f| format!("{} per {}", f[col], f[unit]))
            .collect()
    };
    assert_eq!(refs("gumbel"), ["uniform per cell", "uniform per split", "elastic per cell", "elastic per split"]);
    assert_eq!(refs("uniform"), ["elastic per cell", "elastic per split"]);
    assert_eq!(refs("elastic"), ["uniform per cell", "uniform per split"]);
    // One split, one seed: the per-split pairing has one pair and no interval.
    assert!(md.contains("## Paired against `uniform` per split (seeds averaged first)"), "per-split section missing:\n{md}");
    assert!(md.contains("(one split: no interval)"), "one split gives no interval:\n{md}");
    for f in ["prior.svg", "nmi-per-split.svg", "convergence.svg", "paired.svg"] {
        let svg = std::fs::read_to_string(out.join("smoke").join(f)).unwrap();
        assert!(svg.contains("<svg") && svg.contains("elastic"), "{f}");
    }
    let montage = image::open(out.join("smoke/montage.png")).unwrap();
    assert!(montage.width() > 7 * montage.height() / 2, "seven grids side by side");
    let cells_csv = std::fs::read_to_string(out.join("smoke/cells.csv")).unwrap();
    assert_eq!(cells_csv.lines().count(), 8);
    assert!(cells_csv.lines().next().unwrap().contains(",classes_covered,"), "{cells_csv}");
    // Every cell names the CPU it ran on (model, vector tier and GEMM backend — one machine
    // here, so one value, which the header counts).
    let cpus: Vec<&str> = cells_csv.lines().skip(1).map(|l| l.rsplit_once(",\"").map_or("", |(_, c)| c.trim_end_matches('"'))).collect();
    assert!(cpus.iter().all(|c| *c == cpus[0] && c.contains(" (") && (c.contains("blas (") || c.contains("gemm (pure Rust)"))), "{cells_csv}");
    assert!(md.contains("- CPUs recorded by the cells' final evaluations") && md.contains(&format!("{}: 7 cell(s)", cpus[0])), "{md}");
    assert!(md.contains("| classes with a code | all |") && md.contains(" of 10 | "), "targets table lacks the classes covered:\n{md}");
    // One column of wins per reference present, in REFERENCES order; "-" on its own row.
    assert!(md.contains("| all three | NMI > uniform | NMI > elastic | classes with a code |"), "targets table lacks a reference:\n{md}");
    assert!(md.contains("| - | 0/1 | ") || md.contains("| - | 1/1 | "), "uniform's own column is '-':\n{md}");
    assert!(md.contains("; real images (each cell's count): "), "{md}");
    assert!(out.join("smoke/cells/elastic-split1-seed0/eval.csv").is_file());
}
