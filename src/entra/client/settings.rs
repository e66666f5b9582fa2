//! How the sync client behaves: where it connects, what it says about itself, how long it
//! waits and how often it retries. Everything not confirmed against the real service is here, as a setting.

use std::path::PathBuf;
use std::time::Duration;

use crate::entra::soap::{ClientIdentity, FaultRules, SERVICE_URL};

#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Where requests are sent: the real service or the emulator.
    pub endpoint: String,
    /// `a:To` until a redirect names another host: the real service URL, whatever host is
    /// contacted (interfaces doc: the emulator accepts it).
    pub to_address: String,
    /// `x-ms-aadmsods-tenantid`.
    pub tenant_id: String,
    pub identity: ClientIdentity,
    /// The ports send an empty User-Agent; the service accepts any.
    pub user_agent: String,
    /// For building the HTTP client (`entra::http::http_client`); reqwest has no per-request
    /// connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request limit. The real service may take minutes for a large call.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    pub redirects: RedirectPolicy,
    pub faults: FaultRules,
    /// Debug capture of every request and response (secrets redacted).
    pub capture_dir: Option<PathBuf>,
    /// Largest response body read.
    pub max_response_bytes: usize,
    /// Largest body of an operation that decodes its result item by item (the read-back of
    /// the whole tenant: about 1.9 KB per object).
    pub max_streamed_response_bytes: usize,
}

impl SyncSettings {
    /// Defaults for `endpoint` and `tenant_id`.
    pub fn new(endpoint: impl Into<String>, tenant_id: impl Into<String>) -> SyncSettings {
        SyncSettings {
            endpoint: endpoint.into(),
            to_address: SERVICE_URL.to_owned(),
            tenant_id: tenant_id.into(),
            identity: ClientIdentity::default(),
            user_agent: concat!("samba-entra-sync/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(6 * 60),
            retry: RetryPolicy::default(),
            redirects: RedirectPolicy::default(),
            faults: FaultRules::default(),
            capture_dir: None,
            max_response_bytes: 64 << 20,
            max_streamed_response_bytes: 1 << 30,
        }
    }
}

/// Retries of transient failures: connection errors, HTTP 5xx without a SOAP fault, HTTP 429
/// and 503, and the throttling fault. Waits grow exponentially with full jitter, or follow
/// `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Upper bound of the first wait; doubles per attempt.
    pub base_delay: Duration,
    /// Upper bound of any computed wait.
    pub max_delay: Duration,
    /// No retry starts once the call has taken this long (waits included).
    pub max_elapsed: Duration,
    /// A longer `Retry-After` ends the call at once; the caller can come back later.
    pub max_retry_after: Duration,
    /// Whether a request that timed out is sent again. Off by default: the service may still
    /// be working on it, and a second copy doubles the load of an already slow call.
    pub retry_timeouts: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_elapsed: Duration::from_secs(15 * 60),
            max_retry_after: Duration::from_secs(5 * 60),
            retry_timeouts: false,
        }
    }
}

/// Following `BindingRedirectionFault`. The redirected request carries the bearer token,
/// so only hosts of the endpoint itself or of Microsoft's sign-in clouds are followed, and never
/// to another scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectPolicy {
    /// Redirects followed within one call.
    pub max_hops: u32,
    /// Host suffixes a redirect may name besides the configured endpoint's host.
    pub allowed_host_suffixes: Vec<String>,
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        RedirectPolicy {
            max_hops: 3,
            allowed_host_suffixes: [
                "microsoftonline.com",
                "microsoftonline.us",
                "microsoftonline.de",
                "chinacloudapi.cn",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}
