//! The two Microsoft Graph calls an application makes on its own keys: `addKey` and `removeKey`
//! (Graph docs "application: addKey", "application: removeKey"). The caller is the application
//! itself, with an app token for Graph from its current certificate; the authorisation is the
//! proof of possession in the body, so no Graph permission is needed.

use base64::Engine as _;
use serde_json::{Value as J, json};

use super::{AccessToken, DEFAULT_AUTHORITY};

/// The client-credentials scope of an app token for Microsoft Graph.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Microsoft Graph's base URL for an authority: Microsoft's own for login.microsoftonline.com,
/// the authority itself otherwise (the emulator serves both on one base URL).
pub fn graph_base(authority: &str) -> String {
    let authority = authority.trim_end_matches('/');
    if authority.eq_ignore_ascii_case(DEFAULT_AUTHORITY) {
        "https://graph.microsoft.com".to_owned()
    } else {
        authority.to_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyRollError {
    #[error("Microsoft Graph {call} failed: {reason}")]
    Network { call: &'static str, reason: String },
    #[error("Microsoft Graph refused {call}: HTTP {status} {code}: {message}")]
    Refused { call: &'static str, status: u16, code: String, message: String },
    #[error("Microsoft Graph's answer to {call} has no {what}")]
    BadAnswer { call: &'static str, what: &'static str },
}

impl KeyRollError {
    /// Worth trying again later without anyone doing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            KeyRollError::Network { .. } => true,
            KeyRollError::Refused { status, .. } => *status == 429 || *status >= 500,
            KeyRollError::BadAnswer { .. } => false,
        }
    }
}

/// What `removeKey` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Removed,
    /// The application holds no such key (an earlier, interrupted run removed it).
    AlreadyGone,
}

/// Graph's key calls for one application.
pub struct GraphKeys {
    http: reqwest::Client,
    base: String,
    /// The application's object id.
    object_id: String,
}

impl GraphKeys {
    pub fn new(http: reqwest::Client, graph_base: &str, object_id: &str) -> GraphKeys {
        GraphKeys { http, base: graph_base.trim_end_matches('/').to_owned(), object_id: object_id.to_owned() }
    }

    fn url(&self, action: &str) -> String {
        format!("{}/v1.0/applications/{}/{action}", self.base, self.object_id)
    }

    /// `addKey` of a certificate (DER); returns Graph's `keyId` of it.
    pub async fn add_key(
        &self,
        token: &AccessToken,
        certificate_der: &[u8],
        display_name: &str,
        proof: &str,
    ) -> Result<String, KeyRollError> {
        const CALL: &str = "addKey";
        let body = json!({
            "keyCredential": {
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
                "displayName": display_name,
                "key": base64::engine::general_purpose::STANDARD.encode(certificate_der),
            },
            "passwordCredential": J::Null,
            "proof": proof,
        });
        let answer = self.post(CALL, token, &body).await?;
        answer
            .get("keyId")
            .and_then(J::as_str)
            .map(str::to_owned)
            .ok_or(KeyRollError::BadAnswer { call: CALL, what: "keyId" })
    }

    /// `removeKey` of `key_id`.
    pub async fn remove_key(&self, token: &AccessToken, key_id: &str, proof: &str) -> Result<Removed, KeyRollError> {
        const CALL: &str = "removeKey";
        match self.post(CALL, token, &json!({"keyId": key_id, "proof": proof})).await {
            Ok(_) => Ok(Removed::Removed),
            Err(KeyRollError::Refused { status: 404, .. }) => Ok(Removed::AlreadyGone),
            Err(e) => Err(e),
        }
    }

    async fn post(&self, call: &'static str, token: &AccessToken, body: &J) -> Result<J, KeyRollError> {
        let response = self
            .http
            .post(self.url(call))
            .bearer_auth(token.secret_jwt())
            .json(body)
            .send()
            .await
            .map_err(|e| KeyRollError::Network { call, reason: e.without_url().to_string() })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let answer: J = serde_json::from_str(&text).unwrap_or(J::Null);
        if status.is_success() {
            return Ok(answer);
        }
        let field = |p: &str| answer.pointer(p).and_then(J::as_str).unwrap_or("").to_owned();
        Err(KeyRollError::Refused {
            call,
            status: status.as_u16(),
            code: field("/error/code"),
            message: field("/error/message"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_is_microsofts_for_microsofts_authority_and_the_emulator_otherwise() {
        assert_eq!(graph_base("https://login.microsoftonline.com/"), "https://graph.microsoft.com");
        assert_eq!(graph_base("http://127.0.0.1:8443/"), "http://127.0.0.1:8443");
    }
}
