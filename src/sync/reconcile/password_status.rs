//! Works out one user's password status (`user NAME`) from sam.ldb, the state DB, the
//! tenant's setting and, with several DCs, which DC made the password and which pushes it.

use super::{ReconcileError, Reconciler};
use crate::sync::anchor::source_anchor;
use crate::sync::directory::{Directory, Lookup};
use crate::sync::model::ObjectType;
use crate::sync::password_status::{PasswordStatus, REFUSED_NOTE};
use crate::sync::tenant::Tenant;

impl<D: Directory, T: Tenant> Reconciler<D, T> {
    /// The user's password status, and which DC made its current password and which pushes it.
    pub async fn password_status(&self, account: &str) -> Result<PasswordStatus, ReconcileError> {
        let mut st = self.password_status_here(account).await?;
        if !st.exists {
            return Ok(st);
        }
        let Some(o) = self.directory().password_origin(account).await? else { return Ok(st) };
        let cluster = self.cluster();
        st.changed_on = cluster.origin_name(&o.invocation_id);
        st.pushed_by = if cluster.is_single() { cluster.this_dc() } else { cluster.pusher_name(&o.invocation_id) };
        let elsewhere = st.pushed_by.is_some() && st.pushed_by != cluster.this_dc();
        if elsewhere && st.password_status != "Success" {
            st.password_status_text = format!(
                "key version {} was set on {}; {}'s daemon pushes it (`samba-entra-sync user {account}` there)",
                o.version,
                st.changed_on.as_deref().unwrap_or("another DC"),
                st.pushed_by.as_deref().unwrap_or("another DC"),
            );
        }
        Ok(st)
    }

    /// Where `account`'s password stands, from sam.ldb, the state DB and the tenant's setting.
    async fn password_status_here(&self, account: &str) -> Result<PasswordStatus, ReconcileError> {
        let Some(user) = self.directory().find_user(account, Lookup::ANY).await? else {
            return Ok(PasswordStatus::new(
                "SourceConnectorNotPresent",
                format!("no account named {account} on this DC"),
                false,
            ));
        };
        let matches_filter = self.scope().user_filter().is_none()
            || self.directory().find_user(account, Lookup::SCOPED).await?.is_some();
        if !matches_filter {
            return Ok(PasswordStatus::new(
                "NoTargetConnection",
                "not synced: outside [sync.scope] user_filter".into(),
                true,
            ));
        }
        if let Err(why) = self.scope().user(&user) {
            return Ok(PasswordStatus::new("NoTargetConnection", format!("not synced: {}", why.reason()), true));
        }
        let anchor = source_anchor(&user.id, self.anchor());
        let store = self.store();
        if let Some(blocked) = store.block(ObjectType::User.as_str(), &anchor)? {
            return Ok(PasswordStatus::new("Blocked", format!("no password goes: {}", blocked.sentence()), true));
        }
        let Some(exported) = store.exported_object(ObjectType::User, &anchor)? else {
            return Ok(PasswordStatus::new(
                "TargetNotExportedToDirectory",
                "not exported to Entra yet: its password follows its export".into(),
                true,
            ));
        };
        if let Some(err) = exported.last_error {
            return Ok(PasswordStatus::new(
                "Blocked",
                format!("Entra refused the user's export, so no password goes: {err}"),
                true,
            ));
        }
        let rec = store.password(&anchor)?.unwrap_or_default();
        let kvno = user.key_version;
        let temporary = user.must_change_password();
        if temporary && rec.skipped_kvno.is_some_and(|k| k >= kvno) {
            return Ok(PasswordStatus::new(
                "FilteredByTarget",
                "a temporary password (must change at next logon) stays on-premises until the user sets their own"
                    .into(),
                true,
            ));
        }
        if rec.acked_kvno.is_some_and(|k| k >= kvno) {
            let at = rec.acked_at.map(crate::entra::timefmt::utc_millis).unwrap_or_default();
            return Ok(PasswordStatus::new(
                "Success",
                format!("the current password (key version {kvno}) is in Entra since {at}"),
                true,
            ));
        }
        if let Some(note) = rec.last_error.as_deref().and_then(|e| e.strip_prefix(REFUSED_NOTE)) {
            return Ok(PasswordStatus::new(
                "Refused",
                format!("the tenant refused key version {kvno}: {note}; retried every minute"),
                true,
            ));
        }
        let why = if !self.gate().password_sync_on() {
            "password hash sync is off in the tenant; it is sent once an administrator turns it on".to_owned()
        } else {
            rec.last_error.map_or_else(|| "queued".to_owned(), |e| format!("last try: {e}"))
        };
        Ok(PasswordStatus::new("Pending", format!("key version {kvno} is not in Entra yet: {why}"), true))
    }
}
