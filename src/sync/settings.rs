//! Turns the config file's sections into the settings of the `entra` modules, so the daemon and
//! the CLI build sign-in and HTTP clients the same way.

use crate::config::{AuthMethodConfig, Config};
use crate::entra::auth::{AuthMethod, AuthSettings};

pub fn auth_settings(c: &Config) -> AuthSettings {
    AuthSettings {
        authority: c.entra.authority.clone(),
        tenant_id: c.entra.tenant_id.clone(),
        client_id: c.entra.auth.client_id.clone(),
        method: match &c.entra.auth.method {
            AuthMethodConfig::RefreshToken => {
                AuthMethod::RefreshToken { token_cache: c.entra.auth.token_cache.clone() }
            }
            AuthMethodConfig::Certificate { certificate, private_key } => {
                AuthMethod::Certificate { certificate: certificate.clone(), private_key: private_key.clone() }
            }
        },
        scope: c.entra.auth.scope.clone(),
        ca_file: c.entra.ca_file.clone(),
        proxy: c.entra.proxy.clone(),
    }
}
