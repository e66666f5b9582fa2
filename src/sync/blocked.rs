//! Objects the tenant refuses one by one (issue 14): a soft or hard match its protections
//! block, a cloud user holding a role, an object whose source of authority moved to the cloud,
//! a re-pointed anchor, or any other per-object refusal. Each is recorded with the tenant's
//! reason (state DB), shown in `status`, `user NAME` and `plan --json`, logged once, and not
//! sent again until the object changes on-premises (its digest) or an administrator asks with
//! `sync --retry-blocked`. Cloud-managed objects are left alone for good, passwords included:
//! a change on-premises does not bring them back, only `--retry-blocked` does (after an
//! administrator hands the object back to on-premises management).

use serde::Serialize;

use crate::sync::anchor::Anchor;

/// Why the tenant refused an object, as far as we can tell from its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockKind {
    /// BlockSoftMatch (or a soft match onto a cloud object bound to another object).
    SoftMatch,
    /// BlockCloudObjectTakeoverThroughHardMatch.
    HardMatch,
    /// The cloud user holds a directory role (AdminRoleConflict).
    RoleHolder,
    /// The object's source of authority is the cloud (onPremisesSyncBehavior.isCloudManaged).
    CloudManaged,
    /// The anchor of a synced object cannot be re-pointed (MC1263280's hardening).
    Repoint,
    /// Any other per-object refusal.
    Refused,
}

impl BlockKind {
    /// Reads the tenant's refusal text. The service's texts are not a contract: the checks look
    /// for the codes and names its sync-error reports use.
    pub fn classify(text: &str) -> BlockKind {
        let t = text.to_ascii_lowercase();
        if t.contains("iscloudmanaged") || t.contains("source of authority") {
            BlockKind::CloudManaged
        } else if t.contains("adminroleconflict") || t.contains("administrative role") {
            BlockKind::RoleHolder
        } else if t.contains("onpremisesobjectidentifier") {
            BlockKind::Repoint
        } else if t.contains("blockcloudobjecttakeoverthroughhardmatch") || t.contains("hard match operation blocked") {
            BlockKind::HardMatch
        } else if t.contains("invalidsoftmatch") || t.contains("blocksoftmatch") {
            BlockKind::SoftMatch
        } else {
            BlockKind::Refused
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::SoftMatch => "soft-match",
            BlockKind::HardMatch => "hard-match",
            BlockKind::RoleHolder => "role-holder",
            BlockKind::CloudManaged => "cloud-managed",
            BlockKind::Repoint => "re-point",
            BlockKind::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> BlockKind {
        [BlockKind::SoftMatch, BlockKind::HardMatch, BlockKind::RoleHolder, BlockKind::CloudManaged, BlockKind::Repoint]
            .into_iter()
            .find(|k| k.as_str() == text)
            .unwrap_or(BlockKind::Refused)
    }

    /// Left alone even when the object changes on-premises.
    pub fn permanent(self) -> bool {
        self == BlockKind::CloudManaged
    }

    /// What an administrator does about it.
    pub fn remedy(self) -> &'static str {
        match self {
            BlockKind::SoftMatch => {
                "the tenant blocks soft match (BlockSoftMatch): set the cloud object's onPremisesImmutableId to this \
                 object's source anchor (a hard match), or give this object another userPrincipalName and primary \
                 SMTP address, then run `samba-entra-sync sync --retry-blocked`"
            }
            BlockKind::HardMatch => {
                "the tenant blocks taking over cloud objects by hard match \
                 (BlockCloudObjectTakeoverThroughHardMatch): clear the cloud object's onPremisesImmutableId or \
                 delete it, or lift the block for the migration, then run `samba-entra-sync sync --retry-blocked`"
            }
            BlockKind::RoleHolder => {
                "the cloud user holds an Entra role and the service never matches an on-premises object onto it: \
                 remove the role (or give this object another userPrincipalName and proxy addresses), then run \
                 `samba-entra-sync sync --retry-blocked`"
            }
            BlockKind::CloudManaged => {
                "its source of authority was moved to the cloud (isCloudManaged): it is managed in Entra now and \
                 left alone for good, passwords included; to sync it again, set isCloudManaged to false and run \
                 `samba-entra-sync sync --retry-blocked`"
            }
            BlockKind::Repoint => {
                "Entra will not point a synced object at another on-premises object: remap it with Microsoft Graph \
                 (its OnPremisesObjectIdentifier), then run `samba-entra-sync sync --retry-blocked`"
            }
            BlockKind::Refused => {
                "fix what the tenant names; it is sent again when it changes on-premises, or with \
                 `samba-entra-sync sync --retry-blocked`"
            }
        }
    }
}

/// One refused object as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocked {
    pub object_type: String,
    pub anchor: Anchor,
    pub name: String,
    /// The digest of the on-premises state that was refused.
    #[serde(skip)]
    pub digest: String,
    pub kind: BlockKind,
    /// The tenant's text.
    pub reason: String,
    /// ms since the epoch.
    pub since: i64,
}

impl Blocked {
    /// Whether the block holds for the object as it is now (`digest`): until it changes
    /// on-premises, and for good when the cloud manages it.
    pub fn holds_for(&self, digest: &str) -> bool {
        self.kind.permanent() || self.digest == digest
    }

    /// The one sentence an administrator reads (status, logs).
    pub fn sentence(&self) -> String {
        format!(
            "{} {} is not synced, the tenant refused it: {}; {}",
            self.object_type,
            self.name,
            self.reason.trim_end_matches('.'),
            self.kind.remedy()
        )
    }

    /// The short form of `plan --json` (`"blocked": "<reason>"`) and `user NAME`.
    pub fn short(&self) -> String {
        format!("{}: {}", self.kind.as_str(), self.reason)
    }
}

/// A block of user "alice" (anchor "a", digest "d1"), for unit tests here and in the engine.
#[cfg(test)]
pub(crate) fn sample(kind: BlockKind) -> Blocked {
    Blocked {
        object_type: "User".into(),
        anchor: "a".into(),
        name: "alice".into(),
        digest: "d1".into(),
        kind,
        reason: "x".into(),
        since: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(kind: BlockKind) -> Blocked {
        sample(kind)
    }

    #[test]
    fn the_service_texts_are_read_as_their_kind() {
        let cases = [
            ("InvalidSoftMatch: Unable to update this object … (BlockSoftMatch).", BlockKind::SoftMatch),
            ("Hard match operation blocked: … (BlockCloudObjectTakeoverThroughHardMatch).", BlockKind::HardMatch),
            ("AdminRoleConflict: Unable to soft-match this object …", BlockKind::RoleHolder),
            (
                "Hard match operation blocked due to security hardening. Review OnPremisesObjectIdentifier mapping.",
                BlockKind::Repoint,
            ),
            (
                "… its source of authority was moved to the cloud (onPremisesSyncBehavior.isCloudManaged …",
                BlockKind::CloudManaged,
            ),
            ("The attribute 'countryCode' must be a d:long", BlockKind::Refused),
        ];
        for (text, kind) in cases {
            assert_eq!(BlockKind::classify(text), kind, "{text}");
            assert_eq!(BlockKind::parse(kind.as_str()), kind);
        }
    }

    #[test]
    fn a_block_holds_until_the_object_changes_but_cloud_management_for_good() {
        let b = blocked(BlockKind::SoftMatch);
        assert!(b.holds_for("d1"));
        assert!(!b.holds_for("d2"));
        let c = blocked(BlockKind::CloudManaged);
        assert!(c.holds_for("d1") && c.holds_for("d2"));
        assert!(c.sentence().contains("alice") && c.sentence().contains("left alone for good"));
        assert!(b.sentence().contains("--retry-blocked"));
    }
}
