//! Device-code sign-in (RFC 8628, Entra's v2 endpoints): the administrator enters a code in
//! a browser; we poll the token endpoint and keep the refresh token in the cache.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::endpoint::{self, OAuthRefusal, TokenAnswer};
use super::source::{check_tenant, store_cache_blocking};
use super::{AccessToken, AuthError, AuthMethod, AuthSettings, Clock, SystemClock};

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.5: add 5 seconds on `slow_down`.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// What to show the administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodePrompt {
    pub verification_uri: String,
    pub user_code: String,
    /// Seconds until the code expires.
    pub expires_in: u64,
    /// The service's own sentence, if it sent one.
    pub message: Option<String>,
}

#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct RawDeviceCode {
    device_code: String,
    user_code: String,
    /// The v1 endpoint spells it `verification_url`.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    interval: Option<u64>,
    #[serde(default)]
    message: Option<String>,
}

/// Signs in with a device code and stores the refresh token (and the first access token) in
/// the token cache. `on_prompt` is called once, as soon as there is a code to enter.
pub async fn device_code_login(
    settings: &AuthSettings,
    http: &reqwest::Client,
    on_prompt: impl Fn(&DeviceCodePrompt),
) -> Result<(), AuthError> {
    settings.validate()?;
    let AuthMethod::RefreshToken { token_cache } = &settings.method else {
        return Err(AuthError::WrongMethod(
            "device-code login is for method = \"refresh_token\"; with method = \"certificate\" there is nothing to sign in",
        ));
    };
    let scope = format!("{} offline_access openid profile", settings.scope);
    let answer = device_code_answer(settings, &settings.client_id, &scope, http, on_prompt).await?;
    let token_endpoint = settings.token_endpoint();
    let refresh_token = answer.refresh_token.ok_or_else(|| AuthError::BadResponse {
        endpoint: token_endpoint,
        reason: "the token answer has no refresh_token (was offline_access granted?)".into(),
    })?;
    store_cache_blocking(settings, token_cache, refresh_token, Some(answer.access_token)).await
}

/// A one-off device-code sign-in of `client_id` for `scope` (e.g. an administrator's delegated
/// Microsoft Graph scopes): only the access token is kept, in memory, nothing is stored.
pub async fn device_code_access_token(
    settings: &AuthSettings,
    client_id: &str,
    scope: &str,
    http: &reqwest::Client,
    on_prompt: impl Fn(&DeviceCodePrompt),
) -> Result<AccessToken, AuthError> {
    settings.validate()?;
    Ok(device_code_answer(settings, client_id, scope, http, on_prompt).await?.access_token)
}

/// Asks for a device code, shows it and polls until the sign-in ends; the tenant is checked.
async fn device_code_answer(
    settings: &AuthSettings,
    client_id: &str,
    scope: &str,
    http: &reqwest::Client,
    on_prompt: impl Fn(&DeviceCodePrompt),
) -> Result<TokenAnswer, AuthError> {
    let endpoint = settings.device_code_endpoint();
    let body = match endpoint::post_form(http, &endpoint, &[("client_id", client_id), ("scope", scope)]).await? {
        Ok(body) => body,
        Err(refusal) => return Err(refusal.into_error(&endpoint)),
    };
    let code: RawDeviceCode = serde_json::from_slice(&body).map_err(|e| AuthError::BadResponse {
        endpoint: endpoint.clone(),
        reason: format!("not a device code answer (line {}, column {})", e.line(), e.column()),
    })?;
    let expires_in = code.expires_in.unwrap_or(900);
    on_prompt(&DeviceCodePrompt {
        verification_uri: code.verification_uri.clone(),
        user_code: code.user_code.clone(),
        expires_in,
        message: code.message.clone(),
    });

    let token_endpoint = settings.token_endpoint();
    let deadline = Instant::now() + Duration::from_secs(expires_in);
    let mut interval = clamp_interval(Duration::from_secs(code.interval.unwrap_or(5)));
    let minutes = expires_in.div_ceil(60);
    let form = [("grant_type", DEVICE_CODE_GRANT), ("client_id", client_id), ("device_code", &code.device_code)];
    loop {
        tokio::time::sleep(interval).await;
        if Instant::now() >= deadline {
            return Err(AuthError::DeviceCodeExpired { minutes });
        }
        let now = SystemClock.now_unix();
        match endpoint::request_token(http, &token_endpoint, &form, now).await {
            Ok(Ok(answer)) => {
                check_tenant(&answer.access_token, &settings.tenant_id)?;
                return Ok(answer);
            }
            Ok(Err(refusal)) => interval = next_interval(interval, refusal, &token_endpoint, minutes)?,
            // A network blip must not end a sign-in the administrator is in the middle of.
            Err(e) if e.is_transient() => tracing::warn!("device-code poll failed, retrying: {e}"),
            Err(e) => return Err(e),
        }
    }
}

fn clamp_interval(interval: Duration) -> Duration {
    interval.clamp(Duration::from_secs(1), MAX_INTERVAL)
}

/// How long to wait before the next poll after an OAuth refusal, or why to stop.
fn next_interval(
    interval: Duration,
    refusal: OAuthRefusal,
    endpoint: &str,
    minutes: u64,
) -> Result<Duration, AuthError> {
    match refusal.code.as_str() {
        "authorization_pending" => Ok(interval),
        "slow_down" => Ok(clamp_interval(interval + SLOW_DOWN_STEP)),
        "expired_token" | "code_expired" => Err(AuthError::DeviceCodeExpired { minutes }),
        "authorization_declined" | "access_denied" => Err(AuthError::DeviceCodeDeclined),
        _ if refusal.status >= 500 || refusal.code == "temporarily_unavailable" => Ok(interval),
        _ => Err(refusal.into_error(endpoint)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(code: &str, status: u16) -> OAuthRefusal {
        OAuthRefusal { status, code: code.into(), description: String::new() }
    }

    #[test]
    fn poll_decisions_follow_rfc_8628() {
        let five = Duration::from_secs(5);
        assert_eq!(next_interval(five, refusal("authorization_pending", 400), "e", 15).unwrap(), five);
        assert_eq!(next_interval(five, refusal("slow_down", 400), "e", 15).unwrap(), Duration::from_secs(10));
        assert_eq!(next_interval(MAX_INTERVAL, refusal("slow_down", 400), "e", 15).unwrap(), MAX_INTERVAL);
        assert_eq!(next_interval(five, refusal("temporarily_unavailable", 503), "e", 15).unwrap(), five);
        assert!(matches!(
            next_interval(five, refusal("expired_token", 400), "e", 15),
            Err(AuthError::DeviceCodeExpired { minutes: 15 })
        ));
        assert!(matches!(
            next_interval(five, refusal("authorization_declined", 400), "e", 15),
            Err(AuthError::DeviceCodeDeclined)
        ));
        assert!(matches!(
            next_interval(five, refusal("invalid_client", 401), "e", 15),
            Err(AuthError::OAuth { status: 401, .. })
        ));
    }

    #[test]
    fn intervals_are_clamped() {
        assert_eq!(clamp_interval(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(clamp_interval(Duration::from_secs(3600)), MAX_INTERVAL);
    }
}
