//! The LeNet evaluation classifier: training (SGD with momentum, batch 64, on the 60k
//! training images in `[-1, 1]`), test accuracy, and checksummed loading of the committed
//! weights (`datasets/classifiers/<dataset>-lenet.safetensors` and `.sha256`).
//!
//! `docs/method.md` gives SGD lr 0.01, momentum 0.5, 10 epochs; measured here that recipe
//! reached 98.63% on the MNIST test set, short of the ≥ 99% goal, so the default momentum
//! is 0.9 (`einfo classifier train --momentum 0.5` reproduces the spec's recipe).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use einfo_data::{batch_of, Batcher, DataOptions, Dataset, DatasetKind, Part};
use einfo_losses::cross_entropy;
use einfo_models::{named_trainable, to_nhwc, LeNet};
use einfo_tensor::seeded_var_builder;

use crate::error::{io_err, Result, TrainError};

/// Where the committed classifier of a data set lives, relative to the repository.
pub fn committed_path(kind: DatasetKind) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets/classifiers").join(format!("{}-lenet.safetensors", kind.name()))
}

/// How results record a classifier's file: relative to the repository when it lies in it
/// (the committed ones: `datasets/classifiers/…`), so that a `metrics.json` names the same
/// file on every machine (its sha256 is recorded beside it); else the path as given.
pub fn recorded_path(path: &std::path::Path) -> String {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    match (path.canonicalize(), repo.canonicalize()) {
        (Ok(p), Ok(r)) => p.strip_prefix(&r).map(|rel| rel.display().to_string()).unwrap_or_else(|_| path.display().to_string()),
        _ => path.display().to_string(),
    }
}

/// A loaded classifier and the sha256 of its weights file.
pub struct Classifier {
    pub net: LeNet,
    pub sha256: String,
    pub path: PathBuf,
}

impl Classifier {
    /// Load weights, checking the file's sha256 against `<file>.sha256` (when present, or
    /// against `expected`) and every tensor's shape.
    pub fn load(path: &Path, expected: Option<&str>, device: &Device) -> Result<Classifier> {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let sha = einfo_data::source::sha256_hex(&bytes);
        let recorded = match expected {
            Some(e) => Some(e.to_string()),
            None => std::fs::read_to_string(path.with_extension("sha256")).ok().map(|s| s.split_whitespace().next().unwrap_or("").to_string()),
        };
        if let Some(r) = recorded {
            if r != sha {
                return Err(TrainError::Checkpoint {
                    path: path.into(),
                    detail: format!("classifier sha256 {sha} does not match the recorded {r}: restore the file or retrain with `einfo classifier train`"),
                });
            }
        }
        let mut vars = VarMap::new();
        let net = LeNet::new(seeded_var_builder(&vars, 0, device).pp("lenet"), 1, 10)?;
        vars.load(path).map_err(|e| TrainError::Checkpoint { path: path.into(), detail: format!("not a LeNet classifier: {e}") })?;
        Ok(Classifier { net, sha256: sha, path: path.into() })
    }

    /// Predicted classes of NHWC images in `[-1, 1]`, in batches.
    pub fn predict(&self, images: &Tensor) -> Result<Vec<u32>> {
        let n = images.dim(0)?;
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(500) {
            let len = 500.min(n - start);
            out.extend(self.net.forward(&images.narrow(0, start, len)?)?.argmax(1)?.to_vec1::<u32>()?);
        }
        Ok(out)
    }
}

/// Accuracy of `net` on a data set part.
pub fn accuracy(net: &LeNet, data: &Dataset, device: &Device) -> Result<f64> {
    let mut correct = 0usize;
    let idx: Vec<u32> = (0..data.len() as u32).collect();
    for chunk in idx.chunks(500) {
        let b = batch_of(data, chunk, device)?;
        let pred = net.forward(&to_nhwc(&b.images)?)?.argmax(1)?;
        correct += pred.eq(&b.labels)?.to_dtype(DType::U32)?.sum_all()?.to_scalar::<u32>()? as usize;
    }
    Ok(correct as f64 / data.len() as f64)
}

/// SGD settings of the classifier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub epochs: usize,
    pub seed: u64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { lr: 0.01, momentum: 0.9, epochs: 10, seed: 0 }
    }
}

/// Train a LeNet on the training part of `kind`; returns (test accuracy per epoch).
/// Writes the weights to `out` and their sha256 to `out.sha256`.
pub fn train_classifier(kind: DatasetKind, sgd: SgdConfig, out: &Path, opts: &DataOptions, mut on_epoch: impl FnMut(usize, f64, f64)) -> Result<Vec<f64>> {
    let SgdConfig { lr, momentum, epochs, seed } = sgd;
    if !(lr > 0.0 && (0.0..1.0).contains(&momentum) && epochs > 0) {
        return Err(TrainError::Config(format!("classifier: lr {lr} must be > 0, momentum {momentum} in [0, 1), epochs {epochs} ≥ 1")));
    }
    let device = Device::Cpu;
    let train = Dataset::load(kind, Part::Train, opts)?;
    let test = Dataset::load(kind, Part::Test, opts)?;
    let vars = VarMap::new();
    let net = LeNet::new(seeded_var_builder(&vars, seed, &device).pp("lenet"), 1, 10)?;
    let params = named_trainable(&vars);
    let mut velocity: Vec<Tensor> = params.iter().map(|(_, v)| v.as_tensor().zeros_like()).collect::<candle_core::Result<_>>()?;
    let idx: Vec<u32> = (0..train.len() as u32).collect();
    let batcher = Batcher::new(&train, &idx, 64, seed)?;
    let mut accs = Vec::new();
    for epoch in 0..epochs {
        let (mut loss_sum, mut n) = (0.0, 0usize);
        for batch in batcher.epoch(epoch as u64, &device) {
            let batch = batch?;
            let loss = cross_entropy(&net.forward(&to_nhwc(&batch.images)?)?, &batch.labels)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            n += 1;
            let grads = loss.backward()?;
            // SGD with momentum, PyTorch semantics: v ← μ v + g; p ← p − lr v.
            for ((_, var), v) in params.iter().zip(velocity.iter_mut()) {
                if let Some(g) = grads.get(var.as_tensor()) {
                    *v = ((&*v * momentum)? + g)?;
                    var.set(&(var.as_tensor() - (&*v * lr)?)?)?;
                }
            }
        }
        let acc = accuracy(&net, &test, &device)?;
        on_epoch(epoch + 1, loss_sum / n.max(1) as f64, acc);
        accs.push(acc);
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    vars.save(out).map_err(|e| TrainError::Checkpoint { path: out.into(), detail: e.to_string() })?;
    let sha = einfo_data::source::sha256_hex(&std::fs::read(out).map_err(io_err(out))?);
    std::fs::write(out.with_extension("sha256"), format!("{sha}  {}\n", out.file_name().unwrap_or_default().to_string_lossy())).map_err(io_err(out))?;
    Ok(accs)
}

#[cfg(test)]
mod recorded_path_tests {
    use super::*;

    #[test]
    fn committed_classifiers_are_recorded_relative_to_the_repository() {
        assert_eq!(recorded_path(&committed_path(DatasetKind::Mnist)), "datasets/classifiers/mnist-lenet.safetensors");
        assert_eq!(recorded_path(std::path::Path::new("/nonexistent/x.safetensors")), "/nonexistent/x.safetensors");
    }
}
