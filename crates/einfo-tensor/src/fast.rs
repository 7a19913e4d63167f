//! CPU layer ops that carry their own backward and do every product through
//! [`crate::gemm`] with transposes as flags (no copies), the bias folded in.
//!
//! - [`linear`]: `y = x·W (+ b)`; `∂x = ∂y·Wᵀ`, `∂W = xᵀ·∂y`, `∂b = Σ_rows ∂y`.
//! - [`col2im_bias`]: `col2im(cols) + b` (the end of a transposed convolution);
//!   `∂cols = im2col(∂y)`, `∂b = Σ_positions ∂y`.

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use crate::gemm::{gemm, GemmElem};
use crate::geom::ConvGeom;
use crate::im2col::Col2Im;

/// The contiguous part of a CPU storage a layout covers (custom ops' inputs).
pub(crate) fn slice<'a, T: candle_core::WithDType>(v: &'a [T], l: &Layout, what: &str) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => bail!("{what}: operand must be contiguous"),
    }
}

fn dims2(l: &Layout, what: &str) -> Result<(usize, usize)> {
    match l.dims() {
        &[r, c] => Ok((r, c)),
        d => bail!("{what}: expected a matrix, got {d:?}"),
    }
}

/// `op(A)·op(B)` for row-major matrices, as a no-backward op (used inside backward passes).
struct MatMul {
    ta: bool,
    tb: bool,
}

impl MatMul {
    fn run<T: GemmElem + candle_core::WithDType>(&self, a: &[T], al: &Layout, b: &[T], bl: &Layout) -> Result<(Vec<T>, Shape)> {
        let (ar, ac) = dims2(al, "matmul")?;
        let (br, bc) = dims2(bl, "matmul")?;
        let (m, k) = if self.ta { (ac, ar) } else { (ar, ac) };
        let (k2, n) = if self.tb { (bc, br) } else { (br, bc) };
        if k != k2 {
            bail!("matmul: inner dimensions differ ({m}×{k} · {k2}×{n})")
        }
        let mut c = gemm_output(m * n);
        gemm(self.ta, self.tb, m, n, k, slice(a, al, "matmul")?, slice(b, bl, "matmul")?, &mut c, false)?;
        Ok((c, Shape::from((m, n))))
    }
}

impl CustomOp2 for MatMul {
    fn name(&self) -> &'static str {
        "einfo-matmul"
    }

    fn cpu_fwd(&self, a: &CpuStorage, al: &Layout, b: &CpuStorage, bl: &Layout) -> Result<(CpuStorage, Shape)> {
        match (a, b) {
            (CpuStorage::F32(a), CpuStorage::F32(b)) => self.run(a, al, b, bl).map(|(c, s)| (CpuStorage::F32(c), s)),
            (CpuStorage::F64(a), CpuStorage::F64(b)) => self.run(a, al, b, bl).map(|(c, s)| (CpuStorage::F64(c), s)),
            _ => bail!("matmul: f32 or f64 operands of one dtype"),
        }
    }
}

fn matmul(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Result<Tensor> {
    a.contiguous()?.apply_op2_no_bwd(&b.contiguous()?, &MatMul { ta, tb })
}

/// A buffer for the output of a GEMM that overwrites it (`accumulate = false`).
///
/// Left uninitialised: with β = 0 the BLAS call (or `gemm` with `read_dst = false`) writes
/// every element and reads none, so zero-filling first would only cost a full-size memset
/// (OpenBLAS already runs its own β-pass over `C`). candle's CPU backend allocates its
/// op outputs the same way (`alloc_uninit`).
#[allow(clippy::uninit_vec)]
fn gemm_output<T: GemmElem>(len: usize) -> Vec<T> {
    let mut c = Vec::with_capacity(len);
    // SAFETY: f32 / f64 have no invalid bit patterns, and every caller passes the buffer
    // straight to `gemm(.., accumulate = false)`, which writes all `len` elements before
    // anything reads them.
    unsafe { c.set_len(len) };
    c
}

/// Column sums of a contiguous `(rows, cols)` matrix: `s_j = Σ_i g_ij` (a bias gradient).
///
/// One pass over the rows, adding each into an accumulator row (vectorised, no strided
/// reads); candle's `sum(0)` walks the columns with a stride and cost 2–3 ms on the
/// `(12544, 64)` gradient of the first trunk convolution.
struct ColSum(usize);

impl ColSum {
    fn run<T: Copy + Default + std::ops::AddAssign>(&self, g: &[T]) -> Vec<T> {
        let mut acc = vec![T::default(); self.0];
        for row in g.chunks_exact(self.0) {
            acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
        }
        acc
    }
}

impl candle_core::CustomOp1 for ColSum {
    fn name(&self) -> &'static str {
        "einfo-col-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::span("column sum (bias gradient)");
        if self.0 == 0 || l.shape().elem_count() % self.0 != 0 {
            bail!("col_sum: {} elements do not split into rows of {}", l.shape().elem_count(), self.0)
        }
        let out = match s {
            CpuStorage::F32(v) => CpuStorage::F32(self.run(slice(v, l, "col_sum")?)),
            CpuStorage::F64(v) => CpuStorage::F64(self.run(slice(v, l, "col_sum")?)),
            other => bail!("col_sum: unsupported dtype {:?} (use f32 or f64)", other.dtype()),
        };
        Ok((out, Shape::from(self.0)))
    }
}

fn col_sum(g: &Tensor, cols: usize) -> Result<Tensor> {
    g.contiguous()?.apply_op1_no_bwd(&ColSum(cols))
}

struct LinearOp;

impl LinearOp {
    fn run<T: GemmElem + candle_core::WithDType>(x: &[T], xl: &Layout, w: &[T], wl: &Layout, b: Option<(&[T], &Layout)>) -> Result<(Vec<T>, Shape)> {
        let (n, k) = dims2(xl, "linear")?;
        let (k2, o) = dims2(wl, "linear")?;
        if k != k2 {
            bail!("linear: input has {k} features, the weight {k2}")
        }
        let mut y = gemm_output(n * o);
        let accumulate = if let Some((b, bl)) = b {
            let b = slice(b, bl, "linear bias")?;
            if b.len() != o {
                bail!("linear: bias has {} entries, expected {o}", b.len())
            }
            y.chunks_exact_mut(o).for_each(|row| row.copy_from_slice(b));
            true
        } else {
            false
        };
        gemm(false, false, n, o, k, slice(x, xl, "linear")?, slice(w, wl, "linear")?, &mut y, accumulate)?;
        Ok((y, Shape::from((n, o))))
    }
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "einfo-linear"
    }

    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout, w: &CpuStorage, wl: &Layout, b: &CpuStorage, bl: &Layout) -> Result<(CpuStorage, Shape)> {
        match (x, w, b) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(b)) => LinearOp::run(x, xl, w, wl, Some((b, bl))).map(|(y, s)| (CpuStorage::F32(y), s)),
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(b)) => LinearOp::run(x, xl, w, wl, Some((b, bl))).map(|(y, s)| (CpuStorage::F64(y), s)),
            _ => bail!("linear: f32 or f64 operands of one dtype, got {:?}", x.dtype()),
        }
    }

    /// Only the gradients of operands that track one (a detached weight costs no GEMM).
    fn bwd(&self, x: &Tensor, w: &Tensor, b: &Tensor, _y: &Tensor, g: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = g.contiguous()?;
        let dx = if x.track_op() { Some(matmul(&g, w, false, true)?) } else { None };
        let dw = if w.track_op() { Some(matmul(x, &g, true, false)?) } else { None };
        let db = if b.track_op() { Some(col_sum(&g, w.dim(1)?)?) } else { None };
        Ok((dx, dw, db))
    }
}

struct LinearNoBias;

impl CustomOp2 for LinearNoBias {
    fn name(&self) -> &'static str {
        "einfo-linear-nobias"
    }

    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout, w: &CpuStorage, wl: &Layout) -> Result<(CpuStorage, Shape)> {
        match (x, w) {
            (CpuStorage::F32(x), CpuStorage::F32(w)) => LinearOp::run(x, xl, w, wl, None).map(|(y, s)| (CpuStorage::F32(y), s)),
            (CpuStorage::F64(x), CpuStorage::F64(w)) => LinearOp::run(x, xl, w, wl, None).map(|(y, s)| (CpuStorage::F64(y), s)),
            _ => bail!("linear: f32 or f64 operands of one dtype"),
        }
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _y: &Tensor, g: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = g.contiguous()?;
        let dx = if x.track_op() { Some(matmul(&g, w, false, true)?) } else { None };
        let dw = if w.track_op() { Some(matmul(x, &g, true, false)?) } else { None };
        Ok((dx, dw))
    }
}

/// `x (N, in) · w (in, out) [+ b (out)]` on CPU with its own backward.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let (x, w) = (x.contiguous()?, w.contiguous()?);
    match b {
        Some(b) => x.apply_op3(&w, &b.contiguous()?, LinearOp),
        None => x.apply_op2(&w, LinearNoBias),
    }
}

struct Col2ImBias(ConvGeom);

impl CustomOp2 for Col2ImBias {
    fn name(&self) -> &'static str {
        "einfo-col2im-bias"
    }

    fn cpu_fwd(&self, cols: &CpuStorage, cl: &Layout, b: &CpuStorage, bl: &Layout) -> Result<(CpuStorage, Shape)> {
        let (img, shape) = candle_core::CustomOp1::cpu_fwd(&Col2Im(self.0), cols, cl)?;
        let c = self.0.c;
        let out = match (img, b) {
            (CpuStorage::F32(mut y), CpuStorage::F32(b)) => {
                let b = slice(b, bl, "col2im bias")?;
                y.chunks_exact_mut(c).for_each(|px| px.iter_mut().zip(b).for_each(|(v, bb)| *v += bb));
                CpuStorage::F32(y)
            }
            (CpuStorage::F64(mut y), CpuStorage::F64(b)) => {
                let b = slice(b, bl, "col2im bias")?;
                y.chunks_exact_mut(c).for_each(|px| px.iter_mut().zip(b).for_each(|(v, bb)| *v += bb));
                CpuStorage::F64(y)
            }
            _ => bail!("col2im bias: operands of one dtype"),
        };
        Ok((out, shape))
    }

    fn bwd(&self, _cols: &Tensor, b: &Tensor, _y: &Tensor, g: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = g.contiguous()?;
        let db = if b.track_op() { Some(col_sum(&g, b.dim(0)?)?) } else { None };
        Ok((Some(crate::im2col::im2col(&g, self.0)?), db))
    }
}

/// `col2im(cols) + b` for a transposed convolution's output `(B, H, W, C)`.
pub fn col2im_bias(cols: &Tensor, b: &Tensor, g: ConvGeom) -> Result<Tensor> {
    cols.contiguous()?.apply_op2(&b.contiguous()?, Col2ImBias(g))
}
