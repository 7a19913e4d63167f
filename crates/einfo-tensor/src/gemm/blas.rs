//! A system BLAS found at run time with `dlopen` (OpenBLAS, BLIS or MKL), so nothing is
//! needed at build time. `EINFO_BLAS=/path/lib.so` names a library to try first.

use std::ffi::{c_void, CString};

pub type CblasGemm<T> = unsafe extern "C" fn(i32, i32, i32, i32, i32, i32, T, *const T, i32, *const T, i32, T, *mut T, i32);

pub struct Blas {
    pub name: String,
    pub sgemm: CblasGemm<f32>,
    pub dgemm: CblasGemm<f64>,
}

const CANDIDATES: [&str; 7] = ["libopenblas.so.0", "libopenblas.so", "libblis.so.4", "libblis.so", "libmkl_rt.so.2", "libmkl_rt.so", "libopenblas.dylib"];

pub fn load_blas() -> Option<Blas> {
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
