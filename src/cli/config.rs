//! `samba-entra-sync check-config`.

use std::path::PathBuf;

use super::{CliResult, Failure};
use crate::config::Config;

#[derive(clap::Args, Debug)]
pub struct CheckConfigArgs {
    /// The config file to validate.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// Loads a config for a subcommand; any problem is a usage error (exit 2) listing every issue.
pub fn load(path: &std::path::Path) -> Result<Config, Failure> {
    Config::load(path).map_err(Failure::usage)
}

pub fn check(args: &CheckConfigArgs) -> CliResult {
    let c = load(&args.config)?;
    println!(
        "{} is valid: tenant {}, sync endpoint {}, anchor {}, state {}",
        args.config.display(),
        c.entra.tenant_id,
        c.entra.sync_endpoint,
        c.sync.source_anchor,
        c.state.db.display()
    );
    Ok(())
}
