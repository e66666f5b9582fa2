//! Compact JWTs: Base64url, HS256 for the emulator's own tokens, RS256 for client assertions
//! (verified against a registered X.509 certificate).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub(super) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Base64url without padding, as JWTs use it (padding tolerated).
pub(super) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// A JWT split into its parts; nothing is trusted until a signature check passes.
pub(super) struct Jwt<'a> {
    pub header: serde_json::Value,
    pub claims: serde_json::Value,
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

impl Jwt<'_> {
    pub(super) fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(|v| v.as_str())
    }

    pub(super) fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(|v| v.as_str())
    }

    pub(super) fn claim_i64(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
    }
}

/// Splits `header.claims.signature`; `None` if it is not a JWT with JSON object parts.
pub(super) fn split(token: &str) -> Option<Jwt<'_>> {
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let signing_input = &token[..header.len() + 1 + claims.len()];
    let header: serde_json::Value = serde_json::from_slice(&b64url_decode(header)?).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&b64url_decode(claims)?).ok()?;
    if !header.is_object() || !claims.is_object() {
        return None;
    }
    Some(Jwt { header, claims, signing_input, signature: b64url_decode(signature)? })
}

fn hs256(key: &[u8], input: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this branch cannot be reached.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&[0u8; 32]).unwrap_or_else(|_| unreachable_hmac())
    });
    mac.update(input);
    mac
}

fn unreachable_hmac() -> ! {
    panic!("HMAC-SHA256 rejected a 32-byte key")
}

/// `header.claims.signature` signed with HS256.
pub(super) fn sign_hs256(key: &[u8], header: &serde_json::Value, claims: &serde_json::Value) -> String {
    let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let signature = hs256(key, input.as_bytes()).finalize().into_bytes();
    format!("{input}.{}", b64url(&signature))
}

/// Whether an HS256 signature is valid (constant-time comparison).
pub(super) fn verify_hs256(key: &[u8], jwt: &Jwt<'_>) -> bool {
    jwt.header_str("alg") == Some("HS256")
        && hs256(key, jwt.signing_input.as_bytes()).verify_slice(&jwt.signature).is_ok()
}

/// Whether an RS256 signature is valid for the public key of `certificate_der`.
pub(super) fn verify_rs256(certificate_der: &[u8], jwt: &Jwt<'_>) -> bool {
    let der = rustls::pki_types::CertificateDer::from(certificate_der);
    let Ok(cert) = webpki::EndEntityCert::try_from(&der) else { return false };
    jwt.header_str("alg") == Some("RS256")
        && cert
            .verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, jwt.signing_input.as_bytes(), &jwt.signature)
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_round_trip_and_tamper() {
        let key = [7u8; 32];
        let token = sign_hs256(&key, &serde_json::json!({"alg": "HS256", "typ": "JWT"}), &serde_json::json!({"a": 1}));
        let jwt = split(&token).expect("splits");
        assert!(verify_hs256(&key, &jwt));
        assert!(!verify_hs256(&[8u8; 32], &jwt));
        let tampered = token.replacen('.', ".e30", 1);
        assert!(split(&tampered).is_none_or(|j| !verify_hs256(&key, &j)));
        assert!(split("a.b").is_none());
        assert!(split("e30.e30.e30.e30").is_none());
    }
}
