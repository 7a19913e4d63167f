//! Every network on a batch of 64: documented output shapes, parameter counts, and the
//! two parameter groups of InfoGAN.

use std::collections::HashSet;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{VarBuilder, VarMap};
use einfo_models::{count_params, named_trainable, pad_to, InfoGan, JointVae, JointVaeNet, LeNet, NetConfig};

const B: usize = 64;

fn cpu() -> Device {
    Device::Cpu
}

#[test]
fn infogan_shapes_and_parameter_counts() -> Result<()> {
    let cfg = NetConfig::default();
    let m = InfoGan::new(&cfg, &cpu(), 0)?;
    let z = Tensor::randn(0f32, 1., (B, 62), &cpu())?;
    let c = Tensor::zeros((B, 10), DType::F32, &cpu())?;
    let x = m.g.forward_t(&z, &c, true)?;
    assert_eq!(x.dims(), &[B, 28, 28, 1]);
    let v: Vec<f32> = x.flatten_all()?.to_vec1()?;
    assert!(v.iter().all(|p| (-1.0..=1.0).contains(p)), "tanh output");
    let h = m.fe.forward_t(&x, true)?;
    assert_eq!(h.dims(), &[B, 1024]);
    assert_eq!(m.d.forward(&h)?.dims(), &[B, 1]);
    let q = m.q.forward_t(&h, true)?;
    assert_eq!(q.feature.dims(), &[B, 128]);
    assert_eq!(q.logits.dims(), &[B, 10]);

    let g = count_params(&m.g_vars, "g.");
    let fe = count_params(&m.d_vars, "fe.");
    let d = count_params(&m.d_vars, "d.");
    let qn = count_params(&m.g_vars, "q.");
    println!("parameters: G {g}, FE {fe}, D {d}, Q {qn}, prior {}", count_params(&m.g_vars, "prior."));
    // G: 72·1024+1024 + 2·1024 + 1024·6272+6272 + 2·6272 + 128·16·64+64 + 2·64 + 64·16·1+1
    assert_eq!(g, 6_650_433);
    // FE: 16·64+64 + 64·16·128+128 + 2·128 + 6272·1024+1024 + 2·1024
    assert_eq!(fe, 6_558_144);
    assert_eq!(d, 1025);
    assert_eq!(qn, 1024 * 128 + 128 + 256 + 128 * 10 + 10);

    // Other sizes from the config: 32×32 RGB, 5 codes, 16-d noise.
    let cfg32 = NetConfig { image_size: 32, channels: 3, num_codes: 5, noise_dim: 16 };
    let m32 = InfoGan::new(&cfg32, &cpu(), 0)?;
    let x32 = m32.g.forward_t(&Tensor::zeros((4, 16), DType::F32, &cpu())?, &Tensor::zeros((4, 5), DType::F32, &cpu())?, true)?;
    assert_eq!(x32.dims(), &[4, 32, 32, 3]);
    assert_eq!(m32.q.forward_t(&m32.fe.forward_t(&x32, true)?, true)?.logits.dims(), &[4, 5]);
    assert!(InfoGan::new(&NetConfig { image_size: 30, ..NetConfig::default() }, &cpu(), 0).is_err());
    // Wrong inputs are errors.
    assert!(m.g.forward_t(&z, &Tensor::zeros((B, 9), DType::F32, &cpu())?, true).is_err());
    assert!(m.fe.forward_t(&Tensor::zeros((2, 1, 28, 28), DType::F32, &cpu())?, true).is_err(), "NCHW is rejected");
    Ok(())
}

#[test]
fn parameter_groups_are_disjoint_and_cover_every_trainable_variable() -> Result<()> {
    let m = InfoGan::new(&NetConfig::default(), &cpu(), 0)?;
    let d_ids: HashSet<_> = named_trainable(&m.d_vars).iter().map(|(_, v)| v.as_tensor().id()).collect();
    let g_ids: HashSet<_> = named_trainable(&m.g_vars).iter().map(|(_, v)| v.as_tensor().id()).collect();
    assert!(d_ids.is_disjoint(&g_ids));
    assert!(named_trainable(&m.d_vars).iter().all(|(n, _)| n.starts_with("fe.") || n.starts_with("d.")));
    assert!(named_trainable(&m.g_vars).iter().all(|(n, _)| n.starts_with("g.") || n.starts_with("q.") || n.starts_with("prior.")));

    // Every variable that any loss of the method reaches is in exactly one group, and
    // every trainable variable is reached: a Gumbel-prior sample feeds G, and both the
    // adversarial and info terms are back-propagated.
    let theta = m.prior_logits.unsqueeze(0)?.broadcast_as((8, 10))?.contiguous()?;
    // candle_nn::ops::softmax_last_dim has no backward: use the composed softmax.
    let c = candle_nn::ops::softmax(&theta, 1)?;
    let z = Tensor::randn(0f32, 1., (8, 62), &cpu())?;
    let x = m.g.forward_t(&z, &c, true)?;
    let h = m.fe.forward_t(&x, true)?;
    let q = m.q.forward_t(&h, true)?;
    let loss = (m.d.forward(&h)?.sum_all()? + (q.logits.sum_all()? + q.feature.sqr()?.sum_all()?)?)?;
    let grads = loss.backward()?;
    let all: Vec<_> = named_trainable(&m.d_vars).into_iter().chain(named_trainable(&m.g_vars)).collect();
    for (name, var) in &all {
        assert!(grads.get(var.as_tensor()).is_some(), "{name} receives no gradient");
    }
    // The trunk is in D's group only: G's optimiser cannot move it.
    assert!(named_trainable(&m.g_vars).iter().all(|(n, _)| !n.starts_with("fe.")));
    // Buffers are not trainable but are saved with the group.
    let names: Vec<String> = m.d_vars.data().lock().unwrap().keys().cloned().collect();
    assert!(names.iter().any(|n| n == "fe.bn2.running_mean"));
    assert!(!named_trainable(&m.d_vars).iter().any(|(n, _)| n.ends_with("running_mean")));
    Ok(())
}

#[test]
fn a_detached_trunk_gives_g_the_same_gradient_and_computes_none_for_itself() -> Result<()> {
    // The generator step passes fakes through FE and D with their weights detached: G's
    // gradients must equal those of the full graph, and FE / D must get none.
    let m = InfoGan::new(&NetConfig::default(), &cpu(), 3)?;
    let z = Tensor::randn(0f32, 1., (8, 62), &cpu())?;
    let c = Tensor::randn(0f32, 1., (8, 10), &cpu())?;
    let g_loss = |fe: &einfo_models::Trunk, d: &einfo_models::DHead| -> Result<candle_core::backprop::GradStore> {
        let x = m.g.forward_t(&z, &c, true)?;
        let h = fe.forward_t(&x, true)?;
        let q = m.q.forward_t(&h, true)?;
        (d.forward(&h)?.sum_all()? + q.logits.sqr()?.sum_all()?)?.backward()
    };
    let full = g_loss(&m.fe, &m.d)?;
    let frozen = g_loss(&m.fe.detached(), &m.d.detached())?;
    for (name, var) in named_trainable(&m.g_vars) {
        if name.starts_with("prior.") {
            continue; // c is given here, not sampled from the prior
        }
        let (a, b) = (full.get(var.as_tensor()).unwrap(), frozen.get(var.as_tensor()).unwrap());
        let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        let scale = a.abs()?.max_all()?.to_scalar::<f32>()?.max(1e-12);
        assert!(diff / scale < 1e-5, "{name}: {diff} (scale {scale})");
    }
    for (name, var) in named_trainable(&m.d_vars) {
        assert!(full.get(var.as_tensor()).is_some(), "{name}");
        assert!(frozen.get(var.as_tensor()).is_none(), "{name} got a gradient through the detached trunk");
    }
    Ok(())
}

#[test]
fn initialisation_is_seeded() -> Result<()> {
    let a = InfoGan::new(&NetConfig::default(), &cpu(), 7)?;
    let b = InfoGan::new(&NetConfig::default(), &cpu(), 7)?;
    let c = InfoGan::new(&NetConfig::default(), &cpu(), 8)?;
    let w = |m: &InfoGan| named_trainable(&m.g_vars).into_iter().find(|(n, _)| n == "g.fc1.weight").unwrap().1;
    let (wa, wb, wc) = (w(&a), w(&b), w(&c));
    assert_eq!(wa.as_tensor().flatten_all()?.to_vec1::<f32>()?, wb.as_tensor().flatten_all()?.to_vec1::<f32>()?);
    assert_ne!(wa.as_tensor().flatten_all()?.to_vec1::<f32>()?, wc.as_tensor().flatten_all()?.to_vec1::<f32>()?);
    // N(0, 0.02²): the sample std of 73,728 weights is within 2% of 0.02.
    let std = wa.as_tensor().sqr()?.mean_all()?.sqrt()?.to_scalar::<f32>()?;
    assert!((std - 0.02).abs() < 0.0004, "{std}");
    Ok(())
}

#[test]
fn batch_norm_eval_mode_uses_running_statistics() -> Result<()> {
    let m = InfoGan::new(&NetConfig::default(), &cpu(), 0)?;
    let z = Tensor::randn(0f32, 1., (B, 62), &cpu())?;
    let c = Tensor::zeros((B, 10), DType::F32, &cpu())?;
    let a = m.g.forward_t(&z, &c, false)?;
    let b = m.g.forward_t(&z, &c, false)?;
    let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
    assert_eq!(diff, 0.0, "eval mode is deterministic and does not update statistics");
    let first = m.g.forward_t(&z.narrow(0, 0, 1)?, &c.narrow(0, 0, 1)?, false)?;
    assert_eq!(first.dims(), &[1, 28, 28, 1], "eval works on a single sample");
    assert!(m.g.forward_t(&z.narrow(0, 0, 1)?, &c.narrow(0, 0, 1)?, true).is_err(), "train mode needs a batch");
    Ok(())
}

#[test]
fn jointvae_shapes() -> Result<()> {
    let vm = VarMap::new();
    let vae = JointVae::new(VarBuilder::from_varmap(&vm, DType::F32, &cpu()), &JointVaeNet::default())?;
    let x28 = Tensor::rand(0f32, 1., (B, 28, 28, 1), &cpu())?;
    let x = pad_to(&x28, 32)?;
    assert_eq!(x.dims(), &[B, 32, 32, 1]);
    let e = vae.encode(&x)?;
    assert_eq!((e.mu.dims(), e.logvar.dims(), e.alpha_logits.dims()), (&[B, 10][..], &[B, 10][..], &[B, 10][..]));
    let latent = Tensor::cat(&[&e.mu, &candle_nn::ops::softmax_last_dim(&e.alpha_logits)?], 1)?;
    assert_eq!(vae.decode(&latent)?.dims(), &[B, 32, 32, 1]);
    let n: usize = named_trainable(&vm).iter().map(|(_, v)| v.elem_count()).sum();
    // Dupont's MNIST JointVAE, layer by layer (weights + biases):
    // encoder (32·16+32) + (64·32·16+64) + (64·64·16+64) + (1024·256+256) + 3·(256·10+10) = 369,086;
    // decoder (20·256+256) + (256·1024+1024) + (64·32·16+32) + (32·32·16+32) + (32·16+1) = 318,273.
    assert_eq!(n, 369_086 + 318_273, "JointVAE parameters");
    assert!(vae.encode(&x28).is_err(), "unpadded 28×28 input is rejected");
    assert!(pad_to(&x, 28).is_err());
    Ok(())
}

#[test]
fn lenet_shapes() -> Result<()> {
    let vm = VarMap::new();
    let net = LeNet::new(VarBuilder::from_varmap(&vm, DType::F32, &cpu()), 1, 10)?;
    let x = Tensor::rand(-1f32, 1., (B, 28, 28, 1), &cpu())?;
    assert_eq!(net.forward(&x)?.dims(), &[B, 10]);
    let n: usize = named_trainable(&vm).iter().map(|(_, v)| v.elem_count()).sum();
    // 25·20+20 + 500·50+50 + 800·500+500 + 500·10+10
    assert_eq!(n, 431_080);
    assert!(net.forward(&Tensor::zeros((2, 32, 32, 1), DType::F32, &cpu())?).is_err());
    Ok(())
}
