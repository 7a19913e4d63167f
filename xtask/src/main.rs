//! `cargo xtask …`: the ablation matrix (run: `launch.rs`; status, aggregate), thin over
//! `einfo-ablation`, and the CUDA build (`cuda.rs`).

mod cuda;
mod cuda_inputs;
mod equivalence;
mod launch;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use einfo_ablation::manifest::Manifest;
use einfo_ablation::status::{statuses, Status};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "einfo's ablation matrix: run it, watch it, aggregate it")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run methods × splits × seeds, one run directory per cell; finished cells are
    /// skipped, interrupted ones resumed.
    RunAblations(Box<RunArgs>),
    /// Where each cell of the last launch into a root stands.
    AblationsStatus {
        #[arg(long, default_value = "runs/ablations")]
        root: PathBuf,
    },
    /// Pictures of how learnable priors moved, from runs' log.csv (θ's gradient, its
    /// coherence, the direction to the truth, the prior's distance to it), one line per run.
    PlotPrior {
        /// Run directories, each optionally named: DIR or NAME=DIR.
        runs: Vec<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Build einfo with CUDA on a machine without a GPU or a CUDA install (the toolchain
    /// comes from PyPI, pinned to CUDA 13.0), strip and compress it; `--check` compiles only.
    BuildCuda(cuda::BuildCudaArgs),
    /// Do the binaries that trained a table's cells (a launch root's `bin/einfo-<commit>`)
    /// train identically? Each trains a few steps of each preset and resumes the previous
    /// commit's checkpoint; writes `<out>/training-equivalence.{csv,md}`, which `aggregate`
    /// quotes in the tables' headers.
    TrainingEquivalence(equivalence::EquivalenceArgs),
    /// Tables (markdown, CSV) and pictures from the evaluated cells under a root.
    Aggregate {
        #[arg(long, default_value = "runs/ablations")]
        root: PathBuf,
        /// Name of the results (`<out>/<name>.md`, `.csv`, `<name>/`).
        #[arg(long, default_value = "ablations")]
        name: String,
        #[arg(long, default_value = "experiments/results")]
        out: PathBuf,
        /// Committed results to add cells from (directories an earlier aggregation wrote,
        /// e.g. experiments/results/ablations): cells the root lacks, and their launches.
        #[arg(long)]
        include: Vec<PathBuf>,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Budget profile: smoke (CI: 3 steps, split 1), cpu (5 epochs, splits 1-3, seeds 0-2,
    /// schedules as published), paper (200 epochs, 50 splits, cuda, schedules as published).
    #[arg(long, default_value = "cpu")]
    profile: String,
    /// Methods (presets), comma-separated (default: the seven of the paper's table).
    #[arg(long, value_delimiter = ',')]
    methods: Vec<String>,
    /// Splits, comma-separated (default: the profile's).
    #[arg(long, value_delimiter = ',')]
    splits: Vec<usize>,
    /// Training seeds, comma-separated (default: the profile's).
    #[arg(long, value_delimiter = ',')]
    seeds: Vec<u64>,
    /// mnist, or fashion-mnist (split k: the split the authors' recipe draws with seed k).
    #[arg(long)]
    dataset: Option<String>,
    /// paper (schedules as published) or budget (JointVAE's capacity ramp scaled to the
    /// cell's budget); default: the profile's.
    #[arg(long)]
    schedules: Option<String>,
    /// Epochs per cell (overrides the profile's).
    #[arg(long)]
    epochs: Option<u64>,
    /// Step cap per cell (overrides the profile's).
    #[arg(long)]
    max_steps: Option<u64>,
    /// Evaluate every this many epochs during training (overrides the profile's; long
    /// runs: the convergence curve at a fraction of the evaluation time).
    #[arg(long)]
    eval_every: Option<u64>,
    /// cpu, cuda, cuda:N or metal (GPU ones build einfo with the matching feature).
    #[arg(long)]
    device: Option<String>,
    /// Root of the cells' run directories.
    #[arg(long, default_value = "runs/ablations")]
    root: PathBuf,
    /// Run only these cells (ids like elastic/split1/seed0; repeatable).
    #[arg(long)]
    only: Vec<String>,
    /// Cells side by side (each gets cores / jobs threads). On 2 cores, 2 single-threaded
    /// cells train ~1.4x more images per second in total than one with 2 threads.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Threads per cell (default: cores / jobs).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the cells and their commands (the batch script with --launcher slurm), run nothing.
    #[arg(long)]
    dry_run: bool,
    /// local (child processes on this machine) or slurm (one job array, one task per cell).
    #[arg(long, default_value = "local")]
    launcher: String,
    /// Slurm partition.
    #[arg(long)]
    partition: Option<String>,
    /// Slurm time limit per cell (e.g. 02:00:00); a cell that hits it checkpoints, and a
    /// second submission continues it.
    #[arg(long)]
    time: Option<String>,
    /// Slurm CPUs per cell (also its thread count).
    #[arg(long, default_value_t = 2)]
    cpus_per_task: usize,
    /// Slurm GPUs per cell (use with --device cuda).
    #[arg(long)]
    gpus_per_task: Option<usize>,
    /// At most this many Slurm tasks at once.
    #[arg(long)]
    throttle: Option<usize>,
    /// Run this einfo binary instead of building one (e.g. `cargo xtask build-cuda`'s, on
    /// a GPU machine without Rust). Its commit is recorded as given by --commit.
    #[arg(long)]
    einfo: Option<PathBuf>,
    /// The commit a prebuilt --einfo was built at (recorded with the results).
    #[arg(long, requires = "einfo")]
    commit: Option<String>,
    /// With --device cuda and no --einfo: the compute capability build-cuda builds for.
    #[arg(long, default_value_t = 90)]
    compute_cap: u32,
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo xtask {}", args.join(" "))
}

fn plot_prior(runs: &[String], out: &std::path::Path) -> Result<()> {
    if runs.is_empty() {
        bail!("give at least one run directory (DIR or NAME=DIR)");
    }
    let named: Vec<(String, PathBuf)> = runs
        .iter()
        .map(|r| match r.split_once('=') {
            Some((n, d)) => (n.to_string(), PathBuf::from(d)),
            None => (PathBuf::from(r).file_name().map_or(r.clone(), |n| n.to_string_lossy().into_owned()), PathBuf::from(r)),
        })
        .collect();
    let logs = named.iter().map(|(n, d)| einfo_ablation::prior_plots::RunLog::read(d, n)).collect::<einfo_ablation::Result<Vec<_>>>()?;
    let dirs: Vec<PathBuf> = named.into_iter().map(|(_, d)| d).collect();
    for f in einfo_ablation::prior_plots::plot_prior(&logs, &dirs, out, &command_line())? {
        println!("{}", f.display());
    }
    Ok(())
}

fn status(root: PathBuf) -> Result<()> {
    let manifest = Manifest::load(&root)?;
    let Some(last) = manifest.launches.last() else { bail!("{} has no matrix.json: nothing was launched there", root.display()) };
    let cells = last.matrix.cells();
    let queue = einfo_ablation::slurm::queue(&root)?;
    let st = statuses(&last.matrix, &cells, &queue)?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (c, s) in &st {
        *counts.entry(s.label()).or_default() += 1;
        let detail = match s {
            Status::Finished { step } => format!("step {step}"),
            Status::Interrupted { step, total } => format!("step {step} of {total}"),
            Status::Failed { step, .. } => format!("at step {step}"),
            Status::Running { pid, command, progress } => running_detail(*pid, command.as_deref(), progress.as_ref()),
            _ => String::new(),
        };
        println!("{:<34} {:<11} {detail}", c.id(), s.label());
        if let Status::Failed { tail, .. } = s {
            for l in tail.lines() {
                println!("    | {l}");
            }
        }
    }
    println!("{}", counts.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", "));
    Ok(())
}

/// "step 1400 of 2840, 68.2 img/s, ~35 min of training left (pid 13192, einfo cell)"; a
/// process that only evaluates (`einfo eval`) gets the logged step and no estimate.
fn running_detail(pid: Option<u32>, command: Option<&str>, progress: Option<&einfo_ablation::status::Progress>) -> String {
    let mut parts = Vec::new();
    if let Some(p) = progress {
        parts.push(format!("step {} of {}", p.step, p.total));
        match (command == Some("eval"), p.step >= p.total, p.images_per_s, p.left_s) {
            (true, _, _, _) => {}
            (_, true, _, _) => parts.push("trained; evaluating".into()),
            (_, false, Some(r), Some(left)) => parts.push(format!("{r:.1} img/s, ~{} of training left", duration(left))),
            _ => {}
        }
    }
    let mut s = parts.join(", ");
    if let Some(pid) = pid {
        let what = command.map_or(String::new(), |c| format!(", einfo {c}"));
        s.push_str(&format!("{}(pid {pid}{what})", if s.is_empty() { "" } else { " " }));
    }
    s
}

/// "2 h 05 min", "35 min", "< 1 min".
fn duration(seconds: f64) -> String {
    let min = (seconds / 60.0).round() as u64;
    match min {
        0 => "< 1 min".into(),
        1..=59 => format!("{min} min"),
        _ => format!("{} h {:02} min", min / 60, min % 60),
    }
}

/// Set by SIGINT, SIGTERM and SIGHUP while a local launch runs.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn main() -> ExitCode {
    // The BLAS kernels einfo's binaries pick, so that the CPU recorded beside a launch or an
    // equivalence check is the one its cells run.
    einfo_train::tune_threads();
    let cli = Cli::parse();
    let r = match cli.command {
        Cmd::RunAblations(a) => launch::run_ablations(*a),
        Cmd::AblationsStatus { root } => status(root),
        Cmd::BuildCuda(a) => cuda::build_cuda(&a).map(|_| ()),
        Cmd::PlotPrior { runs, out } => plot_prior(&runs, &out),
        Cmd::TrainingEquivalence(a) => equivalence::run(&a, &command_line()),
        Cmd::Aggregate { root, name, out, include } => einfo_ablation::aggregate::aggregate_with(&root, &out, &name, &command_line(), &include)
            .map(|w| {
                println!("{} cell(s) → {} and {}", w.cells, w.markdown.display(), w.csv.display());
                if !w.not_included.is_empty() {
                    println!("not included (unfinished): {}", w.not_included.join(", "));
                }
            })
            .map_err(Into::into),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: each cause's first line, skipping one an outer message already holds.
            let mut line = String::new();
            for cause in e.chain() {
                let text = cause.to_string();
                let first = text.lines().next().unwrap_or("").trim();
                if !first.is_empty() && !line.contains(first) {
                    line.push_str(if line.is_empty() { "" } else { ": " });
                    line.push_str(first);
                }
            }
            eprintln!("xtask: error: {line}");
            ExitCode::FAILURE
        }
    }
}
