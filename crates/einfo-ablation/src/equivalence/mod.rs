//! Did the training code change between the commits that trained a table's cells? A cell
//! resumed across launches is trained partly by each launch's binary, so the table can only
//! say "one training" if those binaries train identically. Each commit's `einfo` binary (the
//! copies launchers keep in `<root>/bin/einfo-<commit>`) trains the same few steps from
//! scratch, one thread; the final checkpoint's weights, optimiser states and training state
//! (step, epoch, place in the data, optimiser step counts, RNG positions, prior) are hashed.
//! Equal hashes: identical training, bit for bit. Each binary also resumes the previous
//! commit's half-way checkpoint, as a resumed cell does, and must land on its own straight run.
//!
//! Fingerprints compare only on one CPU (BLAS kernels differ between CPUs), so each row
//! records the CPU that measured it. The check covers the first steps (a change that acts
//! only later in training, such as a schedule, is not seen).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{io_err, AblationError, Result};

mod table;
pub use table::{commits_of, merge, read_csv, read_if_present, summary, write_csv, Row, CSV_NAME};

/// One commit's binary.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    pub commit: String,
    /// The commit's date (Unix time), which orders the binaries.
    pub commit_time: i64,
    pub path: PathBuf,
    pub sha256: String,
}

/// What the check runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Oldest first.
    pub binaries: Vec<Binary>,
    pub presets: Vec<String>,
    /// Steps of a straight run (even: the resumed runs start at half).
    pub steps: u64,
    pub cache: PathBuf,
    /// A directory the check creates for its runs (it must not exist).
    pub work: PathBuf,
    /// Rows of earlier checks, reused where the same binary measured the same thing on this CPU.
    pub known: Vec<Row>,
    /// This machine's CPU, as rows record it.
    pub cpu: String,
}

/// The binaries launchers kept in `dir` (`einfo-<commit>`): (commit, path), by commit name.
pub fn binaries_in(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))?.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(commit) = name.strip_prefix("einfo-") {
            v.push((commit.to_string(), e.path()));
        }
    }
    v.sort();
    Ok(v)
}

/// The sha256 of a file (a binary).
pub fn file_sha256(path: &Path) -> Result<String> {
    Ok(einfo_data::source::sha256_hex(&std::fs::read(path).map_err(io_err(path))?))
}

/// Hash of a run's newest checkpoint: each `*.safetensors` file (name and sha256, in name
/// order) and every field of its `state.json` but `files` (which repeats those hashes).
pub fn fingerprint(run: &Path) -> Result<String> {
    let Some((_, dir)) = einfo_train::checkpoint::latest(run)? else {
        return Err(AblationError::File { path: run.into(), detail: "no checkpoint: the run did not train".into() });
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(io_err(&dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    names.sort();
    let mut text = String::new();
    for n in &names {
        text.push_str(&format!("{n} {}\n", file_sha256(&dir.join(n))?));
    }
    let sp = dir.join("state.json");
    let bad = |detail: String| AblationError::File { path: sp.clone(), detail };
    let mut state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sp).map_err(io_err(&sp))?).map_err(|e| bad(e.to_string()))?;
    let fields = state.as_object_mut().ok_or_else(|| bad("not a JSON object".into()))?;
    fields.remove("files");
    if !fields.contains_key("step") {
        return Err(bad("no step: not a checkpoint's state".into()));
    }
    text.push_str(&state.to_string()); // serde_json's map is ordered by key
    Ok(einfo_data::source::sha256_hex(text.as_bytes()))
}

/// Run `bin` with `args` on one thread; its output goes to `<log>`.
fn run(bin: &Path, args: &[&str], log: &Path) -> Result<()> {
    let out = std::fs::File::create(log).map_err(io_err(log))?;
    let err = out.try_clone().map_err(io_err(log))?;
    let status =
        Command::new(bin).args(args).env("RAYON_NUM_THREADS", "1").env("OPENBLAS_NUM_THREADS", "1").stdout(out).stderr(err).status().map_err(io_err(bin))?;
    if !status.success() {
        let tail = crate::status::log_tail(log, 3).unwrap_or_default();
        return Err(AblationError::Invalid(format!("{} {} failed ({status}): {tail}", bin.display(), args.join(" "))));
    }
    Ok(())
}

/// Train `preset` for `steps` steps with `bin` into `out` (a new directory).
fn train(bin: &Path, preset: &str, steps: u64, cache: &Path, out: &Path) -> Result<()> {
    let (steps, cache, dir) = (steps.to_string(), cache.display().to_string(), out.display().to_string());
    let args = ["train", "--cache", &cache, "--preset", preset, "--split", "1", "--seed", "0", "--max-steps", &steps, "--out", &dir, "--quiet"];
    run(bin, &args, &out.with_extension("log"))
}

/// Every fingerprint of the plan: each binary's straight run of each preset, and each
/// binary resuming its predecessor's half-way checkpoint. A fingerprint in `plan.known`
/// measured by the same binaries on this CPU is reused, so a check after a new launch runs
/// only the new commit. `progress` hears each row as it comes.
pub fn check(plan: &Plan, mut progress: impl FnMut(&Row) -> Result<()>) -> Result<Vec<Row>> {
    if plan.steps < 2 || plan.steps % 2 != 0 {
        return Err(AblationError::Invalid(format!("--steps {}: an even number of at least 2 (the resumed runs start half-way)", plan.steps)));
    }
    let mut rows = Vec::new();
    for preset in &plan.presets {
        for (i, b) in plan.binaries.iter().enumerate() {
            // The straight run, then (after the first commit) the resume of the previous one's.
            let previous = i.checked_sub(1).map(|j| &plan.binaries[j]);
            for from in std::iter::once(None).chain(previous.map(Some)) {
                let row = match reusable(plan, preset, b, from) {
                    Some(k) => k.clone(),
                    None => fresh(plan, preset, b, from)?,
                };
                progress(&row)?;
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// A known row for this measurement: the same preset, steps, CPU and binary (and, for a
/// resume, the same binary before it).
fn reusable<'a>(plan: &'a Plan, preset: &str, b: &Binary, from: Option<&Binary>) -> Option<&'a Row> {
    let same = |r: &Row, b: &Binary, from: &str| {
        r.preset == preset && r.steps == plan.steps && r.cpu == plan.cpu && r.commit == b.commit && r.binary_sha256 == b.sha256 && r.resumed_from == from
    };
    if let Some(f) = from {
        plan.known.iter().find(|r| same(r, f, ""))?;
    }
    plan.known.iter().find(|r| same(r, b, from.map_or("", |f| f.commit.as_str())))
}

/// One fingerprint measured in the plan's work directory: `b` training `preset` straight,
/// or resuming the half-way checkpoint of `from`'s own run.
fn fresh(plan: &Plan, preset: &str, b: &Binary, from: Option<&Binary>) -> Result<Row> {
    std::fs::create_dir_all(&plan.work).map_err(io_err(&plan.work))?;
    let dir = match from {
        None => {
            let dir = plan.work.join(format!("{preset}-{}", b.commit));
            train(&b.path, preset, plan.steps, &plan.cache, &dir)?;
            dir
        }
        Some(f) => {
            let half = plan.work.join(format!("{preset}-{}-half", f.commit));
            if !half.exists() {
                train(&f.path, preset, plan.steps / 2, &plan.cache, &half)?;
            }
            let dir = plan.work.join(format!("{preset}-{}-then-{}", f.commit, b.commit));
            copy_tree(&half, &dir)?;
            let (steps, cache, d) = (plan.steps.to_string(), plan.cache.display().to_string(), dir.display().to_string());
            run(&b.path, &["resume", "--cache", &cache, "--max-steps", &steps, "--quiet", &d], &dir.with_extension("log"))?;
            dir
        }
    };
    Ok(Row {
        preset: preset.into(),
        steps: plan.steps,
        commit: b.commit.clone(),
        commit_time: b.commit_time,
        binary_sha256: b.sha256.clone(),
        resumed_from: from.map_or(String::new(), |f| f.commit.clone()),
        cpu: plan.cpu.clone(),
        fingerprint: fingerprint(&dir)?,
    })
}

/// Copy a run directory into `to`, which must not exist (files and subdirectories).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir(to).map_err(io_err(to))?;
    for e in std::fs::read_dir(from).map_err(io_err(from))?.filter_map(|e| e.ok()) {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io_err(&src))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::table::row;
    use super::*;

    #[test]
    fn the_fingerprint_sees_weights_and_training_state_but_not_the_files_map() {
        let run = std::env::temp_dir().join(format!("einfo-fp-{}", std::process::id()));
        let ck = run.join("checkpoints/step-00000008");
        std::fs::create_dir_all(&ck).unwrap();
        let write = |g: &str, state: &str| {
            std::fs::write(ck.join("g.safetensors"), g).unwrap();
            std::fs::write(ck.join("state.json"), state).unwrap();
        };
        let state = |epoch: u32, noise: &str| {
            format!(r#"{{"step": 8, "epoch": {epoch}, "noise_pos": "{noise}", "augment_pos": "2560", "files": {{"g.safetensors": "aa"}}}}"#)
        };
        write("weights", &state(0, "87548"));
        let base = fingerprint(&run).unwrap();
        std::fs::write(ck.join("state.json"), state(0, "87548").replace("\"aa\"", "\"bb\"")).unwrap();
        assert_eq!(fingerprint(&run).unwrap(), base, "the files map repeats the hashes: not counted twice");
        write("weightz", &state(0, "87548"));
        assert_ne!(fingerprint(&run).unwrap(), base, "the weights count");
        write("weights", &state(0, "87549"));
        assert_ne!(fingerprint(&run).unwrap(), base, "the noise stream's position counts");
        write("weights", &state(1, "87548"));
        assert_ne!(fingerprint(&run).unwrap(), base, "every field of the state counts (the epoch)");
        std::fs::write(ck.join("opt-g.safetensors"), "moments").unwrap();
        write("weights", &state(0, "87548"));
        assert_ne!(fingerprint(&run).unwrap(), base, "every safetensors file counts");
        std::fs::write(ck.join("state.json"), "[1, 2]").unwrap();
        assert!(fingerprint(&run).unwrap_err().to_string().contains("not a JSON object"));
        std::fs::remove_dir_all(&run).unwrap();
        let e = fingerprint(&run).unwrap_err().to_string();
        assert!(e.contains("no checkpoint"), "{e}");
    }

    #[test]
    fn known_fingerprints_are_reused_only_for_the_same_binary_and_cpu() {
        let bin = |c: &str| Binary { commit: c.into(), commit_time: 0, path: PathBuf::from("/nonexistent/einfo"), sha256: format!("sha-{c}") };
        let known = vec![row("uniform", "a1", "", "x"), row("uniform", "b2", "", "x"), row("uniform", "b2", "a1", "x")];
        let work = std::env::temp_dir().join(format!("einfo-equiv-known-{}", std::process::id()));
        let plan = Plan {
            binaries: vec![bin("a1"), bin("b2")],
            presets: vec!["uniform".into()],
            steps: 12,
            cache: "data".into(),
            work: work.clone(),
            known,
            cpu: "cpu".into(),
        };
        let mut heard = 0;
        let rows = check(&plan, |_| {
            heard += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((rows, heard), (plan.known.clone(), 3), "nothing to run: the binaries are never started");
        // A rebuilt binary under the same name, another CPU, a third commit: each must run
        // (and here cannot).
        let rebuilt = Plan { binaries: vec![bin("a1"), Binary { sha256: "sha-other".into(), ..bin("b2") }], ..plan.clone() };
        let other_cpu = Plan { cpu: "another".into(), ..plan.clone() };
        let third = Plan { binaries: vec![bin("a1"), bin("b2"), bin("c3")], ..plan.clone() };
        for p in [rebuilt, other_cpu, third] {
            let e = check(&p, |_| Ok(())).unwrap_err().to_string();
            assert!(e.contains("/nonexistent/einfo"), "{e}");
        }
        assert!(check(&Plan { steps: 7, ..plan }, |_| Ok(())).unwrap_err().to_string().contains("even"));
        let _ = std::fs::remove_dir_all(&work);
    }
}
