//! The reconcile loop: keeps the tenant equal to the domain.
//!
//! A full run reads the whole directory, maps it, plans against the state DB and applies the
//! plan through the write budget; between full runs, a change of highestCommittedUSN triggers a
//! delta run that reads only what changed (uSNChanged) and sends only what differs. Every
//! successful export is recorded at once, so a run that crashes half-way is finished by the
//! next one (exports are upserts: re-sending is harmless).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::anchor::{AnchorAttribute, source_anchor};
use super::approval;
use super::control::{Command, Control, EngineEvent, ReconcileSummary};
use super::drift;
use super::full_scan::DnIndex;
use super::gate::TenantGate;
use super::mapping::{Desired, DirectorySnapshot, DomainInfo, Mapper};
use super::model::{ExportObject, ObjectType};
use super::plan::{Action, Plan, PlanInput, plan};
use super::scheduler::{Lane, WriteBudget};
use super::scope::Scope;
use super::state::{ExportedObject, HeldDelete, PasswordEvent, ResyncRun, ResyncTally, StateError, now_ms, now_us};
use super::tenant::{Tenant, TenantError, with_sign_in_fix};
use super::writeback;
use crate::samba::directory::{self, ReadOptions, User};
use crate::samba::values::filetime_to_unix;
use crate::samba::{LdbError, LdbHandle};

mod streamed;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("reading sam.ldb: {0}")]
    Directory(#[from] LdbError),
    #[error("{0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Tenant(#[from] TenantError),
    #[error(
        "the tenant's source anchor is {tenant}, but sync.source_anchor is {ours}: syncing with a different anchor would make Entra delete every synced object and create it again (new object ids, lost licences and group memberships); set sync.source_anchor = \"{tenant}\""
    )]
    AnchorMismatch { tenant: String, ours: String },
}

/// The tenant's password hash sync setting as last seen ("on" / "off"), kept across restarts so
/// a feature turned on while the daemon was down still triggers a full password sync.
const META_PASSWORD_SYNC: &str = "tenant.password_hash_sync";

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
struct PendingPassword {
    anchor: String,
    name: String,
    kvno: u32,
    changed_at_us: i64,
    /// Skipped before as a temporary password that has since become a normal one.
    no_longer_temporary: bool,
}

pub struct Reconciler<T> {
    ldb: LdbHandle,
    control: Control,
    scope: Arc<Scope>,
    settings: ReconcileSettings,
    tenant: Arc<T>,
    budget: Arc<WriteBudget>,
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
    drift_reported: Mutex<HashMap<(ObjectType, String), (String, bool)>>,
}

impl<T: Tenant> Reconciler<T> {
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        ldb: LdbHandle,
        control: Control,
        scope: Arc<Scope>,
        settings: ReconcileSettings,
        tenant: Arc<T>,
        budget: Arc<WriteBudget>,
        gate: TenantGate,
        wake_passwords: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Self, ReconcileError> {
        let domain = ldb
            .call(|c| {
                let dn = directory::domain_dn(c)?;
                let netbios = directory::netbios_name(c)?.unwrap_or_default();
                Ok(DomainInfo { dns_name: DomainInfo::dns_from_dn(&dn), netbios_name: netbios })
            })
            .await?;
        Ok(Reconciler {
            ldb,
            control,
            scope,
            settings,
            tenant,
            budget,
            domain,
            gate,
            wake_passwords,
            index: Mutex::new(Arc::new(DnIndex::default())),
            last_usn: Mutex::new(0),
            last_drift_check: Mutex::new(None),
            drift_reported: Mutex::new(HashMap::new()),
        })
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

    pub(crate) fn ldb(&self) -> &LdbHandle {
        &self.ldb
    }

    pub(crate) fn control(&self) -> &Control {
        &self.control
    }

    pub(crate) fn anchor(&self) -> AnchorAttribute {
        self.settings.anchor
    }

    /// Refuses a tenant whose anchor attribute differs from ours, and reads whether password
    /// hash sync is on. The daemon never turns tenant features on or off: while an
    /// administrator has password hash sync off, password pushes wait (see
    /// [`Reconciler::observe_password_sync`]). Nothing is written to the tenant before this has
    /// passed: see [`TenantGate`].
    pub async fn check_tenant(&self) -> Result<(), ReconcileError> {
        let cfg = self.tenant.configuration().await?;
        if let Some(t) = cfg.anchor_attribute.as_deref().filter(|t| !t.is_empty())
            && AnchorAttribute::parse(t) != Some(self.settings.anchor)
        {
            return Err(ReconcileError::AnchorMismatch {
                tenant: t.to_string(),
                ours: self.settings.anchor.tenant_name().to_string(),
            });
        }
        self.observe_password_sync(cfg.password_sync_enabled).await;
        Ok(())
    }

    /// Reads the tenant's company configuration for password hash sync only (at every
    /// reconcile and every `sync.tenant_check_interval`); a failure waits for the next check.
    pub async fn check_password_sync(&self) {
        match self.tenant.configuration().await {
            Ok(cfg) => self.observe_password_sync(cfg.password_sync_enabled).await,
            Err(e) => tracing::debug!("cannot read the tenant's company configuration: {e}"),
        }
    }

    /// Acts on password hash sync as the tenant reports it: off, pushes wait and `status` says
    /// why; off → on (also across restarts), a full password sync, as Entra Connect does when
    /// the feature is turned on. Each change is logged once.
    pub async fn observe_password_sync(&self, on: bool) {
        let store = self.control.store();
        let before = store.meta(META_PASSWORD_SYNC).ok().flatten();
        self.gate.set_password_sync(on);
        let now = if on { "on" } else { "off" };
        if !on {
            self.control.set_problem(
                "password-hash-sync",
                "password hash sync is off in the tenant: password changes wait in the outbox (nothing is sent, \
                 nothing is lost) until an administrator turns it on (Entra admin center, or Microsoft Graph \
                 onPremisesDirectorySynchronization features.passwordSyncEnabled); then every password is synced again",
            );
            if before.as_deref() != Some("off") {
                tracing::warn!("password hash sync is off in the tenant: password changes wait until it is turned on");
            }
        } else {
            self.control.clear_problem("password-hash-sync");
        }
        if before.as_deref() == Some(now) {
            return;
        }
        if on && before.as_deref() == Some("off") {
            tracing::info!("password hash sync was turned on in the tenant: syncing every password again");
            if let Err(e) = self.start_password_resync("password hash sync was turned on in the tenant").await {
                // The state stays "off": the next check tries again.
                self.control.report_error("resync", &e.to_string());
                return;
            }
        }
        if let Err(e) = store.set_meta(META_PASSWORD_SYNC, now) {
            self.control.report_error("state", &e.to_string());
        }
    }

    /// Reads the tenant's password hash sync setting every `interval` until `shutdown`.
    pub async fn watch_password_sync(self: Arc<Self>, interval: Duration, shutdown: CancellationToken) {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = self.gate.wait_open() => {}
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            self.check_password_sync().await;
        }
    }

    /// Starts a full password sync: every in-scope user that Entra holds gets its current
    /// password pushed again (read fresh from sam.ldb at its push), behind live changes and
    /// through the bulk lane of the write budget. Durable: a restart resumes it.
    pub async fn start_password_resync(&self, reason: &str) -> Result<ResyncRun, ReconcileError> {
        if self.settings.dry_run {
            tracing::info!(reason, "dry run: would push every in-scope password again; nothing is sent");
            return Ok(ResyncRun { reason: reason.to_owned(), ..Default::default() });
        }
        let opts = self.scope.user_read(false);
        let users = self.ldb.call(move |c| directory::read_users(c, &opts)).await?;
        let store = self.control.store();
        let exported: HashSet<String> = store
            .exported()?
            .into_iter()
            .filter(|e| e.object_type == ObjectType::User.as_str() && e.last_error.is_none())
            .map(|e| e.anchor)
            .collect();
        let (mut out_of_scope, mut not_exported) = (0u64, 0u64);
        let mut items = Vec::new();
        for u in &users {
            if self.scope.user(u).is_err() {
                out_of_scope += 1;
                continue;
            }
            let anchor = source_anchor(&u.id, self.settings.anchor);
            if !exported.contains(&anchor) {
                // Its password follows its export (the reconcile queues it).
                not_exported += 1;
                continue;
            }
            items.push((anchor, u.id.sam_account_name.clone(), u.key_version));
        }
        drop(users);
        let skipped = [(ResyncTally::OutOfScope, out_of_scope), (ResyncTally::NotExported, not_exported)];
        let run = store.start_resync(reason, &items, &skipped)?;
        tracing::info!(reason, users = items.len(), out_of_scope, not_exported, "full password sync started");
        if let Some(done) = store.finish_resync_if_done()? {
            super::passwords::log_resync_finished(&done);
        }
        (self.wake_passwords)();
        Ok(run)
    }

    async fn snapshot(
        &self,
        since: Option<u64>,
    ) -> Result<(DirectorySnapshot, HashMap<ObjectType, String>, u64), ReconcileError> {
        let scope = self.scope.clone();
        Ok(self
            .ldb
            .call(move |c| {
                let usn = directory::highest_committed_usn(c)?;
                let with = |o: ReadOptions| ReadOptions { changed_since_usn: since, ..o };
                let snap = DirectorySnapshot {
                    users: directory::read_users(c, &with(scope.user_read(false)))?,
                    groups: directory::read_groups(c, &with(scope.group_read()))?,
                    computers: directory::read_computers(c, &with(scope.computer_read()))?,
                    contacts: directory::read_contacts(c, &with(scope.contact_read()))?,
                };
                // A configured base DN that does not exist must never turn into deletes.
                let mut untrusted = HashMap::new();
                for base in scope.bases() {
                    if !directory::dn_exists(c, base)? {
                        for t in [ObjectType::User, ObjectType::Group, ObjectType::Device, ObjectType::Contact] {
                            untrusted.insert(t, format!("the base DN {base} does not exist"));
                        }
                    }
                }
                Ok((snap, untrusted, usn))
            })
            .await?)
    }

    fn mapper(&self) -> Mapper<'_> {
        Mapper { anchor: self.settings.anchor, domain: &self.domain, scope: &self.scope, now: now_ms() / 1000 }
    }

    fn pending_passwords(&self, users: &[User]) -> Result<Vec<PendingPassword>, StateError> {
        let handled = self.control.store().handled_kvnos()?;
        Ok(users
            .iter()
            .filter(|u| self.scope.user(u).is_ok())
            .filter_map(|u| {
                let anchor = source_anchor(&u.id, self.settings.anchor);
                let h = handled.get(&anchor).copied().unwrap_or_default();
                let temporary = u.must_change_password();
                (h.key_version(temporary) < u.key_version).then(|| PendingPassword {
                    anchor,
                    name: u.id.sam_account_name.clone(),
                    kvno: u.key_version,
                    changed_at_us: now_us(),
                    no_longer_temporary: h.skipped_temporary && !temporary,
                })
            })
            .collect())
    }

    /// What a full reconcile would do now. With `read_back` (and always while this installation
    /// has exported nothing yet) the plan reads the tenant, so objects Entra already holds show
    /// as matches, not creates.
    pub async fn plan(&self, read_back: bool) -> Result<Plan, ReconcileError> {
        let (snap, untrusted, _) = self.snapshot(None).await?;
        let desired = self.mapper().map(&snap);
        let pending = self.pending_passwords(&snap.users)?;
        drop(snap);
        let mut cloud = None;
        let mut warning = None;
        if read_back || self.control.store().exported_count()? == 0 {
            let mut held: HashMap<String, ObjectType> = HashMap::new();
            match self
                .tenant
                .read_back(&mut |o| {
                    held.insert(o.anchor, o.object_type);
                })
                .await
            {
                Ok(()) => cloud = Some(held),
                Err(e) => {
                    warning = Some(format!("cannot read the tenant back ({e}): a create may turn out to be a match"))
                }
            }
        }
        let mut plan = self.make_plan(&desired, &pending, &untrusted, cloud.as_ref(), now_ms())?;
        plan.warnings.extend(warning);
        Ok(plan)
    }

    fn make_plan(
        &self,
        desired: &Desired,
        pending: &[PendingPassword],
        untrusted: &HashMap<ObjectType, String>,
        cloud: Option<&HashMap<String, ObjectType>>,
        now: i64,
    ) -> Result<Plan, ReconcileError> {
        let store = self.control.store();
        let exported = store.exported()?;
        let approved = approval::approved_set(store, now)?;
        let passwords: Vec<(String, String)> = pending.iter().map(|p| (p.anchor.clone(), p.name.clone())).collect();
        let mut plan = plan(&PlanInput {
            desired,
            exported: &exported,
            passwords: &passwords,
            deletion_threshold: self.settings.deletion_threshold,
            deletion_threshold_percent: self.settings.deletion_threshold_percent,
            approved: &approved,
            cloud,
            untrusted,
        });
        plan.read_back = cloud.is_some();
        Ok(plan)
    }

    /// A full reconcile: read everything, plan, apply, repair drift. Streamed (see
    /// [`streamed`]) unless it is a dry run, which plans the whole domain to log each operation.
    pub async fn run_full(&self) -> Result<ReconcileSummary, ReconcileError> {
        if !self.settings.dry_run {
            return self.run_full_streamed().await;
        }
        self.run_full_planned().await
    }

    /// A full reconcile from a snapshot of the whole domain and a plan.
    async fn run_full_planned(&self) -> Result<ReconcileSummary, ReconcileError> {
        let started_at = now_ms();
        if !self.settings.dry_run {
            self.check_password_sync().await;
        }
        let (snap, untrusted, usn) = self.snapshot(None).await?;
        let desired = self.mapper().map(&snap);
        {
            let mut index = DnIndex::default();
            for o in &desired.objects {
                index.insert(&o.dn, o.anchor.clone());
            }
            *self.index.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
        }
        let pending = self.pending_passwords(&snap.users)?;
        let plan = self.make_plan(&desired, &pending, &untrusted, None, started_at)?;
        let mut summary = self.apply(&plan, &desired, &pending).await;
        if !self.settings.dry_run {
            // What is held now replaces what was held; an approval is good for this one run.
            let store = self.control.store();
            let held: Vec<HeldDelete> = plan
                .held
                .iter()
                .map(|h| HeldDelete {
                    object_type: h.object_type.as_str().to_string(),
                    anchor: h.anchor.clone(),
                    name: h.name.clone(),
                    reason: h.reason.clone(),
                    approvable: h.approvable,
                    held_since: started_at,
                })
                .collect();
            if let Err(e) = store.replace_held_deletes(&held).and_then(|()| store.consume_delete_approval(started_at)) {
                summary.errors += 1;
                self.control.report_error("state", &e.to_string());
            }
        }
        let s = &self.settings;
        if writeback::applies(s.write_back_consistency_guid, s.anchor, s.dry_run) {
            summary.errors += writeback::write_back(&self.ldb, &self.control, s.anchor, &snap.users).await;
        }
        // The read-back below is the run's largest allocation: let go of what is done first.
        let key_versions: HashMap<String, (String, u32)> = snap
            .users
            .iter()
            .filter(|u| self.scope.user(u).is_ok())
            .map(|u| (source_anchor(&u.id, self.settings.anchor), (u.id.sam_account_name.clone(), u.key_version)))
            .collect();
        drop((snap, plan, pending));
        if self.settings.drift_repair && !self.settings.dry_run && self.drift_due() {
            let (drifted, errors) = self.repair_drift(&desired, &key_versions).await;
            summary.drift = drifted;
            summary.errors += errors;
        }
        *self.last_usn.lock().unwrap_or_else(|p| p.into_inner()) = usn;
        summary.started_at = started_at;
        summary.finished_at = now_ms();
        // Always set: a stale expiry in the past would make the loop run a full reconcile
        // every second once it has passed.
        self.control.set_next_expiry(desired.next_expiry.map_or(0, |t| t * 1000));
        Ok(summary)
    }

    /// Whether drift repair is due (at most once per `drift_interval`); if so, counts it as done.
    fn drift_due(&self) -> bool {
        let mut last = self.last_drift_check.lock().unwrap_or_else(|p| p.into_inner());
        let due = last.is_none_or(|t| t.elapsed() >= self.settings.drift_interval);
        if due {
            *last = Some(tokio::time::Instant::now());
        }
        due
    }

    /// A delta run: only objects whose uSNChanged moved since the last run. Deletes wait for
    /// the next full run (deleted objects leave no trace a delta read could see).
    pub async fn run_delta(&self) -> Result<Option<ReconcileSummary>, ReconcileError> {
        let since = *self.last_usn.lock().unwrap_or_else(|p| p.into_inner());
        if since == 0 {
            return Ok(None);
        }
        let started_at = now_ms();
        let (snap, _, usn) = self.snapshot(Some(since)).await?;
        if usn <= since {
            return Ok(None);
        }
        let mapper = self.mapper();
        let mut desired = Desired::default();
        {
            let mut guard = self.index.lock().unwrap_or_else(|p| p.into_inner());
            // Shared only while a full run reads with it (none runs now): no copy is made.
            let index = Arc::make_mut(&mut guard);
            // New or moved objects join the index first, so a group naming them resolves.
            for u in snap.users.iter().filter(|u| self.scope.user(u).is_ok()) {
                index.insert(&u.id.dn, source_anchor(&u.id, self.settings.anchor));
            }
            for g in snap.groups.iter().filter(|g| self.scope.group(g).is_ok()) {
                index.insert(&g.id.dn, source_anchor(&g.id, self.settings.anchor));
            }
            for u in snap.users.iter().filter(|u| self.scope.user(u).is_ok()) {
                desired.objects.push(mapper.user(u, &*index));
                // An expiry set between full runs must arm the timer now, not at the next full run.
                if let Some(t) = filetime_to_unix(u.account_expires).filter(|t| *t > mapper.now) {
                    let at_ms = t * 1000;
                    if self.control.next_expiry_ms().is_none_or(|n| at_ms < n || n <= now_ms()) {
                        self.control.set_next_expiry(at_ms);
                    }
                }
            }
            desired
                .objects
                .extend(snap.computers.iter().filter(|c| self.scope.computer(c).is_ok()).map(|c| mapper.device(c)));
            desired
                .objects
                .extend(snap.contacts.iter().filter(|c| self.scope.contact(c).is_ok()).map(|c| mapper.contact(c)));
            desired
                .objects
                .extend(snap.groups.iter().filter(|g| self.scope.group(g).is_ok()).map(|g| mapper.group(g, &*index)));
        }
        let exported = self.control.store().exported()?;
        let changed: HashSet<(ObjectType, String)> = {
            let by_key: HashMap<(String, &str), &ExportedObject> =
                exported.iter().map(|e| ((e.object_type.clone(), e.anchor.as_str()), e)).collect();
            desired
                .objects
                .iter()
                .filter(|o| {
                    by_key
                        .get(&(o.object_type.as_str().to_string(), o.anchor.as_str()))
                        .is_none_or(|e| e.digest != o.digest() || e.last_error.is_some())
                })
                .map(|o| (o.object_type, o.anchor.clone()))
                .collect()
        };
        desired.objects.retain(|o| changed.contains(&(o.object_type, o.anchor.clone())));
        // No deletes in a delta: plan against the objects it saw only.
        let relevant: Vec<ExportedObject> = exported
            .into_iter()
            .filter(|e| desired.objects.iter().any(|o| o.anchor == e.anchor && o.object_type.as_str() == e.object_type))
            .collect();
        let plan = plan(&PlanInput {
            desired: &desired,
            exported: &relevant,
            passwords: &[],
            deletion_threshold: 0,
            deletion_threshold_percent: 0,
            approved: &HashSet::new(),
            cloud: None,
            untrusted: &HashMap::new(),
        });
        *self.last_usn.lock().unwrap_or_else(|p| p.into_inner()) = usn;
        if plan.operations.is_empty() {
            return Ok(None);
        }
        let mut summary = self.apply(&plan, &desired, &[]).await;
        summary.started_at = started_at;
        summary.finished_at = now_ms();
        Ok(Some(summary))
    }

    /// Exports one user now (a password push found it missing in Entra).
    pub async fn export_user(&self, account: &str) -> Result<(), ReconcileError> {
        if self.settings.dry_run {
            tracing::info!(account, "dry run: would export the user; nothing is sent");
            return Ok(());
        }
        let name = account.to_string();
        let filter = self.scope.user_filter().map(String::from);
        let Some(user) =
            self.ldb.call(move |c| directory::find_user_matching(c, &name, filter.as_deref(), false)).await?
        else {
            return Ok(());
        };
        if self.scope.user(&user).is_err() {
            return Ok(());
        }
        let index = self.index.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let object = self.mapper().user(&user, &*index);
        let exported = self.control.store().exported_object(ObjectType::User.as_str(), &object.anchor)?;
        if exported.is_some_and(|e| e.last_error.is_none() && e.digest == object.digest()) {
            // Exported as it is now: Entra has not made it visible to credential pushes yet
            // (replication). Exporting again would only spend the write budget; the push waits
            // out its back-off.
            tracing::debug!(account, "exported already; the password push waits for Entra to see the user");
            return Ok(());
        }
        let (ok, _) = self.upsert_chunk(&[&object], Lane::Urgent).await?;
        if ok > 0 {
            // The push that found the user missing is waiting out a back-off: make it due now.
            self.control.store().enqueue_push(&object.anchor, &user.id.sam_account_name, user.key_version, now_us())?;
        }
        Ok(())
    }

    /// A command that arrives while a full run is under way. Exports for password pushes are
    /// urgent and run at once, alongside the full run (which may be waiting for bulk budget for
    /// minutes); the others take effect in a full run right after the current one.
    async fn handle_during_run(&self, command: Option<Command>, run_again: &mut bool) {
        match command {
            Some(Command::ExportUser(account)) => {
                if let Err(e) = self.export_user(&account).await {
                    self.control.report_error(&account, &e.to_string());
                }
                (self.wake_passwords)();
            }
            Some(Command::SyncNow) => *run_again = true,
            Some(Command::ResyncPasswords) => self.resync_requested().await,
            None => {}
        }
    }

    async fn resync_requested(&self) {
        if let Err(e) = self.start_password_resync("requested by an administrator").await {
            self.control.report_error("resync", &format!("cannot start the full password sync: {e}"));
        }
    }

    async fn upsert_chunk(&self, chunk: &[&ExportObject], lane: Lane) -> Result<(u64, u64), ReconcileError> {
        self.budget.acquire(lane, chunk.len() as u32).await;
        let results = self.tenant.upsert(chunk).await.map_err(|e| self.tenant_failed(e))?;
        self.control.clear_problem("reconcile");
        let store = self.control.store();
        let (mut ok, mut failed) = (0, 0);
        for (o, r) in chunk.iter().zip(results) {
            if let Some(err) = &r.error {
                failed += 1;
                self.control.report_error(&o.name, &format!("export refused: {err}"));
                let _ = store.record_export_error(o.object_type.as_str(), &o.anchor, err);
                continue;
            }
            if let Some(w) = &r.warning {
                tracing::warn!(object = %o.name, anchor = %o.anchor, "exported with a warning: {w}");
                let _ = store.record_event("warning", &o.name, w);
            }
            ok += 1;
            store.record_export(&ExportedObject {
                object_type: o.object_type.as_str().to_string(),
                anchor: o.anchor.clone(),
                dn: o.dn.clone(),
                name: o.name.clone(),
                digest: o.digest(),
                cloud_anchor: r.cloud_anchor.clone(),
                exported_at: now_ms(),
                last_error: None,
            })?;
        }
        Ok((ok, failed))
    }

    /// Records a tenant failure that needs a person as the reason the engine is degraded (it
    /// clears at the next call the tenant accepts).
    fn tenant_failed(&self, e: TenantError) -> TenantError {
        match &e {
            TenantError::SignIn(m) => self.control.set_problem("reconcile", &with_sign_in_fix(m)),
            TenantError::Refused(m) => self.control.set_problem(
                "reconcile",
                &format!("Entra refuses the exports: {m}; see `samba-entra-sync status` for the objects"),
            ),
            TenantError::Transient { .. } | TenantError::Incompatible(_) => {}
        }
        e
    }

    /// Applies a plan in its order: each phase (a type's upserts, passwords, deletes) finishes
    /// before the next starts; within a phase, calls run in parallel.
    async fn apply(&self, plan: &Plan, desired: &Desired, pending: &[PendingPassword]) -> ReconcileSummary {
        let mut summary = ReconcileSummary {
            creates: plan.count(Action::Create) as u64,
            updates: plan.count(Action::Update) as u64,
            deletes: plan.count(Action::Delete) as u64,
            deletes_held: plan.held.len() as u64,
            passwords: plan.count(Action::Password) as u64,
            dry_run: self.settings.dry_run,
            ..Default::default()
        };
        let store = self.control.store();
        if self.settings.dry_run {
            tracing::info!(
                creates = summary.creates,
                updates = summary.updates,
                deletes = summary.deletes,
                held = summary.deletes_held,
                passwords = summary.passwords,
                "dry run: nothing sent; `samba-entra-sync plan` lists each operation"
            );
            for op in &plan.operations {
                tracing::debug!(action = ?op.action, object = %op.name, anchor = %op.anchor, "dry run: would send: {}", op.reason);
            }
            return summary;
        }
        let by_key: HashMap<(ObjectType, &str), &ExportObject> =
            desired.objects.iter().map(|o| ((o.object_type, o.anchor.as_str()), o)).collect();
        let upserts: Vec<&ExportObject> = plan
            .operations
            .iter()
            .filter(|op| matches!(op.action, Action::Create | Action::Update))
            .filter_map(|op| by_key.get(&(op.object_type, op.anchor.as_str())).copied())
            .collect();
        // Disabling an existing account is urgent (an expiry or a leaver): it goes first, in the
        // lane that may use the headroom kept for passwords.
        let updates: HashSet<(ObjectType, &str)> = plan
            .operations
            .iter()
            .filter(|op| op.action == Action::Update)
            .map(|op| (op.object_type, op.anchor.as_str()))
            .collect();
        let disabling = |o: &ExportObject| {
            updates.contains(&(o.object_type, o.anchor.as_str()))
                && o.get("accountEnabled") == Some(&super::model::AttrValue::Bool(false))
        };
        let urgent: Vec<&ExportObject> = upserts.iter().copied().filter(|o| disabling(o)).collect();
        summary.errors += self.upsert_parallel(&urgent, Lane::Urgent).await;
        for phase in [ObjectType::User, ObjectType::Contact, ObjectType::Device] {
            let objects: Vec<&ExportObject> =
                upserts.iter().copied().filter(|o| o.object_type == phase && !disabling(o)).collect();
            summary.errors += self.upsert_parallel(&objects, Lane::Bulk).await;
        }
        // Groups in plan order, a wave at a time, so members exist before the groups naming
        // them; groups refused (e.g. a member not resolvable yet) get one more try at the end.
        let mut failed_groups = Vec::new();
        for g in upserts.iter().copied().filter(|o| o.object_type == ObjectType::Group) {
            if self.upsert_parallel(&[g], Lane::Bulk).await > 0 {
                failed_groups.push(g);
            }
        }
        if !failed_groups.is_empty() {
            summary.errors += self.upsert_parallel(&failed_groups, Lane::Bulk).await;
        }
        // Passwords: into the durable outbox; the password path pushes them (urgent lane).
        let wanted: HashSet<&str> =
            plan.operations.iter().filter(|o| o.action == Action::Password).map(|o| o.anchor.as_str()).collect();
        for p in pending.iter().filter(|p| wanted.contains(p.anchor.as_str())) {
            let queued =
                if p.no_longer_temporary { store.release_temporary_skip(&p.anchor).map(|_| ()) } else { Ok(()) }
                    .and_then(|()| store.enqueue_backfill(&p.anchor, &p.name, p.kvno, p.changed_at_us))
                    .and_then(|queued| {
                        if !queued {
                            return Ok(());
                        }
                        let detail = "found by a reconcile";
                        store.record_password_event(&p.anchor, &p.name, PasswordEvent::ChangeSeen, Some(p.kvno), detail)
                    });
            if let Err(e) = queued {
                summary.errors += 1;
                self.control.report_error("state", &e.to_string());
            }
        }
        (self.wake_passwords)();
        summary.errors += self.delete(plan).await;
        summary
    }

    /// The plan's deletes (last, after every upsert); returns the number of failures.
    async fn delete(&self, plan: &Plan) -> u64 {
        let store = self.control.store();
        let mut errors = 0;
        let deletes: Vec<(ObjectType, String, String)> = plan
            .operations
            .iter()
            .filter(|o| o.action == Action::Delete)
            .map(|o| (o.object_type, o.anchor.clone(), o.name.clone()))
            .collect();
        for chunk in deletes.chunks(self.settings.objects_per_call.max(1)) {
            self.budget.acquire(Lane::Bulk, chunk.len() as u32).await;
            let keys: Vec<(ObjectType, String)> = chunk.iter().map(|(t, a, _)| (*t, a.clone())).collect();
            match self.tenant.delete(&keys).await.map_err(|e| self.tenant_failed(e)) {
                Ok(results) => {
                    self.control.clear_problem("reconcile");
                    for ((t, anchor, name), r) in chunk.iter().zip(results) {
                        match r.error {
                            // Already gone in Entra: the goal is reached.
                            Some(e) if !e.to_ascii_lowercase().contains("not found") => {
                                errors += 1;
                                self.control.report_error(name, &format!("delete refused: {e}"));
                            }
                            _ => {
                                let _ = store.forget_export(t.as_str(), anchor);
                            }
                        }
                    }
                }
                Err(e) => {
                    errors += chunk.len() as u64;
                    self.control.report_error("delete", &e.to_string());
                }
            }
        }
        errors
    }

    /// Upserts objects in chunks, `parallel_calls` at a time; returns the number of failures.
    async fn upsert_parallel(&self, objects: &[&ExportObject], lane: Lane) -> u64 {
        let mut chunks = objects.chunks(self.settings.objects_per_call.max(1));
        let mut running = FuturesUnordered::new();
        let mut failed = 0;
        loop {
            while running.len() < self.settings.parallel_calls.max(1) {
                let Some(chunk) = chunks.next() else { break };
                running.push(self.upsert_chunk(chunk, lane));
            }
            match running.next().await {
                None => break,
                Some(Ok((_, f))) => failed += f,
                Some(Err(e)) => {
                    failed += 1;
                    self.control.report_error("export", &e.to_string());
                }
            }
        }
        failed
    }

    /// Reads the tenant back and compares it with what this installation exported: objects
    /// deleted in Entra are created again (users with their password), objects changed there
    /// are exported again. An object whose re-export does not stick (Entra keeps its own value)
    /// is reported once and left alone, so a cloud rule cannot start an endless tug of war.
    /// Returns how many objects had drifted, and the number of errors.
    /// `key_versions`: anchor → (account, key version) of the users in scope.
    async fn repair_drift(&self, desired: &Desired, key_versions: &HashMap<String, (String, u32)>) -> (u64, u64) {
        let store = self.control.store();
        let exported: HashSet<(ObjectType, String)> = match store.exported() {
            Ok(rows) => rows
                .into_iter()
                .filter(|e| e.last_error.is_none())
                .filter_map(|e| Some((ObjectType::parse(&e.object_type)?, e.anchor)))
                .collect(),
            Err(e) => {
                self.control.report_error("state", &e.to_string());
                return (0, 1);
            }
        };
        let wanted: HashMap<(ObjectType, &str), &ExportObject> =
            desired.objects.iter().map(|o| ((o.object_type, o.anchor.as_str()), o)).collect();
        // The read-back streams: each object is compared as it is decoded, and only the
        // findings are kept.
        let mut seen: HashSet<(ObjectType, String)> = HashSet::with_capacity(exported.len());
        let mut changed: HashMap<(ObjectType, String), (&ExportObject, Vec<&'static str>)> = HashMap::new();
        let read = self
            .tenant
            .read_back(&mut |cloud| {
                let key = (cloud.object_type, cloud.anchor.clone());
                if !exported.contains(&key) {
                    return;
                }
                if let Some(sent) = wanted.get(&(cloud.object_type, cloud.anchor.as_str())) {
                    let attributes = drift::changed_attributes(sent, &cloud);
                    if !attributes.is_empty() {
                        changed.insert(key.clone(), (*sent, attributes));
                    }
                }
                seen.insert(key);
            })
            .await;
        if let Err(e) = read {
            self.control.report_error("read-back", &e.to_string());
            return (0, 1);
        }
        let mut again: Vec<&ExportObject> = Vec::new();
        let mut recreated_users: HashSet<String> = HashSet::new();
        let mut drifted = 0;
        for key in exported.iter().filter(|k| !seen.contains(*k)) {
            drifted += 1;
            let name = wanted.get(&(key.0, key.1.as_str())).map_or(key.1.as_str(), |o| o.name.as_str());
            tracing::warn!(object = %name, anchor = %key.1, "deleted in Entra outside this sync: creating it again");
            let _ = store.record_event("drift", name, "deleted in Entra outside this sync; created again");
            match wanted.get(&(key.0, key.1.as_str())) {
                Some(o) => {
                    again.push(*o);
                    if key.0 == ObjectType::User {
                        recreated_users.insert(key.1.clone());
                    }
                }
                // Not wanted any more: the plan would have deleted it; it is gone already.
                None => {
                    let _ = store.forget_export(key.0.as_str(), &key.1);
                }
            }
        }
        {
            let mut reported = self.drift_reported.lock().unwrap_or_else(|p| p.into_inner());
            let previous = std::mem::take(&mut *reported);
            for (key, (o, attributes)) in changed {
                drifted += 1;
                let list = attributes.join(", ");
                let signature = format!("{}|{list}", o.digest());
                let response = drift::respond(previous.get(&key), &signature);
                reported.insert(key, (signature, response != drift::Response::ExportAgain));
                match response {
                    drift::Response::LeaveAlone => {}
                    drift::Response::ReportKept => {
                        tracing::warn!(object = %o.name, attributes = %list, "Entra keeps a value different from the directory after a re-export; not exporting it again");
                        let message = format!(
                            "Entra keeps {list} different from the directory after a re-export; reported, not exported again"
                        );
                        let _ = store.record_event("drift", &o.name, &message);
                    }
                    drift::Response::ExportAgain => {
                        tracing::warn!(object = %o.name, attributes = %list, "changed in Entra outside this sync: exporting it again");
                        let message = format!("{list} changed in Entra outside this sync; exported again");
                        let _ = store.record_event("drift", &o.name, &message);
                        again.push(o);
                    }
                }
            }
        }
        let mut errors = 0;
        // Members before the groups that name them.
        for phase in [ObjectType::User, ObjectType::Contact, ObjectType::Device, ObjectType::Group] {
            let objects: Vec<&ExportObject> = again.iter().copied().filter(|o| o.object_type == phase).collect();
            errors += self.upsert_parallel(&objects, Lane::Bulk).await;
        }
        // A user created again has no password in Entra: push it again.
        for anchor in &recreated_users {
            let Some((account, kvno)) = key_versions.get(anchor) else { continue };
            let queued = store
                .forget_acknowledged(anchor)
                .and_then(|()| store.enqueue_backfill(anchor, account, *kvno, now_us()));
            if let Err(e) = queued {
                errors += 1;
                self.control.report_error("state", &e.to_string());
            }
        }
        if !recreated_users.is_empty() {
            (self.wake_passwords)();
        }
        (drifted, errors)
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
                    Some(Command::SyncNow) => {}
                    Some(Command::ExportUser(account)) => {
                        if let Err(e) = self.export_user(&account).await {
                            self.control.report_error(&account, &e.to_string());
                        }
                        (self.wake_passwords)();
                        continue;
                    }
                    Some(Command::ResyncPasswords) => {
                        self.resync_requested().await;
                        continue;
                    }
                },
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
            let mut run_again = false;
            let outcome = {
                let full = self.run_full();
                tokio::pin!(full);
                let mut open = true;
                loop {
                    tokio::select! {
                        r = &mut full => break r,
                        c = commands.recv(), if open => {
                            open = c.is_some();
                            self.handle_during_run(c, &mut run_again).await;
                        }
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
