//! The tenant's settings as the engine acts on them: the anchor check, password hash sync on or
//! off (and a full password sync when it turns on), and the full password sync itself.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{ReconcileError, Reconciler};
use crate::sync::anchor::{Anchor, AnchorAttribute, source_anchor};
use crate::sync::directory::Directory;
use crate::sync::model::ObjectType;
use crate::sync::state::{ResyncRun, ResyncTally};
use crate::sync::tenant::Tenant;

/// The tenant's password hash sync setting as last seen ("on" / "off"), kept across restarts so
/// a feature turned on while the daemon was down still triggers a full password sync.
const META_PASSWORD_SYNC: &str = "tenant.password_hash_sync";

impl<D: Directory, T: Tenant> Reconciler<D, T> {
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
            let theirs = AnchorAttribute::parse(t).unwrap_or(self.settings.anchor);
            let differing = self.anchors_differing(theirs).await?;
            let ours = self.settings.anchor.tenant_name().to_string();
            if differing > 0 || AnchorAttribute::parse(t).is_none() {
                return Err(ReconcileError::AnchorMismatch { tenant: t.to_string(), ours, differing });
            }
            tracing::info!(
                tenant = t,
                ours,
                "the tenant names another source anchor attribute, but no in-scope object's anchor differs between \
                 the two (mS-DS-ConsistencyGuid is empty or equals the objectGUID everywhere): syncing is safe"
            );
        }
        self.observe_password_sync(cfg.password_sync_enabled).await;
        Ok(())
    }

    /// How many in-scope objects get a different anchor from `other` than from ours (usually
    /// none: the two agree wherever mS-DS-ConsistencyGuid is empty or equals the objectGUID).
    async fn anchors_differing(&self, other: AnchorAttribute) -> Result<usize, ReconcileError> {
        let ours = self.settings.anchor;
        let (snap, _) = crate::sync::directory::snapshot(&*self.directory, None).await?;
        let scope = &self.scope;
        let ids = snap
            .users
            .iter()
            .filter(|u| scope.user(u).is_ok())
            .map(|u| &u.id)
            .chain(snap.groups.iter().filter(|g| scope.group(g).is_ok()).map(|g| &g.id))
            .chain(snap.computers.iter().filter(|c| scope.computer(c).is_ok()).map(|c| &c.id))
            .chain(snap.contacts.iter().filter(|c| scope.contact(c).is_ok()).map(|c| &c.id));
        Ok(ids.filter(|id| source_anchor(id, ours) != source_anchor(id, other)).count())
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
        let store = &self.store;
        let before = store.meta(META_PASSWORD_SYNC).ok().flatten();
        self.gate.set_password_sync(on);
        let now = if on { "on" } else { "off" };
        if !on {
            self.control.set_problem(
                "password-hash-sync",
                "password hash sync is off in the tenant: password changes wait in the outbox (nothing is sent, \
                 nothing is lost) until an administrator turns it on with `samba-entra-sync login --config FILE \
                 --enable-password-hash-sync` (a Global Administrator or Hybrid Identity Administrator signs in once \
                 by device code; the token is used for that call only and not kept); then every password is synced \
                 again",
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
        if on && before.as_deref() == Some("off") && !self.cluster.is_leader() {
            // Several DCs: the leader syncs every password again; its own changes keep flowing.
            tracing::info!("password hash sync was turned on in the tenant: the leader syncs every password again");
        } else if on && before.as_deref() == Some("off") {
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
        let store = &self.store;
        // Only the anchors, read a row at a time (the whole rows of a 100,000-user state are
        // tens of MB).
        let mut exported: HashSet<Anchor> = HashSet::new();
        store.each_exported(|e| {
            if e.object_type == ObjectType::User && !e.failed {
                exported.insert(Anchor::from(e.anchor));
            }
        })?;
        let (mut out_of_scope, mut not_exported) = (0u64, 0u64);
        let mut items = Vec::new();
        self.directory
            .read_users(None, &mut |users| {
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
            })
            .await?;
        let skipped = [(ResyncTally::OutOfScope, out_of_scope), (ResyncTally::NotExported, not_exported)];
        let run = store.start_resync(reason, &items, &skipped)?;
        tracing::info!(reason, users = items.len(), out_of_scope, not_exported, "full password sync started");
        if let Some(done) = store.finish_resync_if_done()? {
            crate::sync::passwords::log_resync_finished(&done);
        }
        (self.wake_passwords)();
        Ok(run)
    }
}
