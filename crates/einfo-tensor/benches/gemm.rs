//! The elastic step's largest GEMMs (batch 64; `einfo bench profile` lists them) on every
//! backend this machine has, in one run: the system BLAS and the pure-Rust `gemm` crate.
//! Threads: `RAYON_NUM_THREADS` (gemm) and `OPENBLAS_NUM_THREADS` (blas); set both to
//! compare like with like. On a host whose speed drifts, `einfo bench gemm` (backends
//! interleaved round by round) gives the steadier ratio.
//!
//! `cargo bench -p einfo-tensor --bench gemm`

use criterion::{criterion_group, Criterion, Throughput};
use einfo_tensor::gemm::compare::ELASTIC_STEP;
use einfo_tensor::gemm::{available, describe, gemm_on};

fn values(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 37) % 23) as f32 / 23.0 - 0.5).collect()
}

fn gemms(c: &mut Criterion) {
    for on in available() {
        eprintln!("{on:?}: {}", describe(on));
    }
    // The seven products above 3% of a step (`einfo bench gemm` times all twelve).
    for s in &ELASTIC_STEP[..7] {
        let (ta, tb, m, n, k) = (s.ta, s.tb, s.m, s.n, s.k);
        let mut group = c.benchmark_group(format!("gemm {}", s.name()));
        group.sample_size(20).throughput(Throughput::Elements(s.flops() as u64));
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
