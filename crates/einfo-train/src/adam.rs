//! Adam with PyTorch's semantics and a state that can be saved and restored
//! (candle-nn's AdamW keeps its moments private and defaults to weight decay 0.01).
//!
//! For each parameter `p` with gradient `g` at step `t`:
//! `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`,
//! `p ← p − lr · (m / (1 − β1ᵗ)) / (√v / √(1 − β2ᵗ) + ε)` (`torch.optim.Adam`, no weight decay).

use std::collections::HashMap;
use std::path::Path;

use std::sync::Mutex;

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, Layout, Tensor, Var};
use rayon::prelude::*;

use crate::error::{Result, TrainError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamParams {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

struct Slot {
    name: String,
    var: Var,
    lr: f64,
    /// The rate the slot was given (`new` or `add_group`), against `Adam::base`.
    configured: f64,
    moments: Moments,
}

/// First and second moments: host vectors updated by one fused pass on CPU, tensors
/// updated with tensor ops elsewhere.
enum Moments {
    Host { m: Vec<f32>, v: Vec<f32> },
    Device { m: Tensor, v: Tensor },
}

impl Moments {
    fn new(var: &Var) -> Result<Self> {
        Ok(if einfo_tensor::fast_cpu(var.device()) && var.dtype() == candle_core::DType::F32 {
            Moments::Host { m: vec![0.0; var.elem_count()], v: vec![0.0; var.elem_count()] }
        } else {
            Moments::Device { m: var.as_tensor().zeros_like()?, v: var.as_tensor().zeros_like()? }
        })
    }

    fn tensors(&self, var: &Var) -> Result<(Tensor, Tensor)> {
        Ok(match self {
            Moments::Host { m, v } => (Tensor::from_slice(m, var.shape(), var.device())?, Tensor::from_slice(v, var.shape(), var.device())?),
            Moments::Device { m, v } => (m.clone(), v.clone()),
        })
    }
}

/// The fused update of one parameter in place: reads `g`, updates `m`, `v`, `p`.
struct FusedAdam<'a> {
    mv: Mutex<(&'a mut [f32], &'a mut [f32])>,
    lr_t: f32,
    beta1: f32,
    beta2: f32,
    bc2_sqrt: f32,
    eps: f32,
}

impl InplaceOp2 for FusedAdam<'_> {
    fn name(&self) -> &'static str {
        "einfo-fused-adam"
    }

    fn cpu_fwd(&self, p: &mut CpuStorage, pl: &Layout, g: &CpuStorage, gl: &Layout) -> candle_core::Result<()> {
        let _p = einfo_tensor::profile::span("adam");
        let (CpuStorage::F32(p), CpuStorage::F32(g)) = (p, g) else { candle_core::bail!("fused adam: f32 only") };
        let (Some((p0, p1)), Some((g0, g1))) = (pl.contiguous_offsets(), gl.contiguous_offsets()) else {
            candle_core::bail!("fused adam: parameter and gradient must be contiguous")
        };
        let (p, g) = (&mut p[p0..p1], &g[g0..g1]);
        let mut guard = self.mv.lock().expect("moments lock");
        let (m, v) = &mut *guard;
        if p.len() != g.len() || p.len() != m.len() {
            candle_core::bail!("fused adam: sizes differ")
        }
        let (b1, b2, lr_t, bc2, eps) = (self.beta1, self.beta2, self.lr_t, self.bc2_sqrt, self.eps);
        const CHUNK: usize = 1 << 14;
        p.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)).zip(m.par_chunks_mut(CHUNK)).zip(v.par_chunks_mut(CHUNK)).for_each(|(((p, g), m), v)| {
            for i in 0..p.len() {
                let gi = g[i];
                m[i] = b1 * m[i] + (1.0 - b1) * gi;
                v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
                p[i] -= lr_t * m[i] / (v[i].sqrt() / bc2 + eps);
            }
        });
        Ok(())
    }
}

pub struct Adam {
    slots: Vec<Slot>,
    params: AdamParams,
    /// The base rate at construction: `set_learning_rate` scales each slot's configured
    /// rate by `lr / base`, so a group's ratio survives any schedule, 0 included.
    base: f64,
    step: u64,
}

impl Adam {
    /// An optimiser over named variables (each keeps its own moments).
    pub fn new(vars: Vec<(String, Var)>, params: AdamParams) -> Result<Self> {
        let slots = vars
            .into_iter()
            .map(|(name, var)| {
                let moments = Moments::new(&var)?;
                Ok(Slot { name, var, lr: params.lr, configured: params.lr, moments })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Adam { slots, params, base: params.lr, step: 0 })
    }

    /// Add `vars` with their own learning rate (the other hyper-parameters are shared).
    pub fn add_group(&mut self, vars: Vec<(String, Var)>, lr: f64) -> Result<()> {
        for (name, var) in vars {
            let moments = Moments::new(&var)?;
            self.slots.push(Slot { name, var, lr, configured: lr, moments });
        }
        Ok(())
    }

    /// Each variable's name and learning rate, in update order.
    pub fn rates(&self) -> Vec<(&str, f64)> {
        self.slots.iter().map(|s| (s.name.as_str(), s.lr)).collect()
    }

    /// The first moment tensor holding a non-finite value, as `m.<name>` / `v.<name>`.
    pub fn non_finite(&self) -> Result<Option<String>> {
        for s in &self.slots {
            let finite = |x: &[f32]| x.iter().all(|v| v.is_finite());
            match &s.moments {
                Moments::Host { m, v } => {
                    if !finite(m) {
                        return Ok(Some(format!("Adam moment m.{}", s.name)));
                    }
                    if !finite(v) {
                        return Ok(Some(format!("Adam moment v.{}", s.name)));
                    }
                }
                Moments::Device { m, v } => {
                    for (k, t) in [("m", m), ("v", v)] {
                        if !crate::method::all_finite(t)? {
                            return Ok(Some(format!("Adam moment {k}.{}", s.name)));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// One update from the gradients (variables without a gradient are left alone).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let AdamParams { beta1, beta2, eps, .. } = self.params;
        let bc1 = 1.0 - beta1.powi(self.step as i32);
        let bc2_sqrt = (1.0 - beta2.powi(self.step as i32)).sqrt();
        for s in &mut self.slots {
            let Some(g) = grads.get(s.var.as_tensor()) else { continue };
            match &mut s.moments {
                Moments::Host { m, v } => {
                    let op = FusedAdam {
                        mv: Mutex::new((m.as_mut_slice(), v.as_mut_slice())),
                        lr_t: (s.lr / bc1) as f32,
                        beta1: beta1 as f32,
                        beta2: beta2 as f32,
                        bc2_sqrt: bc2_sqrt as f32,
                        eps: eps as f32,
                    };
                    s.var.as_tensor().inplace_op2(&g.contiguous()?, &op)?;
                }
                Moments::Device { m, v } => {
                    *m = ((&*m * beta1)? + (g * (1.0 - beta1))?)?;
                    *v = ((&*v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
                    let denom = ((v.sqrt()? / bc2_sqrt)? + eps)?;
                    let update = ((&*m / denom)? * (s.lr / bc1))?;
                    s.var.set(&s.var.as_tensor().sub(&update)?)?;
                }
            }
        }
        Ok(())
    }

    /// Save the moments (safetensors, `m.<name>` / `v.<name>`) — the step count is saved
    /// by the caller with the rest of the training state.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut map: HashMap<String, Tensor> = HashMap::new();
        for s in &self.slots {
            let (m, v) = s.moments.tensors(&s.var)?;
            map.insert(format!("m.{}", s.name), m);
            map.insert(format!("v.{}", s.name), v);
        }
        candle_core::safetensors::save(&map, path).map_err(|e| TrainError::Checkpoint { path: path.into(), detail: e.to_string() })
    }

    /// Restore moments saved by [`Adam::save`] and the step count.
    pub fn load(&mut self, path: &Path, step: u64) -> Result<()> {
        let ck = |detail: String| TrainError::Checkpoint { path: path.into(), detail };
        let map =
            candle_core::safetensors::load(path, self.slots.first().map_or(&candle_core::Device::Cpu, |s| s.var.device())).map_err(|e| ck(e.to_string()))?;
        let ours: std::collections::HashSet<String> = self.slots.iter().flat_map(|s| [format!("m.{}", s.name), format!("v.{}", s.name)]).collect();
        if let Some(extra) = map.keys().find(|k| !ours.contains(*k)) {
            return Err(ck(format!("optimiser state does not match the model: unexpected '{extra}' (was the run's config changed?)")));
        }
        for s in &mut self.slots {
            let get = |key: String| -> Result<Tensor> {
                let t = map.get(&key).ok_or_else(|| ck(format!("optimiser state does not match the model: no '{key}'")))?;
                if t.dims() != s.var.dims() {
                    return Err(ck(format!("'{key}' has shape {:?}, the model {:?}", t.dims(), s.var.dims())));
                }
                Ok(t.clone())
            };
            let (m, v) = (get(format!("m.{}", s.name))?, get(format!("v.{}", s.name))?);
            s.moments = match s.moments {
                Moments::Host { .. } => Moments::Host { m: m.flatten_all()?.to_vec1()?, v: v.flatten_all()?.to_vec1()? },
                Moments::Device { .. } => Moments::Device { m, v },
            };
        }
        self.step = step;
        Ok(())
    }
}

/// candle-nn's optimiser interface, so einfo's Adam (PyTorch's semantics, fused on CPU,
/// savable) drops into code written against `candle_nn::Optimizer`. Variables are named by
/// their position (`0`, `1`, …) for [`Adam::save`]; `set_learning_rate` moves every group's
/// rate by the same factor, so groups keep their ratio to the base rate.
impl candle_nn::Optimizer for Adam {
    type Config = AdamParams;

    fn new(vars: Vec<Var>, config: AdamParams) -> candle_core::Result<Self> {
        Adam::new(vars.into_iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(), config).map_err(candle_core::Error::wrap)
    }

    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        Adam::step(self, grads).map_err(candle_core::Error::wrap)
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        for s in &mut self.slots {
            s.lr = if self.base == 0.0 { lr } else { s.configured * (lr / self.base) };
        }
        self.params.lr = lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_torch_adam_on_a_quadratic() {
        // torch: p = torch.tensor([1.0, -2.0], requires_grad=True)
        //        opt = torch.optim.Adam([p], lr=0.1, betas=(0.5, 0.999))
        //        for _ in range(3): opt.zero_grad(); (p**2).sum().backward(); opt.step()
        // written out in NumPy (the same recurrences) gives p = [0.706971313565921, -1.703216103692153]:
        //   m=v=0; for t in 1..3: g=2p; m=.5m+.5g; v=.999v+.001g²; p-=.1*(m/(1-.5**t))/(np.sqrt(v)/np.sqrt(1-.999**t)+1e-8)
        let p = Var::new(&[1.0f64, -2.0], &Device::Cpu).unwrap();
        let mut opt = Adam::new(vec![("p".into(), p.clone())], AdamParams { lr: 0.1, beta1: 0.5, beta2: 0.999, eps: 1e-8 }).unwrap();
        for _ in 0..3 {
            let loss = p.as_tensor().sqr().unwrap().sum_all().unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
        }
        let got: Vec<f64> = p.as_tensor().to_vec1().unwrap();
        assert!((got[0] - ADAM_REF[0]).abs() < 1e-9 && (got[1] - ADAM_REF[1]).abs() < 1e-9, "{got:?}");
    }
    #[test]
    fn fused_cpu_path_matches_the_reference_in_f32() {
        let p = Var::new(&[1.0f32, -2.0], &Device::Cpu).unwrap();
        let mut opt = Adam::new(vec![("p".into(), p.clone())], AdamParams { lr: 0.1, beta1: 0.5, beta2: 0.999, eps: 1e-8 }).unwrap();
        for _ in 0..3 {
            let loss = p.as_tensor().sqr().unwrap().sum_all().unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
        }
        let got: Vec<f32> = p.as_tensor().to_vec1().unwrap();
        assert!((got[0] as f64 - ADAM_REF[0]).abs() < 1e-5 && (got[1] as f64 - ADAM_REF[1]).abs() < 1e-5, "{got:?}");
        // Save, restore into a fresh optimiser, continue: same as continuing directly.
        let path = std::env::temp_dir().join(format!("einfo-adam-{}.safetensors", std::process::id()));
        opt.save(&path).unwrap();
        let q = Var::new(got.as_slice(), &Device::Cpu).unwrap();
        let mut opt2 = Adam::new(vec![("p".into(), q.clone())], AdamParams { lr: 0.1, beta1: 0.5, beta2: 0.999, eps: 1e-8 }).unwrap();
        opt2.load(&path, 3).unwrap();
        for (o, v) in [(&mut opt, &p), (&mut opt2, &q)] {
            let loss = v.as_tensor().sqr().unwrap().sum_all().unwrap();
            o.step(&loss.backward().unwrap()).unwrap();
        }
        assert_eq!(p.as_tensor().to_vec1::<f32>().unwrap(), q.as_tensor().to_vec1::<f32>().unwrap());
        std::fs::remove_file(path).unwrap();
    }

    const ADAM_REF: [f64; 2] = [0.706971313565921, -1.703216103692153];

    #[test]
    fn as_a_candle_nn_optimizer_it_matches_candle_nn_adamw_without_decay() {
        use candle_nn::Optimizer;
        // candle-nn's AdamW with weight_decay = 0 is Adam: the same recurrences, ε added to
        // √(v / (1 − β2ᵗ)) = √v / √(1 − β2ᵗ).
        fn run<O: Optimizer>(cfg: O::Config) -> Vec<f64> {
            let p = Var::new(&[1.0f64, -2.0, 0.5], &Device::Cpu).unwrap();
            let mut opt = O::new(vec![p.clone()], cfg).unwrap();
            for _ in 0..5 {
                let loss = (p.as_tensor().sqr().unwrap().sum_all().unwrap() + p.as_tensor().sum_all().unwrap()).unwrap();
                opt.backward_step(&loss).unwrap();
            }
            p.as_tensor().to_vec1().unwrap()
        }
        let ours = run::<Adam>(AdamParams { lr: 0.1, beta1: 0.5, beta2: 0.999, eps: 1e-8 });
        let theirs = run::<candle_nn::AdamW>(candle_nn::ParamsAdamW { lr: 0.1, beta1: 0.5, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 });
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() < 1e-12, "{ours:?} vs {theirs:?}");
        }
    }

    #[test]
    fn set_learning_rate_keeps_each_group_s_ratio() {
        use candle_nn::Optimizer;
        let var = |x: f32| Var::new(&[x], &Device::Cpu).unwrap();
        let mut opt = <Adam as Optimizer>::new(vec![var(1.0)], AdamParams { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 }).unwrap();
        opt.add_group(vec![("prior".into(), var(0.0))], 2e-3).unwrap();
        // Through 0 and back (a warm-up): the group keeps its 10× rate.
        opt.set_learning_rate(0.0);
        assert_eq!(opt.rates()[1].1, 0.0);
        opt.set_learning_rate(1e-4);
        assert_eq!(opt.learning_rate(), 1e-4);
        let rates = opt.rates();
        assert_eq!(rates[0], ("0", 1e-4));
        assert_eq!(rates[1].0, "prior");
        assert!((rates[1].1 - 1e-3).abs() < 1e-15, "{rates:?}");
    }
}
