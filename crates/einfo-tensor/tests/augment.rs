//! Augmentations: identity, exact 90° rotation, determinism, ranges.

use candle_core::{Device, Result, Tensor};
use einfo_tensor::{warp, AffineParams, AugmentConfig, Augmenter};

fn asymmetric(b: usize, h: usize, w: usize) -> Result<Tensor> {
    let v: Vec<f32> = (0..b * h * w).map(|i| ((i * 7919) % 101) as f32 / 100.0).collect();
    Tensor::from_vec(v, (b, h, w, 1), &Device::Cpu)
}

#[test]
fn identity_parameters_give_the_input_back() -> Result<()> {
    let x = asymmetric(3, 28, 28)?;
    let y = warp(&x, &[AffineParams::IDENTITY; 3])?;
    assert_eq!(x.flatten_all()?.to_vec1::<f32>()?, y.flatten_all()?.to_vec1::<f32>()?);
    Ok(())
}

#[test]
fn a_90_degree_rotation_is_the_index_permutation() -> Result<()> {
    let (h, w) = (6, 6);
    let x = asymmetric(1, h, w)?;
    let p = AffineParams { angle_deg: 90.0, ..AffineParams::IDENTITY };
    let y: Vec<f32> = warp(&x, &[p])?.flatten_all()?.to_vec1()?;
    let xv: Vec<f32> = x.flatten_all()?.to_vec1()?;
    // Output (oy, ox) samples q = R(−θ)(p − c) + c; for θ = 90° (y axis down) that is
    // sx = c + (oy − c), sy = c − (ox − c), i.e. y[oy][ox] = x[w − 1 − ox][oy].
    for oy in 0..h {
        for ox in 0..w {
            let want = xv[(w - 1 - ox) * w + oy];
            assert!((y[oy * w + ox] - want).abs() < 1e-5, "({oy}, {ox}): {} vs {want}", y[oy * w + ox]);
        }
    }
    // Four quarter turns are the identity.
    let mut z = x.clone();
    for _ in 0..4 {
        z = warp(&z, &[p])?;
    }
    let zv: Vec<f32> = z.flatten_all()?.to_vec1()?;
    assert!(zv.iter().zip(&xv).all(|(a, b)| (a - b).abs() < 1e-4));
    Ok(())
}

#[test]
fn flip_mirrors_and_zoom_out_fills_with_zeros() -> Result<()> {
    let x = asymmetric(1, 4, 5)?;
    let flipped: Vec<f32> = warp(&x, &[AffineParams { flip: true, ..AffineParams::IDENTITY }])?.flatten_all()?.to_vec1()?;
    let xv: Vec<f32> = x.flatten_all()?.to_vec1()?;
    for r in 0..4 {
        for c in 0..5 {
            assert!((flipped[r * 5 + c] - xv[r * 5 + 4 - c]).abs() < 1e-6);
        }
    }
    let ones = Tensor::ones((1, 28, 28, 1), candle_core::DType::F32, &Device::Cpu)?;
    let small: Vec<f32> = warp(&ones, &[AffineParams { zoom: 0.5, ..AffineParams::IDENTITY }])?.flatten_all()?.to_vec1()?;
    assert_eq!(small[0], 0.0, "the corner comes from outside the image");
    assert!((small[14 * 28 + 14] - 1.0).abs() < 1e-6);
    Ok(())
}

#[test]
fn same_seed_same_batch_and_parameters_in_range() -> Result<()> {
    let x = asymmetric(64, 28, 28)?;
    let mut a = Augmenter::new(AugmentConfig::default(), 42)?;
    let mut b = Augmenter::new(AugmentConfig::default(), 42)?;
    let ya: Vec<f32> = a.apply(&x)?.flatten_all()?.to_vec1()?;
    let yb: Vec<f32> = b.apply(&x)?.flatten_all()?.to_vec1()?;
    assert_eq!(ya, yb);
    let pos = a.word_pos();
    let p1 = a.sample(200);
    a.set_word_pos(pos);
    assert_eq!(a.sample(200), p1, "restoring the position replays the parameters");
    assert!(p1.iter().all(|p| p.angle_deg.fract() == 0.0 && p.angle_deg.abs() <= 20.0));
    assert!(p1.iter().all(|p| (0.9..=1.1).contains(&p.zoom) && !p.flip && p.tx == 0.0));
    assert!(p1.iter().any(|p| p.angle_deg != p1[0].angle_deg));
    let mut c = Augmenter::new(AugmentConfig::default(), 43)?;
    assert_ne!(c.sample(10), Augmenter::new(AugmentConfig::default(), 42)?.sample(10));
    assert!(Augmenter::new(AugmentConfig { zoom_min: 0.0, ..AugmentConfig::default() }, 0).is_err());
    assert!(warp(&x, &[AffineParams::IDENTITY]).is_err(), "one parameter set per sample");
    Ok(())
}
