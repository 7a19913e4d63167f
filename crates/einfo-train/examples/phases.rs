use std::time::Instant;
use candle_core::{Device, Tensor, Module};
use einfo_models::{InfoGan, NetConfig, named_trainable};
use einfo_train::adam::{Adam, AdamParams};

fn main() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let m = InfoGan::new(&NetConfig::default(), &dev, 0)?;
    let z = Tensor::randn(0f32, 1., (64, 62), &dev)?;
    let c = Tensor::zeros((64, 10), candle_core::DType::F32, &dev)?;
    let x = Tensor::rand(-1f32, 1., (64, 28, 28, 1), &dev)?;
    let mut opt = Adam::new(named_trainable(&m.g_vars), AdamParams { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 })?;
    for it in 0..3 {
        let t = Instant::now();
        let fake = m.g.forward_t(&z, &c, true)?;
        let t1 = t.elapsed();
        let l = fake.sqr()?.sum_all()?;
        let g = l.backward()?;
        let t2 = t.elapsed();
        opt.step(&g)?;
        let t3 = t.elapsed();
        let h = m.fe.forward_t(&x, true)?;
        let t4 = t.elapsed();
        let g2 = m.d.forward(&h)?.sum_all()?.backward()?;
        let t5 = t.elapsed();
        println!("it {it}: G fwd {:?} G bwd {:?} adam_g {:?} FE fwd {:?} FE bwd {:?}", t1, t2 - t1, t3 - t2, t4 - t3, t5 - t4);
        drop(g2);
        // layer-level
        let lin = einfo_tensor::Linear::new(candle_nn::VarBuilder::from_varmap(&candle_nn::VarMap::new(), candle_core::DType::F32, &dev), 1024, 6272)?;
        let a = Tensor::randn(0f32, 1., (64, 1024), &dev)?;
        let t = Instant::now();
        let y = lin.forward(&a)?;
        let tf = t.elapsed();
        let _ = y.sum_all()?.backward()?;
        println!("   linear 1024->6272 fwd {:?} bwd {:?}", tf, t.elapsed() - tf);
    }
    Ok(())
}
