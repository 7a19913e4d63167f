//! The InfoGAN networks with their two parameter groups.
//!
//! Optimiser D owns `{FE, D}`; optimiser G owns `{G, Q, prior logits}`. Each group lives
//! in its own `VarMap`, so neither optimiser can touch the other's variables: the trunk
//! FE learns only from the discriminator loss (the authors' code behaves so), even though
//! Q's loss back-propagates into it.

use candle_core::{Device, Result, Tensor, Var};
use candle_nn::{Init, VarMap};
use einfo_tensor::{is_buffer, seeded_var_builder};

use crate::config::NetConfig;
use crate::generator::Generator;
use crate::heads::{DHead, QHead};
use crate::trunk::Trunk;

/// Trainable variables of a `VarMap`, sorted by name (buffers excluded).
pub fn named_trainable(vm: &VarMap) -> Vec<(String, Var)> {
    let data = vm.data().lock().expect("var map lock");
    let mut v: Vec<(String, Var)> = data.iter().filter(|(n, _)| !is_buffer(n)).map(|(n, v)| (n.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Number of scalar parameters of the named variables whose name starts with `prefix`.
pub fn count_params(vm: &VarMap, prefix: &str) -> usize {
    named_trainable(vm).iter().filter(|(n, _)| n.starts_with(prefix)).map(|(_, v)| v.elem_count()).sum()
}

pub struct InfoGan {
    pub cfg: NetConfig,
    pub g: Generator,
    pub fe: Trunk,
    pub d: DHead,
    pub q: QHead,
    /// Logits θ of the learnable prior, `(num_codes,)`, starting equal (all 0). Unused
    /// (and never updated) by methods with a fixed prior.
    pub prior_logits: Tensor,
    /// `{FE, D}`: variables named `fe.*`, `d.*`.
    pub d_vars: VarMap,
    /// `{G, Q, prior}`: variables named `g.*`, `q.*`, `prior.*`.
    pub g_vars: VarMap,
}

impl InfoGan {
    /// All networks, initialised from `seed` (same seed, same weights, on every machine).
    pub fn new(cfg: &NetConfig, device: &Device, seed: u64) -> Result<Self> {
        let (d_vars, g_vars) = (VarMap::new(), VarMap::new());
        let vd = seeded_var_builder(&d_vars, seed, device);
        let vg = seeded_var_builder(&g_vars, seed, device);
        Ok(InfoGan {
            cfg: cfg.clone(),
            g: Generator::new(vg.pp("g"), cfg)?,
            q: QHead::new(vg.pp("q"), cfg)?,
            prior_logits: vg.pp("prior").get_with_hints(cfg.num_codes, "logits", Init::Const(0.0))?,
            fe: Trunk::new(vd.pp("fe"), cfg)?,
            d: DHead::new(vd.pp("d"))?,
            d_vars,
            g_vars,
        })
    }
}
