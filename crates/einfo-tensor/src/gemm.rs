//! The GEMM backend of the CPU layers: a system BLAS (OpenBLAS, BLIS or MKL, found at
//! run time with `dlopen`, so nothing is needed at build time) when one is installed,
//! else the pure-Rust `gemm` crate (candle's own).
//!
//! `EINFO_GEMM=gemm` forces the pure-Rust backend, `EINFO_GEMM=blas` requires a BLAS
//! (errors if none is found), unset picks BLAS when available. `EINFO_BLAS=/path/lib.so`
//! names a library to try first. Debian/Ubuntu: `apt-get install libopenblas0`.

use std::ffi::{c_void, CString};
use std::sync::OnceLock;

use candle_core::{bail, Result};

type CblasGemm<T> = unsafe extern "C" fn(i32, i32, i32, i32, i32, i32, T, *const T, i32, *const T, i32, T, *mut T, i32);

pub struct Blas {
    name: String,
    sgemm: CblasGemm<f32>,
    dgemm: CblasGemm<f64>,
}

enum Backend {
    Blas(Blas),
    Gemm,
}

static BACKEND: OnceLock<std::result::Result<Backend, String>> = OnceLock::new();

const CANDIDATES: [&str; 7] = ["libopenblas.so.0", "libopenblas.so", "libblis.so.4", "libblis.so", "libmkl_rt.so.2", "libmkl_rt.so", "libopenblas.dylib"];

fn load_blas() -> Option<Blas> {
    let mut names: Vec<String> = std::env::var("EINFO_BLAS").ok().filter(|s| !s.is_empty()).into_iter().collect();
    names.extend(CANDIDATES.iter().map(|s| s.to_string()));
    for name in names {
        let Ok(c) = CString::new(name.clone()) else { continue };
        // SAFETY: dlopen/dlsym with valid C strings; the symbols have the standard CBLAS
        // signatures, and the library handle is never closed.
        unsafe {
            let h = libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
            if h.is_null() {
                continue;
            }
            let s = libc::dlsym(h, c"cblas_sgemm".as_ptr());
            let d = libc::dlsym(h, c"cblas_dgemm".as_ptr());
            if s.is_null() || d.is_null() {
                continue;
            }
            // OpenBLAS says which kernels it picked for this CPU.
            let core = libc::dlsym(h, c"openblas_get_corename".as_ptr());
            let name = if core.is_null() {
                name
            } else {
                let f = std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> *const std::ffi::c_char>(core);
                let p = f();
                if p.is_null() {
                    name
                } else {
                    format!("{name}, {} kernels", std::ffi::CStr::from_ptr(p).to_string_lossy())
                }
            };
            return Some(Blas {
                name,
                sgemm: std::mem::transmute::<*mut c_void, CblasGemm<f32>>(s),
                dgemm: std::mem::transmute::<*mut c_void, CblasGemm<f64>>(d),
            });
        }
    }
    None
}

fn backend() -> Result<&'static Backend> {
    let b = BACKEND.get_or_init(|| match std::env::var("EINFO_GEMM").as_deref() {
        Ok("gemm") => Ok(Backend::Gemm),
        Ok("blas") => load_blas().map(Backend::Blas).ok_or_else(|| {
            "EINFO_GEMM=blas but no BLAS library was found: install one (Debian: apt-get install libopenblas0) or set EINFO_BLAS=/path/to/libopenblas.so"
                .to_string()
        }),
        Ok("") | Err(_) => Ok(load_blas().map_or(Backend::Gemm, Backend::Blas)),
        Ok(other) => Err(format!("EINFO_GEMM={other} is not a backend: use gemm or blas")),
    });
    match b {
        Ok(b) => Ok(b),
        Err(e) => bail!("{e}"),
    }
}

/// The backend in use, e.g. `blas (libopenblas.so.0)` or `gemm (pure Rust)`.
pub fn backend_name() -> String {
    match backend() {
        Ok(Backend::Blas(b)) => format!("blas ({})", b.name),
        Ok(Backend::Gemm) => "gemm (pure Rust)".into(),
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
/// the product is added to `C`, else `C` is overwritten.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: GemmElem>(ta: bool, tb: bool, m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T], accumulate: bool) -> Result<()> {
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
    let (lda, ldb) = (if ta { m } else { k }, if tb { k } else { n });
    let _p = crate::profile::gemm_span(ta, tb, m, n, k);
    match backend()? {
        Backend::Blas(blas) => {
            if [m, n, k, lda, ldb].iter().any(|&d| d > i32::MAX as usize) {
                bail!("gemm: dimensions exceed the BLAS interface")
            }
            let beta = if accumulate { T::one() } else { T::zero() };
            // SAFETY: buffer sizes were checked above; row-major layout with the leading
            // dimensions computed from the shapes.
            unsafe {
                T::blas(
                    blas,
                    if ta { 112 } else { 111 },
                    if tb { 112 } else { 111 },
                    m as i32,
                    n as i32,
                    k as i32,
                    a.as_ptr(),
                    lda as i32,
                    b.as_ptr(),
                    ldb as i32,
                    beta,
                    c.as_mut_ptr(),
                    n as i32,
                )
            }
        }
        Backend::Gemm => {
            // Strides (column stride, row stride) of each row-major operand.
            let (a_cs, a_rs) = if ta { (m as isize, 1) } else { (1, k as isize) };
            let (b_cs, b_rs) = if tb { (k as isize, 1) } else { (1, n as isize) };
            let threads = if m * n * k < 32 * 32 * 32 { 1 } else { rayon::current_num_threads() };
            let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
            // SAFETY: sizes checked above; the strides describe the row-major buffers.
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
    }
    Ok(())
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
                gemm(ta, tb, m, n, k, &af, &bf, &mut cf, false).unwrap();
                assert!(cf.iter().zip(&want).all(|(x, y)| (*x as f64 - y).abs() < 1e-3));
            }
        }
        assert!(gemm(false, false, 4, 4, 4, &a[..3], &b, &mut [0.0; 16], false).is_err());
    }
}
