//! Training 2N steps equals N steps + resume + N steps, bit for bit, on CPU; and the
//! config tree behaves (presets parse, overrides apply, unknown fields are rejected).

mod common;
use common::*;

use std::path::{Path, PathBuf};

use einfo_train::{presets, resume, train, Config};

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("einfo-resume-{}-{name}", std::process::id()))
}

fn check_exact_resume(preset: &str) {
    let cfg = presets::load(preset).unwrap().with_overrides(&["train.batch_size=16".into(), "log.checkpoint_every=1000".into()]).unwrap();
    let full = tmp(&format!("{preset}-full"));
    let split = tmp(&format!("{preset}-split"));
    train(&cfg.with_overrides(&["train.max_steps=4".into()]).unwrap(), &full, &opts(true)).unwrap();
    let s = train(&cfg.with_overrides(&["train.max_steps=2".into()]).unwrap(), &split, &opts(true)).unwrap();
    assert_eq!(s.steps, 2);
    let s = resume(&split, &["train.max_steps=4".into()], &opts(true)).unwrap();
    assert_eq!(s.steps, 4);
    let (a, b) = (final_tensors(&full), final_tensors(&split));
    assert_eq!(a.len(), b.len());
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(ta == tb, "{preset}: {na} differs between 4 steps and 2 + resume + 2");
    }
    let state = |r: &Path| einfo_train::checkpoint::load_state(&einfo_train::checkpoint::latest(r).unwrap().unwrap().1).unwrap();
    assert_eq!(state(&full), state(&split));
    for d in [full, split] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn elastic_resume_is_exact() {
    check_exact_resume("elastic");
}

#[test]
fn jointvae_resume_is_exact() {
    check_exact_resume("jointvae");
}

#[test]
fn presets_and_overrides() {
    for name in presets::NAMES {
        let cfg = presets::load(name).unwrap();
        assert_eq!(&cfg.method, name);
        // The resolved config round-trips through TOML.
        assert_eq!(Config::from_toml(&cfg.to_toml(), "roundtrip").unwrap(), cfg);
    }
    // elastic-fast-prior is elastic with θ's own rate, nothing else: the same objective.
    let fast = presets::load("elastic-fast-prior").unwrap();
    let same = presets::load("elastic").unwrap().with_overrides(&["method=\"elastic-fast-prior\"".into(), "prior.lr=0.003".into()]).unwrap();
    assert_eq!(fast, same);
    assert_ne!(fast.prior.lr, presets::load("elastic").unwrap().prior.lr);
    // The controls differ from their parents in exactly the lever they remove.
    let frozen = presets::load("elastic-frozen-prior").unwrap();
    let frozen_as = presets::load("elastic").unwrap().with_overrides(&["method=\"elastic-frozen-prior\"".into(), "prior.learnable=false".into()]).unwrap();
    assert_eq!(frozen, frozen_as);
    let ut = presets::load("uniform-trans").unwrap();
    let ut_as = presets::load("uniform").unwrap().with_overrides(&["method=\"uniform-trans\"".into(), "losses.trans_weight=10.0".into()]).unwrap();
    assert_eq!(ut, ut_as);
    for bad in [["prior.learnable=false", "prior.kind=uniform"], ["prior.learnable=false", "prior.em_weight=1.0"], ["prior.learnable=false", "prior.lr=0.01"]] {
        let err = presets::load("elastic").unwrap().with_overrides(&bad.map(String::from)).unwrap_err().to_string();
        assert!(err.contains("prior.learnable = false"), "{bad:?}: {err}");
    }
    let cfg = presets::load("elastic").unwrap().with_overrides(&["losses.trans=nt-xent".into(), "train.epochs=7".into(), "prior.lr=0.01".into()]).unwrap();
    assert_eq!(cfg.train.epochs, 7);
    assert_eq!(cfg.prior.lr, Some(0.01));
    assert_eq!(cfg.losses.trans, einfo_train::config::TransKind::NtXent);
    assert!(Config::from_toml("[train]\nepoch = 3\n", "typo").unwrap_err().to_string().contains("unknown field `epoch`"));
    assert!(presets::load("elastic").unwrap().with_overrides(&["train.batch_size=1".into()]).is_err());
    assert!(presets::load("elastic").unwrap().with_overrides(&["nokey".into()]).is_err());
    assert!(presets::load("missing").is_err());
}

/// θ in the newest checkpoint of a run.
fn theta(run: &Path) -> Vec<f32> {
    let (_, ckpt) = einfo_train::checkpoint::latest(run).unwrap().unwrap();
    let t = candle_core::safetensors::load(ckpt.join("g.safetensors"), &candle_core::Device::Cpu).unwrap();
    t["prior.logits"].to_vec1::<f32>().unwrap()
}

#[test]
fn frozen_prior_keeps_theta_and_elastic_moves_it() {
    // The control freezes θ (the optimiser never sees it); `elastic` trains it at lr_g, so
    // after 3 Adam steps each logit has moved by about 3 · 2e-4 (Adam's step ≈ lr).
    let over = ["train.batch_size=16".to_string(), "train.max_steps=3".into()];
    let mut moved = Vec::new();
    for preset in ["elastic-frozen-prior", "elastic"] {
        let dir = tmp(&format!("theta-{preset}"));
        train(&presets::load(preset).unwrap().with_overrides(&over).unwrap(), &dir, &opts(true)).unwrap();
        moved.push(theta(&dir).iter().map(|v| v.abs()).fold(0.0f32, f32::max));
        std::fs::remove_dir_all(dir).unwrap();
    }
    assert_eq!(moved[0], 0.0, "elastic-frozen-prior moved θ");
    assert!(moved[1] > 1e-4 && moved[1] < 1e-3, "elastic's θ moved {} (expected ~6e-4)", moved[1]);
}
