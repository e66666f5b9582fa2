//! What the engine reports, as plain data: `status`'s answer, a reconcile's summary, the app
//! certificate's state. [`Control`](super::control::Control) keeps the live figures;
//! `status.rs` builds the report from them and the state DB.

use serde::Serialize;

/// What one reconcile did (`status`'s `lastReconcile`, the `ReconcileFinished` signal).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileSummary {
    pub started_at: i64,
    pub finished_at: i64,
    pub creates: u64,
    pub updates: u64,
    pub deletes: u64,
    pub deletes_held: u64,
    pub passwords: u64,
    /// Objects found deleted or changed in Entra outside this sync (drift repair).
    pub drift: u64,
    pub errors: u64,
    pub dry_run: bool,
}

/// The certificate's expiry and its renewal, as `status` shows them (the renewal task in `cert_rotation` sets it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// notAfter of the certificate in use, ms since the epoch.
    pub expires_at: i64,
    /// From when the daemon renews it (expiry less `renew_before`), ms since the epoch.
    pub renew_from: i64,
    /// `idle`, the step of a renewal in progress, or `blocked: …`.
    pub rotation: String,
    /// Failed renewal attempts in a row.
    pub failures: u32,
    pub last_error: Option<String>,
    /// When the last renewal finished (ms since the epoch), since the daemon started.
    pub last_renewed_at: Option<i64>,
}

/// How many refused objects `status` spells out (`plan --json` lists them all).
pub const BLOCKED_SHOWN: usize = 20;

/// `status`, as JSON keys (camelCase, as `interfaces.md` names them).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub state: String,
    /// `leader` or `follower` (several DCs; a single DC leads).
    pub role: Option<String>,
    /// The leader DC's name.
    pub leader: Option<String>,
    /// This DC's name.
    pub this_dc: Option<String>,
    /// Why the state is `degraded`, each with the command that fixes it.
    pub degraded_reasons: Vec<String>,
    /// What works but worse than it should, each with the command that fixes it.
    pub warnings: Vec<String>,
    /// `sync.dry_run`: nothing is sent to Entra.
    pub dry_run: bool,
    /// Password pushes the dry run did not send.
    pub dry_run_passwords_held: u64,
    /// The digest of the held deletes `approve-deletes` can release.
    pub held_deletes_digest: Option<String>,
    /// A refused reload's error (the previous config stays in force).
    pub reload_error: Option<String>,
    pub queue_depth: u64,
    pub exported_objects: u64,
    pub held_deletes: u64,
    pub notices: u64,
    /// Notices dropped because the queue was full; the USN poll delivered those changes.
    pub notices_dropped: u64,
    pub pushes_acknowledged: u64,
    pub pushes_failed: u64,
    pub password_latency_samples: u64,
    pub password_latency_p50_ms: Option<f64>,
    pub password_latency_p99_ms: Option<f64>,
    pub last_reconcile: Option<ReconcileSummary>,
    pub next_reconcile_at: Option<i64>,
    pub api_compatibility: String,
    /// How the engine signs in (`application (certificate)` or a user token, with its end date).
    pub sign_in: String,
    /// With `method = "certificate"`: when the certificate expires and how its renewal goes.
    pub certificate: Option<CertificateStatus>,
    pub last_error: Option<String>,
    pub recent_errors: Vec<String>,
    /// The current or last full password sync (`sync --all-passwords`, password hash sync
    /// turned back on): its counts and what is still queued.
    pub password_resync: Option<super::state::ResyncRun>,
    /// Objects the tenant refused one by one (match blocked, role holder, cloud-managed, …):
    /// how many, and one sentence each (the first [`BLOCKED_SHOWN`]) with what to do.
    pub blocked_objects: u64,
    pub blocked: Vec<String>,
    pub now: i64,
}
