//! The reconcile loop: keeps the tenant equal to the domain.
//!
//! A full run (`full.rs` decides which kind) streams: `streamed.rs` reads the directory twice as
//! libldb hands it over and compares it with the state DB as it goes (`full_scan.rs`: the DN
//! index and what is kept per object, as hashes), then reads what is to be sent again by
//! objectGUID, a chunk at a time, and sends it through the tenant port (`apply.rs`), which takes
//! the write budget. A dry run and `plan` read the whole directory, map it and plan against the
//! state DB instead (`full.rs`), since they list every operation. Between full runs, a change of
//! highestCommittedUSN (published by the USN watcher) triggers a delta run (`delta.rs`) that
//! reads only what changed (uSNChanged) and sends only what differs. Drift repair (`drift.rs`,
//! streamed in `streamed.rs`) follows a full run. Every successful export is recorded at once,
//! so a run that crashes half-way is finished by the next one (exports are upserts: re-sending
//! is harmless). This file holds the loop and the command handling.

mod answers;
mod apply;
mod delta;
mod drift;
mod event_log;
mod full;
pub(crate) mod full_scan;
mod hold_back;
mod password_status;
mod password_sync;
mod streamed;
mod writeback;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::anchor::{Anchor, AnchorAttribute};
use super::cluster::{Cluster, Role};
use super::control::{Command, Control, EngineEvent};
use super::directory::{Directory, DirectoryError};
use super::gate::TenantGate;
use super::mapping::DomainInfo;
use super::model::ObjectType;
use super::scope::Scope;
use super::state::{State, StateError, now_ms};
use super::tenant::{Tenant, TenantError};
use full_scan::DnIndex;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("reading sam.ldb: {0}")]
    Directory(#[from] DirectoryError),
    #[error("{0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Tenant(#[from] TenantError),
    #[error("this DC follows ({leader} leads the sync of the domain): reconciles run on the leader only")]
    Follower { leader: String },
    #[error(
        "the tenant's source anchor attribute is {tenant}, but sync.source_anchor is {ours}, and {differing} in-scope objects would get a different anchor (the two agree only where mS-DS-ConsistencyGuid is empty or equals the objectGUID): syncing them would make Entra delete those objects and create them again (new object ids, lost licences and group memberships); set sync.source_anchor = \"{tenant}\""
    )]
    AnchorMismatch { tenant: String, ours: String, differing: usize },
}

#[derive(Clone, Debug)]
pub struct ReconcileSettings {
    pub anchor: AnchorAttribute,
    pub interval: Duration,
    pub deletion_threshold: u32,
    pub deletion_threshold_percent: u32,
    pub dry_run: bool,
    pub objects_per_call: usize,
    pub parallel_calls: usize,
    /// Compare the tenant's read-back with what we export on full runs...
    pub drift_repair: bool,
    /// ...at most once per this period (`sync.drift_check_interval`): the read-back returns the
    /// whole tenant in one response (about 19 MB for 11,000 objects), too much for every
    /// SyncNow or expiry run.
    pub drift_interval: Duration,
    /// Write the objectGUID into an empty mS-DS-ConsistencyGuid of exported users.
    pub write_back_consistency_guid: bool,
    /// Push hashes of users who must change their password at next logon.
    pub push_temporary: bool,
}

/// A user whose password Entra has not acknowledged in its current version.
#[derive(Clone, Debug)]
pub(crate) struct PendingPassword {
    anchor: Anchor,
    name: String,
    kvno: u32,
    changed_at_us: i64,
    /// Skipped before as a temporary password that has since become a normal one.
    no_longer_temporary: bool,
}

pub struct Reconciler<D, T> {
    directory: Arc<D>,
    control: Control,
    store: State,
    scope: Arc<Scope>,
    settings: ReconcileSettings,
    tenant: Arc<T>,
    domain: DomainInfo,
    gate: TenantGate,
    wake_passwords: Arc<dyn Fn() + Send + Sync>,
    /// DN → anchor of every in-scope object of the last full read: delta runs need it to turn
    /// member DNs into anchors without reading the whole domain.
    index: Mutex<Arc<DnIndex>>,
    last_usn: Mutex<u64>,
    last_drift_check: Mutex<Option<tokio::time::Instant>>,
    /// Objects found changed in Entra at the last drift check → what was found (our digest
    /// and the attributes) and whether it was reported as kept by Entra, to tell a re-export
    /// that did not stick from a new change.
    drift_reported: Mutex<HashMap<(ObjectType, Anchor), (String, bool)>>,
    /// Several DCs: only the leader reconciles (see [`super::cluster`]).
    cluster: Arc<Cluster>,
    /// The leader term (see [`Cluster::term`]) whose first full run read the tenant back: a
    /// new leader's export state may be stale (another DC led meanwhile), so its first full run
    /// catches up with the tenant first (`full.rs`).
    caught_up_term: AtomicU64,
}

/// What a command asks of the loop once it has been handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterCommand {
    /// Done: nothing more to run.
    Done,
    /// Run a full reconcile (now, or right after the one under way).
    FullRun,
}

impl<D: Directory, T: Tenant> Reconciler<D, T> {
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        directory: Arc<D>,
        control: Control,
        store: State,
        scope: Arc<Scope>,
        settings: ReconcileSettings,
        tenant: Arc<T>,
        gate: TenantGate,
        wake_passwords: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Self, ReconcileError> {
        let domain = directory.domain().await?;
        Ok(Reconciler {
            directory,
            control,
            store,
            scope,
            settings,
            tenant,
            domain,
            gate,
            wake_passwords,
            index: Mutex::new(Arc::new(DnIndex::default())),
            last_usn: Mutex::new(0),
            last_drift_check: Mutex::new(None),
            drift_reported: Mutex::new(HashMap::new()),
            cluster: Cluster::single(),
            caught_up_term: AtomicU64::new(u64::MAX),
        })
    }

    /// Takes part in a domain with several DCs (single DC otherwise).
    pub fn with_cluster(mut self, cluster: Arc<Cluster>) -> Self {
        self.cluster = cluster;
        self
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Refuses a run on a follower.
    pub(crate) fn must_lead(&self) -> Result<(), ReconcileError> {
        if self.cluster.is_leader() {
            return Ok(());
        }
        Err(ReconcileError::Follower { leader: self.cluster.leader().unwrap_or_else(|| "another DC".into()) })
    }

    pub fn tenant(&self) -> &Arc<T> {
        &self.tenant
    }

    pub fn gate(&self) -> &TenantGate {
        &self.gate
    }

    pub(crate) fn scope(&self) -> &Scope {
        &self.scope
    }

    pub(crate) fn directory(&self) -> &D {
        &self.directory
    }

    pub(crate) fn control(&self) -> &Control {
        &self.control
    }

    /// The state DB (the engine's own).
    pub(crate) fn store(&self) -> &State {
        &self.store
    }

    pub(crate) fn anchor(&self) -> AnchorAttribute {
        self.settings.anchor
    }

    /// Handles one command, the same whether the loop is idle or a full run is under way.
    /// Exports for password pushes are urgent and run at once (alongside a full run, which may
    /// be waiting for bulk budget for minutes); a full password sync starts at once; a
    /// requested sync is a full run, now or right after the current one.
    async fn handle(&self, command: Command) -> AfterCommand {
        match command {
            Command::SyncNow => return AfterCommand::FullRun,
            Command::ExportUser(account) => {
                if let Err(e) = self.export_user(&account).await {
                    self.control.report_error(&account, &e.to_string());
                }
                (self.wake_passwords)();
            }
            Command::ResyncPasswords => {
                if let Err(e) = self.start_password_resync("requested by an administrator").await {
                    self.control.report_error("resync", &format!("cannot start the full password sync: {e}"));
                }
            }
        }
        AfterCommand::Done
    }

    /// Runs until `shutdown`: a full reconcile at start and every `interval`, at the next
    /// account expiry, and on request; delta runs when the directory changes.
    pub async fn run(
        self: Arc<Self>,
        commands: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Command>>>,
        mut usn: watch::Receiver<u64>,
        shutdown: CancellationToken,
    ) {
        let mut commands = commands.lock().await;
        // Nothing runs against a tenant whose checks have not passed (they are retried
        // elsewhere); commands wait in the channel meanwhile.
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = self.gate.wait_open() => {}
        }
        let mut next_full = tokio::time::Instant::now();
        let mut role = self.cluster.subscribe();
        role.borrow_and_update();
        loop {
            let expiry = self.control.next_expiry_ms();
            let until_expiry = expiry
                // A little after the second the account expires in, so the mapping (which
                // compares whole seconds) sees it expired.
                .map(|ms| Duration::from_millis((ms - now_ms()).max(0) as u64 + 50))
                .filter(|d| *d < self.settings.interval);
            let wake_at = until_expiry.map_or(next_full, |d| next_full.min(tokio::time::Instant::now() + d));
            self.control.set_next_reconcile(
                now_ms() + wake_at.saturating_duration_since(tokio::time::Instant::now()).as_millis() as i64,
            );
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(wake_at) => {}
                c = commands.recv() => match c {
                    None => break,
                    Some(c) => if self.handle(c).await == AfterCommand::Done { continue },
                },
                changed = role.changed() => {
                    if changed.is_err() { break; }
                    if *role.borrow_and_update() == Role::Leader {
                        // A new leader starts with a full reconcile against its own state.
                        tracing::info!("leading now: a full reconcile starts");
                        next_full = tokio::time::Instant::now();
                    }
                    continue;
                }
                changed = usn.changed() => {
                    if changed.is_err() { break; }
                    // Let a burst of changes settle into one delta.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    match self.run_delta().await {
                        Ok(Some(s)) => self.control.emit(EngineEvent::ReconcileFinished(s)),
                        Ok(None) => {}
                        Err(e) => self.control.report_error("reconcile", &e.to_string()),
                    }
                    continue;
                }
            }
            if !self.cluster.is_leader() {
                tracing::debug!(leader = ?self.cluster.leader(), "this DC follows: the leader reconciles");
                next_full = tokio::time::Instant::now() + self.settings.interval;
                continue;
            }
            let mut run_again = false;
            let outcome = {
                let full = self.run_full();
                tokio::pin!(full);
                let mut open = true;
                loop {
                    tokio::select! {
                        r = &mut full => break r,
                        c = commands.recv(), if open => match c {
                            None => open = false,
                            Some(c) => run_again |= self.handle(c).await == AfterCommand::FullRun,
                        },
                    }
                }
            };
            match outcome {
                Ok(s) => {
                    tracing::info!(
                        dry_run = s.dry_run,
                        creates = s.creates,
                        updates = s.updates,
                        deletes = s.deletes,
                        held = s.deletes_held,
                        passwords = s.passwords,
                        errors = s.errors,
                        "reconcile finished"
                    );
                    self.control.emit(EngineEvent::ReconcileFinished(s));
                }
                Err(e) => self.control.report_error("reconcile", &e.to_string()),
            }
            next_full = tokio::time::Instant::now() + if run_again { Duration::ZERO } else { self.settings.interval };
        }
    }
}

#[cfg(test)]
mod tests;
