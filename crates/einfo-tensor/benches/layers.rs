//! Forward + backward of each layer shape of the InfoGAN nets (batch 64), einfo's CPU
//! path against candle's stock ops in the same run, plus augmenting a batch of 64.
//!
//! `experiments/bench/layers_vs_torch.sh` runs this next to PyTorch's per-layer timings.

use candle_core::{CpuStorage, CustomOp1, Device, Layout, Module, Shape, Tensor, Var};
use criterion::{criterion_group, Criterion};
use einfo_tensor::{warp, AffineParams, AugmentConfig, Augmenter, Conv2d, ConvSpec, ConvTranspose2d, Linear};

const B: usize = 64;
const K4: ConvSpec = ConvSpec { k: 4, stride: 2, pad: 1 };

fn var(shape: &[usize]) -> Var {
    Var::from_tensor(&Tensor::randn(0f32, 0.1, shape, &Device::Cpu).unwrap()).unwrap()
}

/// Stands for a loss whose gradient with respect to `y` is all ones: backward hands back
/// a freshly filled `ones_like(y)`, exactly what `y.backward(torch.ones_like(y))` feeds
/// PyTorch. (Seeding through `y.sum_all()` instead would time candle's strided copy of a
/// broadcast scalar, ~1.5 ms on the first conv's output, which no training step pays.)
struct OnesSeed;

impl CustomOp1 for OnesSeed {
    fn name(&self) -> &'static str {
        "ones-seed"
    }

    fn cpu_fwd(&self, _s: &CpuStorage, _l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        Ok((CpuStorage::F32(vec![0.0]), Shape::from(())))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, _grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(arg.ones_like()?))
    }
}

/// Forward, then backward from an all-ones output gradient to the input and every
/// parameter: what `torch_elastic_step.py --layers` times on an input that requires grad.
fn fwd_bwd(f: &dyn Fn() -> Tensor) {
    let y = f();
    let g = y.apply_op1(OnesSeed).unwrap().backward().unwrap();
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
            bn.iter(|| {
                fwd_bwd(&|| xn.as_tensor().conv2d(wn.as_tensor(), 1, 2, 1, 1).unwrap().broadcast_add(&b.as_tensor().reshape((1, cout, 1, 1)).unwrap()).unwrap())
            })
        });
    }

    for (name, cin, cout, hw) in [("G convT 128→64", 128, 64, 7), ("G convT 64→1", 64, 1, 14)] {
        let (x, w, b) = (var(&[B, hw, hw, cin]), var(&[cin, 16 * cout]), var(&[cout]));
        let conv = ConvTranspose2d { weight: w.as_tensor().clone(), bias: b.as_tensor().clone(), spec: K4, cin, cout };
        group.bench_function(format!("{name} einfo"), |bn| bn.iter(|| fwd_bwd(&|| conv.forward(x.as_tensor()).unwrap())));
        let xn = var(&[B, cin, hw, hw]);
        let wn = var(&[cin, cout, 4, 4]);
        group.bench_function(format!("{name} candle"), |bn| {
            bn.iter(|| {
                fwd_bwd(&|| {
                    xn.as_tensor()
                        .conv_transpose2d(wn.as_tensor(), 1, 0, 2, 1)
                        .unwrap()
                        .broadcast_add(&b.as_tensor().reshape((1, cout, 1, 1)).unwrap())
                        .unwrap()
                })
            })
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
    // As the `einfo` binary runs: large buffers stay in the heap, candle's element-wise
    // pool on one thread unless CANDLE_NUM_THREADS says otherwise (set it to 2 to give the
    // stock rows candle's default threading).
    einfo_tensor::tune_allocator();
    einfo_tensor::tune_threads();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
