//! The G step's real-image terms: L_trans and L_ent on a batch and its identity-preserving
//! transform, and the extension's transport, EM, marginal and floor terms on Q's posteriors
//! over the two views (`docs/method.md`).

use candle_core::Tensor;
use einfo_losses as L;

use super::InfoGanMethod;
use crate::config::{EmTarget, KlDirectionConfig, TransKind};
use crate::error::Result;

impl InfoGanMethod {
    /// The real-image terms of the G step — L_trans, L_ent, then the extension's transport
    /// term and its EM, marginal and floor terms, on the batch and its transform — added to
    /// `total` in that order.
    pub(super) fn real_terms(&mut self, x: &Tensor, mut total: Tensor) -> Result<(Tensor, RealTerms)> {
        let zero = Tensor::zeros((), candle_core::DType::F32, &self.device)?;
        let mut out =
            RealTerms { trans: zero.clone(), ent: zero.clone(), em: zero.clone(), marginal: zero.clone(), floor: zero.clone(), sinkhorn: zero, em_term: None };
        let Some(aug) = self.augment.as_mut() else { return Ok((total, out)) };
        let n = &self.nets;
        let xt = aug.apply(x)?;
        // The real-image terms stop at Q's input unless they train the trunk too.
        let cut = |h: Tensor| if self.opt_trunk.is_some() { h } else { h.detach() };
        let qx = n.q.forward_t(&cut(n.fe.forward_t(x, true)?), true)?;
        let qxt = n.q.forward_t(&cut(n.fe.forward_t(&xt, true)?), true)?;
        let lc = &self.cfg.losses;
        if lc.trans_weight > 0.0 {
            let trans = match lc.trans {
                TransKind::Kl => L::trans_kl(&qx.logits, &qxt.logits, kl_direction(lc.kl_direction))?,
                TransKind::NtXent => L::nt_xent(&qx.feature, &qxt.feature, lc.nt_xent_temperature)?,
            };
            out.trans = trans.detach();
            total = (total + (trans * lc.trans_weight)?)?;
        }
        if lc.ent_weight > 0.0 {
            let ent = L::entropy_loss(&qx.logits, &qxt.logits)?;
            out.ent = ent.detach();
            total = (total + (ent * lc.ent_weight)?)?;
        }
        if lc.sinkhorn_weight > 0.0 {
            let transport = L::Transport { epsilon: lc.sinkhorn_epsilon, iters: lc.sinkhorn_iters, column_power: lc.sinkhorn_column_power };
            let ot = L::sinkhorn_loss(&qx.logits, &qxt.logits, &self.prior.probs()?, &transport)?;
            out.sinkhorn = ot.detach();
            total = (total + (ot * lc.sinkhorn_weight)?)?;
        }
        if self.cfg.uses_real_marginal() {
            total = self.marginal_terms(&qx.logits, &qxt.logits, total, &mut out)?;
        }
        Ok((total, out))
    }

    /// The extension's terms on Q's mean posterior over the two views: L_EM for θ, the
    /// marginal KL and the collapse floor for Q.
    fn marginal_terms(&self, lx: &Tensor, lxt: &Tensor, mut total: Tensor, out: &mut RealTerms) -> Result<Tensor> {
        let lc = &self.cfg.losses;
        let q_bar = L::mean_posterior(lx, lxt)?;
        if let (L::Prior::Gumbel(p), true) = (&self.prior, self.cfg.prior.em_weight > 0.0) {
            let target = match self.cfg.prior.em_target {
                EmTarget::Soft => q_bar.clone(),
                EmTarget::Hard => L::hard_assignment_freq(lx, lxt)?,
            };
            let em = (L::prior_em_loss(&p.logits, &target)? * self.cfg.prior.em_weight)?;
            out.em = em.detach();
            total = (total + &em)?;
            out.em_term = Some(em);
        }
        let lm = self.cfg.marginal_weight_at(self.opt_g.step_count());
        if lm > 0.0 {
            let marginal = L::marginal_kl(&q_bar, &self.prior.probs_tensor(&self.device)?)?;
            out.marginal = marginal.detach();
            total = (total + (marginal * lm)?)?;
        }
        if lc.floor_weight > 0.0 {
            let floor = L::collapse_floor(&q_bar, lc.floor_share)?;
            out.floor = floor.detach();
            total = (total + (floor * lc.floor_weight)?)?;
        }
        Ok(total)
    }
}

/// The real-image terms' values (detached, for the log) and the weighted EM term (for θ's
/// per-term gradient probe).
pub(super) struct RealTerms {
    pub(super) trans: Tensor,
    pub(super) ent: Tensor,
    pub(super) em: Tensor,
    pub(super) marginal: Tensor,
    pub(super) floor: Tensor,
    pub(super) sinkhorn: Tensor,
    pub(super) em_term: Option<Tensor>,
}

fn kl_direction(d: KlDirectionConfig) -> L::KlDirection {
    match d {
        KlDirectionConfig::Forward => L::KlDirection::Forward,
        KlDirectionConfig::Reverse => L::KlDirection::Reverse,
        KlDirectionConfig::Symmetric => L::KlDirection::Symmetric,
    }
}
