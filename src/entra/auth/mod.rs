//! Sign-in to Entra: access tokens for the sync service, from a refresh token
//! obtained once by device-code login (`samba-entra-sync login`) or from an app certificate
//! (client credentials, so no user's refresh token sits on the DC). The config file is read elsewhere; this
//! module gets [`AuthSettings`].

mod assertion;
mod cache;
mod clock;
mod device_code;
mod endpoint;
mod error;
mod generate;
mod graph_keys;
pub mod rotation;
mod secret;
mod source;

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

pub use assertion::AppCredential;
pub use cache::{CachedTokens, check_private_file, check_private_metadata, load_cache, store_cache};
pub use clock::{Clock, SystemClock};
pub use device_code::{DeviceCodePrompt, device_code_access_token, device_code_login};
pub use error::AuthError;
pub use generate::{GeneratedCredential, KEY_BITS, common_name_of, generate_credential, write_new_file};
pub use graph_keys::{GRAPH_SCOPE, GraphKeys, KeyRollError, graph_base};
pub use secret::{AccessToken, RefreshToken, TokenClaims};
pub use source::TokenSource;

use crate::entra::http::HttpSettings;

/// "Microsoft Entra AD Synchronization Service", the first-party app the sync API runs as since
/// build 2.5.79.0.
pub const SYNC_SERVICE_APP_ID: &str = "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016";
/// The scope Microsoft's client asks for since build 2.5.3.0 (`UseAwsAppIdAudience`).
pub const DEFAULT_SCOPE: &str = "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016/.default";
/// "Microsoft Azure Active Directory Connect", the public client of Microsoft's own user sign-in;
/// the only one the delegated sync scope is pre-authorised for.
pub const DEFAULT_PUBLIC_CLIENT: &str = "cb1056e2-e479-49de-ae31-7812af012ed8";
/// What every place that shows a user-token set-up says about its end (Learn `security-updates-pks`).
pub const USER_SIGN_IN_RETIREMENT: &str = "user sign-in of sync clients stops working on 7 April 2027 (retired by \
     Microsoft); `samba-entra-sync register-app --config FILE` switches to application-based sign-in";

/// Notes about sign-in settings that are valid but most likely wrong or ending: shown by
/// `check-config`, `login` and the daemon's start log.
pub fn sign_in_notes(scope: &str, user_flow: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if scope.to_ascii_lowercase().contains("graph.windows.net")
        || scope.starts_with("00000002-0000-0000-c000-000000000000")
    {
        notes.push(format!(
            "entra.auth.scope {scope:?} asks for https://graph.windows.net: retired by the service on 30 Sep 2026; \
             use {DEFAULT_SCOPE} (the default) unless you know your tenant still accepts it"
        ));
    }
    if user_flow {
        notes.push(format!("entra.auth.method = \"refresh_token\": {USER_SIGN_IN_RETIREMENT}"));
    }
    notes
}
/// Where Entra signs people in.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Everything sign-in needs, resolved from `[entra]` and `[entra.auth]` by the config loader.
#[derive(Clone)]
pub struct AuthSettings {
    /// Base URL of the identity service: `https://login.microsoftonline.com`, or the emulator's.
    pub authority: String,
    /// Tenant GUID (or a verified domain); the first path segment of every endpoint.
    pub tenant_id: String,
    pub client_id: String,
    pub method: AuthMethod,
    /// v2 scope; [`DEFAULT_SCOPE`] unless the config says otherwise.
    pub scope: String,
    pub ca_file: Option<PathBuf>,
    pub proxy: Option<String>,
}

/// How the daemon proves who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// Delegated: a refresh token from `login`, kept (and rotated) in a mode-0600 JSON file.
    RefreshToken { token_cache: PathBuf },
    /// App-only: client credentials with a JWT assertion signed by the app's certificate key.
    Certificate { certificate: PathBuf, private_key: PathBuf },
}

impl AuthSettings {
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority.trim_end_matches('/'), self.tenant_id)
    }

    /// `{authority}/{tenant}/oauth2/v2.0/devicecode`.
    pub fn device_code_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/devicecode", self.authority.trim_end_matches('/'), self.tenant_id)
    }

    /// The transport part, for [`crate::entra::http::http_client`].
    pub fn http_settings(&self) -> HttpSettings {
        HttpSettings { ca_file: self.ca_file.clone(), proxy: self.proxy.clone(), ..HttpSettings::default() }
    }

    /// Refuses settings that would send secrets somewhere odd: the authority must be https
    /// (plain http only to a loopback address, for the emulator), and the tenant must be one
    /// path segment.
    pub fn validate(&self) -> Result<(), AuthError> {
        let url = reqwest::Url::parse(&self.authority)
            .map_err(|e| AuthError::Settings(format!("authority {:?} is not a URL: {e}", self.authority)))?;
        let loopback = url.host_str().is_some_and(|h| {
            h.eq_ignore_ascii_case("localhost")
                || h.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        });
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(AuthError::Settings(format!(
                    "authority {:?} must be an https URL (plain http is allowed only for a loopback emulator)",
                    self.authority
                )));
            }
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(AuthError::Settings(format!(
                "authority {:?} must not have a query or fragment",
                self.authority
            )));
        }
        let segment_ok =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !segment_ok(&self.tenant_id) {
            return Err(AuthError::Settings(format!(
                "tenant_id {:?} must be a tenant GUID or domain name",
                self.tenant_id
            )));
        }
        if !segment_ok(&self.client_id) {
            return Err(AuthError::Settings(format!("client_id {:?} must be an application GUID", self.client_id)));
        }
        if self.scope.trim().is_empty() {
            return Err(AuthError::Settings("scope must not be empty".into()));
        }
        Ok(())
    }
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("authority", &self.authority)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .field("scope", &self.scope)
            .field("ca_file", &self.ca_file)
            // A proxy URL may carry a password.
            .field("proxy", &self.proxy.as_ref().map(|_| "[set]"))
            .finish()
    }
}

#[cfg(test)]
mod tests;
