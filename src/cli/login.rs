//! `samba-entra-sync login`: device-code sign-in of the sync account; the refresh token goes to
//! the token cache (mode 0600). `main.rs` resolves `--config FILE` into [`AuthSettings`].

use super::{CliResult, Failure};
use crate::entra::auth::{AuthError, AuthMethod, AuthSettings, DeviceCodePrompt, device_code_login};
use crate::entra::http::http_client;

#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    /// The daemon's config file ([entra] and [entra.auth] are used).
    #[arg(long, value_name = "FILE", default_value = "/etc/samba-entra-sync/config.toml")]
    pub config: std::path::PathBuf,
    /// Instead of signing in the sync account: an administrator (Global Administrator or Hybrid
    /// Identity Administrator) signs in once by device code and turns password hash sync on in
    /// the tenant; the token is used for that one call and not stored. The daemon never changes
    /// the tenant's features itself.
    #[arg(long)]
    pub enable_password_hash_sync: bool,
}

/// `samba-entra-sync login --config FILE`.
pub fn run(args: &LoginArgs) -> CliResult {
    let config = super::config::load(&args.config)?;
    let settings = crate::sync::settings::auth_settings(&config);
    if args.enable_password_hash_sync {
        let (endpoint, tenant, build) =
            (config.entra.sync_endpoint.clone(), config.entra.tenant_id.clone(), config.entra.client_build.clone());
        return super::runtime()?.block_on(super::enable_phs::enable(settings, endpoint, tenant, build));
    }
    super::runtime()?.block_on(login(settings))
}

pub async fn login(settings: AuthSettings) -> CliResult {
    let AuthMethod::RefreshToken { token_cache } = &settings.method else {
        return Err(Failure::usage(
            "[entra.auth] method is \"certificate\", which needs no login; login is for method = \"refresh_token\".",
        ));
    };
    for note in crate::entra::auth::sign_in_notes(&settings.scope, true) {
        eprintln!("note: {note}");
    }
    let http = http_client(&settings.http_settings()).map_err(Failure::usage)?;
    device_code_login(&settings, &http, print_prompt).await.map_err(failure)?;
    println!("Signed in; the refresh token is stored in {} (mode 0600).", token_cache.display());
    Ok(())
}

/// The prompt goes to stderr so that stdout stays clean for scripts.
fn print_prompt(prompt: &DeviceCodePrompt) {
    print_device_code_prompt(prompt, "a Global Administrator or Directory Synchronization Accounts user");
}

/// A device-code prompt on stderr; `who` is the account that should sign in.
pub(crate) fn print_device_code_prompt(prompt: &DeviceCodePrompt, who: &str) {
    eprintln!(
        "To sign in, open {} in a browser and enter the code {} (valid for {} minutes).",
        prompt.verification_uri,
        prompt.user_code,
        prompt.expires_in.div_ceil(60)
    );
    eprintln!("Sign in with {who} of the tenant.");
    eprintln!("Waiting for the sign-in to finish...");
}

fn failure(e: AuthError) -> Failure {
    if e.is_config_error() { Failure::usage(e) } else { Failure::runtime(e) }
}
