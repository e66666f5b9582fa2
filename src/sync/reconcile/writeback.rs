//! The consistency GUID write-back (`sync.write_back_consistency_guid`): what Entra Connect does
//! with the mS-DS-ConsistencyGuid anchor. A synced user whose consistency GUID is still empty
//! is anchored on its objectGUID; writing those bytes into mS-DS-ConsistencyGuid keeps the
//! anchor (see [`source_anchor`]) and lets it travel with the user to another forest (ADMT
//! copies the attribute, not the objectGUID). Users only, as Entra Connect: groups, devices and
//! contacts are never written.
//!
//! It runs after a full reconcile's exports, for every user this installation has exported
//! successfully (so users exported before the option was turned on get it too), and it is the
//! only write the daemon makes to AD. A failure is reported and never stops the run.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::full_scan::{exported_keys, object_key};
use crate::samba::ConsistencyGuidWrite;
use crate::samba::directory::User;
use crate::sync::anchor::{AnchorAttribute, source_anchor};
use crate::sync::control::Control;
use crate::sync::directory::{Directory, DirectoryError};
use crate::sync::model::ObjectType;
use crate::sync::state::{ExportedObject, State};

/// A user whose mS-DS-ConsistencyGuid is to be set to its objectGUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub dn: String,
    pub name: String,
    pub object_guid: [u8; 16],
}

/// Whether the write-back applies at all: asked for, with the consistency anchor, and not a
/// dry run (which must change nothing anywhere).
pub fn applies(enabled: bool, anchor: AnchorAttribute, dry_run: bool) -> bool {
    enabled && anchor == AnchorAttribute::ConsistencyGuid && !dry_run
}

/// The users to write back: an empty consistency GUID, and exported as a User under the anchor
/// they have now (their objectGUID's) without a pending error.
pub fn candidates(users: &[User], exported: &[ExportedObject], anchor: AnchorAttribute) -> Vec<Candidate> {
    if anchor != AnchorAttribute::ConsistencyGuid {
        return Vec::new();
    }
    let synced: std::collections::HashSet<&str> = exported
        .iter()
        .filter(|e| e.object_type == ObjectType::User && e.last_error.is_none())
        .map(|e| e.anchor.as_str())
        .collect();
    users
        .iter()
        .filter(|u| u.id.consistency_guid.is_none())
        // The anchor must not change by the write: it is the objectGUID's already.
        .filter(|u| source_anchor(&u.id, anchor) == STANDARD.encode(u.id.object_guid))
        .filter(|u| synced.contains(source_anchor(&u.id, anchor).as_str()))
        .map(|u| Candidate { dn: u.id.dn.clone(), name: u.id.sam_account_name.clone(), object_guid: u.id.object_guid })
        .collect()
}

/// Writes back every candidate among `users`; returns the number of failures (each reported).
/// One directory call per user, so password reads on the same sam.ldb thread are never held up
/// by a long batch.
pub async fn write_back<D: Directory>(
    directory: &D,
    control: &Control,
    store: &State,
    anchor: AnchorAttribute,
    users: &[User],
) -> u64 {
    let exported = match store.exported() {
        Ok(e) => e,
        Err(e) => {
            control.report_error("write-back", &format!("cannot read the exported objects: {e}"));
            return 1;
        }
    };
    write_candidates(directory, control, store, candidates(users, &exported, anchor)).await
}

/// [`write_back`] for a full run that holds no users: reads them (a chunk at a time) and keeps
/// only the candidates.
pub async fn write_back_streamed<D: Directory>(
    directory: &D,
    control: &Control,
    store: &State,
    anchor: AnchorAttribute,
) -> u64 {
    if anchor != AnchorAttribute::ConsistencyGuid {
        return 0;
    }
    let synced = match exported_keys(store) {
        Ok(e) => e,
        Err(e) => {
            control.report_error("write-back", &format!("cannot read the exported objects: {e}"));
            return 1;
        }
    };
    let mut out = Vec::new();
    let read = directory
        .read_users(None, &mut |users| {
            for u in users {
                let a = source_anchor(&u.id, anchor);
                if u.id.consistency_guid.is_none()
                    && a == STANDARD.encode(u.id.object_guid)
                    && synced.contains(&object_key(ObjectType::User, &a))
                {
                    out.push(Candidate { dn: u.id.dn, name: u.id.sam_account_name, object_guid: u.id.object_guid });
                }
            }
        })
        .await;
    match read {
        Ok(()) => write_candidates(directory, control, store, out).await,
        Err(e) => {
            control.report_error("write-back", &format!("cannot read the users: {e}"));
            1
        }
    }
}

async fn write_candidates<D: Directory>(
    directory: &D,
    control: &Control,
    store: &State,
    candidates: Vec<Candidate>,
) -> u64 {
    let (mut written, mut failed) = (0u64, 0u64);
    for c in candidates {
        match directory.write_consistency_guid(&c.dn, &c.object_guid).await {
            Ok(ConsistencyGuidWrite::Written) => {
                written += 1;
                tracing::debug!(user = %c.name, "wrote its objectGUID into mS-DS-ConsistencyGuid");
            }
            // Set (or renamed, moved, deleted) since the read: nothing to do; a renamed user is
            // found under its new DN by the next full run.
            Ok(ConsistencyGuidWrite::AlreadySet | ConsistencyGuidWrite::NoSuchObject) => {}
            Err(e) => {
                failed += 1;
                control.report_error(&c.name, &format!("writing back mS-DS-ConsistencyGuid failed: {e}"));
                if let DirectoryError::Unavailable(_) = e {
                    // Not about this user (sam.ldb cannot be opened for writing, the thread is
                    // gone): every other user would fail alike.
                    break;
                }
            }
        }
    }
    if written > 0 {
        tracing::info!(users = written, "wrote the objectGUID into mS-DS-ConsistencyGuid");
        let message = format!("mS-DS-ConsistencyGuid set to the objectGUID of {written} users");
        if let Err(e) = store.record_event("write-back", "mS-DS-ConsistencyGuid", &message) {
            tracing::warn!("cannot record the write-back in the state DB: {e}");
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samba::directory::Identity;

    fn user(name: &str, guid: u8, cg: Option<Vec<u8>>) -> User {
        User {
            id: Identity {
                dn: format!("CN={name},CN=Users,DC=lab,DC=test"),
                sam_account_name: name.into(),
                object_guid: [guid; 16],
                consistency_guid: cg,
                ..Default::default()
            },
            user_principal_name: None,
            user_account_control: 512,
            pwd_last_set: 1,
            account_expires: 0,
            key_version: 1,
            text: Default::default(),
            nt_hash: None,
        }
    }

    fn exported(object_type: ObjectType, guid: [u8; 16], error: Option<&str>) -> ExportedObject {
        ExportedObject {
            object_type,
            anchor: STANDARD.encode(guid).into(),
            dn: String::new(),
            name: String::new(),
            digest: String::new(),
            cloud_anchor: None,
            exported_at: 0,
            last_error: error.map(String::from),
        }
    }

    #[test]
    fn only_synced_users_with_an_empty_consistency_guid_are_written() {
        let users = vec![
            user("fresh", 1, None),
            user("keeper", 2, Some(vec![9; 16])),
            user("refused", 3, None),
            user("unsynced", 4, None),
            // Exported as a group under the same anchor bytes: not a user export.
            user("grouplike", 5, None),
        ];
        let state = vec![
            exported(ObjectType::User, [1; 16], None),
            exported(ObjectType::User, [9; 16], None),
            exported(ObjectType::User, [3; 16], Some("refused by Entra")),
            exported(ObjectType::Group, [5; 16], None),
        ];
        let got = candidates(&users, &state, AnchorAttribute::ConsistencyGuid);
        assert_eq!(
            got,
            vec![Candidate {
                dn: "CN=fresh,CN=Users,DC=lab,DC=test".into(),
                name: "fresh".into(),
                object_guid: [1; 16]
            }]
        );
        // Once written, the same user (now with its consistency GUID) is no candidate.
        let written = vec![user("fresh", 1, Some(vec![1; 16]))];
        assert!(candidates(&written, &state, AnchorAttribute::ConsistencyGuid).is_empty());
        // With the objectGUID anchor nothing is written back.
        assert!(candidates(&users, &state, AnchorAttribute::ObjectGuid).is_empty());
    }

    #[test]
    fn it_applies_only_when_asked_for_with_the_consistency_anchor_and_not_in_a_dry_run() {
        assert!(applies(true, AnchorAttribute::ConsistencyGuid, false));
        assert!(!applies(false, AnchorAttribute::ConsistencyGuid, false));
        assert!(!applies(true, AnchorAttribute::ObjectGuid, false));
        assert!(!applies(true, AnchorAttribute::ConsistencyGuid, true));
    }
}
