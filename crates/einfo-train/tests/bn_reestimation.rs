//! Real-image codes with BatchNorm statistics re-estimated on the real images
//! (`Method::infer_codes_reestimated`, PreciseBN) leave the model exactly as it was: the
//! evaluation during training must not change what the next step or checkpoint sees.

use candle_core::{Device, Tensor};
use einfo_train::{build_method, presets};

#[test]
fn reestimated_codes_leave_every_weight_and_statistic_as_it_was() {
    let cfg = presets::load("uniform").unwrap().with_overrides(&["train.batch_size=16".into()]).unwrap();
    let dev = Device::Cpu;
    let mut method = build_method(&cfg, &[0.1; 10], &dev).unwrap();
    let images = |seed: f64| (Tensor::rand(-1f32, 1f32, (16, 28, 28, 1), &dev).unwrap() * seed).unwrap();
    for s in 0..3 {
        method.step(&images(1.0 - 0.1 * s as f64)).unwrap();
    }
    let base = std::env::temp_dir().join(format!("einfo-bn-reest-{}", std::process::id()));
    let (before, after) = (base.join("before"), base.join("after"));
    for d in [&before, &after] {
        std::fs::create_dir_all(d).unwrap();
    }
    let probe = images(0.5);
    let codes_before = method.infer_codes(&probe).unwrap();
    method.save(&before).unwrap();

    let real = [images(0.9), images(0.7), Tensor::rand(-1f32, 1f32, (5, 28, 28, 1), &dev).unwrap()];
    let reestimated = method.infer_codes_reestimated(&real).unwrap();
    assert_eq!(reestimated.len(), 16 + 16 + 5, "one code per real image");
    assert!(reestimated.iter().all(|&c| c < 10));

    method.save(&after).unwrap();
    assert_eq!(method.infer_codes(&probe).unwrap(), codes_before, "the trained statistics are back");
    let mut names: Vec<_> = std::fs::read_dir(&before).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert!(!names.is_empty());
    for n in names {
        let (a, b) = (std::fs::read(before.join(&n)).unwrap(), std::fs::read(after.join(&n)).unwrap());
        assert!(a == b, "{n:?} changed across a re-estimated evaluation");
    }
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn a_last_batch_of_one_image_is_measured_not_used_for_the_statistics() {
    // Training-mode BatchNorm needs two values a channel: 501 real images end in a batch of 1.
    let cfg = presets::load("elastic").unwrap().with_overrides(&["train.batch_size=16".into()]).unwrap();
    let dev = Device::Cpu;
    let method = build_method(&cfg, &[0.1; 10], &dev).unwrap();
    let batches = [Tensor::rand(-1f32, 1f32, (6, 28, 28, 1), &dev).unwrap(), Tensor::rand(-1f32, 1f32, (1, 28, 28, 1), &dev).unwrap()];
    assert_eq!(method.infer_codes_reestimated(&batches).unwrap().len(), 7);
}
