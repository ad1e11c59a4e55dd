//! realizar-oracle: contracts, goldens, metrics and checks that hold the realizar engine to
//! outside references. The engine never depends on this crate.
//!
//! Contract loading, checks and reports arrive with the oracle issue; golden-set integrity
//! (`oracle golden check`) is here already.

use std::path::Path;

pub mod checks;
pub mod cli;
pub mod comply;
pub mod contract;
pub mod diff;
pub mod engine;
pub mod exit;
pub mod fuzz;
pub mod golden;
pub mod golden_new;
pub mod golden_trace;
pub mod goldens;
pub mod metrics;
pub mod quality;
pub mod report;
pub mod set;
pub mod verify;

/// The contract files (`*.yaml`) in `dir`, sorted by name.
pub fn contract_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}
