//! App-only sign-in material: the app's certificate and RSA key, and the signed JWT client
//! assertion that proves possession of the key in a client credentials request.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::{PrivateKey, PublicKey};
use serde_json::json;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use x509_cert::der::{Decode, Encode};
use zeroize::Zeroizing;

use super::AuthError;
use super::cache::read_private_file;

/// Lifetime of an assertion; Entra only needs it for the one request.
const ASSERTION_LIFETIME_SECS: u64 = 600;
const MAX_PEM_BYTES: u64 = 256 * 1024;
/// The audience of an `addKey`/`removeKey` proof: Azure AD Graph's app id, as Graph documents it.
pub(super) const KEY_PROOF_AUDIENCE: &str = "00000002-0000-0000-c000-000000000000";

/// The certificate's DER and the private key. The key wipes itself on drop.
pub struct AppCredential {
    x5t: String,
    not_after: u64,
    key: SigningKey<Sha256>,
}

impl AppCredential {
    /// Reads a PEM certificate and a PEM PKCS#8 RSA private key (the key file must be mode 0600
    /// or stricter) and checks that they belong together.
    pub fn load(certificate: &Path, private_key: &Path) -> Result<AppCredential, AuthError> {
        let cert_pem = std::fs::read(certificate).map_err(|source| AuthError::Read {
            what: "the certificate",
            path: certificate.to_owned(),
            source,
        })?;
        let key_pem = read_private_file(private_key, "the private key", MAX_PEM_BYTES)?;
        Self::from_pem(&cert_pem, &key_pem).map_err(|(what, reason)| AuthError::Invalid {
            what,
            path: if what == "the certificate" { certificate.to_owned() } else { private_key.to_owned() },
            reason,
        })
    }

    /// The same from PEM text. The error names which of the two is at fault and why.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<AppCredential, (&'static str, String)> {
        const CERT: &str = "the certificate";
        const KEY: &str = "the private key";
        let cert_block =
            pem_block(cert_pem, "CERTIFICATE").ok_or((CERT, "no -----BEGIN CERTIFICATE----- block".into()))?;
        let (_, der) =
            x509_cert::der::pem::decode_vec(cert_block.as_bytes()).map_err(|e| (CERT, format!("bad PEM: {e}")))?;
        let cert = x509_cert::Certificate::from_der(&der).map_err(|e| (CERT, format!("bad X.509 DER: {e}")))?;
        let spki_der = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| (CERT, format!("bad public key: {e}")))?;
        let cert_key = PublicKey::from_public_key_der(&spki_der)
            .map_err(|_| (CERT, "its public key is not an RSA key".to_string()))?;
        let not_after = cert.tbs_certificate().validity().not_after.to_unix_duration().as_secs();

        let key_text = std::str::from_utf8(key_pem).map_err(|_| (KEY, "not PEM text".to_string()))?;
        let private_key = match pem_block(key_pem, "PRIVATE KEY") {
            Some(block) => PrivateKey::from_pkcs8_pem(&block).map_err(|e| (KEY, format!("bad PKCS#8 RSA key: {e}")))?,
            None if key_text.contains("-----BEGIN RSA PRIVATE KEY-----") => {
                return Err((
                    KEY,
                    "it is a PKCS#1 key; convert it with `openssl pkcs8 -topk8 -nocrypt -in OLD -out NEW`".into(),
                ));
            }
            None if key_text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") => {
                return Err((KEY, "it is encrypted; the daemon needs an unencrypted PKCS#8 key".into()));
            }
            None => return Err((KEY, "no -----BEGIN PRIVATE KEY----- block".into())),
        };
        if private_key.to_public_key() != cert_key {
            return Err((KEY, "it does not belong to the certificate's public key".into()));
        }
        Ok(AppCredential {
            x5t: URL_SAFE_NO_PAD.encode(Sha1::digest(&der)),
            not_after,
            key: SigningKey::<Sha256>::new(private_key),
        })
    }

    /// `x5t`: base64url SHA-1 thumbprint of the certificate, how Entra finds the registered key.
    pub fn thumbprint(&self) -> &str {
        &self.x5t
    }

    /// The certificate's notAfter, seconds since the epoch.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// A fresh RS256 client assertion for `client_id` at `audience` (the token endpoint).
    pub fn client_assertion(&self, client_id: &str, audience: &str, now: u64) -> Result<Zeroizing<String>, AuthError> {
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        self.sign_jwt(&claims)
    }

    /// The proof of possession Graph's `addKey` and `removeKey` ask for: signed by one of the
    /// application's current keys, `aud` = `00000002-0000-0000-c000-000000000000`, `iss` = the
    /// application's object id (not its app id), valid at most 10 minutes (Graph docs,
    /// `application: addKey`).
    pub fn key_proof(&self, application_object_id: &str, now: u64) -> Result<Zeroizing<String>, AuthError> {
        let claims = json!({
            "aud": KEY_PROOF_AUDIENCE,
            "iss": application_object_id,
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        self.sign_jwt(&claims)
    }

    fn sign_jwt(&self, claims: &serde_json::Value) -> Result<Zeroizing<String>, AuthError> {
        let header = json!({ "alg": "RS256", "typ": "JWT", "x5t": self.x5t });
        let mut jwt = Zeroizing::new(String::with_capacity(1024));
        jwt.push_str(&URL_SAFE_NO_PAD.encode(header.to_string()));
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        // Blinded signing: the randomised variant hides the key from timing measurements.
        let signature = self
            .key
            .try_sign_with_rng(&mut getrandom::SysRng, jwt.as_bytes())
            .map_err(|e| AuthError::Internal(format!("cannot sign a JWT with the app's key: {e}")))?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        Ok(jwt)
    }
}

impl std::fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredential").field("x5t", &self.x5t).field("key", &"[redacted]").finish()
    }
}

/// The first `-----BEGIN {label}-----` … `-----END {label}-----` block, so a file that also holds
/// a chain or the other half still works. Wiped on drop: for keys it is the secret itself.
fn pem_block(text: &[u8], label: &str) -> Option<Zeroizing<String>> {
    let text = std::str::from_utf8(text).ok()?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let stop = start + text[start..].find(&end)? + end.len();
    Some(Zeroizing::new(format!("{}\n", &text[start..stop])))
}

#[cfg(test)]
#[path = "assertion_tests.rs"]
mod tests;
