//! `cargo xtask training-equivalence`: do the binaries that trained a table's cells train
//! identically? Thin over `einfo_ablation::equivalence`; orders the binaries by their
//! commits' dates (git) and keeps `<out>/training-equivalence.{csv,md}` up to date, row by row.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use einfo_ablation::equivalence::{self, Binary, Plan, Row};
use einfo_ablation::launches::short_commit;

#[derive(Args)]
pub struct EquivalenceArgs {
    /// Directories of binaries named `einfo-<commit>` (a launch root's `bin/`), or binaries.
    #[arg(required = true)]
    bins: Vec<PathBuf>,
    /// Presets to train, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "uniform-trans,elastic-frozen-prior,elastic")]
    presets: Vec<String>,
    /// Steps of each straight run (even: the resumes start half-way).
    #[arg(long, default_value_t = 8)]
    steps: u64,
    /// Data cache (MNIST).
    #[arg(long, default_value = "data")]
    cache: PathBuf,
    /// Where the CSV and the markdown summary go (the tables' directory, where `aggregate`
    /// reads it). The CSV keeps every earlier row; fingerprints the same binary measured on
    /// this CPU are reused, so a new launch's commit costs one binary's runs.
    #[arg(long, default_value = "experiments/results")]
    out: PathBuf,
    /// Directory in which the check makes its own work directory (removed when it succeeds).
    #[arg(long)]
    scratch: Option<PathBuf>,
}

/// Unix time of a commit (`-dirty` stripped), for ordering.
fn commit_time(commit: &str) -> Result<i64> {
    let c = commit.trim_end_matches("-dirty");
    let out = Command::new("git").args(["show", "-s", "--format=%ct", c]).output().context("running git")?;
    if !out.status.success() {
        bail!("commit {c} (binary einfo-{commit}) is not in this repository: fetch it, or leave that binary out");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().with_context(|| format!("git gave no date for commit {c}: {text:?}"))
}

/// Every binary under `paths`, one per commit, oldest commit first; two different files
/// under one commit's name are an error.
fn binaries(paths: &[PathBuf]) -> Result<Vec<Binary>> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for p in paths {
        if p.is_dir() {
            found.extend(equivalence::binaries_in(p)?);
        } else {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let Some(commit) = name.strip_prefix("einfo-") else {
                bail!("{}: a binary named einfo-<commit> (as launchers keep them) or a directory of them", p.display())
            };
            found.push((commit.into(), p.clone()));
        }
    }
    let mut v: Vec<Binary> = Vec::new();
    for (commit, path) in found {
        let sha256 = equivalence::file_sha256(&path)?;
        match v.iter().find(|b| b.commit == commit) {
            Some(b) if b.sha256 != sha256 => bail!("two different binaries for commit {commit}: {} and {}; pass one of them", b.path.display(), path.display()),
            Some(_) => {}
            None => v.push(Binary { commit_time: commit_time(&commit)?, commit, path, sha256 }),
        }
    }
    if v.is_empty() {
        bail!("no einfo-<commit> binaries in {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    v.sort_by(|a, b| (a.commit_time, &a.commit).cmp(&(b.commit_time, &b.commit)));
    Ok(v)
}

pub fn run(a: &EquivalenceArgs, command: &str) -> Result<()> {
    let binaries = binaries(&a.bins)?;
    let parent = a.scratch.clone().unwrap_or_else(std::env::temp_dir);
    let work = parent.join(format!("einfo-equivalence-{}", std::process::id()));
    if work.exists() {
        bail!("{} exists: remove it or give another --scratch", work.display());
    }
    let csv = a.out.join(equivalence::CSV_NAME);
    let known = equivalence::read_if_present(&csv)?;
    let plan = Plan { binaries, presets: a.presets.clone(), steps: a.steps, cache: a.cache.clone(), work: work.clone(), known, cpu: einfo_train::cpu_kind() };
    println!(
        "{} binaries × {} presets, {} steps each (+ resumes) on {}; {} rows known from {}; work in {}",
        plan.binaries.len(),
        plan.presets.len(),
        plan.steps,
        plan.cpu,
        plan.known.len(),
        csv.display(),
        work.display()
    );
    std::fs::create_dir_all(&a.out)?;
    let md = csv.with_extension("md");
    let mut new: Vec<Row> = Vec::new();
    let rows = equivalence::check(&plan, |r| {
        let how = if r.resumed_from.is_empty() { "straight".to_string() } else { format!("resumed from {}", short_commit(&r.resumed_from)) };
        println!("{:<22} {:<20} {:<34} {}", r.preset, short_commit(&r.commit), how, r.fingerprint.get(..16).unwrap_or(&r.fingerprint));
        // Written as it comes: a failure later keeps what was measured.
        new.push(r.clone());
        let all = equivalence::merge(&plan.known, &new);
        equivalence::write_csv(&csv, &all)?;
        einfo_data::durable::write_atomic(&md, markdown(&all, command).as_bytes())
            .map_err(|e| einfo_ablation::AblationError::File { path: md.clone(), detail: e.to_string() })
    });
    let rows = rows.map_err(|e| anyhow!("{e} (the runs are kept in {})", work.display()))?;
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    for l in equivalence::summary(&rows, &equivalence::commits_of(&rows)) {
        println!("{l}");
    }
    println!("→ {} and {}", csv.display(), md.display());
    Ok(())
}

fn markdown(rows: &[Row], command: &str) -> String {
    let mut s = String::from("# Same training across commits\n\n");
    s.push_str(&format!("Written by `{command}` (the last run; earlier rows are kept); do not edit by hand. "));
    s.push_str(
        "Each commit's `einfo` binary trained each preset N steps from scratch (MNIST split 1, seed 0, batch 64, one thread) and resumed the previous commit's N/2-step checkpoint to N; a fingerprint hashes the final checkpoint's weights, optimiser states and training state (step, epoch, place in the data, optimiser step counts, RNG positions, prior). Equal fingerprints: identical training, bit for bit, on the CPU that measured them; the check sees the first steps only.\n\n",
    );
    for l in equivalence::summary(rows, &equivalence::commits_of(rows)) {
        s.push_str(&format!("- {l}\n"));
    }
    s.push_str("\n| preset | steps (N) | commit | run | CPU | binary sha256 | fingerprint |\n|---|---|---|---|---|---|---|\n");
    for r in rows {
        let run = if r.resumed_from.is_empty() { "straight".to_string() } else { format!("resumed from `{}`", short_commit(&r.resumed_from)) };
        let cut = |h: &str| h.get(..16).unwrap_or(h).to_string();
        s.push_str(&format!(
            "| {} | {} | `{}` | {run} | {} | `{}` | `{}` |\n",
            r.preset,
            r.steps,
            short_commit(&r.commit),
            r.cpu,
            cut(&r.binary_sha256),
            cut(&r.fingerprint)
        ));
    }
    s
}
