use std::os::unix::fs::PermissionsExt;

use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;

use super::*;

const CERT: &str = include_str!("../../../tests/fixtures/auth/test-app.pem");
const KEY: &str = include_str!("../../../tests/fixtures/auth/test-app.key");
const OTHER_KEY: &str = include_str!("../../../tests/fixtures/auth/other-app.key");
/// Computed with openssl (tests/fixtures/auth/README.md).
const OPENSSL_X5T: &str = "n1FRfmIHQS3wkAqTamF0JrZF_lo";

fn decode_json(part: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn assertion_has_the_expected_header_claims_and_a_valid_signature() {
    let app = AppCredential::from_pem(CERT.as_bytes(), KEY.as_bytes()).unwrap();
    assert_eq!(app.thumbprint(), OPENSSL_X5T);
    let aud = "https://login.example/tenant-1/oauth2/v2.0/token";
    let jwt = app.client_assertion("client-1", aud, 1_700_000_000).unwrap();

    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode_json(parts[0]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["x5t"], OPENSSL_X5T);
    let claims = decode_json(parts[1]);
    assert_eq!(claims["aud"], aud);
    assert_eq!(claims["iss"], "client-1");
    assert_eq!(claims["sub"], "client-1");
    assert_eq!(claims["nbf"], 1_700_000_000u64);
    assert_eq!(claims["exp"], 1_700_000_600u64);
    let jti = claims["jti"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(jti).is_ok(), "{jti}");

    // Verify with the public key taken from the certificate, as Entra does.
    let (_, der) = x509_cert::der::pem::decode_vec(CERT.as_bytes()).unwrap();
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    let spki = cert.tbs_certificate().subject_public_key_info().to_der().unwrap();
    let verifier = VerifyingKey::<Sha256>::new(PublicKey::from_public_key_der(&spki).unwrap());
    let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    assert!(verifier.verify(signed.as_bytes(), &signature).is_ok());
    assert!(verifier.verify(format!("{signed}x").as_bytes(), &signature).is_err());

    // Each assertion is single-use.
    let again = app.client_assertion("client-1", aud, 1_700_000_000).unwrap();
    assert_ne!(decode_json(again.split('.').nth(1).unwrap())["jti"], claims["jti"]);
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let (what, reason) = AppCredential::from_pem(CERT.as_bytes(), OTHER_KEY.as_bytes()).unwrap_err();
    assert_eq!(what, "the private key");
    assert!(reason.contains("does not belong"), "{reason}");
}

#[test]
fn wrong_pem_kinds_are_explained() {
    let (what, _) = AppCredential::from_pem(KEY.as_bytes(), KEY.as_bytes()).unwrap_err();
    assert_eq!(what, "the certificate");
    let pkcs1 = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let (what, reason) = AppCredential::from_pem(CERT.as_bytes(), pkcs1.as_bytes()).unwrap_err();
    assert_eq!(what, "the private key");
    assert!(reason.contains("openssl pkcs8"), "{reason}");
    let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let (_, reason) = AppCredential::from_pem(CERT.as_bytes(), encrypted.as_bytes()).unwrap_err();
    assert!(reason.contains("encrypted"), "{reason}");
}

#[test]
fn combined_pem_file_works() {
    let combined = format!("{KEY}{CERT}");
    let app = AppCredential::from_pem(combined.as_bytes(), combined.as_bytes()).unwrap();
    assert_eq!(app.thumbprint(), OPENSSL_X5T);
    assert!(format!("{app:?}").contains("[redacted]"));
}

#[test]
fn load_refuses_a_key_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("app.pem");
    let key = dir.path().join("app.key");
    std::fs::write(&cert, CERT).unwrap();
    std::fs::write(&key, KEY).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = AppCredential::load(&cert, &key).unwrap_err();
    assert!(matches!(err, AuthError::Insecure { what: "the private key", mode: 0o644, .. }), "{err}");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let app = AppCredential::load(&cert, &key).unwrap();
    assert_eq!(app.thumbprint(), OPENSSL_X5T);
    assert!(app.not_after() > 4_000_000_000, "the fixture is valid for 100 years");

    let err = AppCredential::load(&dir.path().join("missing.pem"), &key).unwrap_err();
    assert!(matches!(err, AuthError::Read { what: "the certificate", .. }), "{err}");
}

#[test]
fn key_proof_is_what_graph_add_key_checks() {
    let app = AppCredential::from_pem(CERT.as_bytes(), KEY.as_bytes()).unwrap();
    let object_id = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
    let jwt = app.key_proof(object_id, 1_700_000_000).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode_json(parts[0]);
    assert_eq!((header["alg"].as_str(), header["x5t"].as_str()), (Some("RS256"), Some(OPENSSL_X5T)));
    let claims = decode_json(parts[1]);
    assert_eq!(claims["aud"], "00000002-0000-0000-c000-000000000000");
    assert_eq!(claims["iss"], object_id);
    let lifetime = claims["exp"].as_u64().unwrap() - claims["nbf"].as_u64().unwrap();
    assert!(lifetime > 0 && lifetime <= 600, "Graph takes proofs of at most 10 minutes: {lifetime}");
    let (_, der) = x509_cert::der::pem::decode_vec(CERT.as_bytes()).unwrap();
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    let spki = cert.tbs_certificate().subject_public_key_info().to_der().unwrap();
    let verifier = VerifyingKey::<Sha256>::new(PublicKey::from_public_key_der(&spki).unwrap());
    let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
    assert!(verifier.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).is_ok());
    // Signed by another key it does not verify against this certificate.
    let other = AppCredential::from_pem(CERT.as_bytes(), OTHER_KEY.as_bytes());
    assert!(other.is_err(), "a key that does not belong to the certificate is refused at load");
}
