//! Drift repair after a full run: the tenant read back (streamed) and compared with what this
//! installation exports; objects deleted or changed in Entra outside this sync are exported
//! again, once (see `sync::drift` for the comparison).

use std::collections::{HashMap, HashSet};

use super::Reconciler;
use crate::sync::anchor::Anchor;
use crate::sync::directory::Directory;
use crate::sync::drift as compare;
use crate::sync::mapping::Desired;
use crate::sync::model::{ExportObject, ObjectType};
use crate::sync::scheduler::Lane;
use crate::sync::state::now_us;
use crate::sync::tenant::Tenant;

impl<D: Directory, T: Tenant> Reconciler<D, T> {
    /// Reads the tenant back and compares it with what this installation exported: objects
    /// deleted in Entra are created again (users with their password), objects changed there
    /// are exported again. An object whose re-export does not stick (Entra keeps its own value)
    /// is reported once and left alone, so a cloud rule cannot start an endless tug of war.
    /// Returns how many objects had drifted, and the number of errors.
    /// `key_versions`: anchor → (account, key version) of the users in scope.
    pub(super) async fn repair_drift(
        &self,
        desired: &Desired,
        key_versions: &HashMap<Anchor, (String, u32)>,
    ) -> (u64, u64) {
        let store = &self.store;
        let exported: HashSet<(ObjectType, Anchor)> = match store.exported() {
            Ok(rows) => {
                rows.into_iter().filter(|e| e.last_error.is_none()).map(|e| (e.object_type, e.anchor)).collect()
            }
            Err(e) => {
                self.control.report_error("state", &e.to_string());
                return (0, 1);
            }
        };
        let wanted: HashMap<(ObjectType, &str), &ExportObject> =
            desired.objects.iter().map(|o| ((o.object_type, o.anchor.as_str()), o)).collect();
        // The read-back streams: each object is compared as it is decoded, and only the
        // findings are kept.
        let mut seen: HashSet<(ObjectType, Anchor)> = HashSet::with_capacity(exported.len());
        let mut changed: HashMap<(ObjectType, Anchor), (&ExportObject, Vec<&'static str>)> = HashMap::new();
        let read = self
            .tenant
            .read_back(&mut |cloud| {
                self.control.progress().tenant_read_back(1);
                let key = (cloud.object_type, cloud.anchor.clone());
                if !exported.contains(&key) {
                    return;
                }
                if let Some(sent) = wanted.get(&(cloud.object_type, cloud.anchor.as_str())) {
                    let attributes = compare::changed_attributes(sent, &cloud);
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
        let mut recreated_users: HashSet<Anchor> = HashSet::new();
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
                    let _ = store.forget_export(key.0, &key.1);
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
                let response = compare::respond(previous.get(&key), &signature);
                reported.insert(key, (signature, response != compare::Response::ExportAgain));
                match response {
                    compare::Response::LeaveAlone => {}
                    compare::Response::ReportKept => {
                        tracing::warn!(object = %o.name, attributes = %list, "Entra keeps a value different from the directory after a re-export; not exporting it again");
                        let message = format!(
                            "Entra keeps {list} different from the directory after a re-export; reported, not exported again"
                        );
                        let _ = store.record_event("drift", &o.name, &message);
                    }
                    compare::Response::ExportAgain => {
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
}
