//! A system BLAS found at run time with `dlopen` (OpenBLAS, BLIS or MKL), so nothing is
//! needed at build time. `EINFO_BLAS=/path/lib.so` names a library to try first.
//!
//! Which first: MKL, then OpenBLAS, then BLIS. MKL measured 1.2–1.3× OpenBLAS on the step's
//! products on a 2026 Xeon (issue 27); on the project's AMD EPYC the two are level, each
//! against the gemm crate in the same run (`experiments/bench/results/gemm-mkl-epyc.txt`).
//!
//! Threads: the library follows rayon's thread count (`RAYON_NUM_THREADS`, the launchers'
//! `--threads`) unless its own variable (`OPENBLAS_NUM_THREADS`, `MKL_NUM_THREADS`) is set.

use std::ffi::{c_void, CStr, CString};

pub type CblasGemm<T> = unsafe extern "C" fn(i32, i32, i32, i32, i32, i32, T, *const T, i32, *const T, i32, T, *mut T, i32);

pub struct Blas {
    /// Library, kernel family and thread count, e.g. `libopenblas.so.0, SkylakeX kernels, 1 thread`.
    pub name: String,
    /// Library and kernel family without the thread count: what picks a result's digits
    /// on a given CPU (with one thread per cell, as the launchers run).
    pub kernels: String,
    pub sgemm: CblasGemm<f32>,
    pub dgemm: CblasGemm<f64>,
}

/// The libraries to try, in order (after `EINFO_BLAS`).
pub const CANDIDATES: [&str; 8] =
    ["libmkl_rt.so.3", "libmkl_rt.so.2", "libmkl_rt.so", "libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libblis.so.4", "libblis.so"];

pub fn load_blas() -> Option<Blas> {
    let mut names: Vec<String> = std::env::var("EINFO_BLAS").ok().filter(|s| !s.is_empty()).into_iter().collect();
    names.extend(CANDIDATES.iter().map(|s| s.to_string()));
    names.into_iter().find_map(|name| open(&name))
}

/// `dlopen`s one library and takes its CBLAS GEMMs; `None` if either is missing.
fn open(name: &str) -> Option<Blas> {
    let c = CString::new(name).ok()?;
    // SAFETY: dlopen/dlsym with valid C strings; the symbols have the standard CBLAS (and
    // OpenBLAS / MKL) signatures, and the library handle is never closed.
    unsafe {
        let h = libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if h.is_null() {
            return None;
        }
        let sym = |s: &CStr| Some(libc::dlsym(h, s.as_ptr())).filter(|p| !p.is_null());
        let (s, d) = (sym(c"cblas_sgemm")?, sym(c"cblas_dgemm")?);
        for (setter, var) in [(c"openblas_set_num_threads", "OPENBLAS_NUM_THREADS"), (c"MKL_Set_Num_Threads", "MKL_NUM_THREADS")] {
            if let (Some(f), None) = (sym(setter), std::env::var_os(var)) {
                let f = std::mem::transmute::<*mut c_void, unsafe extern "C" fn(i32)>(f);
                f(rayon::current_num_threads().min(i32::MAX as usize) as i32);
            }
        }
        // OpenBLAS says which kernels it picked for this CPU; both say their thread count.
        let kernels = sym(c"openblas_get_corename").and_then(|f| {
            let f = std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> *const std::ffi::c_char>(f);
            let p = f();
            (!p.is_null()).then(|| format!(", {} kernels", CStr::from_ptr(p).to_string_lossy()))
        });
        let threads = [c"openblas_get_num_threads", c"MKL_Get_Max_Threads"].into_iter().find_map(sym).map(|f| {
            let f = std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> i32>(f);
            let n = f();
            format!(", {n} thread{}", if n == 1 { "" } else { "s" })
        });
        Some(Blas {
            name: format!("{name}{}{}", kernels.as_deref().unwrap_or_default(), threads.unwrap_or_default()),
            kernels: format!("{name}{}", kernels.unwrap_or_default()),
            sgemm: std::mem::transmute::<*mut c_void, CblasGemm<f32>>(s),
            dgemm: std::mem::transmute::<*mut c_void, CblasGemm<f64>>(d),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With its own variable unset, the library runs as many threads as rayon.
    #[test]
    fn a_found_blas_follows_rayons_thread_count() {
        let Some(b) = load_blas() else { return };
        if std::env::var_os("OPENBLAS_NUM_THREADS").is_none() && std::env::var_os("MKL_NUM_THREADS").is_none() && !b.name.contains("blis") {
            let n = rayon::current_num_threads();
            assert!(b.name.ends_with(&format!(", {n} thread{}", if n == 1 { "" } else { "s" })), "{}", b.name);
        }
        // The record beside results names library and kernels, never the thread count.
        assert!(b.name.starts_with(&b.kernels) && !b.kernels.contains("thread"), "{} / {}", b.name, b.kernels);
    }
}
