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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{io_err, AblationError, Result};
use crate::launches::short_commit;

/// The check's output, beside the tables (`experiments/results/`), where `aggregate` reads it.
pub const CSV_NAME: &str = "training-equivalence.csv";

/// One commit's binary.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    pub commit: String,
    /// The commit's date (Unix time), which orders the binaries.
    pub commit_time: i64,
    pub path: PathBuf,
    pub sha256: String,
}

/// One fingerprint: `preset` trained `steps` steps by `commit`'s binary on `cpu`, straight or
/// resumed half-way from `resumed_from`'s checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub preset: String,
    pub steps: u64,
    pub commit: String,
    pub commit_time: i64,
    pub binary_sha256: String,
    /// Empty: trained straight.
    pub resumed_from: String,
    pub cpu: String,
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

/// `known` with `new` merged in (a new row replaces the known one for the same measurement),
/// in a stable order: preset, steps, CPU, commit date, straight before resumed.
pub fn merge(known: &[Row], new: &[Row]) -> Vec<Row> {
    let key = |r: &Row| (r.preset.clone(), r.steps, r.cpu.clone(), r.commit.clone(), r.resumed_from.clone());
    let mut by: BTreeMap<_, Row> = known.iter().map(|r| (key(r), r.clone())).collect();
    by.extend(new.iter().map(|r| (key(r), r.clone())));
    let mut v: Vec<Row> = by.into_values().collect();
    v.sort_by(|a, b| {
        (&a.preset, a.steps, &a.cpu, a.commit_time, &a.commit, !a.resumed_from.is_empty()).cmp(&(
            &b.preset,
            b.steps,
            &b.cpu,
            b.commit_time,
            &b.commit,
            !b.resumed_from.is_empty(),
        ))
    });
    v
}

/// Write the rows as CSV (atomically).
pub fn write_csv(path: &Path, rows: &[Row]) -> Result<()> {
    let bad = |e: String| AblationError::File { path: path.into(), detail: e };
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| bad(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| bad(e.to_string()))?;
    einfo_data::durable::write_atomic(path, &bytes).map_err(|e| bad(e.to_string()))
}

/// Read rows written by [`write_csv`].
pub fn read_csv(path: &Path) -> Result<Vec<Row>> {
    let bad = |e: String| AblationError::File {
        path: path.into(),
        detail: format!("{e} (not a training-equivalence CSV of this version: move it aside and run the check again)"),
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    r.deserialize().collect::<Result<Vec<Row>, _>>().map_err(|e| bad(e.to_string()))
}

/// The rows in `path`, or none when there is no such file.
pub fn read_if_present(path: &Path) -> Result<Vec<Row>> {
    if path.is_file() {
        read_csv(path)
    } else {
        Ok(Vec::new())
    }
}

/// The commits of `rows` (as the tables show them: [`short_commit`]), oldest first.
pub fn commits_of(rows: &[Row]) -> Vec<String> {
    let mut v: Vec<(i64, String)> = rows.iter().map(|r| (r.commit_time, short_commit(&r.commit))).collect();
    v.sort();
    v.dedup();
    v.into_iter().map(|(_, c)| c).collect()
}

/// What the rows say about `commits` (short forms; rows of other commits are left out), one
/// line per preset, steps and CPU: the runs of consecutive commits that train identically, and
/// any resume that does not land on the resuming commit's own run.
pub fn summary(rows: &[Row], commits: &[String]) -> Vec<String> {
    let mine: Vec<&Row> = rows.iter().filter(|r| commits.contains(&short_commit(&r.commit))).collect();
    let mut groups: BTreeMap<(&str, u64, &str), Vec<&Row>> = BTreeMap::new();
    for r in mine {
        groups.entry((r.preset.as_str(), r.steps, r.cpu.as_str())).or_default().push(r);
    }
    let multi_cpu = groups.keys().map(|k| k.2).collect::<std::collections::BTreeSet<_>>().len() > 1;
    groups.into_iter().map(|((preset, _, cpu), rs)| preset_line(preset, if multi_cpu { Some(cpu) } else { None }, &rs)).collect()
}

/// One preset's line of [`summary`].
fn preset_line(preset: &str, cpu: Option<&str>, rows: &[&Row]) -> String {
    let mut straight: Vec<&Row> = rows.iter().copied().filter(|r| r.resumed_from.is_empty()).collect();
    straight.sort_by_key(|r| (r.commit_time, r.commit.clone()));
    let fp: BTreeMap<&str, &str> = straight.iter().map(|r| (r.commit.as_str(), r.fingerprint.as_str())).collect();
    let mut runs: Vec<Vec<&Row>> = Vec::new();
    for r in straight {
        match runs.last_mut() {
            Some(g) if g[0].fingerprint == r.fingerprint => g.push(r),
            _ => runs.push(vec![r]),
        }
    }
    let short = |c: &str| format!("`{}`", short_commit(c));
    let describe = |g: &Vec<&Row>| {
        if g.len() == 1 {
            short(&g[0].commit)
        } else {
            format!("{} … {} ({} commits)", short(&g[0].commit), short(&g[g.len() - 1].commit), g.len())
        }
    };
    let trained = match runs.len() {
        1 => format!("one training for all {} commits checked", runs[0].len()),
        n => format!("{n} trainings, changing between: {}", runs.iter().map(describe).collect::<Vec<_>>().join(" / ")),
    };
    let resumes: Vec<&&Row> = rows.iter().filter(|r| !r.resumed_from.is_empty()).collect();
    let broken: Vec<String> = resumes
        .iter()
        .filter(|r| fp.get(r.commit.as_str()) != Some(&r.fingerprint.as_str()))
        .map(|r| format!("{} → {}", short(&r.resumed_from), short(&r.commit)))
        .collect();
    let resumed = match (resumes.len(), broken.is_empty()) {
        (0, _) => "no resume checked".to_string(),
        (n, true) => format!("each of the {n} resumes from the previous commit's checkpoint lands on the resuming commit's own run"),
        (n, false) => format!("{} of {n} resumes land elsewhere: {}", broken.len(), broken.join(", ")),
    };
    let on = cpu.map_or(String::new(), |c| format!(" (on {c})"));
    format!("`{preset}`{on}: {trained}; {resumed}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(preset: &str, commit: &str, from: &str, fp: &str) -> Row {
        let time = commit.bytes().last().map_or(0, |b| b as i64);
        Row {
            preset: preset.into(),
            steps: 12,
            commit: commit.into(),
            commit_time: time,
            binary_sha256: format!("sha-{commit}"),
            resumed_from: from.into(),
            cpu: "cpu".into(),
            fingerprint: fp.into(),
        }
    }

    fn commits(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_summary_groups_consecutive_commits_and_names_broken_resumes() {
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
        let s = summary(&rows, &commits(&["a1", "b2", "c3", "d4"]));
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], "`elastic`: 2 trainings, changing between: `a1` / `b2` … `c3` (2 commits); 1 of 2 resumes land elsewhere: `a1` → `b2`");
        assert_eq!(s[1], "`uniform`: one training for all 3 commits checked; each of the 2 resumes from the previous commit's checkpoint lands on the resuming commit's own run");
        // Only the table's commits count, and a second CPU's rows get a line of their own.
        let mut more = rows.clone();
        more.push(Row { cpu: "other".into(), ..row("uniform", "a1", "", "q") });
        let s = summary(&more, &commits(&["a1"]));
        assert_eq!(
            s,
            [
                "`elastic` (on cpu): one training for all 1 commits checked; no resume checked",
                "`uniform` (on cpu): one training for all 1 commits checked; no resume checked",
                "`uniform` (on other): one training for all 1 commits checked; no resume checked"
            ]
        );
        assert_eq!(commits_of(&rows), commits(&["a1", "b2", "c3", "e5"]), "by commit date");
    }

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

    #[test]
    fn merging_replaces_the_same_measurement_and_keeps_the_rest() {
        let known = vec![row("uniform", "a1", "", "x"), row("uniform", "b2", "", "x")];
        let new = vec![row("uniform", "b2", "", "y"), row("uniform", "c3", "", "z")];
        let m = merge(&known, &new);
        let fps: Vec<(&str, &str)> = m.iter().map(|r| (r.commit.as_str(), r.fingerprint.as_str())).collect();
        assert_eq!(fps, [("a1", "x"), ("b2", "y"), ("c3", "z")]);
    }

    #[test]
    fn rows_survive_the_csv_and_an_old_csv_is_refused_by_name() {
        let d = std::env::temp_dir().join(format!("einfo-equiv-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let rows = vec![row("uniform", "a1", "", "x"), row("uniform", "b2", "a1", "y")];
        write_csv(&d.join("e.csv"), &rows).unwrap();
        assert_eq!(read_csv(&d.join("e.csv")).unwrap(), rows);
        std::fs::write(d.join("old.csv"), "preset,steps,commit,resumed_from,fingerprint\nuniform,8,a1,,x\n").unwrap();
        let e = read_csv(&d.join("old.csv")).unwrap_err().to_string();
        assert!(e.contains("old.csv") && e.contains("move it aside"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
