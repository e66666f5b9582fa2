//! A full run: read the whole directory, map it, plan against the state DB, apply, write the
//! consistency GUIDs back, repair drift. Also `plan`, the same reading and planning without
//! the applying.

use std::collections::HashMap;
use std::sync::Arc;

use super::full_scan::DnIndex;
use super::hold_back::hold_back;
use super::writeback;
use super::{PendingPassword, ReconcileError, Reconciler};
use crate::samba::directory::User;
use crate::sync::anchor::{Anchor, source_anchor};
use crate::sync::approval;
use crate::sync::directory::{self, Directory, ReadEnd};
use crate::sync::mapping::{Desired, Mapper};
use crate::sync::model::ObjectType;
use crate::sync::plan::{Plan, PlanInput, plan};
use crate::sync::report::ReconcileSummary;
use crate::sync::state::{HeldDelete, StateError, now_ms, now_us};
use crate::sync::tenant::Tenant;

impl<D: Directory, T: Tenant> Reconciler<D, T> {
    pub(super) fn mapper(&self) -> Mapper<'_> {
        Mapper { anchor: self.settings.anchor, domain: &self.domain, scope: &self.scope, now: now_ms() / 1000 }
    }

    fn pending_passwords(&self, users: &[User]) -> Result<Vec<PendingPassword>, StateError> {
        let handled = self.store.handled_kvnos()?;
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
        let (snap, end) = directory::snapshot(&*self.directory, None).await?;
        self.control.progress().directory_read(snap.object_count());
        let desired = self.mapper().map(&snap);
        let pending = self.pending_passwords(&snap.users)?;
        drop(snap);
        let mut cloud = None;
        let mut warning = None;
        if read_back || self.store.exported_count()? == 0 {
            let mut held: HashMap<Anchor, ObjectType> = HashMap::new();
            match self
                .tenant
                .read_back(&mut |o| {
                    self.control.progress().tenant_read_back(1);
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
        let mut plan = self.make_plan(&desired, &pending, &end.untrusted, cloud.as_ref(), now_ms())?;
        plan.warnings.extend(warning);
        Ok(plan)
    }

    fn make_plan(
        &self,
        desired: &Desired,
        pending: &[PendingPassword],
        untrusted: &HashMap<ObjectType, String>,
        cloud: Option<&HashMap<Anchor, ObjectType>>,
        now: i64,
    ) -> Result<Plan, ReconcileError> {
        let store = &self.store;
        let exported = store.exported()?;
        let approved = approval::approved_set(store, now)?;
        let passwords: Vec<(Anchor, String)> = pending.iter().map(|p| (p.anchor.clone(), p.name.clone())).collect();
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
        hold_back(&mut plan, desired, &store.blocked()?);
        self.control.progress().planned(&plan);
        Ok(plan)
    }

    /// What a run holds back replaces what was held; an approval is good for this one run.
    /// Returns the errors (0 or 1).
    pub(super) fn record_held_deletes(&self, plan: &Plan, started_at: i64) -> u64 {
        let held: Vec<HeldDelete> = plan
            .held
            .iter()
            .map(|h| HeldDelete {
                object_type: h.object_type,
                anchor: h.anchor.clone(),
                name: h.name.clone(),
                reason: h.reason.clone(),
                approvable: h.approvable,
                held_since: started_at,
            })
            .collect();
        let store = &self.store;
        match store.replace_held_deletes(&held).and_then(|()| store.consume_delete_approval(started_at)) {
            Ok(()) => 0,
            Err(e) => {
                self.control.report_error("state", &e.to_string());
                1
            }
        }
    }

    /// Several DCs: the first full run after this DC became the leader reads the tenant back.
    /// What another leader deleted meanwhile is forgotten here (never deleted twice), and what
    /// another leader created shows as a match to update in place (never created twice).
    pub(super) async fn catch_up_with_the_tenant(&self) -> Result<Option<HashMap<Anchor, ObjectType>>, ReconcileError> {
        use std::sync::atomic::Ordering;
        let term = self.cluster.term();
        if self.cluster.is_single() || self.settings.dry_run || self.caught_up_term.load(Ordering::SeqCst) == term {
            return Ok(None);
        }
        let mut held: HashMap<Anchor, ObjectType> = HashMap::new();
        if let Err(e) = self
            .tenant
            .read_back(&mut |o| {
                held.insert(o.anchor, o.object_type);
            })
            .await
        {
            return Err(e.into());
        }
        let store = &self.store;
        let mut forgotten = 0;
        for e in store.exported()? {
            if !held.contains_key(&e.anchor) {
                store.forget_export(e.object_type, &e.anchor)?;
                forgotten += 1;
            }
        }
        tracing::info!(in_tenant = held.len(), forgotten, "new leader: export state caught up with the tenant");
        self.caught_up_term.store(term, Ordering::SeqCst);
        Ok(Some(held))
    }

    /// A full reconcile: read everything, plan, apply, repair drift. Streamed (see
    /// [`super::streamed`]) unless it is a dry run, which plans the whole domain to log each
    /// operation.
    pub async fn run_full(&self) -> Result<ReconcileSummary, ReconcileError> {
        self.must_lead()?;
        if !self.settings.dry_run {
            return self.run_full_streamed().await;
        }
        self.run_full_planned().await
    }

    /// Whether drift repair is due (at most once per `drift_interval`); if so, counts it as done.
    pub(super) fn drift_due(&self) -> bool {
        let mut last = self.last_drift_check.lock().unwrap_or_else(|p| p.into_inner());
        let due = last.is_none_or(|t| t.elapsed() >= self.settings.drift_interval);
        if due {
            *last = Some(tokio::time::Instant::now());
        }
        due
    }

    /// A full reconcile from a snapshot of the whole domain and a plan.
    async fn run_full_planned(&self) -> Result<ReconcileSummary, ReconcileError> {
        let started_at = now_ms();
        if !self.settings.dry_run {
            self.check_password_sync().await;
        }
        let cloud = self.catch_up_with_the_tenant().await?;
        let (snap, ReadEnd { usn, untrusted }) = directory::snapshot(&*self.directory, None).await?;
        self.control.progress().directory_read(snap.object_count());
        let desired = self.mapper().map(&snap);
        {
            let mut index = DnIndex::default();
            for o in &desired.objects {
                index.insert(&o.dn, o.anchor.clone());
            }
            *self.index.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
        }
        let pending = self.pending_passwords(&snap.users)?;
        let pending = self.cluster.leave_to_peers(&*self.directory, &self.store, pending, |p| p.name.as_str()).await;
        let plan = self.make_plan(&desired, &pending, &untrusted, cloud.as_ref(), started_at)?;
        drop(cloud);
        let mut summary = self.apply(&plan, &desired, &pending).await;
        if !self.settings.dry_run {
            summary.errors += self.record_held_deletes(&plan, started_at);
        }
        let s = &self.settings;
        if writeback::applies(s.write_back_consistency_guid, s.anchor, s.dry_run) {
            summary.errors +=
                writeback::write_back(&*self.directory, &self.control, &self.store, s.anchor, &snap.users).await;
        }
        // The read-back below is the run's largest allocation: let go of what is done first.
        let key_versions: HashMap<Anchor, (String, u32)> = snap
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
        if !self.settings.dry_run && summary.errors == 0 {
            let _ = self.store.set_meta(crate::sync::cluster::META_BACKFILLED, "1");
        }
        summary.started_at = started_at;
        summary.finished_at = now_ms();
        // Always set: a stale expiry in the past would make the loop run a full reconcile
        // every second once it has passed.
        self.control.set_next_expiry(desired.next_expiry.map_or(0, |t| t * 1000));
        Ok(summary)
    }
}
