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

/// The prefixes the networks' variables are named under (`<group>.<layer>.<name>`).
pub mod group {
    pub const G: &str = "g";
    pub const Q: &str = "q";
    pub const PRIOR: &str = "prior";
    pub const FE: &str = "fe";
    pub const D: &str = "d";
}

/// The trainable variables of each network, each sorted by name: the optimisers are built
/// from these groups, never from name prefixes of their own.
#[derive(Debug, Clone)]
pub struct ParamGroups {
    pub g: Vec<(String, Var)>,
    pub q: Vec<(String, Var)>,
    /// θ, the learnable prior's logits.
    pub prior: Vec<(String, Var)>,
    pub fe: Vec<(String, Var)>,
    pub d: Vec<(String, Var)>,
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
            g: Generator::new(vg.pp(group::G), cfg)?,
            q: QHead::new(vg.pp(group::Q), cfg)?,
            prior_logits: vg.pp(group::PRIOR).get_with_hints(cfg.num_codes, "logits", Init::Const(0.0))?,
            fe: Trunk::new(vd.pp(group::FE), cfg)?,
            d: DHead::new(vd.pp(group::D))?,
            d_vars,
            g_vars,
        })
    }

    /// The trainable variables, by network.
    pub fn param_groups(&self) -> ParamGroups {
        let of = |vm: &VarMap, g: &str| -> Vec<(String, Var)> { named_trainable(vm).into_iter().filter(|(n, _)| n.split('.').next() == Some(g)).collect() };
        ParamGroups {
            g: of(&self.g_vars, group::G),
            q: of(&self.g_vars, group::Q),
            prior: of(&self.g_vars, group::PRIOR),
            fe: of(&self.d_vars, group::FE),
            d: of(&self.d_vars, group::D),
        }
    }
}
