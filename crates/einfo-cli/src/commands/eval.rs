//! `einfo classifier …` and `einfo eval`: thin wrappers over `einfo-train`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use einfo_data::{DataOptions, Dataset, DatasetKind, Part};
use einfo_train::classifier::{accuracy, committed_path, train_classifier, Classifier, SgdConfig};
use einfo_train::eval::{evaluate, EvalOptions};

#[derive(Subcommand)]
pub enum ClassifierCommand {
    /// Train the LeNet evaluation classifier on the 60k training images.
    Train {
        /// mnist or fashion-mnist.
        #[arg(long, default_value = "mnist")]
        dataset: String,
        #[arg(long, default_value_t = 10)]
        epochs: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// SGD learning rate.
        #[arg(long, default_value_t = 0.01)]
        lr: f64,
        /// SGD momentum (docs/method.md's recipe uses 0.5; 0.9 reaches ≥ 99% on MNIST).
        #[arg(long, default_value_t = 0.9)]
        momentum: f64,
        /// Output weights (default: datasets/classifiers/<data set>-lenet.safetensors, the
        /// committed location, when run from the repository's root; elsewhere give --out).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Test accuracy of a classifier (default: the committed one, hash-checked).
    Eval {
        #[arg(long, default_value = "mnist")]
        dataset: String,
        #[arg(long)]
        weights: Option<PathBuf>,
    },
}

pub fn classifier(cmd: ClassifierCommand, opts: DataOptions) -> Result<()> {
    match cmd {
        ClassifierCommand::Train { dataset, epochs, seed, lr, momentum, out } => {
            let kind: DatasetKind = dataset.parse()?;
            let out = match out {
                Some(out) => out,
                None => {
                    let at = committed_path(kind);
                    let dir = at.parent().expect("datasets/classifiers/<file>");
                    anyhow::ensure!(
                        dir.is_dir(),
                        "no {} here: run this from the repository's root to replace the committed classifier, or pass --out FILE",
                        dir.display()
                    );
                    at
                }
            };
            let t0 = Instant::now();
            let sgd = SgdConfig { lr, momentum, epochs, seed };
            let accs = train_classifier(kind, sgd, &out, &opts, |e, loss, acc| {
                println!("epoch {e:>2}: train loss {loss:.4}, test accuracy {:.2}% ({:.0} s)", acc * 100.0, t0.elapsed().as_secs_f64());
            })?;
            println!(
                "{}: test accuracy {:.2}% after {epochs} epochs in {:.0} s",
                out.display(),
                accs.last().unwrap_or(&0.0) * 100.0,
                t0.elapsed().as_secs_f64()
            );
            Ok(())
        }
        ClassifierCommand::Eval { dataset, weights } => {
            let kind: DatasetKind = dataset.parse()?;
            let cpu = candle_core::Device::Cpu;
            let c = match &weights {
                Some(path) => Classifier::load(path, None, &cpu)?,
                None => Classifier::committed(kind, &cpu)?,
            };
            let test = Dataset::load(kind, Part::Test, &opts)?;
            let acc = accuracy(&c.net, &test, &cpu)?;
            println!("{} (sha256 {}): {kind} test accuracy {:.2}%", c.recorded_path, &c.sha256[..16], acc * 100.0);
            Ok(())
        }
    }
}

pub fn eval(run_dir: PathBuf, eval: EvalOptions, opts: DataOptions) -> Result<()> {
    let r = evaluate(&run_dir, &eval, &opts)?;
    println!("{} ({}, step {}, epoch {}):", run_dir.display(), r.method, r.step, r.epoch);
    println!("  ENT                 {:.4}", r.ent);
    println!("  NMI geometric       {:.4}   (arithmetic {:.4})", r.nmi.geometric, r.nmi.arithmetic);
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or("-".to_string(), f);
    println!(
        "  prior RMSE          {:.4}   (alignment p {}, cos(log prior, log truth) {})",
        r.prior_rmse,
        opt(r.prior_alignment_p, |p| format!("{p:.3e}")),
        opt(r.prior_log_cosine, |c| format!("{c:.3}"))
    );
    println!("  generated accuracy  {:.4}", r.generated_accuracy);
    println!("  real cluster acc.   {:.4}   ({} real images)", r.real_cluster_accuracy, r.real_images);
    println!("  with BN re-est.     {}   (BatchNorm statistics re-estimated on those images)", opt(r.real_cluster_accuracy_bn, |a| format!("{a:.4}")));
    println!("  classifier          {} (sha256 {})", r.classifier_path, &r.classifier_sha256[..16]);
    println!("  written to {}", run_dir.join("metrics.json").display());
    Ok(())
}
