//! The GEMM backend of the CPU layers, chosen once per process:
//!
//! - `blas`: a system BLAS (OpenBLAS, BLIS or MKL, found at run time with `dlopen`, so
//!   nothing is needed at build time; [`blas`]);
//! - `gemm`: the pure-Rust `gemm` crate (candle's own).
//!
//! `EINFO_GEMM=blas|gemm` forces one (`blas` errors if no library is found); unset picks
//! `blas` when a library is found, else `gemm`. `EINFO_BLAS=/path/lib.so` names a library
//! to try first. Debian/Ubuntu: `apt-get install libopenblas0`.
//!
//! einfo's own AVX2 + FMA f32 kernel (BLIS blocking around a 6×16 register tile) was
//! measured against both and removed: at parity on the project's AVX2 machine
//! (`experiments/bench/results/gemm-backends-epyc.txt`; the code is at the git tag
//! `experiment/avx2-sgemm`, commit 715624d).

pub mod blas;
pub mod compare;

use std::sync::OnceLock;

use candle_core::{bail, Result};

use blas::{load_blas, Blas};

/// Which implementation multiplies: see the module's documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Blas,
    Crate,
}

impl Choice {
    /// The value of `EINFO_GEMM` that selects it.
    pub fn env_name(self) -> &'static str {
        match self {
            Choice::Blas => "blas",
            Choice::Crate => "gemm",
        }
    }
}

static BLAS: OnceLock<Option<Blas>> = OnceLock::new();
static CHOICE: OnceLock<std::result::Result<Choice, String>> = OnceLock::new();

fn system_blas() -> Option<&'static Blas> {
    BLAS.get_or_init(load_blas).as_ref()
}

/// The backend of this process (`EINFO_GEMM`, read once).
pub fn choice() -> Result<Choice> {
    let c = CHOICE.get_or_init(|| match std::env::var("EINFO_GEMM").as_deref() {
        Ok("gemm") => Ok(Choice::Crate),
        Ok("blas") => system_blas().map(|_| Choice::Blas).ok_or_else(|| {
            "EINFO_GEMM=blas but no BLAS library was found: install one (Debian: apt-get install libopenblas0) or set EINFO_BLAS=/path/to/libopenblas.so"
                .to_string()
        }),
        Ok("") | Err(_) => Ok(if system_blas().is_some() { Choice::Blas } else { Choice::Crate }),
        Ok(other) => Err(format!("EINFO_GEMM={other} is not a backend: use blas or gemm")),
    });
    match c {
        Ok(c) => Ok(*c),
        Err(e) => bail!("{e}"),
    }
}

/// The backends this machine can run, for benchmarks that compare them in one process.
pub fn available() -> Vec<Choice> {
    let mut v = vec![Choice::Crate];
    if system_blas().is_some() {
        v.insert(0, Choice::Blas);
    }
    v
}

/// A backend's name as `einfo bench` prints it, e.g. `blas (libopenblas.so.0, Haswell
/// kernels)` or `gemm (pure Rust)`.
pub fn describe(c: Choice) -> String {
    match c {
        Choice::Blas => format!("blas ({})", system_blas().map_or("none found", |b| b.name.as_str())),
        Choice::Crate => "gemm (pure Rust)".into(),
    }
}

/// The backend in use, as [`describe`] names it.
pub fn backend_name() -> String {
    match choice() {
        Ok(c) => describe(c),
        Err(e) => format!("unavailable: {e}"),
    }
}

/// The backend in use without its thread count, e.g. `blas (libopenblas.so.0, SkylakeX
/// kernels)` or `gemm (pure Rust)`: with the CPU's vector tier, what decides a CPU result's
/// digits — the same binary on the same CPU trains to other digits once a BLAS is installed.
pub fn numeric_backend() -> String {
    match choice() {
        Ok(Choice::Blas) => format!("blas ({})", system_blas().map_or("none found", |b| b.kernels.as_str())),
        Ok(Choice::Crate) => describe(Choice::Crate),
        Err(e) => format!("unavailable: {e}"),
    }
}

/// Element types the backends multiply.
pub trait GemmElem: Copy + Send + Sync + 'static + num_traits_lite::Zero {
    /// # Safety
    /// `a`, `bp` and `c` must point to matrices of the sizes and leading dimensions given,
    /// as CBLAS `?gemm` requires.
    #[allow(clippy::too_many_arguments)]
    unsafe fn blas(b: &Blas, ta: i32, tb: i32, m: i32, n: i32, k: i32, a: *const Self, lda: i32, bp: *const Self, ldb: i32, beta: Self, c: *mut Self, ldc: i32);
    fn one() -> Self;
}

mod num_traits_lite {
    pub trait Zero {
        fn zero() -> Self;
    }
    impl Zero for f32 {
        fn zero() -> Self {
            0.0
        }
    }
    impl Zero for f64 {
        fn zero() -> Self {
            0.0
        }
    }
}

impl GemmElem for f32 {
    unsafe fn blas(b: &Blas, ta: i32, tb: i32, m: i32, n: i32, k: i32, a: *const f32, lda: i32, bp: *const f32, ldb: i32, beta: f32, c: *mut f32, ldc: i32) {
        (b.sgemm)(101, ta, tb, m, n, k, 1.0, a, lda, bp, ldb, beta, c, ldc)
    }
    fn one() -> Self {
        1.0
    }
}

impl GemmElem for f64 {
    unsafe fn blas(b: &Blas, ta: i32, tb: i32, m: i32, n: i32, k: i32, a: *const f64, lda: i32, bp: *const f64, ldb: i32, beta: f64, c: *mut f64, ldc: i32) {
        (b.dgemm)(101, ta, tb, m, n, k, 1.0, a, lda, bp, ldb, beta, c, ldc)
    }
    fn one() -> Self {
        1.0
    }
}

/// Row-major `C (m×n) = [C +] op(A) · op(B)`, `op(A)` being `A (m×k)` or, with `ta`, the
/// transpose of `A (k×m)`; likewise `op(B)` of `B (k×n)` or `B (n×k)`. With `accumulate`
/// the product is added to `C`, else `C` is overwritten. Runs on this process's backend.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: GemmElem>(ta: bool, tb: bool, m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T], accumulate: bool) -> Result<()> {
    gemm_on(choice()?, ta, tb, m, n, k, a, b, c, accumulate)
}

/// [`gemm`] on a named backend (benchmarks and tests compare them in one process).
#[allow(clippy::too_many_arguments)]
pub fn gemm_on<T: GemmElem>(on: Choice, ta: bool, tb: bool, m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T], accumulate: bool) -> Result<()> {
    if a.len() < m * k || b.len() < k * n || c.len() < m * n {
        bail!("gemm: buffers too small for {m}×{k} · {k}×{n}")
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].iter_mut().for_each(|v| *v = T::zero());
        }
        return Ok(());
    }
    let _p = crate::profile::gemm_span(ta, tb, m, n, k);
    let threads = if m * n * k < 32 * 32 * 32 { 1 } else { rayon::current_num_threads() };
    match on {
        Choice::Blas => {
            let Some(blas) = system_blas() else { bail!("gemm: no BLAS library was found") };
            call_blas(blas, ta, tb, m, n, k, a, b, c, accumulate)
        }
        Choice::Crate => {
            call_crate(ta, tb, m, n, k, a, b, c, accumulate, threads);
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn call_blas<T: GemmElem>(blas: &Blas, ta: bool, tb: bool, m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T], accumulate: bool) -> Result<()> {
    let (lda, ldb) = (if ta { m } else { k }, if tb { k } else { n });
    if [m, n, k, lda, ldb].iter().any(|&d| d > i32::MAX as usize) {
        bail!("gemm: dimensions exceed the BLAS interface")
    }
    let beta = if accumulate { T::one() } else { T::zero() };
    let (ta, tb) = (if ta { 112 } else { 111 }, if tb { 112 } else { 111 });
    // SAFETY: the caller checked the buffer sizes; row-major layout with the leading
    // dimensions computed from the shapes.
    unsafe { T::blas(blas, ta, tb, m as i32, n as i32, k as i32, a.as_ptr(), lda as i32, b.as_ptr(), ldb as i32, beta, c.as_mut_ptr(), n as i32) }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn call_crate<T: GemmElem>(ta: bool, tb: bool, m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T], accumulate: bool, threads: usize) {
    // Strides (column stride, row stride) of each row-major operand.
    let (a_cs, a_rs) = if ta { (m as isize, 1) } else { (1, k as isize) };
    let (b_cs, b_rs) = if tb { (k as isize, 1) } else { (1, n as isize) };
    let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the caller checked the sizes; the strides describe the row-major buffers.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(ta: bool, tb: bool, m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let av = if ta { a[p * m + i] } else { a[i * k + p] };
                    let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                    c[i * n + j] += av * bv;
                }
            }
        }
        c
    }

    #[test]
    fn every_transpose_combination_matches_the_naive_product() {
        let (m, n, k) = (37, 29, 41);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 37) % 17) as f64 - 8.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 11) % 13) as f64 - 6.0).collect();
        for ta in [false, true] {
            for tb in [false, true] {
                let want = naive(ta, tb, m, n, k, &a, &b);
                let mut c = vec![1.0; m * n];
                gemm(ta, tb, m, n, k, &a, &b, &mut c, false).unwrap();
                assert_eq!(c, want, "ta={ta} tb={tb} [{}]", backend_name());
                gemm(ta, tb, m, n, k, &a, &b, &mut c, true).unwrap();
                assert_eq!(c, want.iter().map(|v| 2.0 * v).collect::<Vec<_>>());
                let af: Vec<f32> = a.iter().map(|&v| v as f32).collect();
                let bf: Vec<f32> = b.iter().map(|&v| v as f32).collect();
                let mut cf = vec![0f32; m * n];
                for on in available() {
                    gemm_on(on, ta, tb, m, n, k, &af, &bf, &mut cf, false).unwrap();
                    assert!(cf.iter().zip(&want).all(|(x, y)| (*x as f64 - y).abs() < 1e-3), "{on:?}");
                }
            }
        }
        assert!(gemm(false, false, 4, 4, 4, &a[..3], &b, &mut [0.0; 16], false).is_err());
    }
}
