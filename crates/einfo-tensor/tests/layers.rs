//! The fast layers against candle's reference ops (forward and every gradient), against
//! finite differences in f64, and their error cases.

use candle_core::{DType, Device, Module, Result, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use einfo_tensor::im2col::{col2im, im2col};
use einfo_tensor::{conv2d_reference, conv_transpose2d_reference, leaky_relu, BatchNorm, Conv2d, ConvSpec, ConvTranspose2d, Linear};

const CPU: Device = Device::Cpu;

fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    let d = (a - b).unwrap().abs().unwrap().max_all().unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap();
    let m = b.abs().unwrap().max_all().unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap();
    d / m.max(1e-12)
}

fn vb(vm: &VarMap, dtype: DType) -> VarBuilder<'_> {
    VarBuilder::from_varmap(vm, dtype, &CPU)
}

/// A random probe `r`; the scalar `Σ y ⊙ r` makes every gradient non-trivial.
fn probe_loss(y: &Tensor, seed_shape: &Tensor) -> Result<Tensor> {
    (y * seed_shape)?.sum_all()
}

type Layer = (&'static str, usize, usize, (usize, usize), ConvSpec);

const CONV_CASES: [Layer; 4] = [
    ("trunk conv 1→64", 1, 64, (28, 28), ConvSpec { k: 4, stride: 2, pad: 1 }),
    ("trunk conv 64→128 (reduced)", 16, 32, (14, 14), ConvSpec { k: 4, stride: 2, pad: 1 }),
    ("k3 s1 p1", 3, 5, (9, 7), ConvSpec { k: 3, stride: 1, pad: 1 }),
    ("k5 s1 p0", 2, 4, (12, 12), ConvSpec { k: 5, stride: 1, pad: 0 }),
];

#[test]
fn conv2d_matches_candle_forward_and_gradients() -> Result<()> {
    for (name, cin, cout, (h, w), spec) in CONV_CASES {
        let vm = VarMap::new();
        let conv = Conv2d::new(vb(&vm, DType::F32), cin, cout, spec)?;
        // Non-zero bias so its gradient and its forward contribution are checked.
        let bias = Var::from_tensor(&Tensor::randn(0f32, 1., cout, &CPU)?)?;
        let conv = Conv2d { bias: bias.as_tensor().clone(), ..conv };
        let x = Var::from_tensor(&Tensor::randn(0f32, 1., (3, h, w, cin), &CPU)?)?;
        let y = conv.forward(x.as_tensor())?;
        let y_ref = conv2d_reference(x.as_tensor(), &conv.weight, &conv.bias, spec)?;
        assert_eq!(y.dims(), y_ref.dims(), "{name}");
        assert!(rel_err(&y, &y_ref) < 1e-5, "{name}: forward {}", rel_err(&y, &y_ref));
        let r = Tensor::randn(0f32, 1., y.dims(), &CPU)?;
        let g = probe_loss(&y, &r)?.backward()?;
        let g_ref = probe_loss(&y_ref, &r)?.backward()?;
        for (what, t) in [("input", x.as_tensor()), ("weight", &conv.weight), ("bias", &conv.bias)] {
            let (a, b) = (g.get(t).unwrap(), g_ref.get(t).unwrap());
            assert!(rel_err(a, b) < 1e-5, "{name}: ∂{what} {}", rel_err(a, b));
        }
    }
    Ok(())
}

#[test]
fn conv_transpose2d_matches_candle_forward_and_gradients() -> Result<()> {
    let cases = [
        ("G convT 128→64 (reduced)", 32, 16, (7, 7), ConvSpec { k: 4, stride: 2, pad: 1 }),
        ("G convT 64→1", 64, 1, (14, 14), ConvSpec { k: 4, stride: 2, pad: 1 }),
        ("k3 s1 p1", 3, 5, (6, 5), ConvSpec { k: 3, stride: 1, pad: 1 }),
        ("k4 s2 p0", 2, 3, (5, 5), ConvSpec { k: 4, stride: 2, pad: 0 }),
    ];
    for (name, cin, cout, (h, w), spec) in cases {
        let vm = VarMap::new();
        let layer = ConvTranspose2d::new(vb(&vm, DType::F32), cin, cout, spec)?;
        let bias = Var::from_tensor(&Tensor::randn(0f32, 1., cout, &CPU)?)?;
        let layer = ConvTranspose2d { bias: bias.as_tensor().clone(), ..layer };
        let x = Var::from_tensor(&Tensor::randn(0f32, 1., (2, h, w, cin), &CPU)?)?;
        let y = layer.forward(x.as_tensor())?;
        let y_ref = conv_transpose2d_reference(x.as_tensor(), &layer.weight, &layer.bias, spec)?;
        assert_eq!(y.dims(), y_ref.dims(), "{name}");
        assert!(rel_err(&y, &y_ref) < 1e-5, "{name}: forward {}", rel_err(&y, &y_ref));
        let r = Tensor::randn(0f32, 1., y.dims(), &CPU)?;
        let g = probe_loss(&y, &r)?.backward()?;
        let g_ref = probe_loss(&y_ref, &r)?.backward()?;
        for (what, t) in [("input", x.as_tensor()), ("weight", &layer.weight), ("bias", &layer.bias)] {
            let (a, b) = (g.get(t).unwrap(), g_ref.get(t).unwrap());
            assert!(rel_err(a, b) < 1e-5, "{name}: ∂{what} {}", rel_err(a, b));
        }
    }
    Ok(())
}

#[test]
fn im2col_and_col2im_are_adjoint() -> Result<()> {
    let spec = ConvSpec { k: 4, stride: 2, pad: 1 };
    let g = spec.geom(2, 9, 8, 3)?;
    let x = Tensor::randn(0f64, 1., (2, 9, 8, 3), &CPU)?;
    let y = Tensor::randn(0f64, 1., (g.rows(), g.cols()), &CPU)?;
    let lhs = (im2col(&x, g)? * &y)?.sum_all()?.to_scalar::<f64>()?;
    let rhs = (x * col2im(&y, g)?)?.sum_all()?.to_scalar::<f64>()?;
    assert!((lhs - rhs).abs() < 1e-10 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
    Ok(())
}

/// Central differences in f64 on a few coordinates of every input of a layer.
fn check_finite_differences(f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Var]) -> Result<()> {
    let ts: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
    let grads = f(&ts)?.backward()?;
    let eps = 1e-6;
    for (i, v) in inputs.iter().enumerate() {
        let base: Vec<f64> = v.as_tensor().flatten_all()?.to_vec1()?;
        let analytic: Vec<f64> = grads.get(v.as_tensor()).unwrap().flatten_all()?.to_vec1()?;
        for j in (0..base.len()).step_by((base.len() / 7).max(1)) {
            let eval = |delta: f64| -> Result<f64> {
                let mut p = base.clone();
                p[j] += delta;
                let mut args = ts.clone();
                args[i] = Tensor::from_vec(p, v.shape(), &CPU)?;
                f(&args)?.to_scalar::<f64>()
            };
            let numeric = (eval(eps)? - eval(-eps)?) / (2.0 * eps);
            let err = (numeric - analytic[j]).abs() / numeric.abs().max(1.0);
            assert!(err < 1e-6, "input {i} coordinate {j}: numeric {numeric} vs analytic {}", analytic[j]);
        }
    }
    Ok(())
}

#[test]
fn conv_layers_match_finite_differences_in_f64() -> Result<()> {
    let spec = ConvSpec { k: 4, stride: 2, pad: 1 };
    let x = Var::from_tensor(&Tensor::randn(0f64, 1., (2, 6, 6, 3), &CPU)?)?;
    let w = Var::from_tensor(&Tensor::randn(0f64, 0.5, (16 * 3, 4), &CPU)?)?;
    let b = Var::from_tensor(&Tensor::randn(0f64, 0.5, 4, &CPU)?)?;
    let r = Tensor::randn(0f64, 1., (2, 3, 3, 4), &CPU)?;
    let conv = |a: &[Tensor]| {
        let layer = Conv2d { weight: a[1].clone(), bias: a[2].clone(), spec, cin: 3, cout: 4 };
        (layer.forward(&a[0])?.sqr()? * &r)?.sum_all()
    };
    check_finite_differences(conv, &[x.clone(), w, b])?;

    let wt = Var::from_tensor(&Tensor::randn(0f64, 0.5, (3, 16 * 2), &CPU)?)?;
    let bt = Var::from_tensor(&Tensor::randn(0f64, 0.5, 2, &CPU)?)?;
    let rt = Tensor::randn(0f64, 1., (2, 12, 12, 2), &CPU)?;
    let convt = |a: &[Tensor]| {
        let layer = ConvTranspose2d { weight: a[1].clone(), bias: a[2].clone(), spec, cin: 3, cout: 2 };
        (layer.forward(&a[0])?.sqr()? * &rt)?.sum_all()
    };
    check_finite_differences(convt, &[x, wt, bt])
}

#[test]
fn linear_matches_a_plain_matmul_and_rejects_bad_shapes() -> Result<()> {
    let vm = VarMap::new();
    let l = Linear::new(vb(&vm, DType::F32), 5, 3)?;
    assert_eq!(l.weight.dims(), &[5, 3]);
    let x = Tensor::randn(0f32, 1., (4, 5), &CPU)?;
    let bias = Var::from_tensor(&Tensor::randn(0f32, 1., 3, &CPU)?)?;
    let l = Linear { bias: Some(bias.as_tensor().clone()), ..l };
    let x = Var::from_tensor(&x)?;
    let y = l.forward(x.as_tensor())?;
    let want = x.as_tensor().matmul(&l.weight)?.broadcast_add(bias.as_tensor())?;
    assert!(rel_err(&y, &want) < 1e-6);
    let r = Tensor::randn(0f32, 1., (4, 3), &CPU)?;
    let (g, g_ref) = (probe_loss(&y, &r)?.backward()?, probe_loss(&want, &r)?.backward()?);
    for t in [x.as_tensor(), &l.weight, bias.as_tensor()] {
        assert!(rel_err(g.get(t).unwrap(), g_ref.get(t).unwrap()) < 1e-5);
    }
    // f64 finite differences through the fused op.
    let xv = Var::from_tensor(&Tensor::randn(0f64, 1., (3, 5), &CPU)?)?;
    let wv = Var::from_tensor(&Tensor::randn(0f64, 1., (5, 2), &CPU)?)?;
    let bv = Var::from_tensor(&Tensor::randn(0f64, 1., 2, &CPU)?)?;
    let rr = Tensor::randn(0f64, 1., (3, 2), &CPU)?;
    check_finite_differences(|a| (Linear { weight: a[1].clone(), bias: Some(a[2].clone()) }.forward(&a[0])?.sqr()? * &rr)?.sum_all(), &[xv, wv, bv])?;
    assert!(l.forward(&Tensor::zeros((4, 6), DType::F32, &CPU)?).is_err());
    Ok(())
}

#[test]
fn leaky_relu_matches_candle_nn_and_its_gradient() -> Result<()> {
    let x = Var::from_tensor(&Tensor::new(&[-2f32, -0.5, 0.0, 0.5, 3.0], &CPU)?)?;
    let y = leaky_relu(x.as_tensor(), 0.2)?;
    assert_eq!(y.to_vec1::<f32>()?, vec![-0.4, -0.1, 0.0, 0.5, 3.0]);
    let r = Tensor::new(&[1f32, 2., 3., 4., 5.], &CPU)?;
    let g = (y * &r)?.sum_all()?.backward()?;
    // d/dx: slope below zero (x = 0 included, as in PyTorch), 1 above.
    assert_eq!(g.get(x.as_tensor()).unwrap().to_vec1::<f32>()?, vec![0.2, 0.4, 0.6, 4.0, 5.0]);
    let big = Tensor::randn(0f32, 1., (64, 128), &CPU)?;
    let reference = candle_nn::ops::leaky_relu(&big, 0.2)?;
    assert!(rel_err(&leaky_relu(&big, 0.2)?, &reference) < 1e-7);
    assert!(leaky_relu(&big, 1.5).is_err());
    Ok(())
}

#[test]
fn batch_norm_follows_pytorch_semantics() -> Result<()> {
    // PyTorch's BatchNorm1d(2) in training mode, written out in NumPy:
    //   x = np.array([[1.,10.],[2.,20.],[3.,60.],[6.,30.]]); m = x.mean(0); v = x.var(0)
    //   (x - m) / np.sqrt(v + 1e-5)        -> [[-1.069,-1.069],[-0.5345,-0.5345],[0,1.6036],[1.6036,0]]
    //   0.1 * m                            -> [0.3, 3.0]            (running_mean)
    //   0.9 + 0.1 * x.var(0, ddof=1)       -> [1.36667, 47.56667]   (running_var, unbiased)
    let vm = VarMap::new();
    let bn = BatchNorm::new(vb(&vm, DType::F32), 2)?;
    let x = Tensor::new(&[[1f32, 10.], [2., 20.], [3., 60.], [6., 30.]], &CPU)?;
    let y = bn.forward_t(&x, true)?;
    let want = Tensor::new(&[[-1.0690f32, -1.0690], [-0.5345, -0.5345], [0.0, 1.6036], [1.6036, 0.0]], &CPU)?;
    assert!(rel_err(&y, &want) < 1e-4, "{y}");
    let rm = bn.running_mean.as_tensor().to_vec1::<f32>()?;
    let rv = bn.running_var.as_tensor().to_vec1::<f32>()?;
    assert!((rm[0] - 0.3).abs() < 1e-5 && (rm[1] - 3.0).abs() < 1e-5, "{rm:?}");
    assert!((rv[0] - 1.36667).abs() < 1e-4 && (rv[1] - 47.56667).abs() < 1e-3, "{rv:?}");
    // Eval: (x − running_mean) / √(running_var + ε).
    let e = bn.forward_t(&Tensor::new(&[[0.3f32, 3.0]], &CPU)?, false)?;
    assert!(e.abs()?.max_all()?.to_scalar::<f32>()? < 1e-6);
    // NHWC: the channel is the last dimension.
    let bn4 = BatchNorm::new(vb(&vm, DType::F32).pp("b4"), 3)?;
    let x4 = Tensor::randn(2f32, 3., (4, 5, 5, 3), &CPU)?;
    let y4 = bn4.forward_t(&x4, true)?.reshape((100, 3))?;
    let m = y4.mean(0)?.abs()?.max_all()?.to_scalar::<f32>()?;
    assert!(m < 1e-5, "per-channel mean {m}");
    assert!(bn.forward_t(&Tensor::zeros((1, 2), DType::F32, &CPU)?, true).is_err(), "a batch of one cannot be normalised");
    assert!(bn.forward_t(&Tensor::zeros((4, 3), DType::F32, &CPU)?, true).is_err());
    Ok(())
}

#[test]
fn fused_batch_norm_matches_candle_ops_forward_gradients_and_running_stats() -> Result<()> {
    for (dims, dt) in [(vec![16usize, 5], DType::F32), (vec![4, 3, 3, 7], DType::F32), (vec![6, 2, 2, 3], DType::F64)] {
        let c = *dims.last().unwrap();
        let (vm_a, vm_b) = (VarMap::new(), VarMap::new());
        let fused = BatchNorm::new(vb(&vm_a, dt), c)?;
        let reference = BatchNorm::new(vb(&vm_b, dt), c)?;
        // Non-trivial γ, β (the same in both).
        let gamma = Tensor::randn(1f32, 0.5, c, &CPU)?.to_dtype(dt)?;
        let beta = Tensor::randn(0f32, 0.5, c, &CPU)?.to_dtype(dt)?;
        let (fw, fb) = (Var::from_tensor(&gamma)?, Var::from_tensor(&beta)?);
        let (rw, rb) = (Var::from_tensor(&gamma)?, Var::from_tensor(&beta)?);
        let fused = BatchNorm { weight: fw.as_tensor().clone(), bias: fb.as_tensor().clone(), ..fused };
        let reference = BatchNorm { weight: rw.as_tensor().clone(), bias: rb.as_tensor().clone(), ..reference };
        let x = Var::from_tensor(&Tensor::randn(1f32, 2.0, dims.as_slice(), &CPU)?.to_dtype(dt)?)?;
        let r = Tensor::randn(0f32, 1.0, dims.as_slice(), &CPU)?.to_dtype(dt)?;
        let yf = fused.forward_t(x.as_tensor(), true)?;
        let yr = reference.forward_t_reference(x.as_tensor(), true)?;
        let tol = if dt == DType::F32 { 1e-5 } else { 1e-12 };
        assert!(rel_err(&yf, &yr) < tol, "forward {dims:?}");
        let gf = (yf * &r)?.sum_all()?.backward()?;
        let gr = (yr * &r)?.sum_all()?.backward()?;
        for (name, a, b) in [("x", x.as_tensor(), x.as_tensor()), ("gamma", fw.as_tensor(), rw.as_tensor()), ("beta", fb.as_tensor(), rb.as_tensor())] {
            let (a, b) = (gf.get(a).unwrap(), gr.get(b).unwrap());
            assert!(rel_err(a, b) < tol * 10.0, "∂{name} {dims:?}: {}", rel_err(a, b));
        }
        for (a, b) in [(&fused.running_mean, &reference.running_mean), (&fused.running_var, &reference.running_var)] {
            assert!(rel_err(a.as_tensor(), b.as_tensor()) < tol, "running statistics {dims:?}");
        }
    }
    Ok(())
}

#[test]
fn unsupported_geometries_are_errors_not_panics() -> Result<()> {
    let vm = VarMap::new();
    for spec in
        [ConvSpec { k: 0, stride: 1, pad: 0 }, ConvSpec { k: 3, stride: 0, pad: 0 }, ConvSpec { k: 3, stride: 4, pad: 0 }, ConvSpec { k: 3, stride: 1, pad: 3 }]
    {
        assert!(Conv2d::new(vb(&vm, DType::F32).pp(format!("{spec:?}")), 1, 1, spec).is_err(), "{spec:?}");
    }
    let conv = Conv2d::new(vb(&vm, DType::F32).pp("ok"), 2, 4, ConvSpec { k: 4, stride: 2, pad: 1 })?;
    assert!(conv.forward(&Tensor::zeros((1, 8, 8, 3), DType::F32, &CPU)?).is_err(), "wrong channel count");
    assert!(conv.forward(&Tensor::zeros((1, 2, 8, 8), DType::F32, &CPU)?).is_err(), "NCHW input");
    let t = ConvTranspose2d::new(vb(&vm, DType::F32).pp("t"), 2, 1, ConvSpec { k: 4, stride: 2, pad: 1 })?;
    assert!(t.forward(&Tensor::zeros((1, 7, 7, 3), DType::F32, &CPU)?).is_err());
    assert!(im2col(&Tensor::zeros((1, 4, 4, 1), DType::U8, &CPU)?, ConvSpec { k: 2, stride: 2, pad: 0 }.geom(1, 4, 4, 1)?).is_err());
    Ok(())
}
