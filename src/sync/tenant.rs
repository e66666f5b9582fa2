//! The engine's port to Entra: everything a reconcile asks of the tenant, in the engine's own
//! terms. `entra_port.rs` implements it over the sync client; unit tests use
//! `testing::FakeTenant`. Every write takes the write budget inside the port, in the lane the
//! engine names.

use std::future::Future;
use std::time::Duration;

use super::anchor::Anchor;
use super::model::{AttrValue, ExportObject, ObjectType};
use super::scheduler::Lane;

/// What became of one exported object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportResult {
    pub anchor: Anchor,
    pub cloud_anchor: Option<String>,
    /// Accepted with a warning (e.g. a duplicate proxyAddress quarantined by Entra).
    pub warning: Option<String>,
    /// Refused; the object stays as it was in Entra.
    pub error: Option<ObjectFault>,
}

/// Why Entra refused one object. The service answers only `Failure` and its words (no code
/// says why), so the engine never decides on the words: it reports them and tries again at the
/// next run, and a refused delete is settled by the tenant's own listing (`reconcile/apply.rs`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectFault {
    /// Refused (the text says why): report it, try again at the next run.
    #[error("{0}")]
    Refused(String),
}

impl ObjectFault {
    /// The service's words.
    pub fn message(&self) -> &str {
        match self {
            ObjectFault::Refused(m) => m,
        }
    }
}

/// An object as Entra holds it (for drift repair).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudObject {
    pub object_type: ObjectType,
    pub anchor: Anchor,
    pub cloud_anchor: Option<String>,
    /// The attributes read back, names as the service spells them (compare them ignoring
    /// case); the service leaves out empty ones. A group's members are under `member`.
    pub attributes: Vec<(String, AttrValue)>,
}

/// The tenant's sync configuration, as far as the engine cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantConfig {
    /// `AnchorAttribute` (objectGUID or mS-DS-ConsistencyGuid), when the tenant names one.
    pub anchor_attribute: Option<String>,
    pub password_sync_enabled: bool,
    pub features: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// Worth retrying later (network, 5xx, throttling).
    #[error("{message}")]
    Transient { message: String, retry_after: Option<Duration> },
    /// The tenant refuses us (sync not activated, a refused request): needs a person.
    #[error("{0}")]
    Refused(String),
    /// The sign-in is refused (revoked or expired, an account or app without the sync role).
    #[error("{0}")]
    SignIn(String),
    /// The API answered in a way this build does not understand.
    #[error("the sync API is incompatible with this build: {0}")]
    Incompatible(String),
}

/// What an administrator does about a refused sign-in (shown with `degraded`).
pub const SIGN_IN_FIX: &str = "sign in again with `samba-entra-sync login --config FILE` (with method = \"certificate\": check the app's certificate and its sync role)";

/// A refused sign-in's message with what fixes it: [`SIGN_IN_FIX`], unless the message already
/// says (a user token the service no longer takes: `login` cannot fix that, `register-app` does).
pub fn with_sign_in_fix(message: &str) -> String {
    if message.contains("register-app") { message.to_owned() } else { format!("{message}; {SIGN_IN_FIX}") }
}

/// The engine's view of the tenant. It has no way to change the tenant's features: only an
/// administrator turns password hash sync (or any other feature) on or off.
pub trait Tenant: Send + Sync + 'static {
    fn configuration(&self) -> impl Future<Output = Result<TenantConfig, TenantError>> + Send;
    /// Creates or updates objects (Set: an upsert), one result per object, in order; waits for
    /// `lane`'s write budget first.
    fn upsert(
        &self,
        objects: &[&ExportObject],
        lane: Lane,
    ) -> impl Future<Output = Result<Vec<ExportResult>, TenantError>> + Send;
    /// Deletes objects by anchor; waits for `lane`'s write budget first.
    fn delete(
        &self,
        objects: &[(ObjectType, Anchor)],
        lane: Lane,
    ) -> impl Future<Output = Result<Vec<ExportResult>, TenantError>> + Send;
    /// Everything the tenant holds from directory sync, one object at a time (a tenant can be
    /// too large to hold at once). `visit` may see an object twice; only a call that returns
    /// `Ok` has shown every object.
    fn read_back(
        &self,
        visit: &mut (dyn FnMut(CloudObject) + Send),
    ) -> impl Future<Output = Result<(), TenantError>> + Send;
    /// Ends an export run with its counts (`FinalizeExport`), as Entra Connect does.
    fn finalize_export(&self, total: u64, successful: u64) -> impl Future<Output = Result<(), TenantError>> + Send;
}
