//! `einfo`: train, evaluate and compare Elastic-InfoGAN and its baselines.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use einfo_train::eval::EvalOptions;

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
    /// Train or resume a run to its budget, then evaluate it; does nothing when it is
    /// finished (the command each ablation cell runs).
    Cell(commands::train::TrainArgs),
    /// Continue a run from its newest checkpoint.
    Resume(commands::train::ResumeArgs),
    /// Write a sample grid of a run (row = code, column = fixed noise).
    Sample(commands::train::SampleArgs),
    /// Evaluate a run: ENT, NMI, prior RMSE, accuracies → <run>/metrics.json.
    Eval {
        run_dir: PathBuf,
        /// Generated images per code (default: the run's eval.per_code, 1000).
        #[arg(long)]
        per_code: Option<usize>,
        /// Seed of the evaluation noise (default: the run's eval.seed).
        #[arg(long)]
        seed: Option<u64>,
        /// Real images for the cluster accuracy, 0 = the whole split (default: the run's eval.real_images).
        #[arg(long)]
        real_images: Option<usize>,
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

/// Set by SIGINT, SIGTERM and SIGHUP (see `einfo_train::signal`).
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The handle on [`STOP`] the library polls, for the commands that poll it (train, cell,
/// resume, eval): the first call routes SIGINT, SIGTERM and SIGHUP to it — a stop checkpoints
/// and exits, a second one (a second or more later) exits at once. Other commands keep the
/// default disposition: Ctrl-C ends them.
fn stop() -> einfo_train::signal::Stop {
    einfo_train::signal::install(&STOP, einfo_train::signal::Repeat::Exit);
    einfo_train::signal::Stop::new(&STOP)
}

/// The library's events: the training loop's progress as a progress bar on standard
/// error (when `progress` and it is a terminal), every other event one line above it.
fn events(progress: bool) -> einfo_train::events::Events {
    use einfo_train::events::Event;
    use indicatif::{ProgressBar, ProgressStyle};
    let bar: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);
    einfo_train::events::Events::new(move |e| {
        let mut bar = bar.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            Event::FitStarted { method, step, total } if progress => {
                let pb = ProgressBar::new(*total);
                pb.set_style(
                    ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps, ETA {eta} | {msg}").expect("valid template").progress_chars("=> "),
                );
                pb.set_position(*step);
                pb.set_prefix(method.clone());
                *bar = Some(pb);
            }
            Event::Stepped { step } => bar.iter().for_each(|pb| pb.set_position(*step)),
            Event::Logged { epoch, images_per_s, terms, .. } => {
                let terms: Vec<String> = terms.iter().map(|(n, v)| format!("{n} {v:.3}")).collect();
                bar.iter().for_each(|pb| pb.set_message(format!("epoch {epoch} | {images_per_s:.0} img/s | {}", terms.join(", "))));
            }
            Event::FitEnded => bar.take().iter().for_each(ProgressBar::finish_and_clear),
            e if e.is_progress() => {}
            e => match bar.as_ref() {
                Some(pb) => pb.suspend(|| eprintln!("{e}")),
                None => eprintln!("{e}"),
            },
        }
    })
}

fn main() -> ExitCode {
    // Behave like a Unix tool when piped into `head`: die quietly on a closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    einfo_tensor::tune_allocator();
    einfo_tensor::tune_threads();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            e.exit()
        }
        Err(e) => {
            // One line, like every other error: clap's first line, without its own prefix.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("").trim_start_matches("error: ");
            eprintln!("einfo: error: {first} (see einfo --help)");
            return ExitCode::from(2);
        }
    };
    let mut opts = einfo_data::DataOptions::from_env();
    if let Some(c) = cli.cache {
        opts.cache = c;
    }
    let result = match cli.command {
        Command::Data(cmd) => commands::data::run(cmd, opts),
        Command::Train(args) => commands::train::run(args, opts),
        Command::Cell(args) => commands::train::cell(args, opts),
        Command::Resume(args) => commands::train::resume(args, opts),
        Command::Sample(args) => commands::train::sample(args),
        Command::Bench(cmd) => commands::train::bench(cmd),
        Command::Eval { run_dir, per_code, seed, real_images, classifier } => {
            commands::eval::eval(run_dir, EvalOptions { per_code, seed, real_images, classifier, stop: stop(), events: events(false) }, opts)
        }
        Command::Classifier(cmd) => commands::eval::classifier(cmd, opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("einfo: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line: the first line of each (no backtraces, which
/// candle appends when RUST_BACKTRACE is set), skipping a cause whose text an outer
/// message already includes (an I/O error wrapped with its path, say).
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let first = text.lines().next().unwrap_or("").trim();
        if first.is_empty() || out.contains(first) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(first);
    }
    out
}
