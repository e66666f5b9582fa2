//! Applying a plan: upserts by type in dependency order, passwords into the outbox, deletes
//! last; and the export of one user for a password push that found it missing. Every call
//! goes through the tenant port, which takes the write budget in the lane named here.

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::{PendingPassword, ReconcileError, Reconciler};
use crate::sync::anchor::Anchor;
use crate::sync::directory::{Directory, Lookup};
use crate::sync::mapping::Desired;
use crate::sync::model::{AttrValue, ExportObject, ObjectType};
use crate::sync::plan::{Action, Plan};
use crate::sync::report::ReconcileSummary;
use crate::sync::scheduler::Lane;
use crate::sync::state::{Backfill, ExportedObject, now_ms, now_us};
use crate::sync::tenant::{ObjectFault, Tenant, TenantError, with_sign_in_fix};

impl<D: Directory, T: Tenant> Reconciler<D, T> {
    /// Exports one user now (a password push found it missing in Entra).
    pub async fn export_user(&self, account: &str) -> Result<(), ReconcileError> {
        if !self.cluster.is_leader() {
            // Creates are the leader's: its delta run exports the user.
            return Ok(());
        }
        if self.settings.dry_run {
            tracing::info!(account, "dry run: would export the user; nothing is sent");
            return Ok(());
        }
        let Some(user) = self.directory.find_user(account, Lookup::SCOPED).await? else {
            return Ok(());
        };
        if self.scope.user(&user).is_err() {
            return Ok(());
        }
        let index = self.index.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let object = self.mapper().user(&user, &*index);
        if let Some(b) = self.store.block(ObjectType::User.as_str(), &object.anchor)?
            && b.holds_for(&object.digest())
        {
            tracing::debug!(account, "the tenant refused this user before; not exported again: {}", b.short());
            return Ok(());
        }
        let exported = self.store.exported_object(ObjectType::User, &object.anchor)?;
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
            self.store.enqueue_push(&object.anchor, &user.id.sam_account_name, user.key_version, now_us())?;
        }
        Ok(())
    }

    pub(super) async fn upsert_chunk(&self, chunk: &[&ExportObject], lane: Lane) -> Result<(u64, u64), ReconcileError> {
        let results = self.tenant.upsert(chunk, lane).await.map_err(|e| self.tenant_failed(e))?;
        self.control.progress().sent(chunk.len());
        self.control.clear_problem("reconcile");
        let store = &self.store;
        let mut failed = 0;
        let mut accepted = Vec::with_capacity(chunk.len());
        for (o, r) in chunk.iter().zip(results) {
            if let Some(err) = &r.error {
                failed += 1;
                let _ = store.record_export_error(o.object_type, &o.anchor, err.message());
                self.record_block(o, err.message());
                continue;
            }
            if let Some(w) = &r.warning {
                tracing::warn!(object = %o.name, anchor = %o.anchor, "exported with a warning: {w}");
                let _ = store.record_event("warning", &o.name, w);
            }
            accepted.push((*o, r.cloud_anchor));
        }
        let rows: Vec<ExportedObject> = accepted
            .iter()
            .map(|(o, cloud_anchor)| ExportedObject {
                object_type: o.object_type,
                anchor: o.anchor.clone(),
                dn: o.dn.clone(),
                name: o.name.clone(),
                digest: o.digest(),
                cloud_anchor: cloud_anchor.clone(),
                exported_at: now_ms(),
                last_error: None,
            })
            .collect();
        for ((o, _), was_blocked) in accepted.iter().zip(store.record_accepted(&rows)?) {
            if was_blocked {
                tracing::info!(object = %o.name, anchor = %o.anchor, "the tenant accepts the object it had refused");
            }
        }
        let ok = accepted.len() as u64;
        Ok((ok, failed))
    }

    /// Records an object the tenant refused (sync/blocked.rs), logged and reported once per
    /// refusal: the same refusal of the same on-premises state again is only a debug line.
    fn record_block(&self, o: &ExportObject, reason: &str) {
        match self.store.record_block(o.object_type.as_str(), &o.anchor, &o.name, &o.digest(), reason) {
            Ok((b, true)) => {
                tracing::warn!(object = %o.name, anchor = %o.anchor, kind = b.kind.as_str(), "{}", b.sentence());
                self.control.report_error(&o.name, &b.sentence());
            }
            Ok((b, false)) => tracing::debug!(object = %o.name, "refused again: {}", b.short()),
            Err(e) => self.control.report_error("state", &e.to_string()),
        }
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
    pub(super) async fn apply(&self, plan: &Plan, desired: &Desired, pending: &[PendingPassword]) -> ReconcileSummary {
        let mut summary = ReconcileSummary {
            creates: plan.count(Action::Create) as u64,
            updates: plan.count(Action::Update) as u64,
            deletes: plan.count(Action::Delete) as u64,
            deletes_held: plan.held.len() as u64,
            passwords: plan.count(Action::Password) as u64,
            dry_run: self.settings.dry_run,
            ..Default::default()
        };
        let store = &self.store;
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
                && o.get("accountEnabled") == Some(&AttrValue::Bool(false))
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
        let items: Vec<Backfill<'_>> = pending
            .iter()
            .filter(|p| wanted.contains(p.anchor.as_str()))
            .map(|p| Backfill {
                anchor: &p.anchor,
                account: &p.name,
                kvno: p.kvno,
                at_us: p.changed_at_us,
                release_temporary_skip: p.no_longer_temporary,
            })
            .collect();
        if let Err(e) = store.enqueue_backfills(&items, "found by a reconcile") {
            summary.errors += items.len() as u64;
            self.control.report_error("state", &e.to_string());
        }
        (self.wake_passwords)();
        summary.errors += self.delete(plan).await;
        self.finalize_export((upserts.len() + summary.deletes as usize) as u64, summary.errors).await;
        summary
    }

    /// Entra Connect ends every export run with FinalizeExport and its counts; the tenant's
    /// LastDirSyncTime (the admin portal, the "sync has stopped" alerts) follows it.
    pub(super) async fn finalize_export(&self, total: u64, errors: u64) {
        let successful = total.saturating_sub(errors.min(total));
        if let Err(e) = self.tenant.finalize_export(total, successful).await {
            tracing::warn!("FinalizeExport failed (the tenant's last sync time is not updated): {e}");
        }
    }

    /// The plan's deletes (last, after every upsert); returns the number of failures.
    pub(super) async fn delete(&self, plan: &Plan) -> u64 {
        let store = &self.store;
        let mut errors = 0;
        let deletes: Vec<(ObjectType, Anchor, String)> = plan
            .operations
            .iter()
            .filter(|o| o.action == Action::Delete)
            .map(|o| (o.object_type, o.anchor.clone(), o.name.clone()))
            .collect();
        let mut refused: Vec<((ObjectType, Anchor), String, ObjectFault)> = Vec::new();
        for chunk in deletes.chunks(self.settings.objects_per_call.max(1)) {
            // Two DCs must never both delete: the role is read again right before each batch.
            if !self.cluster.confirm_leader(&*self.directory).await {
                tracing::info!(left = deletes.len(), "no longer the leader: the deletes are left to the new leader");
                errors += 1;
                break;
            }
            let keys: Vec<(ObjectType, Anchor)> = chunk.iter().map(|(t, a, _)| (*t, a.clone())).collect();
            match self.tenant.delete(&keys, Lane::Bulk).await.map_err(|e| self.tenant_failed(e)) {
                Ok(results) => {
                    self.control.progress().sent(chunk.len());
                    self.control.clear_problem("reconcile");
                    for ((t, anchor, name), r) in chunk.iter().zip(results) {
                        match r.error {
                            Some(fault) => refused.push(((*t, anchor.clone()), name.clone(), fault)),
                            None => {
                                let _ = store.forget_export(*t, anchor);
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
        errors + self.settle_refused_deletes(refused).await
    }

    /// A refused delete may be one of an object already gone from the tenant (deleted in the
    /// portal, or by an earlier run whose answer was lost). The service publishes no code for
    /// that, and its words are no contract, so the tenant's own listing decides: one read-back
    /// for all of a run's refusals. What it does not list is gone, and the goal is reached; the
    /// rest are errors, tried again at the next run. Returns the number of errors.
    async fn settle_refused_deletes(&self, refused: Vec<((ObjectType, Anchor), String, ObjectFault)>) -> u64 {
        if refused.is_empty() {
            return 0;
        }
        let asked: HashSet<(ObjectType, Anchor)> = refused.iter().map(|(k, _, _)| k.clone()).collect();
        let mut held: HashSet<(ObjectType, Anchor)> = HashSet::new();
        let listed = self
            .tenant
            .read_back(&mut |o| {
                let key = (o.object_type, o.anchor);
                if asked.contains(&key) {
                    held.insert(key);
                }
            })
            .await;
        if let Err(e) = &listed {
            self.control.report_error("read-back", &format!("could not check refused deletes against the tenant: {e}"));
        }
        let mut errors = 0;
        for (key, name, fault) in refused {
            if listed.is_ok() && !held.contains(&key) {
                tracing::info!(object = %name, anchor = %key.1, "already gone from the tenant (its read-back does not list it): the delete is done");
                let _ = self.store.forget_export(key.0, &key.1);
            } else {
                errors += 1;
                self.control.report_error(&name, &format!("delete refused: {fault}"));
            }
        }
        errors
    }

    /// Upserts objects in chunks, `parallel_calls` at a time; returns the number of failures.
    pub(super) async fn upsert_parallel(&self, objects: &[&ExportObject], lane: Lane) -> u64 {
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
}
