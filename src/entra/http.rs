//! The one HTTP client the cloud side uses (sign-in and the sync endpoint): rustls with the ring
//! provider, the system trust store plus an optional extra CA, explicit timeouts, an optional
//! proxy, and no automatic redirects.

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

/// How to build the client. `ca_file` and `proxy` come from `[entra]` in the config.
#[derive(Clone)]
pub struct HttpSettings {
    /// Extra trust anchors (PEM), added to the system store: a TLS-inspecting proxy's CA or the
    /// emulator's certificate.
    pub ca_file: Option<PathBuf>,
    /// `http://host:port` for every request; without it, `HTTPS_PROXY`/`NO_PROXY` apply.
    pub proxy: Option<String>,
    pub connect_timeout: Duration,
    /// Whole-request limit; a stuck Entra front end must not hold a push forever.
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            ca_file: None,
            proxy: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A proxy URL may carry a user name and password.
        f.debug_struct("HttpSettings")
            .field("ca_file", &self.ca_file)
            .field("proxy", &self.proxy.as_ref().map(|_| "[set]"))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot read the CA file {path}: {source}")]
    CaFileRead { path: PathBuf, source: std::io::Error },
    #[error("the CA file {path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")]
    CaFileEmpty { path: PathBuf },
    #[error("the CA file {path} is not valid PEM: {reason}")]
    CaFileInvalid { path: PathBuf, reason: String },
    #[error("the proxy setting is not a valid proxy URL (expected http://host:port): {reason}")]
    Proxy { reason: String },
    #[error("cannot set up the HTTP client: {reason}")]
    Build { reason: String },
}

/// Makes rustls use ring (the build carries no other provider). Safe to call many times.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Builds the shared client. Redirects are not followed: token requests carry secrets in the
/// body, and the sync API reports redirects as SOAP faults that the caller handles.
pub fn http_client(settings: &HttpSettings) -> Result<reqwest::Client, HttpError> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("samba-entra-sync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.request_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_keepalive(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(proxy) = &settings.proxy {
        let proxy = reqwest::Proxy::all(proxy.as_str()).map_err(|e| HttpError::Proxy { reason: error_chain(&e) })?;
        builder = builder.proxy(proxy);
    }
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path).map_err(|source| HttpError::CaFileRead { path: path.clone(), source })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| HttpError::CaFileInvalid { path: path.clone(), reason: error_chain(&e) })?;
        if certs.is_empty() {
            return Err(HttpError::CaFileEmpty { path: path.clone() });
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| HttpError::Build { reason: error_chain(&e) })
}

/// An error and its causes as one line: reqwest's own Display hides the useful part
/// ("connection refused", "invalid peer certificate") in the source chain.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_CA: &str = include_str!("../../tests/fixtures/auth/test-app.pem");

    #[test]
    fn builds_with_defaults_proxy_and_extra_ca() {
        assert!(http_client(&HttpSettings::default()).is_ok());
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, TEST_CA).expect("write");
        let settings = HttpSettings {
            ca_file: Some(ca),
            proxy: Some("http://proxy.example:3128".into()),
            ..HttpSettings::default()
        };
        assert!(http_client(&settings).is_ok());
    }

    #[test]
    fn bad_ca_files_and_proxies_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let settings = HttpSettings { ca_file: Some(missing.clone()), ..HttpSettings::default() };
        let err = http_client(&settings).expect_err("missing CA file");
        assert!(matches!(&err, HttpError::CaFileRead { path, .. } if *path == missing), "{err}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let settings = HttpSettings { ca_file: Some(empty), ..HttpSettings::default() };
        let err = http_client(&settings).expect_err("empty CA file");
        assert!(matches!(err, HttpError::CaFileEmpty { .. } | HttpError::CaFileInvalid { .. }), "{err}");

        let settings = HttpSettings { proxy: Some("::not a url::".into()), ..HttpSettings::default() };
        let err = http_client(&settings).expect_err("bad proxy");
        assert!(matches!(err, HttpError::Proxy { .. }), "{err}");
    }

    #[test]
    fn debug_hides_proxy_credentials() {
        let settings = HttpSettings { proxy: Some("http://user:secret@proxy:3128".into()), ..HttpSettings::default() };
        assert!(!format!("{settings:?}").contains("secret"));
    }
}
