//! Renewing the app's certificate without an administrator, as a pure state machine
//! (issue 12 item 3). Entra Connect renews its own certificate the same way:
//! a new key made on the DC, `addKey` on the application with a proof signed by the current key,
//! the switch to the new key, then `removeKey` of the old one (Graph docs "application: addKey",
//! "application: removeKey": an application needs no permission to roll its own keys).
//!
//! Every step is recorded before the next one starts, so a crash anywhere resumes where it
//! stopped; the old key stays registered until the daemon signs in with the new one. What is
//! recorded names files, key ids and thumbprints: never key material. The I/O (Graph, files, the
//! state DB) is the caller's; this module only decides.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What the daemon knows of its application in Entra. `register-app` records it; every finished
/// rotation moves it to the new key. The daemon cannot look it up itself: reading an application
/// needs `Application.Read.All` or more (Graph docs "Get application"), which a sync app does not
/// hold, and a proof's `iss` must be the application's object id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppKeyRecord {
    /// The application (client) id.
    pub app_id: String,
    /// The application's object id (Graph's `id`): the address of addKey/removeKey and the
    /// proof's `iss`.
    pub object_id: String,
    /// Graph's `keyId` of the certificate in use.
    pub key_id: String,
    /// That certificate's `x5t` (Base64url SHA-1), so a certificate replaced by hand is never
    /// mistaken for the recorded one (its key id would then name another key).
    pub thumbprint: String,
}

/// How far a rotation got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "camelCase")]
pub enum Step {
    /// A new key and certificate are in the staged files; `addKey` is not confirmed.
    Staged,
    /// `addKey` answered: the application holds the new certificate too.
    #[serde(rename_all = "camelCase")]
    Added { new_key_id: String },
    /// The staged files are being moved over the configured ones (maybe half done).
    #[serde(rename_all = "camelCase")]
    Switching { new_key_id: String },
    /// The daemon signs in with the new key; the old one is still on the application.
    #[serde(rename_all = "camelCase")]
    Switched { new_key_id: String },
}

/// A rotation in progress, as recorded between steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    #[serde(flatten)]
    pub step: Step,
    pub staged_certificate: PathBuf,
    pub staged_private_key: PathBuf,
    pub new_thumbprint: String,
    /// The new certificate's notAfter (Unix seconds).
    pub new_not_after: u64,
    /// The key the rotation replaces (removed at its end).
    pub old_key_id: String,
    pub old_thumbprint: String,
    /// Unix seconds.
    pub started_at: u64,
}

/// The certificate the daemon signs in with now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InUse {
    pub thumbprint: String,
    /// Unix seconds.
    pub not_after: u64,
}

/// What to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing until this time (Unix seconds): the certificate is not due.
    WaitUntil(u64),
    /// Due, but the daemon cannot renew by itself; the sentence says why and what fixes it.
    Blocked(String),
    /// Make a new key and certificate into the staged files.
    Generate,
    /// `addKey` with the staged certificate, the proof signed by the key in use.
    AddKey,
    /// Check that the new key signs in, then move the staged files over the configured ones.
    Switch,
    /// `removeKey` of the old key, the proof signed by the new key.
    RemoveOld,
}

/// The command that registers a certificate when the daemon cannot.
pub const REGISTER_AGAIN: &str = "samba-entra-sync register-app --config FILE";

/// When a certificate valid until `not_after` is due for renewal (Unix seconds).
pub fn due_at(not_after: u64, renew_before_secs: u64) -> u64 {
    not_after.saturating_sub(renew_before_secs)
}

/// The next action, from what is recorded and the certificate in use.
pub fn next_action(
    record: Option<&AppKeyRecord>,
    rotation: Option<&Rotation>,
    in_use: &InUse,
    now: u64,
    renew_before_secs: u64,
) -> Action {
    if let Some(r) = rotation {
        return match r.step {
            Step::Staged if in_use.not_after <= now => Action::Blocked(expired(in_use)),
            Step::Staged => Action::AddKey,
            Step::Added { .. } | Step::Switching { .. } => Action::Switch,
            Step::Switched { .. } => Action::RemoveOld,
        };
    }
    let due = due_at(in_use.not_after, renew_before_secs);
    if now < due {
        return Action::WaitUntil(due);
    }
    if in_use.not_after <= now {
        // addKey needs a proof from a valid key: with none left only an administrator can help.
        return Action::Blocked(expired(in_use));
    }
    match record {
        None => Action::Blocked(format!(
            "the application's object id and key id are not recorded (the application was set up before this \
             version, or the state database was replaced): run `{REGISTER_AGAIN}` once more, which records them"
        )),
        Some(r) if r.thumbprint != in_use.thumbprint => Action::Blocked(format!(
            "the certificate in use (x5t {}) is not the one recorded for the application (x5t {}), so the daemon \
             cannot tell which key to replace: run `{REGISTER_AGAIN}` once more",
            in_use.thumbprint, r.thumbprint
        )),
        Some(_) => Action::Generate,
    }
}

fn expired(in_use: &InUse) -> String {
    format!(
        "the application's certificate (x5t {}) has expired, so it can neither sign in nor prove itself to add a new \
         one: run `{REGISTER_AGAIN}` to register a new certificate",
        in_use.thumbprint
    )
}

impl Rotation {
    /// A rotation that has made its new certificate (step [`Step::Staged`]).
    pub fn staged(
        record: &AppKeyRecord,
        staged_certificate: PathBuf,
        staged_private_key: PathBuf,
        new: &InUse,
        now: u64,
    ) -> Rotation {
        Rotation {
            step: Step::Staged,
            staged_certificate,
            staged_private_key,
            new_thumbprint: new.thumbprint.clone(),
            new_not_after: new.not_after,
            old_key_id: record.key_id.clone(),
            old_thumbprint: record.thumbprint.clone(),
            started_at: now,
        }
    }

    /// `addKey` answered with the new key's id.
    pub fn added(self, new_key_id: String) -> Rotation {
        Rotation { step: Step::Added { new_key_id }, ..self }
    }

    /// The files are about to move.
    pub fn switching(self) -> Rotation {
        let new_key_id = self.new_key_id().unwrap_or_default().to_owned();
        Rotation { step: Step::Switching { new_key_id }, ..self }
    }

    /// The files moved: the new key is the one in use.
    pub fn switched(self) -> Rotation {
        let new_key_id = self.new_key_id().unwrap_or_default().to_owned();
        Rotation { step: Step::Switched { new_key_id }, ..self }
    }

    /// The old key is gone: the record now names the new one.
    pub fn finish(self, record: &AppKeyRecord) -> AppKeyRecord {
        AppKeyRecord {
            key_id: self.new_key_id().unwrap_or_default().to_owned(),
            thumbprint: self.new_thumbprint,
            ..record.clone()
        }
    }

    pub fn new_key_id(&self) -> Option<&str> {
        match &self.step {
            Step::Staged => None,
            Step::Added { new_key_id } | Step::Switching { new_key_id } | Step::Switched { new_key_id } => {
                Some(new_key_id)
            }
        }
    }

    /// A few words for `status` and `doctor`.
    pub fn describe(&self) -> &'static str {
        match self.step {
            Step::Staged => "new key made, adding it to the application",
            Step::Added { .. } => "new key added to the application, switching to it",
            Step::Switching { .. } => "switching to the new key",
            Step::Switched { .. } => "signing in with the new key, removing the old one",
        }
    }
}

/// The staged file next to a configured one (`app.pem` → `app.pem.next`).
pub fn staged_path(configured: &Path) -> PathBuf {
    let mut name = configured.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

/// Held while the certificate and key files are read as a pair or replaced: between the two
/// renames of a switch they do not belong together, and a token fetch must not see that.
static CREDENTIAL_FILES: Mutex<()> = Mutex::new(());

/// Runs `f` while no switch moves the credential files.
pub(crate) fn with_credential_files<T>(f: impl FnOnce() -> T) -> T {
    let _guard = CREDENTIAL_FILES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    f()
}

/// Moves the staged certificate and key over the configured ones (each a rename within one
/// directory, so each file is whole at every moment). A staged file already gone was moved by
/// an earlier, interrupted switch: this finishes it.
pub fn install_staged(
    staged_certificate: &Path,
    staged_private_key: &Path,
    certificate: &Path,
    private_key: &Path,
) -> std::io::Result<()> {
    with_credential_files(|| {
        for (from, to) in [(staged_private_key, private_key), (staged_certificate, certificate)] {
            match std::fs::rename(from, to) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && to.exists() => {}
                Err(e) => return Err(e),
            }
        }
        // The renames reach the disk before the step is recorded as done.
        if let Some(dir) = private_key.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        if let Some(dir) = certificate.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
