//! The local launcher: cells as `einfo cell …` child processes, `jobs` side by side,
//! each logging to `<root>/logs/<cell>.log`. Finished cells are skipped before anything starts;
//! interrupted ones continue from their checkpoints (that is what `einfo cell` does).
//!
//! Ctrl-C, SIGTERM or SIGHUP to the launcher stops it cleanly: no new cell starts, the
//! running ones get SIGTERM (each checkpoints and exits), and the launcher waits for them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use einfo_train::cell::{cell_state, CellState};

use crate::error::{io_err, AblationError, Result};
use crate::matrix::{Cell, Matrix};
use crate::status::log_tail;

/// How to run cells on this machine.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The `einfo` binary.
    pub einfo: PathBuf,
    /// Cells side by side.
    pub jobs: usize,
    /// Threads per cell (RAYON / OpenBLAS); `None`: the machine's cores / jobs, unless
    /// `RAYON_NUM_THREADS` is already set.
    pub threads: Option<usize>,
    /// Print a line per cell start / end.
    pub verbose: bool,
    /// Extra environment of every cell (e.g. `EINFO_GIT_COMMIT`).
    pub env: Vec<(String, String)>,
    /// Polled while cells run: a requested stop is passed on to each running cell once (it
    /// checkpoints and exits) and no new cell starts. The binary routes its signals here.
    pub stop: einfo_train::signal::Stop,
}

/// What a local launch did.
#[derive(Debug, Clone, Default)]
pub struct LocalReport {
    pub skipped: Vec<String>,
    pub finished: Vec<String>,
    pub failed: Vec<String>,
}

/// Cells of `cells` that are not finished yet.
pub fn unfinished(matrix: &Matrix, cells: &[Cell]) -> Result<Vec<Cell>> {
    let mut v = Vec::new();
    for c in cells {
        if !matches!(cell_state(&matrix.config(c)?, &matrix.dir(c))?, CellState::Finished { .. }) {
            v.push(c.clone());
        }
    }
    Ok(v)
}

/// Run one cell to completion as a child process; `Ok(false)` when it failed.
pub fn run_one(matrix: &Matrix, cell: &Cell, opts: &LocalOptions, threads: Option<usize>) -> Result<bool> {
    let log_path = crate::launch_log(&matrix.root, cell);
    let logs = log_path.parent().expect("a log has a directory");
    std::fs::create_dir_all(logs).map_err(io_err(logs))?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(io_err(&log_path))?;
    let mut cmd = Command::new(&opts.einfo);
    cmd.args(matrix.cell_args(cell)).stdin(Stdio::null()).stdout(log.try_clone().map_err(io_err(&log_path))?).stderr(log);
    cmd.envs(opts.env.iter().map(|(k, v)| (k, v)));
    if let Some(t) = threads {
        cmd.env("RAYON_NUM_THREADS", t.to_string()).env("OPENBLAS_NUM_THREADS", t.to_string());
    }
    // Its own process group: a terminal's Ctrl-C reaches the launcher only, which tells each
    // cell once (a second signal would make a cell exit before its checkpoint).
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        // A launcher killed outright (`kill -9`) takes its cells with it: each is sent
        // SIGTERM (it checkpoints and exits) when the launcher's thread that started it dies.
        #[cfg(target_os = "linux")]
        {
            // SAFETY: getpid before the fork; in the child only async-signal-safe calls.
            let parent = unsafe { libc::getpid() };
            unsafe {
                cmd.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // The launcher died before the line above: nobody waits for this cell.
                    if libc::getppid() != parent {
                        libc::_exit(1);
                    }
                    Ok(())
                });
            }
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| AblationError::Invalid(format!("cannot start {}: {e} (build it with `cargo build --release -p einfo-cli`)", opts.einfo.display())))?;
    // Wait, passing a stop on to the cell (it checkpoints and exits).
    let mut told = false;
    loop {
        if let Some(st) = child.try_wait().map_err(io_err(&opts.einfo))? {
            return Ok(st.success());
        }
        if opts.stop.requested() && !told {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            told = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Threads each cell gets: `opts.threads`, else `RAYON_NUM_THREADS` when set, else the
/// machine's cores / jobs.
pub fn threads_per_cell(opts: &LocalOptions) -> usize {
    opts.threads.unwrap_or_else(|| {
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| (std::thread::available_parallelism().map_or(1, |n| n.get()) / opts.jobs.max(1)).max(1))
    })
}

/// Run the unfinished cells among `cells`.
pub fn run_local(matrix: &Matrix, cells: &[Cell], opts: &LocalOptions) -> Result<LocalReport> {
    let todo = unfinished(matrix, cells)?;
    let mut report = LocalReport { skipped: cells.iter().filter(|c| !todo.contains(c)).map(Cell::id).collect(), ..Default::default() };
    if opts.verbose && !report.skipped.is_empty() {
        println!("skipping {} finished cell(s)", report.skipped.len());
    }
    let jobs = opts.jobs.max(1);
    let threads = Some(threads_per_cell(opts));
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let first_error: Mutex<Option<AblationError>> = Mutex::new(None);
    let n = todo.len();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(n) {
            s.spawn(|| loop {
                if opts.stop.requested() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(cell) = todo.get(i) else { break };
                if opts.verbose {
                    println!("[{}/{n}] {} …", i + 1, cell.id());
                }
                let t0 = Instant::now();
                match run_one(matrix, cell, opts, threads) {
                    Ok(ok) => {
                        if opts.verbose {
                            let last = log_tail(&crate::launch_log(&matrix.root, cell), 1).unwrap_or_default();
                            // A cell stopped by the user checkpointed: it is not a failure.
                            let verdict = if ok {
                                "done"
                            } else if opts.stop.requested() {
                                "stopped"
                            } else {
                                "FAILED"
                            };
                            println!("[{}/{n}] {} {verdict} in {:.0} s: {}", i + 1, cell.id(), t0.elapsed().as_secs_f64(), last.trim());
                        }
                        results.lock().expect("no poisoned lock").push((cell.id(), ok));
                    }
                    Err(e) => {
                        first_error.lock().expect("no poisoned lock").get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("no poisoned lock") {
        return Err(e);
    }
    for (id, ok) in results.into_inner().expect("no poisoned lock") {
        if ok {
            report.finished.push(id)
        } else {
            report.failed.push(id)
        }
    }
    Ok(report)
}

/// The `einfo` binary next to the running executable (xtask and einfo share a target dir).
pub fn sibling_einfo(exe: &Path) -> PathBuf {
    exe.parent().map(|d| d.join("einfo")).unwrap_or_else(|| PathBuf::from("einfo"))
}

/// Copy the freshly built `einfo` to `<root>/bin/einfo-<commit>`: every cell of a launch
/// runs that frozen binary, so rebuilding or committing while a matrix runs changes nothing
/// under it, and the commit its results record is the one it was built at.
pub fn freeze_binary(einfo: &Path, root: &Path, commit: &str) -> Result<PathBuf> {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).map_err(io_err(&bin))?;
    // A commit is a hash, but it is written by hand with --commit: keep it a file name.
    let commit: String = commit.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    let dst = bin.join(format!("einfo-{commit}"));
    let tmp = bin.join(format!(".einfo-{commit}.tmp-{}", std::process::id()));
    std::fs::copy(einfo, &tmp).map_err(io_err(einfo))?;
    std::fs::rename(&tmp, &dst).map_err(io_err(&dst))?;
    Ok(dst)
}
