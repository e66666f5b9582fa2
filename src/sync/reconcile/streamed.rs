//! The full run, streamed (see [`super::full_scan`]): the directory is read one object
//! at a time and compared with the state DB as it goes; what is to be sent is read again by
//! objectGUID, a chunk at a time, when it is sent. Memory holds a few hashes per object, not the
//! domain. Dry runs take the planned path instead, whose per-operation log they keep.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::full_scan::{Change, DnIndex, DriftFindings, Scan, StateView, exported_keys, log_phase};
use super::writeback;
use super::{ReconcileError, Reconciler};
use crate::samba::values::filetime_to_unix;
use crate::sync::anchor::{Anchor, source_anchor};
use crate::sync::approval;
use crate::sync::directory::{Directory, DirectoryChunk};
use crate::sync::drift;
use crate::sync::model::{ExportObject, ObjectType};
use crate::sync::plan::{Action, DeleteGuards, Plan, guard_deletes, order_groups};
use crate::sync::report::ReconcileSummary;
use crate::sync::scheduler::Lane;
use crate::sync::state::{Backfill, now_ms, now_us};
use crate::sync::tenant::Tenant;

/// Objects read again at a time when they are sent (the directory adapter splits the read into
/// searches of 100): a chunk's objects are a few hundred KB.
const READ_CHUNK: usize = 500;

/// What sending the changes came to.
#[derive(Debug, Default)]
struct Sent {
    errors: u64,
    /// Passwords a peer DC's daemon pushes (several DCs): not queued here.
    left_to_peers: u64,
}

/// A user's password a reconcile found to push.
struct DuePassword {
    anchor: Anchor,
    account: String,
    kvno: u32,
    /// A skipped temporary password became a normal one.
    no_longer_temporary: bool,
}

/// An object read again to be sent, with the user's account and key version.
struct Reread {
    object: ExportObject,
    object_guid: [u8; 16],
    user: Option<(String, u32)>,
}

impl<D: Directory, T: Tenant> Reconciler<D, T> {
    /// A full reconcile that holds no snapshot of the domain (see the module comment). The
    /// caller has checked that this DC leads.
    pub(super) async fn run_full_streamed(&self) -> Result<ReconcileSummary, ReconcileError> {
        let started_at = now_ms();
        self.check_password_sync().await;
        let cloud = self.catch_up_with_the_tenant().await?;
        let index = Arc::new(self.read_index().await?);
        log_phase("index-read");
        *self.index.lock().unwrap_or_else(|p| p.into_inner()) = index.clone();
        let store = &self.store;
        let view = StateView::load(store)?.with_cloud(cloud);
        let exported_total = view.exported_count();
        let (scan, untrusted, usn) = self.scan(index.clone(), &view).await?;
        log_phase("directory-compared");
        let approved = approval::approved_set(store, started_at)?;
        let mut plan = Plan::default();
        let guards = DeleteGuards {
            total_exported: exported_total,
            desired_types: &scan.present,
            untrusted: &untrusted,
            deletion_threshold: self.settings.deletion_threshold,
            deletion_threshold_percent: self.settings.deletion_threshold_percent,
            approved: &approved,
        };
        guard_deletes(&mut plan, scan.deletes(store)?, &guards);
        // A cloud-managed object is left alone, also when it is gone on-premises.
        plan.operations.retain(|op| op.action != Action::Delete || !view.holds_delete(op.object_type, &op.anchor));
        drop(view);
        let mut summary = ReconcileSummary {
            creates: scan.creates,
            updates: scan.updates,
            deletes: plan.count(Action::Delete) as u64,
            deletes_held: plan.held.len() as u64,
            passwords: scan.passwords,
            ..Default::default()
        };
        self.control
            .progress()
            .set_planned((summary.creates + summary.updates + summary.deletes) as usize, summary.passwords as usize);
        let sent = self.send_changes(&scan, &index).await;
        summary.errors += sent.errors;
        summary.passwords -= sent.left_to_peers.min(summary.passwords);
        summary.errors += self.delete(&plan).await;
        self.finalize_export(summary.creates + summary.updates + summary.deletes, summary.errors).await;
        log_phase("changes-sent");
        summary.errors += self.record_held_deletes(&plan, started_at);
        drop(plan);
        let s = &self.settings;
        if writeback::applies(s.write_back_consistency_guid, s.anchor, s.dry_run) {
            summary.errors += writeback::write_back_streamed(&*self.directory, &self.control, store, s.anchor).await;
        }
        if self.settings.drift_repair && self.drift_due() {
            let (drifted, errors) = self.repair_drift_streamed(&scan, &index).await;
            log_phase("drift-repaired");
            summary.drift = drifted;
            summary.errors += errors;
        }
        *self.last_usn.lock().unwrap_or_else(|p| p.into_inner()) = usn;
        if summary.errors == 0 {
            let _ = store.set_meta(crate::sync::cluster::META_BACKFILLED, "1");
        }
        summary.started_at = started_at;
        summary.finished_at = now_ms();
        // Always set: a stale expiry in the past would make the loop run a full reconcile
        // every second once it has passed.
        self.control.set_next_expiry(scan.next_expiry.map_or(0, |t| t * 1000));
        Ok(summary)
    }

    /// The first pass: the anchor of every in-scope DN, so members and managers resolve.
    async fn read_index(&self) -> Result<DnIndex, ReconcileError> {
        let (scope, anchor) = (&self.scope, self.settings.anchor);
        let mut index = DnIndex::default();
        self.directory
            .read_objects(None, &mut |chunk| match chunk {
                DirectoryChunk::Users(v) => {
                    for u in v.iter().filter(|u| scope.user(u).is_ok()) {
                        index.insert(&u.id.dn, source_anchor(&u.id, anchor));
                    }
                }
                DirectoryChunk::Groups(v) => {
                    for g in v.iter().filter(|g| scope.group(g).is_ok()) {
                        index.insert(&g.id.dn, source_anchor(&g.id, anchor));
                    }
                }
                DirectoryChunk::Computers(v) => {
                    for x in v.iter().filter(|x| scope.computer(x).is_ok()) {
                        index.insert(&x.id.dn, source_anchor(&x.id, anchor));
                    }
                }
                DirectoryChunk::Contacts(v) => {
                    for x in v.iter().filter(|x| scope.contact(x).is_ok()) {
                        index.insert(&x.id.dn, source_anchor(&x.id, anchor));
                    }
                }
            })
            .await?;
        Ok(index)
    }

    /// The second pass: every in-scope object mapped and compared with the state as it streams
    /// past. Also the highest USN, read first, and the types whose read cannot be trusted for
    /// deletes.
    async fn scan(
        &self,
        index: Arc<DnIndex>,
        view: &StateView,
    ) -> Result<(Scan, HashMap<ObjectType, String>, u64), ReconcileError> {
        let scope = &self.scope;
        let mapper = self.mapper();
        let progress = self.control.progress();
        let mut scan = Scan::default();
        let end = self
            .directory
            .read_objects(None, &mut |chunk| {
                progress.directory_read(chunk.len());
                match chunk {
                    DirectoryChunk::Users(v) => {
                        for u in v.iter().filter(|u| scope.user(u).is_ok()) {
                            if let Some(t) = filetime_to_unix(u.account_expires).filter(|t| *t > mapper.now) {
                                scan.expires_at(t);
                            }
                            let o = mapper.user(u, &*index);
                            let password = view.pending_password(u, &o.anchor);
                            scan.observe(&o, u.id.object_guid, view, password);
                        }
                    }
                    DirectoryChunk::Groups(v) => {
                        for g in v.iter().filter(|g| scope.group(g).is_ok()) {
                            scan.observe(&mapper.group(g, &*index), g.id.object_guid, view, None);
                        }
                    }
                    DirectoryChunk::Computers(v) => {
                        for x in v.iter().filter(|x| scope.computer(x).is_ok()) {
                            scan.observe(&mapper.device(x), x.id.object_guid, view, None);
                        }
                    }
                    DirectoryChunk::Contacts(v) => {
                        for x in v.iter().filter(|x| scope.contact(x).is_ok()) {
                            scan.observe(&mapper.contact(x), x.id.object_guid, view, None);
                        }
                    }
                }
            })
            .await?;
        Ok((scan, end.untrusted, end.usn))
    }

    /// Reads objects of one type again by objectGUID (those still in scope) and maps them.
    async fn read_again(
        &self,
        object_type: ObjectType,
        guids: &[[u8; 16]],
        index: &Arc<DnIndex>,
    ) -> Result<Vec<Reread>, ReconcileError> {
        let chunk = self.directory.read_by_guid(object_type, guids).await?;
        let (scope, mapper) = (&self.scope, self.mapper());
        let mut out = Vec::new();
        match chunk {
            DirectoryChunk::Users(v) => {
                for u in v.iter().filter(|u| scope.user(u).is_ok()) {
                    let user = Some((u.id.sam_account_name.clone(), u.key_version));
                    out.push(Reread { object: mapper.user(u, &**index), object_guid: u.id.object_guid, user });
                }
            }
            DirectoryChunk::Groups(v) => {
                for g in v.iter().filter(|g| scope.group(g).is_ok()) {
                    out.push(Reread { object: mapper.group(g, &**index), object_guid: g.id.object_guid, user: None });
                }
            }
            DirectoryChunk::Computers(v) => {
                for x in v.iter().filter(|x| scope.computer(x).is_ok()) {
                    out.push(Reread { object: mapper.device(x), object_guid: x.id.object_guid, user: None });
                }
            }
            DirectoryChunk::Contacts(v) => {
                for x in v.iter().filter(|x| scope.contact(x).is_ok()) {
                    out.push(Reread { object: mapper.contact(x), object_guid: x.id.object_guid, user: None });
                }
            }
        }
        Ok(out)
    }

    /// Sends what the scan found, in the plan's order: disabling updates first (urgent lane),
    /// then users (their passwords into the outbox as their calls are answered), contacts and
    /// devices, then groups after the groups they contain. Returns the number of failures.
    async fn send_changes(&self, scan: &Scan, index: &Arc<DnIndex>) -> Sent {
        let mut sent = Sent::default();
        for t in [ObjectType::User, ObjectType::Contact, ObjectType::Device] {
            let urgent: Vec<[u8; 16]> =
                scan.changes.iter().filter(|c| c.object_type == t && c.disabling).map(|c| c.object_guid).collect();
            sent.errors += self.send_chunks(t, &urgent, index, Lane::Urgent).await;
        }
        for t in [ObjectType::User, ObjectType::Contact, ObjectType::Device] {
            let changes: Vec<&Change> = scan.changes.iter().filter(|c| c.object_type == t).collect();
            let passwords: HashMap<[u8; 16], bool> =
                changes.iter().filter_map(|c| Some((c.object_guid, c.password?.no_longer_temporary))).collect();
            // Disabling updates went first; their passwords follow with their chunk.
            let upserts: HashSet<[u8; 16]> =
                changes.iter().filter(|c| c.upsert.is_some() && !c.disabling).map(|c| c.object_guid).collect();
            let guids: Vec<[u8; 16]> = changes
                .iter()
                .filter(|c| upserts.contains(&c.object_guid) || passwords.contains_key(&c.object_guid))
                .map(|c| c.object_guid)
                .collect();
            let streamed = self.send_streamed(t, &guids, &upserts, &passwords, index).await;
            sent.errors += streamed.errors;
            sent.left_to_peers += streamed.left_to_peers;
        }
        // Groups: read again all at once (their number is a tenth of the users' at most, and
        // only the changed ones), ordered so members exist before the groups naming them.
        let guids: Vec<[u8; 16]> = scan
            .changes
            .iter()
            .filter(|c| c.object_type == ObjectType::Group && c.upsert.is_some())
            .map(|c| c.object_guid)
            .collect();
        let mut groups = Vec::new();
        for chunk in guids.chunks(READ_CHUNK) {
            match self.read_again(ObjectType::Group, chunk, index).await {
                Ok(objects) => groups.extend(objects.into_iter().map(|r| r.object)),
                Err(e) => {
                    sent.errors += chunk.len() as u64;
                    self.control.report_error("reconcile", &e.to_string());
                }
            }
        }
        groups.sort_by(|a, b| (&a.name, &a.anchor).cmp(&(&b.name, &b.anchor)));
        let by_anchor: HashMap<&str, &ExportObject> = groups.iter().map(|g| (g.anchor.as_str(), g)).collect();
        let ops = groups
            .iter()
            .map(|g| {
                let op = crate::sync::plan::Operation {
                    action: Action::Update,
                    object_type: ObjectType::Group,
                    anchor: g.anchor.clone(),
                    name: g.name.clone(),
                    reason: String::new(),
                    approvable: false,
                };
                (g, op)
            })
            .collect();
        let mut failed_groups = Vec::new();
        for op in order_groups(ops) {
            let Some(g) = by_anchor.get(op.anchor.as_str()) else { continue };
            if self.upsert_parallel(&[*g], Lane::Bulk).await > 0 {
                failed_groups.push(*g);
            }
        }
        if !failed_groups.is_empty() {
            sent.errors += self.upsert_parallel(&failed_groups, Lane::Bulk).await;
        }
        sent
    }

    /// Upserts objects of one type read again by objectGUID, a chunk at a time.
    async fn send_chunks(&self, object_type: ObjectType, guids: &[[u8; 16]], index: &Arc<DnIndex>, lane: Lane) -> u64 {
        let mut errors = 0;
        for chunk in guids.chunks(READ_CHUNK) {
            match self.read_again(object_type, chunk, index).await {
                Ok(objects) => {
                    let send: Vec<&ExportObject> = objects.iter().map(|r| &r.object).collect();
                    errors += self.upsert_parallel(&send, lane).await;
                }
                Err(e) => {
                    errors += chunk.len() as u64;
                    self.control.report_error("reconcile", &e.to_string());
                }
            }
        }
        errors
    }

    /// Sends objects of one type read again by objectGUID as a stream: the next chunk is read
    /// while `parallel_calls` calls are in flight, so the tenant never waits for a chunk to be
    /// read or for the slowest call of the last one. The passwords of a call's users go into
    /// the outbox once the call is answered (passwords follow their user's export), a few
    /// hundred per transaction. At most a chunk and the calls in flight are held.
    async fn send_streamed(
        &self,
        object_type: ObjectType,
        guids: &[[u8; 16]],
        upserts: &HashSet<[u8; 16]>,
        passwords: &HashMap<[u8; 16], bool>,
        index: &Arc<DnIndex>,
    ) -> Sent {
        let per_call = self.settings.objects_per_call.max(1);
        let parallel = self.settings.parallel_calls.max(1);
        let mut chunks = guids.chunks(READ_CHUNK);
        let mut reading = None;
        let mut read_all = false;
        let mut ready: VecDeque<Reread> = VecDeque::new();
        let mut running = FuturesUnordered::new();
        let mut owed: Vec<DuePassword> = Vec::new();
        let mut sent = Sent::default();
        let owe = |owed: &mut Vec<DuePassword>, r: Reread| {
            let (Some(&no_longer_temporary), Some((account, kvno))) = (passwords.get(&r.object_guid), r.user) else {
                return;
            };
            owed.push(DuePassword { anchor: r.object.anchor, account, kvno, no_longer_temporary });
        };
        loop {
            if reading.is_none() && !read_all && ready.len() < parallel * per_call {
                match chunks.next() {
                    Some(chunk) => reading = Some((chunk.len(), Box::pin(self.read_again(object_type, chunk, index)))),
                    None => read_all = true,
                }
            }
            let last = read_all && reading.is_none();
            while running.len() < parallel && (ready.len() >= per_call || (last && !ready.is_empty())) {
                let call: Vec<Reread> = ready.drain(..per_call.min(ready.len())).collect();
                running.push(async move {
                    let objects: Vec<&ExportObject> = call.iter().map(|r| &r.object).collect();
                    let outcome = self.upsert_chunk(&objects, Lane::Bulk).await;
                    (call, outcome)
                });
            }
            if running.is_empty() && reading.is_none() {
                if last {
                    break;
                }
                continue;
            }
            tokio::select! {
                read = async {
                    match reading.as_mut() {
                        Some((_, read)) => read.await,
                        None => std::future::pending().await,
                    }
                } => {
                    let len = reading.take().map_or(0, |(len, _)| len);
                    match read {
                        Ok(objects) => {
                            for r in objects {
                                if upserts.contains(&r.object_guid) {
                                    ready.push_back(r);
                                } else {
                                    owe(&mut owed, r);
                                }
                            }
                        }
                        Err(e) => {
                            sent.errors += len as u64;
                            self.control.report_error("reconcile", &e.to_string());
                        }
                    }
                }
                Some((call, outcome)) = running.next() => {
                    match outcome {
                        Ok((_, failed)) => sent.errors += failed,
                        Err(e) => {
                            sent.errors += 1;
                            self.control.report_error("export", &e.to_string());
                        }
                    }
                    for r in call {
                        owe(&mut owed, r);
                    }
                }
            }
            if owed.len() >= READ_CHUNK {
                let (errors, left) = self.queue_passwords(std::mem::take(&mut owed)).await;
                sent.errors += errors;
                sent.left_to_peers += left;
            }
        }
        let (errors, left) = self.queue_passwords(owed).await;
        sent.errors += errors;
        sent.left_to_peers += left;
        sent
    }

    /// Puts these users' passwords into the durable outbox in one transaction and wakes the
    /// password path, which pushes them. Several DCs: a change a peer's daemon pushes is left
    /// to it. Returns the failures and the number left to peers.
    async fn queue_passwords(&self, due: Vec<DuePassword>) -> (u64, u64) {
        if due.is_empty() {
            return (0, 0);
        }
        let wanted = due.len() as u64;
        let due = self.cluster.leave_to_peers(&*self.directory, &self.store, due, |p| p.account.as_str()).await;
        let left = wanted - due.len() as u64;
        let at_us = now_us();
        let items: Vec<Backfill<'_>> = due
            .iter()
            .map(|p| Backfill {
                anchor: &p.anchor,
                account: &p.account,
                kvno: p.kvno,
                at_us,
                release_temporary_skip: p.no_longer_temporary,
            })
            .collect();
        let mut errors = 0;
        if let Err(e) = self.store.enqueue_backfills(&items, "found by a reconcile") {
            errors += items.len() as u64;
            self.control.report_error("state", &e.to_string());
        }
        (self.wake_passwords)();
        (errors, left)
    }

    /// Drift repair against the scan instead of the desired set: the read-back streams and is
    /// compared with each object's fingerprint; what is to be sent again is read again.
    async fn repair_drift_streamed(&self, scan: &Scan, index: &Arc<DnIndex>) -> (u64, u64) {
        let store = &self.store;
        let exported = match exported_keys(store) {
            Ok(e) => e,
            Err(e) => {
                self.control.report_error("state", &e.to_string());
                return (0, 1);
            }
        };
        let mut findings = DriftFindings::default();
        let progress = self.control.progress();
        let read = self
            .tenant
            .read_back(&mut |cloud| {
                progress.tenant_read_back(1);
                findings.visit(scan, &exported, cloud);
            })
            .await;
        drop(exported);
        if let Err(e) = read {
            self.control.report_error("read-back", &e.to_string());
            return (0, 1);
        }
        let (mut drifted, mut errors) = (0u64, 0u64);
        // Exported, not failed, and not in the tenant: deleted in Entra.
        let mut missing: Vec<(ObjectType, Anchor, String)> = Vec::new();
        let listed = store.each_exported(|e| {
            if !e.failed && !findings.saw(e.object_type, e.anchor) {
                missing.push((e.object_type, Anchor::from(e.anchor), e.name.to_string()));
            }
        });
        if let Err(e) = listed {
            self.control.report_error("state", &e.to_string());
            return (0, 1);
        }
        let mut again: Vec<(ObjectType, [u8; 16])> = Vec::new();
        let mut recreated: HashMap<[u8; 16], bool> = HashMap::new();
        for (t, anchor, name) in missing {
            drifted += 1;
            let guid = scan.object_guid(t, &anchor);
            let shown = if guid.is_some() { name.as_str() } else { anchor.as_str() };
            tracing::warn!(object = %shown, anchor = %anchor, "deleted in Entra outside this sync: creating it again");
            let _ = store.record_event("drift", shown, "deleted in Entra outside this sync; created again");
            match guid {
                Some(g) => {
                    again.push((t, g));
                    if t == ObjectType::User {
                        recreated.insert(g, false);
                    }
                }
                // Not wanted any more: the plan would have deleted it; it is gone already.
                None => {
                    let _ = store.forget_export(t, &anchor);
                }
            }
        }
        // What the directory says now about each object found changed (few: read one by one).
        let mut compared = Vec::new();
        for cloud in std::mem::take(&mut findings.changed) {
            let Some(guid) = scan.object_guid(cloud.object_type, &cloud.anchor) else { continue };
            match self.read_again(cloud.object_type, &[guid], index).await {
                Ok(mut r) if !r.is_empty() => compared.push((cloud, guid, r.swap_remove(0).object)),
                Ok(_) => {}
                Err(e) => {
                    errors += 1;
                    self.control.report_error("read-back", &e.to_string());
                }
            }
        }
        {
            let mut reported = self.drift_reported.lock().unwrap_or_else(|p| p.into_inner());
            let previous = std::mem::take(&mut *reported);
            for (cloud, guid, sent) in compared {
                let attributes = drift::changed_attributes(&sent, &cloud);
                if attributes.is_empty() {
                    continue;
                }
                drifted += 1;
                let list = attributes.join(", ");
                let signature = format!("{}|{list}", sent.digest());
                let key = (cloud.object_type, cloud.anchor.clone());
                let response = drift::respond(previous.get(&key), &signature);
                reported.insert(key, (signature, response != drift::Response::ExportAgain));
                match response {
                    drift::Response::LeaveAlone => {}
                    drift::Response::ReportKept => {
                        tracing::warn!(object = %sent.name, attributes = %list, "Entra keeps a value different from the directory after a re-export; not exporting it again");
                        let message = format!(
                            "Entra keeps {list} different from the directory after a re-export; reported, not exported again"
                        );
                        let _ = store.record_event("drift", &sent.name, &message);
                    }
                    drift::Response::ExportAgain => {
                        tracing::warn!(object = %sent.name, attributes = %list, "changed in Entra outside this sync: exporting it again");
                        let message = format!("{list} changed in Entra outside this sync; exported again");
                        let _ = store.record_event("drift", &sent.name, &message);
                        again.push((cloud.object_type, guid));
                    }
                }
            }
        }
        // Members before the groups that name them.
        for phase in [ObjectType::User, ObjectType::Contact, ObjectType::Device, ObjectType::Group] {
            let guids: Vec<[u8; 16]> = again.iter().filter(|(t, _)| *t == phase).map(|(_, g)| *g).collect();
            for chunk in guids.chunks(READ_CHUNK) {
                match self.read_again(phase, chunk, index).await {
                    Ok(objects) => {
                        let send: Vec<&ExportObject> = objects.iter().map(|r| &r.object).collect();
                        errors += self.upsert_parallel(&send, Lane::Bulk).await;
                        // A user created again has no password in Entra: push it again.
                        for r in objects.iter().filter(|r| recreated.contains_key(&r.object_guid)) {
                            let Some((account, kvno)) = &r.user else { continue };
                            let queued = store
                                .forget_acknowledged(&r.object.anchor)
                                .and_then(|()| store.enqueue_backfill(&r.object.anchor, account, *kvno, now_us()));
                            if let Err(e) = queued {
                                errors += 1;
                                self.control.report_error("state", &e.to_string());
                            }
                        }
                    }
                    Err(e) => {
                        errors += chunk.len() as u64;
                        self.control.report_error("read-back", &e.to_string());
                    }
                }
            }
        }
        if !recreated.is_empty() {
            (self.wake_passwords)();
        }
        (drifted, errors)
    }
}
