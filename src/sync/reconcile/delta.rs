//! A delta run: only the objects whose uSNChanged moved since the last run, mapped by the same
//! [`Mapper`](crate::sync::mapping::Mapper) as a full run, with the DN index of the last full
//! run (so a group's members resolve without reading the whole domain). Deletes wait for the
//! next full run (deleted objects leave no trace a delta read could see).

use std::collections::{HashMap, HashSet};

use super::hold_back::hold_back;
use super::{ReconcileError, Reconciler};
use crate::sync::anchor::Anchor;
use crate::sync::directory::{self, Directory};
use crate::sync::model::ObjectType;
use crate::sync::plan::{PlanInput, plan};
use crate::sync::report::ReconcileSummary;
use crate::sync::state::{ExportedObject, now_ms};
use crate::sync::tenant::Tenant;

impl<D: Directory, T: Tenant> Reconciler<D, T> {
    /// Sends what changed since the last run; `None` when nothing did (or no full run has
    /// happened yet to start from).
    pub async fn run_delta(&self) -> Result<Option<ReconcileSummary>, ReconcileError> {
        // Several DCs: only the leader exports.
        if !self.cluster.is_leader() {
            return Ok(None);
        }
        let since = *self.last_usn.lock().unwrap_or_else(|p| p.into_inner());
        if since == 0 {
            return Ok(None);
        }
        let started_at = now_ms();
        let (snap, end) = directory::snapshot(&*self.directory, Some(since)).await?;
        if end.usn <= since {
            return Ok(None);
        }
        let mut desired = {
            let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
            // Shared only while a full run reads with it (none runs now): no copy is made.
            self.mapper().map_with_index(&snap, std::sync::Arc::make_mut(&mut index))
        };
        drop(snap);
        // An expiry set between full runs must arm the timer now, not at the next full run.
        if let Some(t) = desired.next_expiry {
            let at_ms = t * 1000;
            if self.control.next_expiry_ms().is_none_or(|n| at_ms < n || n <= now_ms()) {
                self.control.set_next_expiry(at_ms);
            }
        }
        let exported = self.store.exported()?;
        let changed: HashSet<(ObjectType, Anchor)> = {
            let by_key: HashMap<(ObjectType, &str), &ExportedObject> =
                exported.iter().map(|e| ((e.object_type, e.anchor.as_str()), e)).collect();
            desired
                .objects
                .iter()
                .filter(|o| {
                    by_key
                        .get(&(o.object_type, o.anchor.as_str()))
                        .is_none_or(|e| e.digest != o.digest() || e.last_error.is_some())
                })
                .map(|o| (o.object_type, o.anchor.clone()))
                .collect()
        };
        desired.objects.retain(|o| changed.contains(&(o.object_type, o.anchor.clone())));
        // No deletes in a delta: plan against the objects it saw only.
        let relevant: Vec<ExportedObject> = exported
            .into_iter()
            .filter(|e| desired.objects.iter().any(|o| o.anchor == e.anchor && o.object_type == e.object_type))
            .collect();
        let mut plan = plan(&PlanInput {
            desired: &desired,
            exported: &relevant,
            passwords: &[],
            deletion_threshold: 0,
            deletion_threshold_percent: 0,
            approved: &HashSet::new(),
            cloud: None,
            untrusted: &HashMap::new(),
        });
        hold_back(&mut plan, &desired, &self.store.blocked()?);
        *self.last_usn.lock().unwrap_or_else(|p| p.into_inner()) = end.usn;
        if plan.operations.is_empty() {
            return Ok(None);
        }
        let mut summary = self.apply(&plan, &desired, &[]).await;
        summary.started_at = started_at;
        summary.finished_at = now_ms();
        Ok(Some(summary))
    }
}
