//! The register tile of einfo's own f32 GEMM: `C[MR×NR] (+)= Ap · Bp` over `kc` steps,
//! `Ap` a packed panel of `MR` rows (`kc` columns of `MR` values), `Bp` one of `NR`
//! columns (`kc` rows of `NR` values). With AVX2 + FMA the tile is 12 ymm accumulators
//! (6 rows × 2 vectors of 8): per step two loads of B, six broadcasts of A and twelve
//! fused multiply-adds, the shape BLIS and OpenBLAS use on Haswell-class cores.

/// Rows of the register tile.
pub const MR: usize = 6;
/// Columns of the register tile.
pub const NR: usize = 16;

/// Whether this CPU runs the AVX2 + FMA tile (checked once by the caller).
pub fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Where a tile's result goes: `rows × cols` (at most `MR × NR`) of a row-major `C` with
/// leading dimension `ldc`, overwritten or added to.
pub struct Dest {
    pub c: *mut f32,
    pub ldc: usize,
    pub rows: usize,
    pub cols: usize,
    pub accumulate: bool,
}

/// `dest (+)= ap · bp` over `kc` steps.
///
/// # Safety
/// The CPU supports AVX2 and FMA ([`supported`]); `ap` holds `kc · MR` values and `bp`
/// `kc · NR`; `dest.c` addresses `dest.rows` rows of `dest.cols` writable values spaced
/// `dest.ldc` apart, and no other thread touches them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn tile(kc: usize, ap: *const f32, bp: *const f32, dest: &Dest) {
    use std::arch::x86_64::*;
    // C's rows are far apart (a row of C per 4 KiB page in the step's products): ask for
    // them now, so the misses overlap the multiply-adds instead of following them.
    for r in 0..dest.rows {
        let c = dest.c.add(r * dest.ldc) as *const i8;
        _mm_prefetch::<_MM_HINT_T0>(c);
        _mm_prefetch::<_MM_HINT_T0>(c.add(60));
    }
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    let (mut a, mut b) = (ap, bp);
    for _ in 0..kc {
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(8));
        for (r, row) in acc.iter_mut().enumerate() {
            let ar = _mm256_broadcast_ss(&*a.add(r));
            row[0] = _mm256_fmadd_ps(ar, b0, row[0]);
            row[1] = _mm256_fmadd_ps(ar, b1, row[1]);
        }
        a = a.add(MR);
        b = b.add(NR);
    }
    if dest.rows == MR && dest.cols == NR {
        for (r, row) in acc.iter().enumerate() {
            let c = dest.c.add(r * dest.ldc);
            let (mut v0, mut v1) = (row[0], row[1]);
            if dest.accumulate {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c.add(8)));
            }
            _mm256_storeu_ps(c, v0);
            _mm256_storeu_ps(c.add(8), v1);
        }
    } else {
        let mut buf = [[0f32; NR]; MR];
        for (r, row) in acc.iter().enumerate() {
            _mm256_storeu_ps(buf[r].as_mut_ptr(), row[0]);
            _mm256_storeu_ps(buf[r].as_mut_ptr().add(8), row[1]);
        }
        store_partial(&buf, dest);
    }
}

/// The portable tile, for CPUs without AVX2 + FMA (and the reference of the tests).
///
/// # Safety
/// As [`tile`], without the CPU requirement.
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn tile(kc: usize, ap: *const f32, bp: *const f32, dest: &Dest) {
    tile_portable(kc, ap, bp, dest)
}

/// The tile in plain Rust: the same products and sums in the same order as [`tile`]
/// (each accumulator a chain of fused multiply-adds over `p`).
///
/// # Safety
/// As [`tile`], without the CPU requirement.
pub unsafe fn tile_portable(kc: usize, ap: *const f32, bp: *const f32, dest: &Dest) {
    let mut buf = [[0f32; NR]; MR];
    for p in 0..kc {
        let (a, b) = (ap.add(p * MR), bp.add(p * NR));
        for (r, row) in buf.iter_mut().enumerate() {
            let ar = *a.add(r);
            for (j, v) in row.iter_mut().enumerate() {
                *v = ar.mul_add(*b.add(j), *v);
            }
        }
    }
    store_partial(&buf, dest);
}

/// Writes (or adds) the `dest.rows × dest.cols` corner of a full tile.
unsafe fn store_partial(buf: &[[f32; NR]; MR], dest: &Dest) {
    for (r, row) in buf.iter().enumerate().take(dest.rows) {
        let c = dest.c.add(r * dest.ldc);
        for (j, &v) in row.iter().enumerate().take(dest.cols) {
            let out = &mut *c.add(j);
            *out = if dest.accumulate { *out + v } else { v };
        }
    }
}
