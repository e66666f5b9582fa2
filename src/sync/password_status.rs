//! One user's password status in Entra Connect's vocabulary (its troubleshooting page's codes),
//! with a sentence in our words: what `user NAME` shows. The engine works it out in
//! `reconcile/password_status.rs`.

use serde::Serialize;

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
    /// The DC the user's current password was set on (from replPropertyMetaData).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_on: Option<String>,
    /// The DC whose daemon pushes that change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed_by: Option<String>,
}

impl PasswordStatus {
    /// A status in this DC's own terms (which DC made and pushes the password: not yet known).
    pub(crate) fn new(code: &'static str, text: String, exists: bool) -> PasswordStatus {
        PasswordStatus { password_status: code, password_status_text: text, exists, changed_on: None, pushed_by: None }
    }
}
