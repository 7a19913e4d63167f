//! Did the training code change between the commits that trained a table's cells? A cell
//! resumed across launches is trained partly by each launch's binary, so the table can only
//! say "one training" if those binaries train identically. Each commit's `einfo` binary (the
//! copies launchers keep in `<root>/bin/einfo-<commit>`) trains the same few steps from
//! scratch, one thread, on this machine; the final checkpoint's weights, optimiser states,
//! step and RNG positions are hashed. Equal hashes: identical training, bit for bit. Each
//! binary also resumes the previous commit's half-way checkpoint, as a resumed cell does,
//! and must land on its own straight run.
//!
//! The check covers the first steps and this machine's kernels (a change that acts only
//! later in training, such as a schedule, is not seen).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{io_err, AblationError, Result};

/// The check's output, beside the tables (`experiments/results/`), where `aggregate` reads it.
pub const CSV_NAME: &str = "training-equivalence.csv";

/// One commit's binary.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    pub commit: String,
    pub path: PathBuf,
}

/// One fingerprint: `preset` trained `steps` steps by `commit`'s binary, straight or
/// resumed half-way from `resumed_from`'s checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub preset: String,
    pub steps: u64,
    pub commit: String,
    /// Empty: trained straight.
    pub resumed_from: String,
    pub fingerprint: String,
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
    pub scratch: PathBuf,
    /// Rows of an earlier check, reused where they match.
    pub known: Vec<Row>,
}

/// The binaries launchers kept in `dir` (`einfo-<commit>`), by commit name.
pub fn binaries_in(dir: &Path) -> Result<Vec<Binary>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))?.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(commit) = name.strip_prefix("einfo-") {
            v.push(Binary { commit: commit.to_string(), path: e.path() });
        }
    }
    v.sort_by(|a, b| a.commit.cmp(&b.commit));
    Ok(v)
}

/// Hash of a run's newest checkpoint: each `*.safetensors` file (name and sha256, in name
/// order) and the step and RNG positions of its `state.json`.
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
        let p = dir.join(n);
        text.push_str(&format!("{n} {}\n", einfo_data::source::sha256_hex(&std::fs::read(&p).map_err(io_err(&p))?)));
    }
    let sp = dir.join("state.json");
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sp).map_err(io_err(&sp))?)
        .map_err(|e| AblationError::File { path: sp.clone(), detail: e.to_string() })?;
    for key in ["step", "noise_pos", "augment_pos"] {
        text.push_str(&format!("{key} {}\n", state.get(key).map_or("-".into(), |v| v.to_string())));
    }
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

/// Train `preset` for `steps` steps with `bin` into `out` (from scratch).
fn train(bin: &Path, preset: &str, steps: u64, cache: &Path, out: &Path) -> Result<()> {
    let (steps, cache, dir) = (steps.to_string(), cache.display().to_string(), out.display().to_string());
    let args = ["train", "--cache", &cache, "--preset", preset, "--split", "1", "--seed", "0", "--max-steps", &steps, "--out", &dir, "--force", "--quiet"];
    run(bin, &args, &out.with_extension("log"))
}

/// Every fingerprint of the plan: each binary's straight run of each preset, and each
/// binary resuming its predecessor's half-way checkpoint. A fingerprint already in
/// `plan.known` (an earlier check's rows) is reused, so a check after a new launch runs only
/// the new commit. `progress` hears each row.
pub fn check(plan: &Plan, mut progress: impl FnMut(&Row)) -> Result<Vec<Row>> {
    if plan.steps < 2 || plan.steps % 2 != 0 {
        return Err(AblationError::Invalid(format!("--steps {}: an even number of at least 2 (the resumed runs start half-way)", plan.steps)));
    }
    std::fs::create_dir_all(&plan.scratch).map_err(io_err(&plan.scratch))?;
    let mut rows = Vec::new();
    for preset in &plan.presets {
        for (i, b) in plan.binaries.iter().enumerate() {
            // The straight run, then (after the first commit) the resume of the previous one's.
            let previous = i.checked_sub(1).map(|j| &plan.binaries[j]);
            for from in std::iter::once(None).chain(previous.map(Some)) {
                let from_commit = from.map_or("", |f| f.commit.as_str());
                let known = plan.known.iter().find(|r| r.preset == *preset && r.steps == plan.steps && r.commit == b.commit && r.resumed_from == from_commit);
                let row = match known {
                    Some(k) => k.clone(),
                    None => fresh(plan, preset, b, from)?,
                };
                progress(&row);
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// One fingerprint measured: `b` training `preset` straight, or resuming the half-way
/// checkpoint of `from`'s own run.
fn fresh(plan: &Plan, preset: &str, b: &Binary, from: Option<&Binary>) -> Result<Row> {
    let dir = match from {
        None => {
            let dir = plan.scratch.join(format!("{preset}-{}", b.commit));
            train(&b.path, preset, plan.steps, &plan.cache, &dir)?;
            dir
        }
        Some(f) => {
            let half = plan.scratch.join(format!("{preset}-{}-half", f.commit));
            if einfo_train::checkpoint::latest(&half)?.is_none() {
                train(&f.path, preset, plan.steps / 2, &plan.cache, &half)?;
            }
            let dir = plan.scratch.join(format!("{preset}-{}-then-{}", f.commit, b.commit));
            copy_run(&half, &dir)?;
            let (steps, cache, d) = (plan.steps.to_string(), plan.cache.display().to_string(), dir.display().to_string());
            run(&b.path, &["resume", "--cache", &cache, "--max-steps", &steps, "--quiet", &d], &dir.with_extension("log"))?;
            dir
        }
    };
    let fingerprint = fingerprint(&dir)?;
    Ok(Row { preset: preset.into(), steps: plan.steps, commit: b.commit.clone(), resumed_from: from.map_or(String::new(), |f| f.commit.clone()), fingerprint })
}

/// Copy a run directory (files and one level of subdirectories, as einfo writes them).
fn copy_run(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(io_err(to))?;
    }
    copy_tree(from, to)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(io_err(to))?;
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

/// Write the rows as CSV (atomically).
pub fn write_csv(path: &Path, rows: &[Row]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| AblationError::File { path: path.into(), detail: e.to_string() })?;
    }
    let bytes = w.into_inner().map_err(|e| AblationError::File { path: path.into(), detail: e.to_string() })?;
    einfo_data::durable::write_atomic(path, &bytes).map_err(|e| AblationError::File { path: path.into(), detail: e.to_string() })
}

/// Read rows written by [`write_csv`].
pub fn read_csv(path: &Path) -> Result<Vec<Row>> {
    let mut r = csv::Reader::from_path(path).map_err(|e| AblationError::File { path: path.into(), detail: e.to_string() })?;
    r.deserialize().collect::<Result<Vec<Row>, _>>().map_err(|e| AblationError::File { path: path.into(), detail: e.to_string() })
}

/// The rows in `path`, or none when there is no such file.
pub fn read_if_present(path: &Path) -> Result<Vec<Row>> {
    if path.is_file() {
        read_csv(path)
    } else {
        Ok(Vec::new())
    }
}

/// The commits of `rows` in the order the check ran them (oldest first).
pub fn commits_of(rows: &[Row]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in rows {
        if !v.contains(&r.commit) {
            v.push(r.commit.clone());
        }
    }
    v
}

/// What the rows say, one line per preset over `commits` (oldest first; others are left
/// out): the runs of consecutive commits that train identically, and any resume that does
/// not land on the resuming commit's own run.
pub fn summary(rows: &[Row], commits: &[String]) -> Vec<String> {
    let mut presets: Vec<&str> = rows.iter().map(|r| r.preset.as_str()).collect();
    presets.dedup();
    let short = |c: &str| format!("`{}`", &c[..c.len().min(12)]);
    let mut lines = Vec::new();
    for p in presets {
        let straight: BTreeMap<&str, &str> =
            rows.iter().filter(|r| r.preset == p && r.resumed_from.is_empty()).map(|r| (r.commit.as_str(), r.fingerprint.as_str())).collect();
        let checked: Vec<&String> = commits.iter().filter(|c| straight.contains_key(c.as_str())).collect();
        if checked.is_empty() {
            continue;
        }
        // Runs of consecutive commits with one fingerprint.
        let mut groups: Vec<Vec<&String>> = Vec::new();
        for c in checked {
            match groups.last_mut() {
                Some(g) if straight[g[0].as_str()] == straight[c.as_str()] => g.push(c),
                _ => groups.push(vec![c]),
            }
        }
        let describe =
            |g: &Vec<&String>| if g.len() == 1 { short(g[0]) } else { format!("{} … {} ({} commits)", short(g[0]), short(g[g.len() - 1]), g.len()) };
        let trained = if groups.len() == 1 {
            format!("one training for all {} commits checked", groups[0].len())
        } else {
            format!("{} trainings, changing between: {}", groups.len(), groups.iter().map(describe).collect::<Vec<_>>().join(" / "))
        };
        let resumes: Vec<&Row> = rows.iter().filter(|r| r.preset == p && !r.resumed_from.is_empty() && commits.contains(&r.commit)).collect();
        let broken: Vec<String> = resumes
            .iter()
            .filter(|r| straight.get(r.commit.as_str()) != Some(&r.fingerprint.as_str()))
            .map(|r| format!("{} → {}", short(&r.resumed_from), short(&r.commit)))
            .collect();
        let resumed = match (resumes.len(), broken.is_empty()) {
            (0, _) => "no resume checked".to_string(),
            (n, true) => format!("each of the {n} resumes from the previous commit's checkpoint lands on the resuming commit's own run"),
            (n, false) => format!("{} of {n} resumes land elsewhere: {}", broken.len(), broken.join(", ")),
        };
        lines.push(format!("`{p}`: {trained}; {resumed}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(preset: &str, commit: &str, from: &str, fp: &str) -> Row {
        Row { preset: preset.into(), steps: 12, commit: commit.into(), resumed_from: from.into(), fingerprint: fp.into() }
    }

    #[test]
    fn the_summary_groups_consecutive_commits_and_names_broken_resumes() {
        let commits: Vec<String> = ["a1", "b2", "c3", "d4"].iter().map(|s| s.to_string()).collect();
        let rows = vec![
            row("uniform", "a1", "", "x"),
            row("uniform", "b2", "", "x"),
            row("uniform", "b2", "a1", "x"),
            row("uniform", "c3", "", "x"),
            row("uniform", "c3", "b2", "x"),
            row("elastic", "a1", "", "x"),
            row("elastic", "b2", "", "y"),
            row("elastic", "b2", "a1", "z"),
            row("elastic", "c3", "", "y"),
            row("elastic", "c3", "b2", "y"),
            row("elastic", "e5", "", "w"), // not a commit of the table: left out
        ];
        let s = summary(&rows, &commits);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], "`uniform`: one training for all 3 commits checked; each of the 2 resumes from the previous commit's checkpoint lands on the resuming commit's own run");
        assert_eq!(s[1], "`elastic`: 2 trainings, changing between: `a1` / `b2` … `c3` (2 commits); 1 of 2 resumes land elsewhere: `a1` → `b2`");
    }

    #[test]
    fn the_fingerprint_sees_weights_and_rng_positions_and_nothing_else() {
        let run = std::env::temp_dir().join(format!("einfo-fp-{}", std::process::id()));
        let ck = run.join("checkpoints/step-00000008");
        std::fs::create_dir_all(&ck).unwrap();
        let write = |g: &str, state: &str| {
            std::fs::write(ck.join("g.safetensors"), g).unwrap();
            std::fs::write(ck.join("state.json"), state).unwrap();
        };
        write("weights", r#"{"step": 8, "epoch": 0, "noise_pos": "87548", "augment_pos": "2560"}"#);
        let base = fingerprint(&run).unwrap();
        write("weights", r#"{"step": 8, "epoch": 3, "noise_pos": "87548", "augment_pos": "2560", "new_field": 1}"#);
        assert_eq!(fingerprint(&run).unwrap(), base, "other state fields (a format that grew) do not count");
        write("weightz", r#"{"step": 8, "epoch": 0, "noise_pos": "87548", "augment_pos": "2560"}"#);
        assert_ne!(fingerprint(&run).unwrap(), base, "the weights count");
        write("weights", r#"{"step": 8, "epoch": 0, "noise_pos": "87549", "augment_pos": "2560"}"#);
        assert_ne!(fingerprint(&run).unwrap(), base, "the noise stream's position counts");
        std::fs::write(ck.join("opt-g.safetensors"), "moments").unwrap();
        write("weights", r#"{"step": 8, "epoch": 0, "noise_pos": "87548", "augment_pos": "2560"}"#);
        assert_ne!(fingerprint(&run).unwrap(), base, "every safetensors file counts");
        std::fs::remove_dir_all(&run).unwrap();
        let e = fingerprint(&run).unwrap_err().to_string();
        assert!(e.contains("no checkpoint"), "{e}");
    }

    #[test]
    fn known_fingerprints_are_reused_and_only_new_commits_would_run() {
        let bin = |c: &str| Binary { commit: c.into(), path: PathBuf::from("/nonexistent/einfo") };
        let known = vec![row("uniform", "a1", "", "x"), row("uniform", "b2", "", "x"), row("uniform", "b2", "a1", "x")];
        let scratch = std::env::temp_dir().join(format!("einfo-equiv-known-{}", std::process::id()));
        let mut plan =
            Plan { binaries: vec![bin("a1"), bin("b2")], presets: vec!["uniform".into()], steps: 12, cache: "data".into(), scratch: scratch.clone(), known };
        let mut heard = 0;
        assert_eq!(check(&plan, |_| heard += 1).unwrap(), plan.known, "nothing to run: the binaries are never started");
        assert_eq!(heard, 3);
        // A third commit has no fingerprint: its binary must run (and here cannot).
        plan.binaries.push(bin("c3"));
        let e = check(&plan, |_| {}).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/einfo"), "{e}");
        assert!(check(&Plan { steps: 7, ..plan }, |_| {}).unwrap_err().to_string().contains("even"));
        let _ = std::fs::remove_dir_all(&scratch);
    }

    #[test]
    fn rows_survive_the_csv() {
        let d = std::env::temp_dir().join(format!("einfo-equiv-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let rows = vec![row("uniform", "a1", "", "x"), row("uniform", "b2", "a1", "y")];
        write_csv(&d.join("e.csv"), &rows).unwrap();
        assert_eq!(read_csv(&d.join("e.csv")).unwrap(), rows);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
