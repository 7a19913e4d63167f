//! Self-labelling by optimal transport towards the prior (einfo's extension, issue 24; not
//! in the paper). As in SeLa (Asano et al. 2020) and SwAV (Caron et al. 2020), Q's code
//! posteriors on a batch of real images are turned into targets whose codes are spread over
//! the batch in the proportions of the prior — here the learned prior `p = softmax(θ)`, not
//! a uniform one, as P²OT does for imbalanced clustering — and Q is trained towards them.
//! Unlike `marginal_kl`, which only asks the batch *mean* to match `p` (and is met by
//! sharing a frequent class between two codes), the transport assigns each image, so a code
//! that would own no images is handed the images Q is least sure about.

use candle_core::{DType, Tensor};

use crate::categorical::log_softmax;
use crate::error::{arg_err, dims2, same_shape, Result};

/// Targets `T: (B, K)` from logits `(B, K)`: `T ∝ diag(u)·P^{1/ε}·diag(v)`, `P` the softmax
/// posteriors, scaled by `iters` Sinkhorn–Knopp rounds so that column `k` sums to `B·p_k`
/// (`p` normalised; entries may be 0) and — exactly, after the last round — each row sums
/// to 1. Computed in f64 on the host, in the log domain; the result is a constant (no
/// gradient). `ε` sharpens (`ε < 1`) or softens the posteriors.
pub fn sinkhorn_targets(logits: &Tensor, prior: &[f64], epsilon: f64, iters: usize) -> Result<Tensor> {
    let (b, k) = dims2("sinkhorn", "logits", logits)?;
    let total: f64 = prior.iter().sum();
    if prior.len() != k || prior.iter().any(|p| !(p.is_finite() && *p >= 0.0)) || total <= 0.0 {
        return Err(arg_err("sinkhorn", format!("the prior must be {k} non-negative probabilities, not all 0, got {prior:?}")));
    }
    if !(epsilon.is_finite() && epsilon > 0.0) || iters == 0 {
        return Err(arg_err("sinkhorn", format!("ε must be positive and iterations at least 1, got ε = {epsilon}, {iters} iterations")));
    }
    // In the log domain, so a code Q has all but given up on (log-posterior far below
    // −745·ε on every image, where exp underflows) still receives its share; a code with
    // prior 0 receives none.
    let log_share: Vec<f64> = prior.iter().map(|p| (b as f64 * p / total).ln()).collect();
    let mut lt: Vec<Vec<f64>> =
        log_softmax(&logits.detach().to_dtype(DType::F64)?)?.to_vec2::<f64>()?.iter().map(|r| r.iter().map(|l| l / epsilon).collect()).collect();
    let lse = |v: &mut dyn Iterator<Item = f64>| -> f64 {
        let v: Vec<f64> = v.collect();
        let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            m
        } else {
            m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
        }
    };
    for _ in 0..iters {
        for (j, share) in log_share.iter().enumerate() {
            let col = lse(&mut lt.iter().map(|r| r[j]));
            let shift = if col.is_finite() { share - col } else { f64::NEG_INFINITY };
            lt.iter_mut().for_each(|r| r[j] += shift);
        }
        for r in lt.iter_mut() {
            let row = lse(&mut r.iter().cloned());
            if row.is_finite() {
                r.iter_mut().for_each(|v| *v -= row);
            }
        }
    }
    let flat: Vec<f64> = lt.into_iter().flatten().map(f64::exp).collect();
    Ok(Tensor::from_vec(flat, (b, k), logits.device())?.to_dtype(logits.dtype())?)
}

/// `L_OT = ½ [H(T(x'), q(x)) + H(T(x), q(x'))]`, `H(T, q) = −(1/B) Σ_b Σ_k T_bk log q_bk`:
/// each view's posterior is trained towards the other view's transported targets (SwAV's
/// swapped prediction), so the term also asks the two views for the same code.
pub fn sinkhorn_loss(logits_x: &Tensor, logits_xt: &Tensor, prior: &[f64], epsilon: f64, iters: usize) -> Result<Tensor> {
    same_shape("sinkhorn", logits_x, logits_xt)?;
    let (b, _) = dims2("sinkhorn", "logits", logits_x)?;
    let (tx, txt) = (sinkhorn_targets(logits_x, prior, epsilon, iters)?, sinkhorn_targets(logits_xt, prior, epsilon, iters)?);
    let h = |t: &Tensor, l: &Tensor| -> Result<Tensor> { Ok((t * log_softmax(l)?)?.sum_all()?.affine(-1.0 / b as f64, 0.0)?) };
    Ok(((h(&txt, logits_x)? + h(&tx, logits_xt)?)? * 0.5)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    const X: [[f64; 3]; 4] = [[2.0, 0.0, -1.0], [1.5, 0.5, 0.0], [2.5, -0.5, 0.0], [0.0, 1.0, 0.2]];

    #[test]
    fn targets_reference_and_marginals() {
        // NumPy, the same rounds (columns to B·p, then rows to 1), ε = 0.5, 3 rounds:
        // python3 -c "import numpy as np; from scipy.special import softmax
        //   x=np.array([[2,0,-1],[1.5,.5,0],[2.5,-.5,0],[0,1,.2]]); p=np.array([.5,.3,.2]); t=softmax(x,1)**(1/.5)
        //   for _ in range(3): t=t*(4*p/t.sum(0)); t=t/t.sum(1,keepdims=True)
        //   print(t.round(8))"
        let want = [
            [0.86225894, 0.10335315, 0.03438791],
            [0.37220227, 0.32965069, 0.29814704],
            [0.88918131, 0.01442405, 0.09639463],
            [0.01363167, 0.65917696, 0.32719137],
        ];
        let x = Tensor::new(&X, &Device::Cpu).unwrap();
        let p = [0.5, 0.3, 0.2];
        let t: Vec<Vec<f64>> = sinkhorn_targets(&x, &p, 0.5, 3).unwrap().to_vec2().unwrap();
        for (r, w) in t.iter().zip(want) {
            for (a, b) in r.iter().zip(w) {
                assert!((a - b).abs() < 1e-7, "{t:?}");
            }
            assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-12, "rows sum to 1");
        }
        // Enough rounds meet the prior's column sums B·p.
        let t: Vec<Vec<f64>> = sinkhorn_targets(&x, &p, 0.5, 200).unwrap().to_vec2().unwrap();
        for (j, pj) in p.iter().enumerate() {
            let col: f64 = t.iter().map(|r| r[j]).sum();
            assert!((col - 4.0 * pj).abs() < 1e-9, "column {j}: {col}");
        }
    }

    #[test]
    fn loss_reference_gradient_and_bad_input() {
        // With T(x) and T(x') from the rounds above (ε = 0.5, 3 rounds), x' = x reversed:
        // python3 -c "... tx=T(x); txt=T(x[::-1]); ls=lambda z: z-np.log(np.exp(z).sum(1,keepdims=True))
        //   print(-0.5*((txt*ls(x)).sum()+(tx*ls(x[::-1])).sum())/4)"
        // -> 1.6096055509276173
        let xv = Var::new(&X, &Device::Cpu).unwrap();
        let rev = [X[3], X[2], X[1], X[0]];
        let xt = Tensor::new(&rev, &Device::Cpu).unwrap();
        let p = [0.5, 0.3, 0.2];
        let l = sinkhorn_loss(xv.as_tensor(), &xt, &p, 0.5, 3).unwrap();
        let v = l.to_scalar::<f64>().unwrap();
        assert!((v - 1.6096055509276173).abs() < 1e-9, "{v}");
        // The targets are constants: ∂L/∂x_b = ½ (softmax(x_b) − T(x')_b) / B, rows summing to 0.
        let g: Vec<Vec<f64>> = l.backward().unwrap().get(xv.as_tensor()).unwrap().to_vec2().unwrap();
        for r in &g {
            assert!(r.iter().sum::<f64>().abs() < 1e-12, "{g:?}");
        }
        assert!(sinkhorn_targets(xv.as_tensor(), &[0.5, 0.5], 0.5, 3).is_err(), "prior of the wrong size");
        assert!(sinkhorn_targets(xv.as_tensor(), &[0.5, 0.5, -0.1], 0.5, 3).is_err(), "a negative prior entry");
        assert!(sinkhorn_targets(xv.as_tensor(), &[0.0, 0.0, 0.0], 0.5, 3).is_err(), "an all-zero prior");
        assert!(sinkhorn_targets(xv.as_tensor(), &p, 0.0, 3).is_err());
        assert!(sinkhorn_targets(xv.as_tensor(), &p, 0.5, 0).is_err());
        assert!(sinkhorn_loss(xv.as_tensor(), &xt.narrow(0, 0, 2).unwrap(), &p, 0.5, 3).is_err());
    }

    #[test]
    fn a_code_far_below_every_image_still_gets_its_share_and_a_zero_prior_none() {
        // 64 images, 10 codes; code 3's logit is 80 nats below the others on every image:
        // P^{1/ε} underflows to 0 for it at ε = 0.1 (e^{-800}), yet after one round its
        // column holds B·p_3 = 6.4 (columns exact before the row step; rows then move it
        // little), and a prior of 0 gives code 9 nothing.
        let mut rows = vec![[0.0f64; 10]; 64];
        for (i, r) in rows.iter_mut().enumerate() {
            r[i % 10] = 2.0;
            r[3] = -80.0;
        }
        let x = Tensor::from_vec(rows.concat(), (64, 10), &Device::Cpu).unwrap();
        let mut p = [0.1; 10];
        let t: Vec<Vec<f64>> = sinkhorn_targets(&x, &p, 0.1, 3).unwrap().to_vec2().unwrap();
        let col3: f64 = t.iter().map(|r| r[3]).sum();
        assert!(col3 > 1.0, "code 3 gets images: {col3}");
        assert!(t.iter().all(|r| (r.iter().sum::<f64>() - 1.0).abs() < 1e-12));
        (p[9], p[0]) = (0.0, 0.2);
        let t: Vec<Vec<f64>> = sinkhorn_targets(&x, &p, 0.1, 3).unwrap().to_vec2().unwrap();
        assert!(t.iter().all(|r| r[9] == 0.0 && r.iter().all(|v| v.is_finite())));
    }
}
