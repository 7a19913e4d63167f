//! The elastic step's largest GEMMs (batch 64; `einfo bench profile` lists them) on every
//! backend this machine has, in one run: the system BLAS and the pure-Rust `gemm` crate.
//! Threads: `RAYON_NUM_THREADS` (gemm) and `OPENBLAS_NUM_THREADS` (blas); set both to
//! compare like with like. On a host whose speed drifts, `einfo bench gemm` (backends
//! interleaved round by round) gives the steadier ratio.
//!
//! `cargo bench -p einfo-tensor --bench gemm`

use criterion::{criterion_group, Criterion, Throughput};
use einfo_tensor::gemm::{available, describe, gemm_on};

/// (transpose A, transpose B, m, n, k), in the order of their share of a step.
const SHAPES: [(bool, bool, usize, usize, usize); 7] = [
    (false, false, 64, 1024, 6272),
    (false, false, 3136, 128, 1024),
    (false, true, 64, 6272, 1024),
    (false, true, 3136, 1024, 128),
    (true, false, 6272, 1024, 64),
    (true, false, 1024, 128, 3136),
    (true, false, 1024, 6272, 64),
];

fn values(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 37) % 23) as f32 / 23.0 - 0.5).collect()
}

fn gemms(c: &mut Criterion) {
    for on in available() {
        eprintln!("{on:?}: {}", describe(on));
    }
    for (ta, tb, m, n, k) in SHAPES {
        let name = format!("gemm {}{} m={m} n={n} k={k}", if ta { 'T' } else { 'N' }, if tb { 'T' } else { 'N' });
        let mut group = c.benchmark_group(name);
        group.sample_size(20).throughput(Throughput::Elements((2 * m * n * k) as u64));
        let (a, b, mut out) = (values(m * k), values(k * n), vec![0f32; m * n]);
        for on in available() {
            group.bench_function(on.env_name(), |bench| bench.iter(|| gemm_on(on, ta, tb, m, n, k, &a, &b, &mut out, false).unwrap()));
        }
        group.finish();
    }
}

criterion_group!(benches, gemms);

fn main() {
    einfo_tensor::tune_allocator();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
