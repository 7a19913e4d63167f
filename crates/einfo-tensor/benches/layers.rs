//! Forward + backward of each layer shape of the InfoGAN nets (batch 64), einfo's CPU
//! path against candle's stock ops in the same run, plus augmenting a batch of 64.

use candle_core::{Device, Module, Tensor, Var};
use criterion::{criterion_group, Criterion};
use einfo_tensor::{warp, AffineParams, Augmenter, AugmentConfig, Conv2d, ConvSpec, ConvTranspose2d, Linear};

const B: usize = 64;
const K4: ConvSpec = ConvSpec { k: 4, stride: 2, pad: 1 };

fn var(shape: &[usize]) -> Var {
    Var::from_tensor(&Tensor::randn(0f32, 0.1, shape, &Device::Cpu).unwrap()).unwrap()
}

fn fwd_bwd(f: &dyn Fn() -> Tensor) {
    let y = f();
    let g = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
    std::hint::black_box(g);
}

fn layers(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("layers [{}]", einfo_tensor::gemm::backend_name()));
    group.sample_size(15);

    for (name, i, o) in [("G linear 1024→6272", 1024, 6272), ("trunk linear 6272→1024", 6272, 1024)] {
        let (x, w, b) = (var(&[B, i]), var(&[i, o]), var(&[o]));
        let lin = Linear { weight: w.as_tensor().clone(), bias: Some(b.as_tensor().clone()) };
        group.bench_function(format!("{name} einfo"), |bn| bn.iter(|| fwd_bwd(&|| lin.forward(x.as_tensor()).unwrap())));
        let wt = var(&[o, i]);
        let stock = candle_nn::Linear::new(wt.as_tensor().clone(), Some(b.as_tensor().clone()));
        group.bench_function(format!("{name} candle"), |bn| bn.iter(|| fwd_bwd(&|| stock.forward(x.as_tensor()).unwrap())));
    }

    for (name, cin, cout, hw) in [("trunk conv 1→64", 1, 64, 28), ("trunk conv 64→128", 64, 128, 14)] {
        let (x, w, b) = (var(&[B, hw, hw, cin]), var(&[16 * cin, cout]), var(&[cout]));
        let conv = Conv2d { weight: w.as_tensor().clone(), bias: b.as_tensor().clone(), spec: K4, cin, cout };
        group.bench_function(format!("{name} einfo"), |bn| bn.iter(|| fwd_bwd(&|| conv.forward(x.as_tensor()).unwrap())));
        let xn = var(&[B, cin, hw, hw]);
        let wn = var(&[cout, cin, 4, 4]);
        group.bench_function(format!("{name} candle"), |bn| {
            bn.iter(|| fwd_bwd(&|| xn.as_tensor().conv2d(wn.as_tensor(), 1, 2, 1, 1).unwrap().broadcast_add(&b.as_tensor().reshape((1, cout, 1, 1)).unwrap()).unwrap()))
        });
    }

    for (name, cin, cout, hw) in [("G convT 128→64", 128, 64, 7), ("G convT 64→1", 64, 1, 14)] {
        let (x, w, b) = (var(&[B, hw, hw, cin]), var(&[cin, 16 * cout]), var(&[cout]));
        let conv = ConvTranspose2d { weight: w.as_tensor().clone(), bias: b.as_tensor().clone(), spec: K4, cin, cout };
        group.bench_function(format!("{name} einfo"), |bn| bn.iter(|| fwd_bwd(&|| conv.forward(x.as_tensor()).unwrap())));
        let xn = var(&[B, cin, hw, hw]);
        let wn = var(&[cin, cout, 4, 4]);
        group.bench_function(format!("{name} candle"), |bn| {
            bn.iter(|| fwd_bwd(&|| xn.as_tensor().conv_transpose2d(wn.as_tensor(), 1, 0, 2, 1).unwrap().broadcast_add(&b.as_tensor().reshape((1, cout, 1, 1)).unwrap()).unwrap()))
        });
    }

    let imgs = Tensor::rand(-1f32, 1., (B, 28, 28, 1), &Device::Cpu).unwrap();
    let mut aug = Augmenter::new(AugmentConfig::default(), 0).unwrap();
    group.bench_function("augment 64 (rotate + zoom)", |bn| bn.iter(|| std::hint::black_box(aug.apply(&imgs).unwrap())));
    let id = vec![AffineParams::IDENTITY; B];
    group.bench_function("warp 64 (identity params)", |bn| bn.iter(|| std::hint::black_box(warp(&imgs, &id).unwrap())));
    group.finish();
}

criterion_group!(benches, layers);

fn main() {
    einfo_tensor::tune_allocator();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
