//! Property-based passes over what a user or a damaged disk can hand einfo: `--set`
//! overrides and TOML configs, and checkpoints cut short or with bytes changed. None may
//! panic or hang; every refusal is a one-line error.

mod common;
use common::*;

use std::path::{Path, PathBuf};

use einfo_train::{build_method, checkpoint, presets, setup, train, Config};
use proptest::prelude::*;

fn one_line(e: &impl std::fmt::Display) {
    let m = e.to_string();
    assert!(!m.contains('\n') && !m.is_empty(), "not one line: {m:?}");
}

/// Keys to aim the generated overrides at (and some that do not exist).
const KEYS: &[&str] = &[
    "train.epochs",
    "train.batch_size",
    "train.seed",
    "train.max_steps",
    "optim.lr_g",
    "prior.tau",
    "prior.lr",
    "prior.em_target",
    "losses.trans",
    "losses.ent_weight",
    "losses.floor_weight",
    "losses.floor_share",
    "net.image_size",
    "net.num_codes",
    "data.counts",
    "data.split",
    "log.every_steps",
    "eval.per_code",
    "augment.zoom_min",
    "nope.nothing",
    "train",
    "",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        "[a-z\\-\"\\[\\]{}=,.0-9 ]{0,20}",
        Just("inf".to_string()),
        Just("nan".to_string()),
        Just("18446744073709551615".to_string()),
        Just("[1,2,3]".to_string()),
        Just("{ a = 1 }".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn overrides_never_panic(key in proptest::sample::select(KEYS), v in value(), raw in "[ -~]{0,40}") {
        let base = presets::load("elastic").unwrap();
        for set in [format!("{key}={v}"), raw.clone()] {
            match base.with_overrides(&[set]) {
                Ok(cfg) => cfg.validate().unwrap(),
                Err(e) => one_line(&e),
            }
        }
    }

    #[test]
    fn toml_documents_never_panic(doc in "[a-z_\\[\\]=\\.\"0-9 \\n-]{0,120}") {
        match Config::from_toml(&doc, "generated") {
            Ok(cfg) => cfg.validate().unwrap(),
            Err(e) => one_line(&e),
        }
    }
}

/// A real one-step checkpoint of a small run (trained once).
fn checkpoint_dir() -> &'static (Config, PathBuf) {
    static CK: std::sync::OnceLock<(Config, PathBuf)> = std::sync::OnceLock::new();
    CK.get_or_init(|| {
        let cfg = presets::load("jointvae")
            .unwrap()
            .with_overrides(&["train.max_steps=1".into(), "train.batch_size=8".into(), "eval.every_epochs=0".into(), "log.probe_images=0".into()])
            .unwrap();
        let run = std::env::temp_dir().join(format!("einfo-badinput-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        train(&cfg, &run, &opts(true)).unwrap();
        let (_, ck) = checkpoint::latest(&run).unwrap().unwrap();
        (cfg, ck)
    })
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn damaged_checkpoints_never_panic(file in 0usize..4, cut in any::<proptest::sample::Index>(), at in any::<proptest::sample::Index>(), byte in any::<u8>(), truncate in any::<bool>()) {
        let (cfg, ck) = checkpoint_dir();
        let work = ck.parent().unwrap().join(format!("damaged-{}", std::thread::current().name().unwrap_or("t").replace(':', "_")));
        copy_dir(ck, &work);
        let names = ["vae.safetensors", "opt-vae.safetensors", "state.json", "config.toml"];
        let p = work.join(names[file]);
        let mut bytes = std::fs::read(&p).unwrap();
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        } else if !bytes.is_empty() {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        std::fs::write(&p, &bytes).unwrap();
        let mut method = build_method(cfg, &[0.1; 10], &candle_core::Device::Cpu).unwrap();
        if let Err(e) = setup::restore(method.as_mut(), &work) {
            one_line(&e);
        }
        if let Some(text) = checkpoint::saved_config(&work) {
            if let Err(e) = Config::from_toml(&text, "saved") {
                one_line(&e);
            }
        }
    }
}
