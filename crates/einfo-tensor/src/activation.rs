//! Activations with cheap backward passes.
//!
//! `leaky_relu(x) = x` for `x > 0`, `s·x` otherwise. On CPU it is a custom op whose
//! backward is a single fused pass `∂x = ∂y · (x > 0 ? 1 : s)`; candle-nn's version
//! builds its gradient from several broadcast ops. Elsewhere it is `max(x, s·x)`.

use crate::fast::slice;
use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

struct LeakyRelu(f64);
struct LeakyReluGrad(f64);

impl CustomOp1 for LeakyRelu {
    fn name(&self) -> &'static str {
        "einfo-leaky-relu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::span("leaky relu");
        let out = match s {
            CpuStorage::F32(v) => {
                let k = self.0 as f32;
                CpuStorage::F32(slice(v, l, "leaky_relu")?.iter().map(|&x| if x > 0.0 { x } else { k * x }).collect())
            }
            CpuStorage::F64(v) => {
                let k = self.0;
                CpuStorage::F64(slice(v, l, "leaky_relu")?.iter().map(|&x| if x > 0.0 { x } else { k * x }).collect())
            }
            other => bail!("leaky_relu: unsupported dtype {:?}", other.dtype()),
        };
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op2_no_bwd(&arg.contiguous()?, &LeakyReluGrad(self.0))?))
    }
}

impl CustomOp2 for LeakyReluGrad {
    fn name(&self) -> &'static str {
        "einfo-leaky-relu-grad"
    }

    fn cpu_fwd(&self, g: &CpuStorage, gl: &Layout, x: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::span("leaky relu backward");
        let out = match (g, x) {
            (CpuStorage::F32(g), CpuStorage::F32(x)) => {
                let k = self.0 as f32;
                let (g, x) = (slice(g, gl, "leaky_relu grad")?, slice(x, xl, "leaky_relu grad")?);
                CpuStorage::F32(g.iter().zip(x).map(|(&g, &x)| if x > 0.0 { g } else { k * g }).collect())
            }
            (CpuStorage::F64(g), CpuStorage::F64(x)) => {
                let k = self.0;
                let (g, x) = (slice(g, gl, "leaky_relu grad")?, slice(x, xl, "leaky_relu grad")?);
                CpuStorage::F64(g.iter().zip(x).map(|(&g, &x)| if x > 0.0 { g } else { k * g }).collect())
            }
            _ => bail!("leaky_relu grad: unsupported dtypes"),
        };
        Ok((out, gl.shape().clone()))
    }
}

/// Leaky ReLU with slope `slope` (`0 ≤ slope < 1`) for negative inputs.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    if !(0.0..1.0).contains(&slope) {
        bail!("leaky_relu: slope {slope} must be in [0, 1)")
    }
    if crate::fast_cpu(x.device()) {
        x.contiguous()?.apply_op1(LeakyRelu(slope))
    } else {
        x.maximum(&(x * slope)?)
    }
}
