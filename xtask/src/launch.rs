//! `cargo xtask run-ablations`: the matrix decided once from the flags ([`plan`]), then
//! printed (`--dry-run`), submitted to Slurm or run on this machine, each launch recorded in
//! the root's manifest before its cells start.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use einfo_ablation::local::{freeze_binary, run_local, sibling_einfo, LocalOptions};
use einfo_ablation::manifest::{now_unix, Launch, Manifest};
use einfo_ablation::matrix::{Cell, Schedules};
use einfo_ablation::slurm::SlurmOptions;
use einfo_ablation::{Matrix, Profile};

use crate::{command_line, cuda, RunArgs, STOP};

/// What a launch will do, decided once from the flags and the root.
struct Plan {
    matrix: Matrix,
    /// The cells the flags select.
    cells: Vec<Cell>,
    /// Those not finished (nor, with Slurm, still queued).
    todo: Vec<Cell>,
    /// With Slurm: how many selected cells are still in the queue (not run again).
    queued: usize,
    slurm: bool,
    commit: String,
}

pub fn run_ablations(a: RunArgs) -> Result<()> {
    let p = plan(&a)?;
    if a.dry_run {
        return dry_run(&a, &p);
    }
    println!(
        "{} cell(s) in the matrix, {} to run{} (profile {}, {} epoch(s){})",
        p.cells.len(),
        p.todo.len(),
        if p.queued == 0 { String::new() } else { format!(", {} still queued", p.queued) },
        a.profile,
        p.matrix.budget.epochs,
        p.matrix.budget.max_steps.map_or(String::new(), |s| format!(", ≤ {s} steps"))
    );
    if p.todo.is_empty() {
        return Ok(());
    }
    let built = match &a.einfo {
        Some(e) if e.is_file() => e.clone(),
        Some(e) => bail!("--einfo {}: no such file", e.display()),
        None => build_einfo(&p.matrix.budget.device, a.compute_cap)?,
    };
    let einfo = freeze_binary(&built, &p.matrix.root, &p.commit)?;
    let launch = Launch {
        launcher: a.launcher.clone(),
        command: command_line(),
        git_commit: Some(p.commit.clone()),
        unix_time: now_unix(),
        matrix: p.matrix.clone(),
        cells: p.todo.iter().map(|c| c.id()).collect(),
        slurm_job: None,
        jobs: None,
        threads_per_cell: None,
        cpu: None,
    };
    if p.slurm {
        launch_slurm(&a, &p, std::path::absolute(&einfo)?, launch)
    } else {
        launch_local(&a, &p, einfo, launch)
    }
}

fn plan(a: &RunArgs) -> Result<Plan> {
    let matrix = matrix(a)?;
    let cells = matrix.select(&a.only)?;
    let slurm = match a.launcher.as_str() {
        "local" => false,
        "slurm" => true,
        other => bail!("--launcher {other}: choose local or slurm"),
    };
    // Finished cells are never run again; with Slurm, neither are cells still queued.
    let queued = if slurm && !a.dry_run { einfo_ablation::slurm::queue(&matrix.root)? } else { BTreeMap::new() };
    let todo = einfo_ablation::local::unfinished(&matrix, &cells)?.into_iter().filter(|c| !queued.contains_key(&c.id())).collect();
    let commit = a.commit.clone().or_else(einfo_train::eval::git_commit).unwrap_or_else(|| "unknown".into());
    Ok(Plan { matrix, cells, todo, queued: queued.len(), slurm, commit })
}

fn slurm_options(a: &RunArgs, p: &Plan, einfo: PathBuf) -> Result<SlurmOptions> {
    Ok(SlurmOptions {
        einfo,
        partition: a.partition.clone(),
        time: a.time.clone(),
        cpus_per_task: a.cpus_per_task,
        gpus_per_task: a.gpus_per_task,
        throttle: a.throttle,
        commit: p.commit.clone(),
        workdir: std::env::current_dir()?,
    })
}

/// `--dry-run`: the batch script, or each cell's command line; nothing is built or written.
fn dry_run(a: &RunArgs, p: &Plan) -> Result<()> {
    if p.slurm {
        let einfo = p.matrix.root.join("bin").join(format!("einfo-{}", p.commit));
        print!("{}", einfo_ablation::slurm::batch_script(&p.matrix, &p.todo, &slurm_options(a, p, einfo)?)?);
    } else {
        for c in &p.todo {
            println!("{}: einfo {}", c.id(), p.matrix.cell_args(c).join(" "));
        }
    }
    Ok(())
}

fn launch_slurm(a: &RunArgs, p: &Plan, einfo: PathBuf, mut launch: Launch) -> Result<()> {
    let sub = einfo_ablation::slurm::submit(&p.matrix, &p.todo, &slurm_options(a, p, einfo)?)?;
    println!("submitted job array {} ({} task(s)); script {}", sub.job_id, sub.cells.len(), sub.script.display());
    println!("watch it with: cargo xtask ablations-status --root {}", p.matrix.root.display());
    launch.slurm_job = Some(sub.job_id);
    launch.threads_per_cell = Some(a.cpus_per_task);
    Manifest::record(&p.matrix.root, launch)?;
    Ok(())
}

fn launch_local(a: &RunArgs, p: &Plan, einfo: PathBuf, mut launch: Launch) -> Result<()> {
    let env = vec![("EINFO_GIT_COMMIT".to_string(), p.commit.clone())];
    let opts = LocalOptions { einfo, jobs: a.jobs, threads: a.threads, verbose: true, env, stop: einfo_train::signal::Stop::new(&STOP) };
    launch.jobs = Some(a.jobs);
    launch.threads_per_cell = Some(einfo_ablation::local::threads_per_cell(&opts));
    launch.cpu = Some(einfo_train::cpu_kind());
    Manifest::record(&p.matrix.root, launch)?;
    // From here a signal stops the launch: each running cell is told once and checkpoints.
    einfo_train::signal::install(&STOP, einfo_train::signal::Repeat::Ignore);
    let report = run_local(&p.matrix, &p.cells, &opts)?;
    if opts.stop.requested() {
        bail!("stopped: {} cell(s) finished, the interrupted ones checkpointed; run the same command again to continue", report.finished.len());
    }
    println!("{} finished, {} skipped, {} failed", report.finished.len(), report.skipped.len(), report.failed.len());
    if !report.failed.is_empty() {
        return Err(einfo_ablation::AblationError::CellsFailed(report.failed).into());
    }
    Ok(())
}

fn matrix(a: &RunArgs) -> Result<Matrix> {
    let profile: Profile = a.profile.parse()?;
    let mut budget = profile.budget();
    if let Some(e) = a.epochs {
        budget.epochs = e;
        budget.max_steps = None;
    }
    if let Some(s) = a.max_steps {
        budget.max_steps = Some(s);
    }
    if let Some(e) = a.eval_every {
        budget.eval_every_epochs = e;
    }
    if let Some(d) = &a.device {
        budget.device = d.clone();
    }
    if let Some(d) = &a.dataset {
        let kind: einfo_data::DatasetKind = d.parse()?;
        budget.dataset = kind.name().to_string();
    }
    if let Some(s) = &a.schedules {
        budget.schedules = match s.as_str() {
            "paper" => Schedules::Paper,
            "budget" => Schedules::Budget,
            other => bail!("--schedules {other}: choose paper or budget"),
        };
    }
    let m = Matrix {
        root: a.root.clone(),
        methods: if a.methods.is_empty() { einfo_train::presets::PAPER_METHODS.iter().map(|s| s.to_string()).collect() } else { a.methods.clone() },
        splits: if a.splits.is_empty() { profile.splits() } else { a.splits.clone() },
        seeds: if a.seeds.is_empty() { profile.seeds() } else { a.seeds.clone() },
        budget,
    };
    m.validate()?;
    Ok(m)
}

/// Build the einfo binary (release, with the device's feature) next to this one; CUDA
/// builds go through `build-cuda` (its pinned toolchain).
fn build_einfo(device: &str, compute_cap: u32) -> Result<PathBuf> {
    if device.starts_with("cuda") {
        let args = cuda::BuildCudaArgs { compute_cap, ..Default::default() };
        return cuda::build_cuda(&args)?.context("build-cuda produced no binary");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "-p", "einfo-cli"]);
    if device == "metal" {
        cmd.args(["--features", "metal"]);
    }
    let st = cmd.status().context("running cargo build")?;
    if !st.success() {
        bail!("building einfo failed");
    }
    Ok(sibling_einfo(&std::env::current_exe()?))
}
