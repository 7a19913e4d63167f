//! Initialisations used by the InfoGAN family: weights `N(0, 0.02²)`, biases 0,
//! BatchNorm scale 1 and shift 0.

use candle_nn::Init;

/// `N(0, 0.02²)`.
pub fn weight_init() -> Init {
    Init::Randn { mean: 0.0, stdev: 0.02 }
}

pub const ZERO: Init = Init::Const(0.0);
pub const ONE: Init = Init::Const(1.0);

use candle_core::{bail, DType, Device, Result, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{VarBuilder, VarMap};
use rand_distr::{Distribution, StandardNormal};

/// A `VarMap` whose new variables are initialised from a seeded ChaCha8 stream per
/// variable name (FNV-1a of the name), so a network's initial weights depend only on the
/// seed and the names — not on creation order, thread or machine. (candle's own CPU
/// random number generator cannot be seeded.)
#[derive(Clone)]
pub struct SeededVarMap {
    pub vars: VarMap,
    pub seed: u64,
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

impl SeededVarMap {
    fn init(&self, shape: &Shape, name: &str, init: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let n = shape.elem_count();
        let mut rng = crate::rng::rng_for(self.seed, fnv1a(name));
        let v: Vec<f64> = match init {
            Init::Const(c) => vec![c; n],
            Init::Randn { mean, stdev } => (0..n).map(|_| mean + stdev * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng)).collect(),
            Init::Uniform { lo, up } => (0..n).map(|_| lo + (up - lo) * crate::rng::unit_f64(&mut rng)).collect(),
            other => bail!("seeded init: {other:?} is not supported (use Const, Randn or Uniform)"),
        };
        // Cast on the host, so no f64 tensor is ever made on the device (Metal has no f64).
        match dtype {
            DType::F32 => Tensor::from_vec(v.into_iter().map(|x| x as f32).collect::<Vec<f32>>(), shape, dev),
            _ => Tensor::from_vec(v, shape, &Device::Cpu)?.to_dtype(dtype)?.to_device(dev),
        }
    }
}

impl SimpleBackend for SeededVarMap {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let mut data = self.vars.data().lock().expect("var map lock");
        if let Some(v) = data.get(name) {
            if v.shape() != &s {
                bail!("shape mismatch on {name}: {s:?} <> {:?}", v.shape())
            }
            return Ok(v.as_tensor().clone());
        }
        let var = Var::from_tensor(&self.init(&s, name, h, dtype, dev)?)?;
        let t = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        bail!("seeded var map: '{name}' must be created with a shape and an init")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.vars.data().lock().expect("var map lock").contains_key(name)
    }
}

/// A `VarBuilder` (f32) over `vars` whose new variables are seeded by `seed`.
pub fn seeded_var_builder(vars: &VarMap, seed: u64, device: &Device) -> VarBuilder<'static> {
    VarBuilder::from_backend(Box::new(SeededVarMap { vars: vars.clone(), seed }), DType::F32, device.clone())
}
