//! # einfo-ablation
//!
//! The ablation matrix of einfo — methods × splits × seeds under one budget — as cells
//! with deterministic ids and run directories (`<root>/<method>/split<k>/seed<s>/`), each
//! run to completion by one command (`einfo cell …`) whichever launcher starts it: local
//! child processes ([`local`]) or a Slurm job array. [`status`] reports where each cell
//! stands; [`aggregate`] turns the evaluated cells into tables, [`plots`] and the forest plot of
//! [`paired_plot`]; [`equivalence`] checks that the binaries of a table's launches train alike.

pub mod aggregate;
pub mod attribution;
pub mod claims;
pub mod collect;
pub mod equivalence;
pub mod error;
pub mod launches;
pub mod local;
pub mod manifest;
mod markdown;
pub mod matrix;
pub mod paired_plot;
pub mod plots;
pub mod prior_plots;
pub mod profile;
pub mod row;
pub mod slurm;
pub mod stats;
pub mod status;

pub use error::{AblationError, Result};
pub use matrix::{Budget, Cell, Matrix};
pub use profile::Profile;

/// Where launchers log a cell's output: `<root>/logs/<method>-split<k>-seed<s>.log`
/// (beside the run directories, which hold only what `einfo` writes).
pub fn launch_log(root: &std::path::Path, cell: &Cell) -> std::path::PathBuf {
    root.join("logs").join(format!("{}.log", cell.id().replace('/', "-")))
}
