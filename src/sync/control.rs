//! The engine's front panel: the channels into a running engine (notices, commands, queries,
//! reported errors) and the live counters it reports back. One `Control` is shared by
//! everything that talks to it. It holds no state DB: questions that need it ([`Query`]) go to
//! the engine, which answers through its own methods, and reported errors reach the event log
//! through the engine too.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, watch};

use super::approval::Approved;
use super::queries::{ApproveDeletesError, Query, QueryError, UserReport};
use super::report::{CertificateStatus, ReconcileSummary, StatusReport};
use super::state::{HistoryEntry, now_us};

/// The longest account name accepted from the hook (sAMAccountName allows 20 characters; 256 leaves
/// room for anything a future Samba might send while refusing garbage).
pub const MAX_ACCOUNT_NAME: usize = 256;

/// "This account's password is changing": from the hook, before Samba commits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordNotice {
    pub account: String,
    /// When the notice arrived (µs since the epoch): where the latency clock starts.
    pub noticed_at_us: i64,
}

/// Requests that change what the engine does.
#[derive(Debug)]
pub enum Command {
    SyncNow,
    /// Export this user's object now (a password push found it missing in Entra).
    ExportUser(String),
    /// Push every in-scope user's current password again (`sync --all-passwords`).
    ResyncPasswords,
}

/// What the engine announces (forwarded as D-Bus signals).
#[derive(Clone, Debug)]
pub enum EngineEvent {
    PasswordSynced { account: String, latency_us: u64 },
    ReconcileFinished(ReconcileSummary),
}

/// The engine's overall condition, as `status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineState {
    Starting,
    Running,
    /// Working, but something needs attention (the tenant refuses us, sam.ldb is unreadable...).
    Degraded,
    /// The sync API answered in a way this build does not understand: nothing is sent.
    ApiIncompatible,
    Stopping,
}

impl EngineState {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineState::Starting => "starting",
            EngineState::Running => "running",
            EngineState::Degraded => "degraded",
            EngineState::ApiIncompatible => "api-incompatible",
            EngineState::Stopping => "stopping",
        }
    }
}

/// Live, in-memory figures (everything durable is in the state DB).
#[derive(Default)]
pub(super) struct Live {
    pub(super) pushes_acked: AtomicU64,
    pub(super) pushes_failed: AtomicU64,
    pub(super) notices: AtomicU64,
    /// Notices dropped because the queue was full (the USN poll delivers those changes).
    pub(super) notices_dropped: AtomicU64,
    pub(super) last_reconcile: Mutex<Option<ReconcileSummary>>,
    pub(super) next_reconcile_ms: AtomicU64,
    pub(super) next_expiry_ms: AtomicU64,
    pub(super) api: Mutex<String>,
    pub(super) last_error: Mutex<Option<String>>,
    /// What the engine was set to (starting, running, stopping...); problems turn a running
    /// engine into a degraded one until they clear.
    pub(super) base_state: Mutex<Option<EngineState>>,
    /// Conditions an administrator must fix, by area ("tenant", "push", "reconcile"): the
    /// sentence says what is wrong and the command that fixes it.
    pub(super) problems: Mutex<std::collections::BTreeMap<&'static str, String>>,
    pub(super) dry_run: std::sync::atomic::AtomicBool,
    /// Password pushes a dry run held back (it sends nothing).
    pub(super) dry_run_passwords: AtomicU64,
    /// The last refused reload, while the old config stays in force.
    pub(super) reload_error: Mutex<Option<String>>,
    /// Acknowledged pushes by latency, cumulative since start (for the metrics histogram):
    /// counts at or below each of [`LATENCY_BUCKETS_MS`], then the sum in µs.
    pub(super) latency_buckets: [AtomicU64; LATENCY_BUCKETS_MS.len()],
    pub(super) latency_sum_us: AtomicU64,
    /// How the engine signs in, and what that means for the future (user sign-in ends 2027-04-07).
    pub(super) sign_in: Mutex<String>,
    /// Conditions that do not stop sync but make it worse (the domain's password complexity off),
    /// by area, each sentence with the command that fixes it.
    pub(super) warnings: Mutex<std::collections::BTreeMap<&'static str, String>>,
    /// The app certificate's expiry and renewal (`method = "certificate"`).
    pub(super) certificate: Mutex<Option<CertificateStatus>>,
    /// Several DCs: this DC's role and the leader, as the last poll found them.
    pub(super) cluster: Mutex<ClusterStatus>,
}

/// What `status` says about the DCs of the domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterStatus {
    pub role: Option<String>,
    pub leader: Option<String>,
    pub this_dc: Option<String>,
}

/// The upper bounds (ms) of the password latency histogram.
pub const LATENCY_BUCKETS_MS: [u64; 10] = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

/// The password latency histogram: cumulative counts per bucket of [`LATENCY_BUCKETS_MS`], the
/// count of every push and the sum of their latencies in µs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    pub buckets: Vec<u64>,
    pub count: u64,
    pub sum_us: u64,
}

/// The most password notices waiting for the engine. Past it a notice is dropped (and counted):
/// the change is in sam.ldb, and the USN poll (`change_poll`) picks it up.
pub const MAX_QUEUED_NOTICES: usize = 4096;

/// The engine's end of the notice queue.
pub type NoticeReceiver = mpsc::Receiver<PasswordNotice>;

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("the account name is empty")]
    Empty,
    #[error("the account name is longer than {MAX_ACCOUNT_NAME} bytes")]
    TooLong,
    #[error("the account name contains control characters")]
    ControlCharacters,
    #[error("the engine is not running")]
    Stopped,
}

/// Shared handle to a running engine.
#[derive(Clone)]
pub struct Control {
    notices: mpsc::Sender<PasswordNotice>,
    commands: mpsc::UnboundedSender<Command>,
    queries: mpsc::UnboundedSender<Query>,
    events: broadcast::Sender<EngineEvent>,
    state_tx: Arc<watch::Sender<EngineState>>,
    usn_tx: Arc<watch::Sender<u64>>,
    live: Arc<Live>,
    progress: Arc<super::progress::Progress>,
    /// Errors for the state DB's event log (`status` shows the recent ones): the engine writes
    /// them ([`super::reconcile::Reconciler::record_errors`]).
    errors: mpsc::UnboundedSender<ReportedError>,
}

/// An error [`Control::report_error`] passes on to the engine's event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportedError {
    pub subject: String,
    pub message: String,
}

/// The receiving ends, for the engine's tasks.
/// Shared so that a restarted engine (after a config reload) takes them over.
pub struct ControlInbox {
    pub notices: Arc<tokio::sync::Mutex<NoticeReceiver>>,
    pub commands: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Command>>>,
    pub queries: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Query>>>,
    pub errors: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<ReportedError>>>,
}

impl Control {
    pub fn new() -> (Control, ControlInbox) {
        let (notices, notices_rx) = mpsc::channel(MAX_QUEUED_NOTICES);
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (queries, queries_rx) = mpsc::unbounded_channel();
        let (errors, errors_rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(1024);
        let (state_tx, _) = watch::channel(EngineState::Starting);
        let (usn_tx, _) = watch::channel(0u64);
        let control = Control {
            notices,
            commands,
            queries,
            events,
            state_tx: Arc::new(state_tx),
            usn_tx: Arc::new(usn_tx),
            live: Arc::new(Live::default()),
            progress: Arc::default(),
            errors,
        };
        let inbox = ControlInbox {
            notices: Arc::new(tokio::sync::Mutex::new(notices_rx)),
            commands: Arc::new(tokio::sync::Mutex::new(commands_rx)),
            queries: Arc::new(tokio::sync::Mutex::new(queries_rx)),
            errors: Arc::new(tokio::sync::Mutex::new(errors_rx)),
        };
        (control, inbox)
    }

    pub fn progress(&self) -> &super::progress::Progress {
        &self.progress
    }

    /// The hook's notification. The name is checked, never trusted: it only ever becomes an
    /// escaped filter value (see `samba::filter`).
    pub fn password_changed(&self, account: &str) -> Result<(), NoticeError> {
        if account.is_empty() {
            return Err(NoticeError::Empty);
        }
        if account.len() > MAX_ACCOUNT_NAME {
            return Err(NoticeError::TooLong);
        }
        if account.chars().any(char::is_control) {
            return Err(NoticeError::ControlCharacters);
        }
        self.live.notices.fetch_add(1, Ordering::Relaxed);
        match self.notices.try_send(PasswordNotice { account: account.to_string(), noticed_at_us: now_us() }) {
            Ok(()) => Ok(()),
            // The change is committed in sam.ldb: the USN poll finds it (within `change_poll`).
            // The hook is not failed for it; the count shows in `status` (noticesDropped).
            Err(mpsc::error::TrySendError::Full(n)) => {
                if self.live.notices_dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(
                        account = %n.account,
                        "the password notice queue is full ({MAX_QUEUED_NOTICES}); dropped notices are picked up by the change poll"
                    );
                }
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(NoticeError::Stopped),
        }
    }

    pub fn command(&self, c: Command) -> Result<(), NoticeError> {
        self.commands.send(c).map_err(|_| NoticeError::Stopped)
    }

    /// Asks the engine and waits for its answer (a query waits in the channel while no engine
    /// runs, e.g. during a reload).
    async fn ask<T>(&self, query: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> Query) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.queries.send(query(tx)).ok()?;
        rx.await.ok()
    }

    /// Everything `status` shows.
    pub async fn status(&self) -> Result<StatusReport, QueryError> {
        self.ask(Query::Status).await.unwrap_or(Err(QueryError::Stopped))
    }

    /// One user's password record and status (`user NAME`).
    pub async fn user(&self, account: &str) -> Result<UserReport, QueryError> {
        let account = account.to_owned();
        self.ask(|reply| Query::User { account, reply }).await.unwrap_or(Err(QueryError::Stopped))
    }

    /// One user's password events, newest first (`user NAME --history`).
    pub async fn password_history(&self, account: &str) -> Result<Vec<HistoryEntry>, QueryError> {
        let account = account.to_owned();
        self.ask(|reply| Query::History { account, reply }).await.unwrap_or(Err(QueryError::Stopped))
    }

    /// What a full reconcile would do now.
    pub async fn plan(&self) -> Result<super::plan::Plan, QueryError> {
        self.ask(Query::Plan).await.unwrap_or(Err(QueryError::Stopped))
    }

    /// `sync --retry-blocked`: forgets every refusal of the tenant, so the next reconcile sends
    /// each refused object (and its password) once more. Returns how many there were.
    pub async fn retry_blocked(&self) -> Result<usize, QueryError> {
        self.ask(Query::RetryBlocked).await.unwrap_or(Err(QueryError::Stopped))
    }

    /// `approve-deletes`: approves the held set (the one named by `digest`, when given) and asks
    /// for the full reconcile that sends it.
    pub async fn approve_deletes(&self, digest: Option<&str>) -> Result<Approved, ApproveDeletesError> {
        let digest = digest.map(str::to_owned);
        let approved = self
            .ask(|reply| Query::ApproveDeletes { digest, reply })
            .await
            .unwrap_or(Err(ApproveDeletesError::Stopped))?;
        self.command(Command::SyncNow).map_err(|_| ApproveDeletesError::Stopped)?;
        Ok(approved)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    pub fn emit(&self, e: EngineEvent) {
        match &e {
            EngineEvent::PasswordSynced { latency_us, .. } => {
                self.live.pushes_acked.fetch_add(1, Ordering::Relaxed);
                for (bound, counter) in LATENCY_BUCKETS_MS.iter().zip(&self.live.latency_buckets) {
                    if *latency_us <= bound * 1000 {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
                self.live.latency_sum_us.fetch_add(*latency_us, Ordering::Relaxed);
            }
            EngineEvent::ReconcileFinished(s) => {
                *self.live.last_reconcile.lock().unwrap_or_else(|p| p.into_inner()) = Some(s.clone());
            }
        }
        // No subscriber is fine (nobody listens on the bus yet).
        let _ = self.events.send(e);
    }

    /// Sets what the engine is doing (starting, running, stopping, api-incompatible); the state
    /// shown is `degraded` instead of running while a problem is recorded.
    pub fn set_state(&self, s: EngineState) {
        *self.live.base_state.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
        self.publish_state();
    }

    /// Records a condition an administrator must fix (`message` says what and how); the engine
    /// is `degraded` until every such condition has cleared.
    pub fn set_problem(&self, area: &'static str, message: &str) {
        let changed = self
            .live
            .problems
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(area, message.to_string())
            .is_none_or(|old| old != message);
        if changed {
            tracing::warn!(area, "degraded: {message}");
        }
        self.publish_state();
    }

    /// The condition recorded for `area` is over (the next success came).
    pub fn clear_problem(&self, area: &'static str) {
        if self.live.problems.lock().unwrap_or_else(|p| p.into_inner()).remove(area).is_some() {
            tracing::info!(area, "recovered");
            self.publish_state();
        }
    }

    /// Records (`Some`) or clears (`None`) a warning for `area`: shown by `status`, the state
    /// stays as it is.
    pub fn set_warning(&self, area: &'static str, message: Option<&str>) {
        let mut warnings = self.live.warnings.lock().unwrap_or_else(|p| p.into_inner());
        match message {
            Some(m) if warnings.get(area).map(String::as_str) != Some(m) => {
                tracing::warn!(area, "{m}");
                warnings.insert(area, m.to_string());
            }
            Some(_) => {}
            None => {
                warnings.remove(area);
            }
        }
    }

    pub fn has_problem(&self, area: &'static str) -> bool {
        self.live.problems.lock().unwrap_or_else(|p| p.into_inner()).contains_key(area)
    }

    fn publish_state(&self) {
        let base = self.live.base_state.lock().unwrap_or_else(|p| p.into_inner()).unwrap_or(EngineState::Starting);
        let troubled = !self.live.problems.lock().unwrap_or_else(|p| p.into_inner()).is_empty();
        let shown = match base {
            EngineState::Running | EngineState::Starting if troubled => EngineState::Degraded,
            other => other,
        };
        self.state_tx.send_if_modified(|v| {
            let changed = *v != shown;
            *v = shown;
            changed
        });
    }

    /// The engine runs with `sync.dry_run`: nothing is sent, `status` says so.
    pub fn set_dry_run(&self, on: bool) {
        self.live.dry_run.store(on, Ordering::Relaxed);
    }

    /// A dry run held back a password push it would have sent.
    pub fn dry_run_password(&self) {
        self.live.dry_run_passwords.fetch_add(1, Ordering::Relaxed);
    }

    /// Password latencies since start, as a histogram.
    pub fn latency_histogram(&self) -> LatencyHistogram {
        LatencyHistogram {
            buckets: self.live.latency_buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
            count: self.live.pushes_acked.load(Ordering::Relaxed),
            sum_us: self.live.latency_sum_us.load(Ordering::Relaxed),
        }
    }

    /// This DC's role among the domain's DCs (the cluster poll sets it).
    pub fn set_cluster(&self, status: ClusterStatus) {
        *self.live.cluster.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    /// A reload was refused (`None`: the last reload took effect).
    pub fn set_reload_error(&self, error: Option<String>) {
        *self.live.reload_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }

    pub fn state(&self) -> EngineState {
        *self.state_tx.borrow()
    }

    pub fn watch_state(&self) -> watch::Receiver<EngineState> {
        self.state_tx.subscribe()
    }

    /// The directory's highestCommittedUSN moved (the safety net polls it): delta reconciles
    /// follow it.
    pub fn set_directory_usn(&self, usn: u64) {
        self.usn_tx.send_if_modified(|v| {
            let changed = *v != usn;
            *v = usn;
            changed
        });
    }

    pub fn watch_directory_usn(&self) -> watch::Receiver<u64> {
        self.usn_tx.subscribe()
    }

    pub fn push_failed(&self) {
        self.live.pushes_failed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_next_reconcile(&self, at_ms: i64) {
        self.live.next_reconcile_ms.store(at_ms.max(0) as u64, Ordering::Relaxed);
    }

    /// The next account expiry (ms since the epoch): the reconciler runs then.
    pub fn set_next_expiry(&self, at_ms: i64) {
        self.live.next_expiry_ms.store(at_ms.max(0) as u64, Ordering::Relaxed);
    }

    pub fn next_expiry_ms(&self) -> Option<i64> {
        let v = self.live.next_expiry_ms.load(Ordering::Relaxed);
        (v > 0).then_some(v as i64)
    }

    /// How the engine signs in, as `status` shows it.
    pub fn set_sign_in(&self, text: &str) {
        *self.live.sign_in.lock().unwrap_or_else(|p| p.into_inner()) = text.to_string();
    }

    /// The app certificate's expiry and renewal, as `status` shows them (from the renewal task).
    pub fn set_certificate(&self, certificate: Option<CertificateStatus>) {
        *self.live.certificate.lock().unwrap_or_else(|p| p.into_inner()) = certificate;
    }

    pub fn set_api_compatibility(&self, text: &str) {
        *self.live.api.lock().unwrap_or_else(|p| p.into_inner()) = text.to_string();
    }

    /// The live figures, for the status report the engine builds.
    pub(super) fn live(&self) -> &Live {
        &self.live
    }

    /// Records an error: kept for `status` (last error and the state DB's recent events).
    pub fn report_error(&self, subject: &str, message: &str) {
        *self.live.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{subject}: {message}"));
        // Unbounded: an error is never dropped for want of room, and errors are few.
        let _ = self.errors.send(ReportedError { subject: subject.to_owned(), message: message.to_owned() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_validated() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = crate::sync::state::State::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        let (c, inbox) = Control::new();
        assert!(matches!(c.password_changed(""), Err(NoticeError::Empty)));
        assert!(matches!(c.password_changed(&"a".repeat(10_000)), Err(NoticeError::TooLong)));
        assert!(matches!(c.password_changed("a\nb"), Err(NoticeError::ControlCharacters)));
        // Filter metacharacters are fine here: they are escaped where they are used.
        assert!(c.password_changed("*)(objectClass=*").is_ok());
        let got = inbox.notices.try_lock().ok().and_then(|mut r| r.try_recv().ok()).map(|n| n.account);
        assert_eq!(got.as_deref(), Some("*)(objectClass=*"));
        let s = crate::sync::status::report(&c, &store).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.state.as_str(), s.notices, s.queue_depth), ("starting", 1, 0));
    }

    #[test]
    fn the_notice_queue_is_bounded_and_a_dropped_notice_is_counted() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = crate::sync::state::State::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        let (c, inbox) = Control::new();
        // Nobody takes notices (the engine is starting): a flood must not grow memory without end,
        // and the hook is never told to fail (its change is in sam.ldb; the USN poll finds it).
        for i in 0..MAX_QUEUED_NOTICES + 100 {
            assert!(c.password_changed(&format!("user{i}")).is_ok());
        }
        let mut queued = 0;
        if let Ok(mut r) = inbox.notices.try_lock() {
            while r.try_recv().is_ok() {
                queued += 1;
            }
        }
        assert_eq!(queued, MAX_QUEUED_NOTICES);
        let s = crate::sync::status::report(&c, &store).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.notices, s.notices_dropped), ((MAX_QUEUED_NOTICES + 100) as u64, 100));
        // Room again: the next notice is queued.
        assert!(c.password_changed("late").is_ok());
        let got = inbox.notices.try_lock().ok().and_then(|mut r| r.try_recv().ok()).map(|n| n.account);
        assert_eq!(got.as_deref(), Some("late"));
    }

    #[test]
    fn the_state_follows_problems() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = crate::sync::state::State::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        let (c, _inbox) = Control::new();
        c.set_state(EngineState::Running);
        c.set_problem("push", "the sign-in was refused; run `samba-entra-sync login`");
        c.set_problem("tenant", "cannot reach Entra");
        assert_eq!(c.state(), EngineState::Degraded);
        let s = crate::sync::status::report(&c, &store).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.degraded_reasons.len(), 2);
        assert!(s.degraded_reasons[0].starts_with("push: "), "{:?}", s.degraded_reasons);
        c.clear_problem("push");
        assert_eq!(c.state(), EngineState::Degraded, "one problem is left");
        c.clear_problem("tenant");
        assert_eq!(c.state(), EngineState::Running);
        // Stopping wins over problems; api-incompatible is its own state.
        c.set_problem("push", "x");
        c.set_state(EngineState::Stopping);
        assert_eq!(c.state(), EngineState::Stopping);
    }
}
