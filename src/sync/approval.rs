//! `approve-deletes`: an administrator releases one held set of deletes.
//!
//! An approval names the exact set it was given for (the digest `plan` and `status` show), is
//! used by the next full run only, and expires after a day. It never arms anything: with
//! nothing held it says so, and holds of the scope guards (an empty scope, a missing base DN)
//! are not the threshold's to release, so an approval refuses them with the reason.

use std::collections::HashSet;

use super::model::ObjectType;
use super::plan::held_digest;
use super::state::{DeleteApproval, State, StateError};
use crate::sync::anchor::Anchor;

/// How long an approval waits for the run that uses it.
pub const APPROVAL_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error("no deletes are held back: nothing was approved (an approval only ever releases a set that is held now)")]
    NothingHeld,
    #[error(
        "the {count} held deletes are held by a scope guard ({reason}); approve-deletes cannot release them: fix the scope (the base DN or filter), and the next reconcile decides again"
    )]
    OnlyGuards { count: usize, reason: String },
    #[error(
        "the held deletes are the set {current}, not {given}: the set changed since it was shown; check `samba-entra-sync plan` and approve {current}"
    )]
    DigestMismatch { given: String, current: String },
    #[error("{0}")]
    State(#[from] StateError),
}

/// What an approval released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approved {
    pub count: usize,
    pub digest: String,
    pub expires_at: i64,
    /// Deletes still held by a scope guard (not released).
    pub guarded: usize,
}

impl Approved {
    pub fn message(&self) -> String {
        let mut text = format!(
            "released {} held deletes (set {}); the reconcile that starts now sends them; the approval lapses unused at {}",
            self.count,
            self.digest,
            crate::entra::timefmt::utc_millis(self.expires_at)
        );
        if self.guarded > 0 {
            text.push_str(&format!(
                "; {} deletes stay held by a scope guard, which an approval cannot release",
                self.guarded
            ));
        }
        text
    }
}

/// The digest of the approvable held set in the state DB, if any.
pub fn current_digest(store: &State) -> Result<Option<String>, StateError> {
    let held = store.held_deletes()?;
    let approvable: Vec<(ObjectType, &str)> =
        held.iter().filter(|h| h.approvable).map(|h| (h.object_type, h.anchor.as_str())).collect();
    Ok((!approvable.is_empty()).then(|| held_digest(approvable)))
}

/// Approves the held set (the one named by `digest`, when given).
pub fn approve(store: &State, digest: Option<&str>, now_ms: i64) -> Result<Approved, ApproveError> {
    let held = store.held_deletes()?;
    let (approvable, guarded): (Vec<_>, Vec<_>) = held.into_iter().partition(|h| h.approvable);
    if approvable.is_empty() {
        return match guarded.first() {
            None => Err(ApproveError::NothingHeld),
            Some(g) => Err(ApproveError::OnlyGuards {
                count: guarded.len(),
                reason: g.reason.trim_start_matches("held: ").to_string(),
            }),
        };
    }
    let objects: Vec<(ObjectType, &str)> = approvable.iter().map(|h| (h.object_type, h.anchor.as_str())).collect();
    let current = held_digest(objects.iter().copied());
    if let Some(given) = digest.map(str::trim).filter(|d| !d.is_empty())
        && !given.eq_ignore_ascii_case(&current)
    {
        return Err(ApproveError::DigestMismatch { given: given.to_string(), current });
    }
    let approval = DeleteApproval {
        digest: current.clone(),
        objects: objects.iter().map(|(t, a)| (*t, Anchor::from(*a))).collect(),
        approved_at: now_ms,
        expires_at: now_ms + APPROVAL_LIFETIME.as_millis() as i64,
    };
    store.record_delete_approval(&approval)?;
    tracing::info!(count = objects.len(), digest = %current, "held deletes approved");
    let _ =
        store.record_event("approval", "deletes", &format!("{} held deletes approved (set {current})", objects.len()));
    Ok(Approved { count: objects.len(), digest: current, expires_at: approval.expires_at, guarded: guarded.len() })
}

/// The approved deletes in force now, as the plan takes them.
pub fn approved_set(store: &State, now_ms: i64) -> Result<HashSet<(ObjectType, Anchor)>, StateError> {
    Ok(store.delete_approval(now_ms)?.map(|a| a.objects.into_iter().collect()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::state::HeldDelete;

    fn held(anchor: &str, approvable: bool) -> HeldDelete {
        HeldDelete {
            object_type: ObjectType::User,
            anchor: anchor.into(),
            name: anchor.into(),
            reason: if approvable { "held: over the deletion threshold" } else { "held: the base DN x does not exist" }
                .into(),
            approvable,
            held_since: 1,
        }
    }

    fn store() -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = State::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        (dir, s)
    }

    #[test]
    fn nothing_held_arms_nothing() {
        let (_d, s) = store();
        assert!(matches!(approve(&s, None, 10), Err(ApproveError::NothingHeld)));
        assert!(approved_set(&s, 10).unwrap_or_default().is_empty());
    }

    #[test]
    fn guard_holds_cannot_be_approved() {
        let (_d, s) = store();
        s.replace_held_deletes(&[held("A", false)]).unwrap_or_else(|e| panic!("{e}"));
        let e = approve(&s, None, 10).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("scope guard") && e.contains("the base DN x does not exist"), "{e}");
        assert!(approved_set(&s, 10).unwrap_or_default().is_empty());
    }

    #[test]
    fn an_approval_names_its_set_and_expires() {
        let (_d, s) = store();
        s.replace_held_deletes(&[held("A", true), held("B", true), held("G", false)]).unwrap_or_else(|e| panic!("{e}"));
        let digest = current_digest(&s).ok().flatten().unwrap_or_default();
        assert!(matches!(approve(&s, Some("0123456789abcdef"), 10), Err(ApproveError::DigestMismatch { .. })));
        assert!(approved_set(&s, 10).unwrap_or_default().is_empty(), "a refused approval arms nothing");
        let ok = approve(&s, Some(&digest), 10).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((ok.count, ok.guarded, ok.digest.as_str()), (2, 1, digest.as_str()));
        let set = approved_set(&s, 11).unwrap_or_default();
        assert_eq!(set.len(), 2);
        assert!(set.contains(&(ObjectType::User, Anchor::from("A"))));
        assert!(approved_set(&s, 10 + APPROVAL_LIFETIME.as_millis() as i64).unwrap_or_default().is_empty());
    }
}
