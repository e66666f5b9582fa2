//! Tokens as secret types: wiped on drop, `[redacted]` in Debug, the string reachable only
//! through an explicitly named method.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

/// Refresh when fewer than this many seconds of the access token remain.
pub(super) const REFRESH_MARGIN_SECS: u64 = 300;

/// Claims read from the access token's payload. Not verified: the client only uses them to
/// learn its tenant and the expiry; the service does the verifying.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenClaims {
    /// Tenant id (`tid`), sent in the `x-ms-aadmsods-tenantid` header.
    pub tid: Option<String>,
    /// Expiry (`exp`), seconds since the epoch by the issuer's clock.
    pub exp: Option<u64>,
    /// Audience (`aud`); the first one if the token lists several.
    pub aud: Option<String>,
}

impl TokenClaims {
    /// The payload claims of a compact JWS, or empty claims if `jwt` is not one.
    pub fn decode(jwt: &str) -> TokenClaims {
        let Some(payload) = jwt.split('.').nth(1) else { return TokenClaims::default() };
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')) else { return TokenClaims::default() };
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&bytes) else { return TokenClaims::default() };
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        TokenClaims {
            tid: map.get("tid").and_then(text),
            exp: map.get("exp").and_then(|v| v.as_u64().or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))),
            aud: map.get("aud").and_then(|v| text(v).or_else(|| v.as_array()?.first().and_then(text))),
        }
    }
}

/// A bearer token for the sync API.
#[derive(Clone)]
pub struct AccessToken {
    jwt: Zeroizing<String>,
    issued_at: u64,
    expires_at: u64,
    claims: TokenClaims,
}

impl AccessToken {
    /// A token received at `now`. `expires_in` from the token answer is authoritative and
    /// relative, so a skewed local clock does not matter; the JWT's `exp` is the fallback.
    /// `None` when neither says when the token expires.
    pub fn received(jwt: Zeroizing<String>, now: u64, expires_in: Option<u64>) -> Option<AccessToken> {
        let claims = TokenClaims::decode(&jwt);
        let expires_at = match expires_in {
            Some(secs) => now.saturating_add(secs),
            None => claims.exp?,
        };
        Some(AccessToken { jwt, issued_at: now, expires_at, claims })
    }

    /// A token read back from the cache, with the times recorded when it was received.
    pub fn restored(jwt: Zeroizing<String>, issued_at: u64, expires_at: u64) -> AccessToken {
        let claims = TokenClaims::decode(&jwt);
        AccessToken { jwt, issued_at, expires_at, claims }
    }

    /// The token itself, for the `Authorization: Bearer` header. Never log it.
    pub fn secret_jwt(&self) -> &str {
        &self.jwt
    }

    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The `tid` claim.
    pub fn tenant_id(&self) -> Option<&str> {
        self.claims.tid.as_deref()
    }

    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }

    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// Whether it is time to fetch a new one: fewer than 5 minutes left, or less than half the
    /// lifetime for tokens that live under 10 minutes (the emulator's), so that a short-lived
    /// token is not refreshed on every call.
    pub fn needs_refresh(&self, now: u64) -> bool {
        let lifetime = self.expires_at.saturating_sub(self.issued_at);
        let margin = REFRESH_MARGIN_SECS.min(lifetime / 2);
        now.saturating_add(margin) >= self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("jwt", &"[redacted]")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("tid", &self.claims.tid)
            .finish()
    }
}

/// A refresh token: 90 days of access to the tenant, rotated on every use.
#[derive(Clone)]
pub struct RefreshToken(Zeroizing<String>);

impl RefreshToken {
    pub fn new(token: impl Into<Zeroizing<String>>) -> RefreshToken {
        RefreshToken(token.into())
    }

    /// The token itself, for the token request. Never log it.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}
