//! The OAuth 2.0 endpoints on the wire: form POSTs, token answers and OAuth error answers.

use serde::{Deserialize, Deserializer};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{AccessToken, AuthError, RefreshToken};
use crate::entra::http::error_chain;

/// A successful token answer (Debug shows no token: both types redact themselves).
#[derive(Debug)]
pub(crate) struct TokenAnswer {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
}

/// An OAuth error answer (`{"error": "...", "error_description": "..."}`), kept apart from
/// other failures because some codes are part of normal flows (`authorization_pending`).
#[derive(Debug)]
pub(crate) struct OAuthRefusal {
    pub status: u16,
    pub code: String,
    pub description: String,
}

impl OAuthRefusal {
    pub(super) fn into_error(self, endpoint: &str) -> AuthError {
        AuthError::OAuth {
            endpoint: endpoint.to_owned(),
            status: self.status,
            code: self.code,
            description: self.description,
        }
    }
}

#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct RawTokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    /// The v2 endpoint sends a number, v1 a string.
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct RawError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText {
        Num(u64),
        Text(String),
    }
    Ok(match Option::<NumOrText>::deserialize(d)? {
        Some(NumOrText::Num(n)) => Some(n),
        Some(NumOrText::Text(t)) => t.trim().parse().ok(),
        None => None,
    })
}

/// The largest OAuth answer read: token answers are a few KB (an access token, a refresh token,
/// perhaps an id token); anything past this is refused as unusable.
pub(crate) const MAX_ANSWER_BYTES: usize = 1 << 20;
/// Room for a usual token answer; a larger one moves to a buffer of `MAX_ANSWER_BYTES` once.
const INITIAL_ANSWER_CAPACITY: usize = 64 << 10;

/// POSTs `form` to `endpoint` and sorts the answer into a token, an OAuth refusal or an error.
pub(crate) async fn post_form(
    http: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Result<Result<Zeroizing<Vec<u8>>, OAuthRefusal>, AuthError> {
    let mut response = http
        .post(endpoint)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| AuthError::Network { endpoint: endpoint.to_owned(), reason: error_chain(&e) })?;
    let status = response.status();
    let too_large = || AuthError::BadResponse {
        endpoint: endpoint.to_owned(),
        reason: format!("the answer is larger than {} KiB, more than any token answer", MAX_ANSWER_BYTES >> 10),
    };
    if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
        return Err(too_large());
    }
    // Read chunk by chunk up to the limit: a hostile or broken endpoint cannot make us hold an
    // endless answer. One buffer of the largest answer, so no grown copy of a token is left behind.
    let mut body = Zeroizing::new(Vec::with_capacity(INITIAL_ANSWER_CAPACITY));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| AuthError::Network { endpoint: endpoint.to_owned(), reason: error_chain(&e) })?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        if body.len() + chunk.len() > body.capacity() {
            // Grow into a fresh buffer and wipe the old one (Vec's own growth would free it unwiped).
            let mut bigger = Zeroizing::new(Vec::with_capacity(MAX_ANSWER_BYTES));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk);
    }
    if status.is_success() {
        return Ok(Ok(body));
    }
    match serde_json::from_slice::<RawError>(&body) {
        Ok(e) => Ok(Err(OAuthRefusal {
            status: status.as_u16(),
            code: one_line(&e.error, 80),
            description: e.error_description.as_deref().map(summary).unwrap_or_default(),
        })),
        Err(_) => Err(AuthError::HttpStatus { endpoint: endpoint.to_owned(), status: status.as_u16() }),
    }
}

/// POSTs a token request; a success must carry an access token with a known lifetime.
pub(crate) async fn request_token(
    http: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
    now: u64,
) -> Result<Result<TokenAnswer, OAuthRefusal>, AuthError> {
    let body = match post_form(http, endpoint, form).await? {
        Ok(body) => body,
        Err(refusal) => return Ok(Err(refusal)),
    };
    parse_token_answer(&body, now)
        .map(Ok)
        .map_err(|reason| AuthError::BadResponse { endpoint: endpoint.to_owned(), reason })
}

pub(crate) fn parse_token_answer(body: &[u8], now: u64) -> Result<TokenAnswer, String> {
    let mut raw: RawTokenAnswer = serde_json::from_slice(body).map_err(|e| {
        // serde_json quotes offending values, which here may be tokens: give the position only.
        format!("the token answer is not the expected JSON (line {}, column {})", e.line(), e.column())
    })?;
    let jwt = raw.access_token.take().filter(|t| !t.is_empty()).ok_or("the token answer has no access_token")?;
    let access_token = AccessToken::received(Zeroizing::new(jwt), now, raw.expires_in)
        .ok_or("the token answer has neither expires_in nor a JWT exp claim")?;
    let refresh_token = raw.refresh_token.take().filter(|t| !t.is_empty()).map(RefreshToken::new);
    Ok(TokenAnswer { access_token, refresh_token })
}

/// Entra descriptions run to several lines with trace and correlation ids; the first sentence
/// line is what an administrator needs.
fn summary(description: &str) -> String {
    let first = description.lines().next().unwrap_or_default();
    let first = first.split(" Trace ID:").next().unwrap_or(first);
    one_line(first.trim(), 300)
}

fn one_line(text: &str, max_chars: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_in_v1_and_v2_shapes() {
        let v2 = br#"{"token_type":"Bearer","access_token":"a.b.c","refresh_token":"r1","expires_in":3599}"#;
        let t = parse_token_answer(v2, 100).unwrap();
        assert_eq!(t.access_token.expires_at(), 3699);
        assert_eq!(t.refresh_token.unwrap().secret(), "r1");

        let v1 = br#"{"token_type":"Bearer","access_token":"a.b.c","expires_in":"3600","expires_on":"1"}"#;
        let t = parse_token_answer(v1, 100).unwrap();
        assert_eq!(t.access_token.expires_at(), 3700);
        assert!(t.refresh_token.is_none());

        assert!(parse_token_answer(br#"{"access_token":"a.b.c"}"#, 0).unwrap_err().contains("expires_in"));
        assert!(parse_token_answer(br#"{"refresh_token":"r"}"#, 0).unwrap_err().contains("access_token"));
        let err = parse_token_answer(br#"{"access_token":"secret-value","expires_in":[1]}"#, 0).unwrap_err();
        assert!(!err.contains("secret-value"), "{err}");
    }

    #[test]
    fn descriptions_are_cut_to_one_line() {
        let d = "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling. Trace ID: 1\r\nCorrelation ID: 2\r\nTimestamp: 3";
        assert_eq!(summary(d), "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.");
        assert_eq!(summary(&"x".repeat(1000)).len(), 300);
    }
}
