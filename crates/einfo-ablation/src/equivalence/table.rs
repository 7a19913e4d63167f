//! The check's results file, `training-equivalence.csv`: its rows, defined once for the
//! check that writes them and `aggregate` that quotes them, and what they say about a table's
//! commits.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{AblationError, Result};
use crate::launches::short_commit;

/// The check's output, beside the tables (`experiments/results/`), where `aggregate` reads it.
pub const CSV_NAME: &str = "training-equivalence.csv";

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

/// A row for tests: commit dates follow the commit names' last character.
#[cfg(test)]
pub(super) fn row(preset: &str, commit: &str, from: &str, fp: &str) -> Row {
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

#[cfg(test)]
mod tests {
    use super::*;

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
