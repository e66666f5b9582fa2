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

/// What the file's syntax cannot show: the values that only fail when the daemon builds its
/// engine (a CA file, a proxy, the app's certificate and key) or serves the bus (the admin
/// group). A reload refuses these too, but here the mistake is found before the reload.
pub(crate) fn deeper_checks(c: &Config) -> Vec<String> {
    use crate::entra::http::{HttpError, HttpSettings, http_client};
    let mut problems = Vec::new();
    let http = HttpSettings {
        ca_file: c.entra.ca_file.clone(),
        proxy: c.entra.proxy.clone(),
        connect_timeout: std::time::Duration::from_secs(10),
        request_timeout: std::time::Duration::from_secs(10),
    };
    if let Err(e) = http_client(&http) {
        let key = match e {
            HttpError::Proxy { .. } => "entra.proxy",
            HttpError::CaFileRead { .. } | HttpError::CaFileInvalid { .. } | HttpError::CaFileEmpty { .. } => {
                "entra.ca_file"
            }
            _ => "entra",
        };
        problems.push(format!("{key}: {e}"));
    }
    if let crate::config::AuthMethodConfig::Certificate { certificate, private_key } = &c.entra.auth.method
        && let Err(e) = crate::entra::auth::AppCredential::load(certificate, private_key)
    {
        problems.push(format!("entra.auth.certificate / entra.auth.private_key: {e}"));
    }
    if let Err(e) = crate::daemon::load_config_checks(c) {
        problems.push(e.to_string());
    }
    if crate::daemon::group_id(&c.dbus.admin_group).is_none() {
        problems.push(format!(
            "dbus.admin_group: there is no local group named {:?} (create it, or name an existing group such as \"adm\")",
            c.dbus.admin_group
        ));
    }
    problems
}

pub fn check(args: &CheckConfigArgs) -> CliResult {
    let c = load(&args.config)?;
    let problems = deeper_checks(&c);
    if !problems.is_empty() {
        return Err(Failure::usage(format!("{} is not usable:\n  {}", args.config.display(), problems.join("\n  "))));
    }
    for note in crate::entra::auth::sign_in_notes(
        &c.entra.auth.scope,
        matches!(c.entra.auth.method, crate::config::AuthMethodConfig::RefreshToken),
    ) {
        println!("note: {note}");
    }
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
