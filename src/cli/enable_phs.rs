//! `samba-entra-sync login --enable-password-hash-sync`: an administrator turns password hash
//! sync on in the tenant. Since May 2026 only an interactive administrator changes the tenant's
//! sync features (Learn, "what's new in Entra Connect", May 2026), and the daemon never does: a Global Administrator or Hybrid
//! Identity Administrator signs in once by device code (Microsoft's sync client, the sync app's
//! scope), and that token makes the one `SetCompanyDirsyncFeatures` call; it is never stored.

use super::{CliResult, Failure};
use crate::entra::auth::{AuthSettings, DEFAULT_PUBLIC_CLIENT, device_code_access_token};
use crate::entra::client::{SecretToken, SyncClient, SyncSettings, TokenProvider};
use crate::entra::http::http_client;
use crate::entra::ops::features::PASSWORD_HASH_SYNC;

/// The administrator's token, for this command's calls only.
struct OnceToken(SecretToken);

#[derive(Debug, thiserror::Error)]
#[error("the administrator's token was refused; run the command again to sign in anew")]
struct Refused;

impl TokenProvider for OnceToken {
    type Error = Refused;

    async fn access_token(&self) -> Result<SecretToken, Refused> {
        Ok(self.0.clone())
    }

    fn invalidate(&self) {}
}

/// Signs in an administrator and sets the PasswordHashSync feature bit, keeping the others.
pub async fn enable(settings: AuthSettings, endpoint: String, tenant_id: String, build: String) -> CliResult {
    let http = http_client(&settings.http_settings()).map_err(Failure::usage)?;
    let token = device_code_access_token(&settings, DEFAULT_PUBLIC_CLIENT, &settings.scope, &http, |p| {
        super::login::print_device_code_prompt(p, "a Global Administrator or Hybrid Identity Administrator")
    })
    .await
    .map_err(|e| Failure::runtime(format!("the administrator's sign-in failed: {e}")))?;
    let mut sync = SyncSettings::new(endpoint, tenant_id);
    sync.identity.build_number = build;
    sync.retry.max_attempts = 3;
    let client = SyncClient::new(http, OnceToken(SecretToken::new(token.secret_jwt().to_owned())), sync)
        .map_err(|e| Failure::usage(e.to_string()))?;
    drop(token);
    let config = client
        .get_company_configuration()
        .await
        .map_err(|e| Failure::runtime(format!("cannot read the tenant's features: {e}")))?;
    let features = config.dirsync_features.unwrap_or(0);
    if config.password_hash_sync_enabled() {
        println!("Password hash sync is already on in the tenant; nothing changed.");
        return Ok(());
    }
    client.set_company_dirsync_features(features | PASSWORD_HASH_SYNC).await.map_err(|e| {
        Failure::runtime(format!(
            "the tenant refused to turn password hash sync on: {e} (it takes a Global Administrator or Hybrid \
             Identity Administrator)"
        ))
    })?;
    println!(
        "Password hash sync is on in the tenant (the administrator's token was used for this call only and is not \
         stored); the daemon syncs every password at its next tenant check."
    );
    Ok(())
}
