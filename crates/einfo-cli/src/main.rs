//! `einfo`: train, evaluate and compare Elastic-InfoGAN and its baselines.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "einfo", version, about = "Elastic-InfoGAN and its baselines on class-imbalanced data")]
struct Cli {
    /// Data cache directory (default: $EINFO_CACHE, else ./data).
    #[arg(long, global = true, value_name = "DIR")]
    cache: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch data sets, list the imbalanced splits, preview a split.
    #[command(subcommand)]
    Data(commands::data::DataCommand),
    /// Train a preset (default: elastic on MNIST split 1) into a run directory.
    Train(commands::train::TrainArgs),
    /// Continue a run from its newest checkpoint.
    Resume(commands::train::ResumeArgs),
    /// Write a sample grid of a run (row = code, column = fixed noise).
    Sample(commands::train::SampleArgs),
    /// Evaluate a run: ENT, NMI, prior RMSE, accuracies → <run>/metrics.json.
    Eval {
        run_dir: PathBuf,
        /// Generated images per code.
        #[arg(long, default_value_t = 1000)]
        per_code: usize,
        /// Seed of the evaluation noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Classifier weights (default: the committed LeNet).
        #[arg(long)]
        classifier: Option<PathBuf>,
    },
    /// Train or check the LeNet evaluation classifier.
    #[command(subcommand)]
    Classifier(commands::eval::ClassifierCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(commands::train::BenchCommand),
}

fn main() -> ExitCode {
    // Behave like a Unix tool when piped into `head`: die quietly on a closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    einfo_tensor::tune_allocator();
    let cli = Cli::parse();
    let mut opts = einfo_data::DataOptions::from_env();
    if let Some(c) = cli.cache {
        opts.cache = c;
    }
    let result = match cli.command {
        Command::Data(cmd) => commands::data::run(cmd, opts),
        Command::Train(args) => commands::train::run(args, opts),
        Command::Resume(args) => commands::train::resume(args, opts),
        Command::Sample(args) => commands::train::sample(args),
        Command::Bench(cmd) => commands::train::bench(cmd),
        Command::Eval { run_dir, per_code, seed, classifier } => commands::eval::eval(run_dir, per_code, seed, classifier, opts),
        Command::Classifier(cmd) => commands::eval::classifier(cmd, opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes, joined.
            eprintln!("einfo: error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
