//! The Entra sync-endpoint emulator: a strict stand-in for Microsoft's sign-in service and
//! `provisioningservice.svc` (docs/emulator.md), used by every end-to-end test, benchmark and
//! demo, and by administrators before they touch a real tenant.
//!
//! It may use only `entra::nbfx` (the codec), `entra::credential` (PHS verification) and the
//! calendar arithmetic of `entra::timefmt` (day counts to dates, no rule of the protocol) from
//! the rest of the crate: its validation is its own, so a misunderstanding shared with the
//! client shows up as a failing test instead of passing silently.
//!
//! In-process use (tests, benches):
//! ```no_run
//! # async fn demo() -> Result<(), samba_entra_sync::emulator::EmulatorError> {
//! use samba_entra_sync::emulator::{Emulator, EmulatorConfig};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let emulator = Emulator::start(EmulatorConfig { auto_approve: true, ..Default::default() }, listener).await?;
//! println!("{}", emulator.base_url());
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```

mod admin;
mod apps;
mod clock;
mod cloud;
mod contract;
mod desktop_sso;
mod endpoint;
mod faults;
mod graph;
mod jwt;
mod model;
mod oauth;
mod ops;
mod page;
mod provision;
mod rules;
mod server;
mod soap;
mod store;
mod tenant;
mod throttle;
mod timeline;
mod tokens;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use faults::{FaultKind, FaultSpec};
pub use timeline::ServiceDate;
pub use tokens::{DIRECTORY_SYNCHRONIZATION_ACCOUNTS, GLOBAL_ADMINISTRATOR, HYBRID_IDENTITY_ADMINISTRATOR};

/// Everything the emulator can be told at start. `Default` is what `emulator --listen ADDR`
/// runs with.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Keep the tenant in `DIR/tenant.db` (survives restarts); in memory when `None`.
    pub data_dir: Option<PathBuf>,
    /// Tenant id of a new tenant (random when `None`); must match an existing `data_dir`.
    pub tenant_id: Option<Uuid>,
    pub tenant_name: String,
    /// The initial `*.onmicrosoft.com` domain: sign-in names, quarantine UPNs, tenant paths.
    pub domain: String,
    /// Approve device codes without `POST /admin/device-codes/{code}/approve`.
    pub auto_approve: bool,
    /// With `auto_approve`, answer `authorization_pending` this many polls first.
    pub pending_polls: u32,
    /// The `interval` a device-code answer asks clients to poll at.
    pub poll_interval_secs: u64,
    pub access_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
    /// Invalidate a refresh token once it is used (Entra keeps it valid until it expires).
    pub single_use_refresh_tokens: bool,
    /// Public client ids accepted besides the first-party ones (`DEFAULT_PUBLIC_CLIENTS`).
    pub public_clients: Vec<String>,
    /// `(client id, PEM)` certificates of confidential clients (client credentials).
    pub client_certificates: Vec<(String, Vec<u8>)>,
    /// Roles given to the applications of `client_certificates`.
    pub client_roles: Vec<String>,
    /// Application roles on the sync app granted to those applications (app role assignments).
    pub client_app_roles: Vec<String>,
    /// The day whose rules of the service are in force (`None`: today).
    pub service_date: Option<ServiceDate>,
    /// Who signs in through the device code flow (default `admin@<domain>`).
    pub signin_user: Option<String>,
    /// Role names or template ids of that user (default Global Administrator).
    pub signin_roles: Vec<String>,
    /// Oldest `DirSyncBuildNumber` accepted; empty: the service's on `service_date`.
    pub min_build: String,
    pub max_body_bytes: usize,
    pub throttle_writes: u64,
    pub throttle_window: Duration,
    /// Age before a new object is visible to ProvisionCredentials and member resolution.
    pub replication_delay: Duration,
    /// Report unresolved group members in ResultErrorDescription (else drop them silently).
    pub report_unresolved_members: bool,
    /// A Delete of an object the tenant does not hold answers `Failure` ("object not found");
    /// `false`: `Success`. The service's answer is not published (`--unknown-delete`).
    pub unknown_delete_fails: bool,
    /// Refuse ProvisionCredentials while the PasswordHashSync feature bit is off.
    pub require_phs_feature: bool,
    /// Directory synchronisation is enabled for a new tenant.
    pub dirsync_enabled: bool,
    /// DirSyncFeatures of a new tenant.
    pub dirsync_features: i64,
    pub machine_name: String,
    /// `--anchor-attribute`: a tenant that already synced with `objectGUID` or
    /// `mS-DS-ConsistencyGuid` (a new tenant has none).
    pub anchor_attribute: Option<String>,
    /// `--seamless-sso-rc4 accept`: a Seamless SSO registration also holds the RC4-HMAC key of its
    /// secret (RC4 tickets accepted); `false`: the AES256 key only (RC4 tickets refused).
    pub seamless_sso_rc4: bool,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            data_dir: None,
            tenant_id: None,
            tenant_name: "Emulated Company".to_owned(),
            domain: "emulator.onmicrosoft.com".to_owned(),
            auto_approve: false,
            pending_polls: 1,
            poll_interval_secs: 5,
            access_token_lifetime: Duration::from_secs(3600),
            refresh_token_lifetime: Duration::from_secs(90 * 86_400),
            single_use_refresh_tokens: false,
            public_clients: Vec::new(),
            client_certificates: Vec::new(),
            client_roles: vec!["Directory Synchronization Accounts".to_owned()],
            client_app_roles: vec![tokens::SYNC_APP_ROLE.to_owned()],
            service_date: None,
            signin_user: None,
            signin_roles: vec!["Global Administrator".to_owned()],
            min_build: String::new(),
            max_body_bytes: 4 << 20,
            throttle_writes: 7000,
            throttle_window: Duration::from_secs(300),
            replication_delay: Duration::ZERO,
            report_unresolved_members: true,
            unknown_delete_fails: true,
            require_phs_feature: true,
            dirsync_enabled: true,
            // The AADInternals example tenant: resiliency and soft-match bits on, PHS off.
            dirsync_features: 41016,
            machine_name: "EMULATOR".to_owned(),
            anchor_attribute: None,
            seamless_sso_rc4: true,
            tls: None,
        }
    }
}

/// Why the emulator could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot use the listening socket: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tenant(#[from] tenant::TenantError),
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// A DirSync build number `a.b.c.d`, compared numerically.
pub(crate) fn parse_build(text: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = text.trim().split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| (2..=4).contains(&p.len()))
}

/// Counters of `GET /admin/stats`.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub calls: BTreeMap<String, u64>,
    pub writes: u64,
    pub faults_injected: u64,
    pub throttled: u64,
    /// Every request to the sync endpoint, answered or refused (a 503 before any operation
    /// ran counts here, not in `calls`): what a client's retries cost.
    pub requests: u64,
}

/// Settings the HTTP layer needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub scheme: &'static str,
    pub base_url: String,
    pub max_body_bytes: usize,
    pub min_build: Vec<u64>,
    pub min_build_text: String,
    pub replication_delay_ms: i64,
    pub report_unresolved_members: bool,
    pub unknown_delete_fails: bool,
    pub require_phs_feature: bool,
    pub machine_name: String,
    pub client_roles: Vec<String>,
    pub client_app_roles: Vec<String>,
    pub service_date: ServiceDate,
    /// Seamless SSO registrations made now also hold the RC4-HMAC key.
    pub seamless_sso_rc4: bool,
}

impl Settings {
    /// `scheme://host` as the client addressed the emulator (its Host header), so URLs handed
    /// out match what the client trusts; the bound address otherwise.
    fn base_url_for(&self, headers: &axum::http::HeaderMap) -> String {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)));
        match host {
            Some(host) => format!("{}://{host}", self.scheme),
            None => self.base_url.clone(),
        }
    }
}

/// Shared state of a running emulator.
pub(crate) struct App {
    pub tenant: Arc<Mutex<tenant::Tenant>>,
    pub tokens: tokens::TokenService,
    /// App registrations of the Graph facade (in memory).
    pub apps: Mutex<apps::AppDirectory>,
    pub faults: Mutex<faults::Faults>,
    pub throttle: Mutex<throttle::Throttle>,
    pub stats: Mutex<Stats>,
    /// Seamless SSO registrations (in memory, keys only).
    pub desktop_sso: Mutex<desktop_sso::DesktopSso>,
    pub settings: Settings,
}

/// A running emulator. Dropping it stops the server as well.
pub struct Emulator {
    base_url: String,
    tenant_id: Uuid,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Starts serving on `listener` (bind `127.0.0.1:0` and read [`Emulator::base_url`]).
    pub async fn start(config: EmulatorConfig, listener: TcpListener) -> Result<Emulator, EmulatorError> {
        let local = listener.local_addr()?;
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let host = if local.ip().is_unspecified() {
            if local.is_ipv4() { "127.0.0.1".to_owned() } else { "[::1]".to_owned() }
        } else if local.is_ipv6() {
            format!("[{}]", local.ip())
        } else {
            local.ip().to_string()
        };
        let base_url = format!("{scheme}://{host}:{}", local.port());
        let app = server::build_app(&config, scheme, base_url.clone())?;
        let tenant_id = server::tenant_id(&app);
        let cancel = CancellationToken::new();
        let task = server::spawn(app, &config, listener, cancel.clone())?;
        Ok(Emulator { base_url, tenant_id, cancel, task: Some(task) })
    }

    /// `http://127.0.0.1:PORT` (or `https://…`): authority, sync endpoint and admin API.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Serves until `shutdown` completes.
pub async fn serve(
    config: EmulatorConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), EmulatorError> {
    let emulator = Emulator::start(config, listener).await?;
    shutdown.await;
    emulator.shutdown().await;
    Ok(())
}
