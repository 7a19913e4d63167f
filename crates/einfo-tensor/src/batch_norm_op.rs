//! Training-mode batch normalisation as one CPU op with a one-pass backward.
//!
//! Forward over `x: (N, C)` (channel last), per channel `c`:
//! `μ = (1/N) Σ x`, `σ² = (1/N) Σ (x − μ)²` (biased), `s = 1/√(σ² + ε)`,
//! `y = (x − μ)·s·γ + β`.
//! Backward (Ioffe & Szegedy 2015, eq. after alg. 1, with `x̂ = (x − μ)·s`):
//! `∂β = Σ ∂y`, `∂γ = Σ ∂y·x̂`, `∂x = γ·s·(∂y − ∂β/N − x̂·∂γ/N)`.
//! Built from candle ops the same layer is ~8 forward and ~20 backward passes over the
//! activation, each with its own allocation and gradient accumulation; this is 3 and 2.

use std::sync::{Arc, Mutex};

use crate::fast::slice;
use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

/// Per-channel batch statistics of one forward (biased variance), kept for the backward
/// and for the running averages.
#[derive(Debug, Clone)]
pub struct BatchStats {
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub rows: usize,
}

trait Float: candle_core::WithDType + Copy {
    fn f(self) -> f64;
    fn of(v: f64) -> Self;
}
impl Float for f32 {
    fn f(self) -> f64 {
        self as f64
    }
    fn of(v: f64) -> Self {
        v as f32
    }
}
impl Float for f64 {
    fn f(self) -> f64 {
        self
    }
    fn of(v: f64) -> Self {
        v
    }
}

fn stats<T: Float>(x: &[T], c: usize) -> BatchStats {
    let rows = x.len() / c;
    let mut mean = vec![0.0f64; c];
    for row in x.chunks_exact(c) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v.f());
    }
    mean.iter_mut().for_each(|m| *m /= rows as f64);
    let mut var = vec![0.0f64; c];
    for row in x.chunks_exact(c) {
        var.iter_mut().zip(row).zip(&mean).for_each(|((s, v), m)| *s += (v.f() - m) * (v.f() - m));
    }
    var.iter_mut().for_each(|s| *s /= rows as f64);
    BatchStats { mean, var, rows }
}

/// `y = (x − μ_B)·s·γ + β` with the batch's statistics; they land in `stats`.
pub(crate) struct BnTrain {
    pub eps: f64,
    pub stats: Arc<Mutex<Option<BatchStats>>>,
}

impl BnTrain {
    fn run<T: Float>(&self, x: &[T], gamma: &[T], beta: &[T]) -> Result<Vec<T>> {
        let c = gamma.len();
        if beta.len() != c || c == 0 || x.len() % c != 0 {
            bail!("batch_norm: {} values do not split into {c} channels (β has {})", x.len(), beta.len())
        }
        let st = stats(x, c);
        let (scale, shift): (Vec<f64>, Vec<f64>) = (0..c)
            .map(|j| {
                let s = gamma[j].f() / (st.var[j] + self.eps).sqrt();
                (s, beta[j].f() - st.mean[j] * s)
            })
            .unzip();
        let mut y = Vec::with_capacity(x.len());
        for row in x.chunks_exact(c) {
            y.extend(row.iter().zip(scale.iter().zip(&shift)).map(|(v, (s, b))| T::of(v.f() * s + b)));
        }
        *self.stats.lock().expect("no poisoned lock") = Some(st);
        Ok(y)
    }
}

impl CustomOp3 for BnTrain {
    fn name(&self) -> &'static str {
        "einfo-batch-norm"
    }

    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout, g: &CpuStorage, gl: &Layout, b: &CpuStorage, bl: &Layout) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::span("batch norm");
        let out = match (x, g, b) {
            (CpuStorage::F32(x), CpuStorage::F32(g), CpuStorage::F32(b)) => {
                CpuStorage::F32(self.run(slice(x, xl, "bn")?, slice(g, gl, "bn")?, slice(b, bl, "bn")?)?)
            }
            (CpuStorage::F64(x), CpuStorage::F64(g), CpuStorage::F64(b)) => {
                CpuStorage::F64(self.run(slice(x, xl, "bn")?, slice(g, gl, "bn")?, slice(b, bl, "bn")?)?)
            }
            _ => bail!("batch_norm: f32 or f64 operands of one dtype, got {:?}", x.dtype()),
        };
        Ok((out, xl.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, gamma: &Tensor, beta: &Tensor, _y: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let st = self.stats.lock().expect("no poisoned lock").clone();
        let Some(st) = st else { bail!("batch_norm: backward before forward") };
        let rows = st.rows;
        let op = BnGrad { eps: self.eps, stats: st };
        // One output (N + 2, C): ∂x, then ∂γ, then ∂β.
        let all = x.contiguous()?.apply_op3_no_bwd(&grad.contiguous()?, &gamma.contiguous()?, &op)?;
        let dx = if x.track_op() { Some(all.narrow(0, 0, rows)?) } else { None };
        let dgamma = if gamma.track_op() { Some(all.get(rows)?) } else { None };
        let dbeta = if beta.track_op() { Some(all.get(rows + 1)?) } else { None };
        Ok((dx, dgamma, dbeta))
    }
}

struct BnGrad {
    eps: f64,
    stats: BatchStats,
}

impl BnGrad {
    fn run<T: Float>(&self, x: &[T], g: &[T], gamma: &[T]) -> Result<Vec<T>> {
        let c = gamma.len();
        if x.len() != g.len() || x.len() != self.stats.rows * c {
            bail!("batch_norm backward: shapes differ")
        }
        let n = self.stats.rows as f64;
        let inv: Vec<f64> = self.stats.var.iter().map(|v| 1.0 / (v + self.eps).sqrt()).collect();
        let mean = &self.stats.mean;
        // ∂β = Σ ∂y and Σ ∂y·(x − μ), in zipped passes the compiler vectorises (no
        // indexing, no division per element); ∂γ = inv · the latter.
        let (mut dgamma, mut dbeta) = (vec![0.0f64; c], vec![0.0f64; c]);
        for (xr, gr) in x.chunks_exact(c).zip(g.chunks_exact(c)) {
            for (((db, dg), (xv, gv)), m) in dbeta.iter_mut().zip(dgamma.iter_mut()).zip(xr.iter().zip(gr)).zip(mean) {
                let gv = gv.f();
                *db += gv;
                *dg += gv * (xv.f() - m);
            }
        }
        dgamma.iter_mut().zip(&inv).for_each(|(d, i)| *d *= i);
        // ∂x = k·(∂y − b − (x − μ)·a) with k = γ·inv, b = ∂β/N, a = inv·∂γ/N.
        let k: Vec<f64> = (0..c).map(|j| gamma[j].f() * inv[j]).collect();
        let b: Vec<f64> = dbeta.iter().map(|d| d / n).collect();
        let a: Vec<f64> = dgamma.iter().zip(&inv).map(|(d, i)| d * i / n).collect();
        let mut out = Vec::with_capacity(x.len() + 2 * c);
        for (xr, gr) in x.chunks_exact(c).zip(g.chunks_exact(c)) {
            let chan = k.iter().zip(&b).zip(&a).zip(mean);
            out.extend(xr.iter().zip(gr).zip(chan).map(|((xv, gv), (((k, b), a), m))| T::of(k * (gv.f() - b - (xv.f() - m) * a))));
        }
        out.extend(dgamma.iter().map(|v| T::of(*v)));
        out.extend(dbeta.iter().map(|v| T::of(*v)));
        Ok(out)
    }
}

impl CustomOp3 for BnGrad {
    fn name(&self) -> &'static str {
        "einfo-batch-norm-grad"
    }

    fn cpu_fwd(&self, x: &CpuStorage, xl: &Layout, g: &CpuStorage, gl: &Layout, w: &CpuStorage, wl: &Layout) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::span("batch norm backward");
        let c = wl.shape().elem_count();
        let shape = Shape::from((self.stats.rows + 2, c));
        let out = match (x, g, w) {
            (CpuStorage::F32(x), CpuStorage::F32(g), CpuStorage::F32(w)) => {
                CpuStorage::F32(self.run(slice(x, xl, "bn")?, slice(g, gl, "bn")?, slice(w, wl, "bn")?)?)
            }
            (CpuStorage::F64(x), CpuStorage::F64(g), CpuStorage::F64(w)) => {
                CpuStorage::F64(self.run(slice(x, xl, "bn")?, slice(g, gl, "bn")?, slice(w, wl, "bn")?)?)
            }
            _ => bail!("batch_norm backward: f32 or f64 operands of one dtype"),
        };
        Ok((out, shape))
    }
}
