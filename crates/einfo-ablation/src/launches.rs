//! The launches behind a table, as the report's bullet lines: from a root's `matrix.json`,
//! and carried over with committed results (`<results>/launches.md`, which `aggregate`
//! writes beside the figures) when a table grows from results whose run directories are
//! gone. Results aggregated before `launches.md` existed carry theirs in the report itself
//! (`<results>.md`, the bullets after "Launches …"), read from there once.

use std::path::{Path, PathBuf};

use crate::error::{io_err, Result};
use crate::manifest::{Launch, Manifest};

/// The file beside the figures that lists the launches.
pub const FILE: &str = "launches.md";

/// A commit as the tables show it: 12 hex digits, keeping a `-dirty` mark.
pub fn short_commit(c: &str) -> String {
    let (hash, dirty) = match c.strip_suffix("-dirty") {
        Some(h) => (h, "-dirty"),
        None => (c, ""),
    };
    format!("{}{dirty}", &hash[..hash.len().min(12)])
}

/// The launches recorded in `root`'s `matrix.json`, one bullet line each.
pub fn of_root(root: &Path) -> Result<Vec<String>> {
    Ok(Manifest::load(root)?.launches.iter().map(bullet).collect())
}

/// A launch as a report's bullet line.
fn bullet(l: &Launch) -> String {
    let commit = l.git_commit.as_deref().map_or("unknown".to_string(), short_commit);
    let job = l.slurm_job.as_deref().map_or(String::new(), |j| format!(", Slurm job {j}"));
    let threads = l.threads_per_cell.map_or(String::new(), |t| format!(", {t} thread(s) per cell"));
    let cpu = l.cpu.as_deref().map_or(String::new(), |c| format!(", on {c}"));
    format!("- `{}` ({} launcher, commit {commit}{job}{threads}{cpu}, {} cell(s) to run)", l.command, l.launcher, l.cells.len())
}

/// The commit of a launch bullet line (as [`of_root`] writes it: `… launcher, commit <c>, …`).
pub fn commit_of(bullet: &str) -> Option<String> {
    let rest = bullet.rsplit_once(" launcher, commit ")?.1;
    Some(rest.split([',', ')']).next()?.trim().to_string()).filter(|c| !c.is_empty())
}

/// The launches carried by committed results: their `launches.md`, or else the launch
/// bullets of the report beside them (`<dir>.md`).
pub fn from_includes(dirs: &[PathBuf]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for dir in dirs {
        let own = dir.join(FILE);
        if own.is_file() {
            let text = std::fs::read_to_string(&own).map_err(io_err(&own))?;
            out.extend(text.lines().filter(|l| l.starts_with("- ")).map(str::to_string));
        } else if let Ok(report) = std::fs::read_to_string(dir.with_extension("md")) {
            out.extend(bullets_after_launches(&report));
        }
    }
    Ok(out)
}

/// The bullet lines of a report's launches section.
fn bullets_after_launches(report: &str) -> Vec<String> {
    let mut lines = report.lines().skip_while(|l| !l.starts_with("Launches ")).skip(1).skip_while(|l| l.is_empty());
    let mut out = Vec::new();
    for l in lines.by_ref() {
        if !l.starts_with("- `") {
            break;
        }
        out.push(l.to_string());
    }
    out
}

/// Write `dir/launches.md`.
pub fn write(dir: &Path, launches: &[String]) -> Result<()> {
    let p = dir.join(FILE);
    let mut text = String::from("Launches that trained the cells of these results (carried over when they are re-aggregated).\n\n");
    for l in launches {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(&p, text).map_err(io_err(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_launch_line_names_its_commit() {
        let l = "- `cargo xtask run-ablations --jobs 2` (local launcher, commit 8ac14ab13103-dirty, 1 thread(s) per cell, 4 cell(s) to run)";
        assert_eq!(commit_of(l).as_deref(), Some("8ac14ab13103-dirty"));
        assert_eq!(commit_of("- `x` (slurm launcher, commit abc)").as_deref(), Some("abc"));
        assert_eq!(commit_of("- something else"), None);
    }

    #[test]
    fn a_launch_line_names_its_threads_and_cpu() {
        let budget = crate::matrix::Budget {
            epochs: 5,
            max_steps: None,
            eval_every_epochs: 1,
            eval_per_code: 1000,
            eval_real_images: 0,
            device: "cpu".into(),
            dataset: "mnist".into(),
            schedules: Default::default(),
        };
        let matrix = crate::Matrix { root: "runs".into(), methods: vec!["elastic".into()], splits: vec![1], seeds: vec![0, 1], budget };
        let mut l = Launch {
            launcher: "local".into(),
            command: "cargo xtask run-ablations".into(),
            git_commit: Some("89c25eb0123456789".into()),
            unix_time: 0,
            matrix,
            cells: vec!["elastic/split1/seed0".into(), "elastic/split1/seed1".into()],
            slurm_job: None,
            jobs: Some(2),
            threads_per_cell: Some(1),
            cpu: Some("AMD EPYC (AVX-512), gemm (pure Rust)".into()),
        };
        let line = bullet(&l);
        assert_eq!(line, "- `cargo xtask run-ablations` (local launcher, commit 89c25eb01234, 1 thread(s) per cell, on AMD EPYC (AVX-512), gemm (pure Rust), 2 cell(s) to run)");
        assert_eq!(commit_of(&line).as_deref(), Some("89c25eb01234"));
        // Launches recorded before the CPU was keep their old line.
        l.cpu = None;
        assert_eq!(bullet(&l), "- `cargo xtask run-ablations` (local launcher, commit 89c25eb01234, 1 thread(s) per cell, 2 cell(s) to run)");
    }

    #[test]
    fn the_launch_bullets_of_a_report_are_found() {
        let report = "# x\n\nGenerated by …\n\nLaunches into that root (from its `matrix.json`):\n\n- `cargo xtask a` (local launcher, commit abc)\n- `cargo xtask b` (local launcher, commit def)\n\n- Data: mnist\n";
        assert_eq!(bullets_after_launches(report), vec!["- `cargo xtask a` (local launcher, commit abc)", "- `cargo xtask b` (local launcher, commit def)"]);
        assert!(bullets_after_launches("# no launches\n- Data: x\n").is_empty());
        assert_eq!(short_commit("b8f32553fb9bd4d40d4d48de0a6d1b356e000ae1-dirty"), "b8f32553fb9b-dirty");
        assert_eq!(short_commit("b8f32553fb9bd4d40d4d48de0a6d1b356e000ae1"), "b8f32553fb9b");
        assert_eq!(short_commit("abc"), "abc");
    }
}
