//! One user's password status in Entra Connect's vocabulary (its troubleshooting page's codes),
//! with a sentence in our words: what `user NAME` shows.

use serde::Serialize;

use super::anchor::source_anchor;
use super::directory::{Directory, Lookup};
use super::model::ObjectType;
use super::reconcile::{ReconcileError, Reconciler};
use super::tenant::Tenant;

/// Prefix of a push's note when the tenant refused the credential (not a transient failure).
pub const REFUSED_NOTE: &str = "refused by the tenant: ";

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PasswordStatus {
    /// `Success`, `FilteredByTarget`, `NoTargetConnection`, `SourceConnectorNotPresent`,
    /// `TargetNotExportedToDirectory` (Entra Connect's), or ours: `Pending`, `Refused`, `Blocked`.
    pub password_status: &'static str,
    pub password_status_text: String,
    /// The account exists on this DC.
    pub exists: bool,
}

fn status(code: &'static str, text: String, exists: bool) -> PasswordStatus {
    PasswordStatus { password_status: code, password_status_text: text, exists }
}

impl<D: Directory, T: Tenant> Reconciler<D, T> {
    /// Where `account`'s password stands, from sam.ldb, the state DB and the tenant's setting.
    pub async fn password_status(&self, account: &str) -> Result<PasswordStatus, ReconcileError> {
        let Some(user) = self.directory().find_user(account, Lookup::ANY).await? else {
            return Ok(status("SourceConnectorNotPresent", format!("no account named {account} on this DC"), false));
        };
        let matches_filter = self.scope().user_filter().is_none()
            || self.directory().find_user(account, Lookup::SCOPED).await?.is_some();
        if !matches_filter {
            return Ok(status("NoTargetConnection", "not synced: outside [sync.scope] user_filter".into(), true));
        }
        if let Err(why) = self.scope().user(&user) {
            return Ok(status("NoTargetConnection", format!("not synced: {}", why.reason()), true));
        }
        let anchor = source_anchor(&user.id, self.anchor());
        let store = self.control().store();
        let Some(exported) = store.exported_object(ObjectType::User.as_str(), &anchor)? else {
            return Ok(status(
                "TargetNotExportedToDirectory",
                "not exported to Entra yet: its password follows its export".into(),
                true,
            ));
        };
        if let Some(err) = exported.last_error {
            return Ok(status("Blocked", format!("Entra refused the user's export, so no password goes: {err}"), true));
        }
        let rec = store.password(&anchor)?.unwrap_or_default();
        let kvno = user.key_version;
        let temporary = user.must_change_password();
        if temporary && rec.skipped_kvno.is_some_and(|k| k >= kvno) {
            return Ok(status(
                "FilteredByTarget",
                "a temporary password (must change at next logon) stays on-premises until the user sets their own"
                    .into(),
                true,
            ));
        }
        if rec.acked_kvno.is_some_and(|k| k >= kvno) {
            let at = rec.acked_at.map(super::control::fmt_time).unwrap_or_default();
            return Ok(status(
                "Success",
                format!("the current password (key version {kvno}) is in Entra since {at}"),
                true,
            ));
        }
        if let Some(note) = rec.last_error.as_deref().and_then(|e| e.strip_prefix(REFUSED_NOTE)) {
            return Ok(status(
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
        Ok(status("Pending", format!("key version {kvno} is not in Entra yet: {why}"), true))
    }
}
