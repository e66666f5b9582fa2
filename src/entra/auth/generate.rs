//! A new app credential made on the DC: an RSA-2048 key and a self-signed SHA-256 certificate,
//! what Microsoft accepts for application-based authentication (Microsoft's
//! wizard makes `CN=Entra Connect Sync Provisioning`, valid 6 months). The private key never
//! leaves this process except into a mode-0600 file.

use std::time::Duration;

use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use sha2::Sha256;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::der::EncodePem;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{EncodePublicKey, SubjectPublicKeyInfo, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};
use zeroize::Zeroizing;

use super::AuthError;

/// Key size Microsoft requires for a sync app's certificate.
pub const KEY_BITS: usize = 2048;

/// A freshly made certificate (PEM) and its private key (PKCS#8 PEM, wiped on drop).
pub struct GeneratedCredential {
    pub certificate_pem: String,
    pub private_key_pem: Zeroizing<String>,
    /// Unix seconds.
    pub not_before: u64,
    pub not_after: u64,
}

impl std::fmt::Debug for GeneratedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCredential")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("private_key_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Self-signed, an end-entity X.509 v3 certificate (basicConstraints CA:false, keyUsage
/// digitalSignature, as `New-SelfSignedCertificate` makes them): an application credential is
/// matched by its key, not by a chain, but v1 certificates are refused by common verifiers.
struct SelfSigned(Name);

impl BuilderProfile for SelfSigned {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.0.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        use x509_cert::ext::ToExtension as _;
        use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};
        let subject = tbs.subject();
        let mut extensions = Vec::new();
        let basic = BasicConstraints { ca: false, path_len_constraint: None };
        extensions.push(basic.to_extension(subject, &extensions)?);
        extensions.push(KeyUsage(KeyUsages::DigitalSignature.into()).to_extension(subject, &extensions)?);
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        extensions.push(ski.to_extension(subject, &extensions)?);
        Ok(extensions)
    }
}

/// Makes a key and a certificate for `common_name`, valid from `now_unix` (less 5 minutes, for
/// clock skew at Entra) for `validity`.
pub fn generate_credential(
    common_name: &str,
    validity: Duration,
    now_unix: u64,
) -> Result<GeneratedCredential, AuthError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| AuthError::Internal(format!("cannot {what}: {e}"));
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, KEY_BITS).map_err(|e| fail("generate an RSA key", &e))?;
    let public_der = key.to_public_key().to_public_key_der().map_err(|e| fail("encode the public key", &e))?;
    let spki = SubjectPublicKeyInfo::try_from(public_der.as_bytes()).map_err(|e| fail("read the public key", &e))?;
    let subject: Name = format!("CN={}", common_name.replace([',', '+', '=', '\\', '"', '<', '>', ';'], " "))
        .parse()
        .map_err(|e| fail("build the certificate's name", &e))?;
    let not_before = now_unix.saturating_sub(300);
    let not_after = now_unix + validity.as_secs();
    let time = |secs: u64| {
        Time::try_from(std::time::UNIX_EPOCH + Duration::from_secs(secs)).map_err(|e| fail("encode a date", &e))
    };
    let validity = Validity::new(time(not_before)?, time(not_after)?);
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| fail("draw a serial number", &e))?;
    serial[0] &= 0x7f; // positive
    serial[0] |= 0x01; // and no leading zero byte
    let serial = SerialNumber::new(&serial).map_err(|e| fail("encode the serial number", &e))?;
    let builder = CertificateBuilder::new(SelfSigned(subject), serial, validity, spki)
        .map_err(|e| fail("start the certificate", &e))?;
    let signer = SigningKey::<Sha256>::new(key.clone());
    let certificate =
        builder.build::<_, rsa::pkcs1v15::Signature>(&signer).map_err(|e| fail("sign the certificate", &e))?;
    let certificate_pem = certificate.to_pem(LineEnding::LF).map_err(|e| fail("encode the certificate", &e))?;
    let private_key_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| fail("encode the private key", &e))?;
    Ok(GeneratedCredential {
        certificate_pem,
        private_key_pem: Zeroizing::new(private_key_pem.to_string()),
        not_before,
        not_after,
    })
}

/// The common name of a certificate's subject (DER), to give a renewed certificate the same name.
pub fn common_name_of(der: &[u8]) -> Option<String> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let subject = cert.tbs_certificate().subject().to_string();
    subject.split(',').find_map(|part| part.trim().strip_prefix("CN=").map(str::to_owned))
}

/// Writes a new file through a temporary name in the same directory, with `mode` from the
/// start (a key is never readable by others, not even for a moment), synced before the rename.
pub fn write_new_file(path: &std::path::Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp_name);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {

    use rsa::traits::PublicKeyParts;
    use x509_cert::der::{Decode, Encode};

    use super::*;

    #[test]
    fn a_generated_credential_is_rsa_2048_sha256_self_signed_and_valid_for_what_was_asked() {
        let now = 1_800_000_000;
        let made = generate_credential("SambaEntraSync_dc1", Duration::from_secs(180 * 86_400), now).unwrap();
        // It loads as an app credential (certificate and key belong together).
        let app =
            super::super::AppCredential::from_pem(made.certificate_pem.as_bytes(), made.private_key_pem.as_bytes())
                .unwrap();
        assert_eq!(app.not_after(), now + 180 * 86_400);
        let (_, der) = x509_cert::der::pem::decode_vec(made.certificate_pem.as_bytes()).unwrap();
        let cert = x509_cert::Certificate::from_der(&der).unwrap();
        // sha256WithRSAEncryption, as Microsoft asks.
        assert_eq!(cert.signature_algorithm().oid.to_string(), "1.2.840.113549.1.1.11");
        let tbs = cert.tbs_certificate();
        assert_eq!(tbs.subject().to_string(), "CN=SambaEntraSync_dc1");
        // A renewal names its certificate as the one it replaces.
        assert_eq!(common_name_of(&der).as_deref(), Some("SambaEntraSync_dc1"));
        assert_eq!(tbs.issuer(), tbs.subject(), "self-signed");
        let spki = tbs.subject_public_key_info().to_der().unwrap();
        let public = <rsa::PublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki).unwrap();
        assert_eq!(public.size() * 8, KEY_BITS);
        let from = tbs.validity().not_before.to_unix_duration().as_secs();
        let to = tbs.validity().not_after.to_unix_duration().as_secs();
        assert_eq!((from, to), (now - 300, now + 180 * 86_400));
        // The signature verifies with the certificate's own key.
        let verifier = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public);
        let signature = rsa::pkcs1v15::Signature::try_from(cert.signature().raw_bytes()).unwrap();
        use rsa::signature::Verifier as _;
        assert!(verifier.verify(&tbs.to_der().unwrap(), &signature).is_ok());
        // Two runs make two different keys.
        let again = generate_credential("SambaEntraSync_dc1", Duration::from_secs(86_400), now).unwrap();
        assert_ne!(*again.private_key_pem, *made.private_key_pem);
        assert!(!format!("{made:?}").contains("PRIVATE KEY"), "Debug must not show the key");
    }
}
