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
    /// Train a model (for now: prepares the data of the default run).
    Train(commands::train::TrainArgs),
}

fn main() -> ExitCode {
    // Behave like a Unix tool when piped into `head`: die quietly on a closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let mut opts = einfo_data::DataOptions::from_env();
    if let Some(c) = cli.cache {
        opts.cache = c;
    }
    let result = match cli.command {
        Command::Data(cmd) => commands::data::run(cmd, opts),
        Command::Train(args) => commands::train::run(args, opts),
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
