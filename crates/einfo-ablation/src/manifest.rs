//! `<root>/matrix.json`: every launch into a matrix root — the command, launcher, commit,
//! budget, cells and (for Slurm) the job id — so a results table can say exactly what
//! produced it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{io_err, AblationError, Result};
use crate::matrix::Matrix;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Launch {
    /// `local` or `slurm`.
    pub launcher: String,
    /// The command line as typed.
    pub command: String,
    pub git_commit: Option<String>,
    /// Seconds since the Unix epoch.
    pub unix_time: u64,
    pub matrix: Matrix,
    /// Ids of the cells this launch ran or submitted (finished ones are not).
    pub cells: Vec<String>,
    /// Slurm array job id, when submitted to Slurm.
    pub slurm_job: Option<String>,
    /// Cells side by side and threads per cell (`RAYON_NUM_THREADS` / `OPENBLAS_NUM_THREADS`;
    /// float sums, and so the last digits of results, depend on it).
    #[serde(default)]
    pub jobs: Option<usize>,
    #[serde(default)]
    pub threads_per_cell: Option<usize>,
    /// The CPU that ran a local launch's cells (`einfo_train::cpu_kind`: model name,
    /// vector tier and GEMM backend); none for Slurm (each cell's `metrics.json` names its
    /// node's) and for launches recorded before it was.
    #[serde(default)]
    pub cpu: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub launches: Vec<Launch>,
}

impl Manifest {
    pub fn path(root: &Path) -> std::path::PathBuf {
        root.join("matrix.json")
    }

    /// The manifest of a root (empty when there is none yet).
    pub fn load(root: &Path) -> Result<Manifest> {
        let p = Self::path(root);
        if !p.exists() {
            return Ok(Manifest::default());
        }
        let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
        serde_json::from_str(&text).map_err(|e| AblationError::File { path: p, detail: format!("not an ablation manifest: {e}") })
    }

    /// Append a launch and write the manifest atomically.
    pub fn record(root: &Path, launch: Launch) -> Result<()> {
        let mut m = Self::load(root)?;
        m.launches.push(launch);
        std::fs::create_dir_all(root).map_err(io_err(root))?;
        let text = serde_json::to_string_pretty(&m).expect("manifest serialises");
        einfo_data::durable::write_atomic(&Self::path(root), text.as_bytes()).map_err(|e| AblationError::Train(e.into()))
    }
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
