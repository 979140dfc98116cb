//! `host-runner report`.

use crate::cli::UsageError;
use crate::topology::Topology;
use clap::Args;
use std::path::PathBuf;

/// Options of `report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Where to write README.md and the SVG plots.
    #[arg(long, value_name = "DIR", default_value = "docs/results")]
    pub out: PathBuf,
}

/// `host-runner report`.
///
/// # Errors
///
/// Bad arguments.
pub fn main(_topo: &Topology, _args: &ReportArgs) -> Result<i32, UsageError> {
    Ok(0)
}
