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

/// The transport's settings (`losses.sinkhorn_*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transport {
    /// ε: the posteriors are raised to `1/ε` (ε < 1 sharpens).
    pub epsilon: f64,
    /// Sinkhorn–Knopp rounds (each: columns, then rows).
    pub iters: usize,
    /// κ ∈ (0, 1], how hard the columns are held to the prior: 1 is the balanced transport
    /// of SeLa; below 1 the column marginal is a KL penalty of strength `ρ = κε / (1 − κ)`
    /// (unbalanced transport, Chizat et al. 2018), so a code Q gives more images than `B·p_k`
    /// keeps part of them (each column sum is the geometric mean of `B·p_k` and what the
    /// sharpened posteriors give the code) and L_EM can learn the batch's own proportions.
    pub column_power: f64,
}

/// Targets `T: (B, K)` from logits `(B, K)`: `T_bk = u_b · P_bk^{1/ε} · v_k`, `P` the softmax
/// posteriors, with `iters` Sinkhorn–Knopp rounds of the scalings: `v_k = (B·p_k / Σ_b u_b
/// P_bk^{1/ε})^κ` (`p` normalised; entries may be 0), then `u_b` so that each row sums to 1 —
/// exactly, after the last round. With κ = 1 enough rounds meet the column sums `B·p_k`.
/// Computed in f64 on the host, in the log domain; the result is a constant (no gradient).
pub fn sinkhorn_targets(logits: &Tensor, prior: &[f64], ot: &Transport) -> Result<Tensor> {
    let (b, k) = dims2("sinkhorn", "logits", logits)?;
    let total: f64 = prior.iter().sum();
    if prior.len() != k || prior.iter().any(|p| !(p.is_finite() && *p >= 0.0)) || total <= 0.0 {
        return Err(arg_err("sinkhorn", format!("the prior must be {k} non-negative probabilities, not all 0, got {prior:?}")));
    }
    if !(ot.epsilon.is_finite() && ot.epsilon > 0.0) || ot.iters == 0 || !(ot.column_power > 0.0 && ot.column_power <= 1.0) {
        return Err(arg_err(
            "sinkhorn",
            format!("ε must be positive, iterations at least 1 and κ in (0, 1], got ε = {}, {} iterations, κ = {}", ot.epsilon, ot.iters, ot.column_power),
        ));
    }
    // In the log domain, so a code Q has all but given up on (log-posterior far below
    // −745·ε on every image, where exp underflows) still receives its share; a code with
    // prior 0 receives none.
    let log_share: Vec<f64> = prior.iter().map(|p| (b as f64 * p / total).ln()).collect();
    let lk: Vec<Vec<f64>> =
        log_softmax(&logits.detach().to_dtype(DType::F64)?)?.to_vec2::<f64>()?.iter().map(|r| r.iter().map(|l| l / ot.epsilon).collect()).collect();
    if lk.iter().flatten().any(|l| l.is_nan()) {
        return Err(arg_err("sinkhorn", "a logit is NaN: the transport would silently hand its batch no targets"));
    }
    let (mut log_u, mut log_v) = (vec![0.0; b], vec![0.0; k]);
    for _ in 0..ot.iters {
        for (j, share) in log_share.iter().enumerate() {
            let col = log_sum_exp(lk.iter().zip(&log_u).map(|(r, u)| r[j] + u));
            log_v[j] = if col.is_finite() { ot.column_power * (share - col) } else { f64::NEG_INFINITY };
        }
        for (r, u) in lk.iter().zip(log_u.iter_mut()) {
            let row = log_sum_exp(r.iter().zip(&log_v).map(|(l, v)| l + v));
            *u = if row.is_finite() { -row } else { 0.0 };
        }
    }
    let flat: Vec<f64> = lk.iter().zip(&log_u).flat_map(|(r, u)| r.iter().zip(&log_v).map(move |(l, v)| (l + u + v).exp())).collect();
    Ok(Tensor::from_vec(flat, (b, k), logits.device())?.to_dtype(logits.dtype())?)
}

/// `log Σ exp(x)`, stable; `−∞` for an empty or all-`−∞` input.
fn log_sum_exp(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        m
    } else {
        m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    }
}

/// `L_OT = ½ [H(T(x'), q(x)) + H(T(x), q(x'))]`, `H(T, q) = −(1/B) Σ_b Σ_k T_bk log q_bk`:
/// each view's posterior is trained towards the other view's transported targets (SwAV's
/// swapped prediction), so the term also asks the two views for the same code.
pub fn sinkhorn_loss(logits_x: &Tensor, logits_xt: &Tensor, prior: &[f64], ot: &Transport) -> Result<Tensor> {
    same_shape("sinkhorn", logits_x, logits_xt)?;
    let (b, _) = dims2("sinkhorn", "logits", logits_x)?;
    let (tx, txt) = (sinkhorn_targets(logits_x, prior, ot)?, sinkhorn_targets(logits_xt, prior, ot)?);
    let h = |t: &Tensor, l: &Tensor| -> Result<Tensor> { Ok((t * log_softmax(l)?)?.sum_all()?.affine(-1.0 / b as f64, 0.0)?) };
    Ok(((h(&txt, logits_x)? + h(&tx, logits_xt)?)? * 0.5)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    const X: [[f64; 3]; 4] = [[2.0, 0.0, -1.0], [1.5, 0.5, 0.0], [2.5, -0.5, 0.0], [0.0, 1.0, 0.2]];

    fn ot(epsilon: f64, iters: usize, column_power: f64) -> Transport {
        Transport { epsilon, iters, column_power }
    }

    /// The targets of `X` with p = [0.5, 0.3, 0.2], ε = 0.5 and column power `kappa`: after 3
    /// rounds equal to `want` (1e-7) with rows summing to 1; after 200 rounds with column
    /// sums `columns` (1e-9).
    fn check_targets(kappa: f64, want: [[f64; 3]; 4], columns: [f64; 3]) {
        let x = Tensor::new(&X, &Device::Cpu).unwrap();
        let p = [0.5, 0.3, 0.2];
        let t: Vec<Vec<f64>> = sinkhorn_targets(&x, &p, &ot(0.5, 3, kappa)).unwrap().to_vec2().unwrap();
        for (r, w) in t.iter().zip(want) {
            for (a, b) in r.iter().zip(w) {
                assert!((a - b).abs() < 1e-7, "{t:?}");
            }
            assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-12, "rows sum to 1");
        }
        let t: Vec<Vec<f64>> = sinkhorn_targets(&x, &p, &ot(0.5, 200, kappa)).unwrap().to_vec2().unwrap();
        for (j, want) in columns.iter().enumerate() {
            let col: f64 = t.iter().map(|r| r[j]).sum();
            assert!((col - want).abs() < 1e-9, "column {j}: {col}");
        }
    }

    #[test]
    fn unbalanced_targets_reference_keep_part_of_the_batch_marginal() {
        // NumPy, scalings from the kernel K = softmax(x)^(1/ε), ε = 0.5, κ = 0.5:
        // python3 -c "import numpy as np; from scipy.special import softmax
        //   x=np.array([[2,0,-1],[1.5,.5,0],[2.5,-.5,0],[0,1,.2]]); p=np.array([.5,.3,.2])
        //   def T(k,n):
        //     K=softmax(x,1)**(1/.5); u=np.ones(4)
        //     for _ in range(n): v=(4*p/(K.T@u))**k; u=1/(K@v)
        //     return u[:,None]*K*v[None,:]
        //   print(T(.5,3).round(8).tolist()); print(T(.5,200).sum(0).tolist())"
        let want = [
            [0.96174233, 0.03124886, 0.00700881],
            [0.72126111, 0.17316374, 0.10557515],
            [0.97636502, 0.00429337, 0.0193416],
            [0.05407101, 0.70877253, 0.23715645],
        ];
        // Converged, the columns stop short of B·p = [2, 1.2, 0.8]: the batch keeps part of
        // its own (sharpened) marginal [2.915, 0.882, 0.202].
        check_targets(0.5, want, [2.713378055728019, 0.9175250777174622, 0.3690968665545187]);
    }

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
        // Enough rounds meet the prior's column sums B·p.
        check_targets(1.0, want, [4.0 * 0.5, 4.0 * 0.3, 4.0 * 0.2]);
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
        let l = sinkhorn_loss(xv.as_tensor(), &xt, &p, &ot(0.5, 3, 1.0)).unwrap();
        let v = l.to_scalar::<f64>().unwrap();
        assert!((v - 1.6096055509276173).abs() < 1e-9, "{v}");
        // The targets are constants: ∂L/∂x_b = ½ (softmax(x_b) − T(x')_b) / B, rows summing to 0.
        let g: Vec<Vec<f64>> = l.backward().unwrap().get(xv.as_tensor()).unwrap().to_vec2().unwrap();
        for r in &g {
            assert!(r.iter().sum::<f64>().abs() < 1e-12, "{g:?}");
        }
        assert!(sinkhorn_targets(xv.as_tensor(), &[0.5, 0.5], &ot(0.5, 3, 1.0)).is_err(), "prior of the wrong size");
        assert!(sinkhorn_targets(xv.as_tensor(), &[0.5, 0.5, -0.1], &ot(0.5, 3, 1.0)).is_err(), "a negative prior entry");
        assert!(sinkhorn_targets(xv.as_tensor(), &[0.0, 0.0, 0.0], &ot(0.5, 3, 1.0)).is_err(), "an all-zero prior");
        assert!(sinkhorn_targets(xv.as_tensor(), &p, &ot(0.0, 3, 1.0)).is_err());
        assert!(sinkhorn_targets(xv.as_tensor(), &p, &ot(0.5, 3, 0.0)).is_err(), "κ = 0");
        assert!(sinkhorn_targets(xv.as_tensor(), &p, &ot(0.5, 3, 1.5)).is_err(), "κ > 1");
        assert!(sinkhorn_targets(xv.as_tensor(), &p, &ot(0.5, 0, 1.0)).is_err());
        let nan = Tensor::new(&[[0.0f64, f64::NAN, 1.0], [0.0, 1.0, 2.0]], &Device::Cpu).unwrap();
        assert!(sinkhorn_targets(&nan, &p, &ot(0.5, 3, 1.0)).is_err(), "a NaN logit");
        assert!(sinkhorn_loss(xv.as_tensor(), &xt.narrow(0, 0, 2).unwrap(), &p, &ot(0.5, 3, 1.0)).is_err());
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
        let t: Vec<Vec<f64>> = sinkhorn_targets(&x, &p, &ot(0.1, 3, 1.0)).unwrap().to_vec2().unwrap();
        let col3: f64 = t.iter().map(|r| r[3]).sum();
        assert!(col3 > 1.0, "code 3 gets images: {col3}");
        assert!(t.iter().all(|r| (r.iter().sum::<f64>() - 1.0).abs() < 1e-12));
        (p[9], p[0]) = (0.0, 0.2);
        let t: Vec<Vec<f64>> = sinkhorn_targets(&x, &p, &ot(0.1, 3, 1.0)).unwrap().to_vec2().unwrap();
        assert!(t.iter().all(|r| r[9] == 0.0 && r.iter().all(|v| v.is_finite())));
    }
}
