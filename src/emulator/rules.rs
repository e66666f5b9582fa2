//! The tenant's protections a sync client meets since 2026 (Microsoft's hardening guidance, the
//! message-centre posts MC1262584 and MC1263280, Graph's `onPremisesSyncBehavior`, Learn's
//! "what's new" of May 2026): who may change the sync features, soft and hard match onto cloud-only objects and their blocks, the
//! protection of role holders, the hard-match hardening of synced users, and objects whose
//! source of authority moved to the cloud. Each rule and its source is listed in
//! docs/emulator.md ("Cloud-only objects and the tenant's protections").
//!
//! The texts are modelled on the service's sync-error reports (InvalidSoftMatch,
//! AdminRoleConflict, the MC1263280 sentence); where Microsoft has published no text, the
//! sentence is ours and says what the administrator must do.

use super::timeline::ServiceDate;
use super::tokens::{GLOBAL_ADMINISTRATOR, HYBRID_IDENTITY_ADMINISTRATOR, Subject};

/// `DirSyncFeatures` bit 19, `BlockSoftMatch` (AADInternals' feature list).
pub const BLOCK_SOFT_MATCH: i64 = 524_288;
/// `DirSyncFeatures` bit 20, `BlockCloudObjectTakeoverThroughHardMatch` (AADInternals' feature list).
pub const BLOCK_HARD_MATCH_TAKEOVER: i64 = 1_048_576;

/// Turning sync features on or off needs an interactive administrator (Learn, what's new May 2026).
pub const FEATURES_NEED_ADMIN: ServiceDate = ServiceDate::ymd(2026, 5, 1);
/// No hard match onto a cloud user who holds an Entra role (MC1262584, June/July 2026).
pub const ROLE_HOLDER_HARD_MATCH: ServiceDate = ServiceDate::ymd(2026, 7, 1);
/// A synced user's on-premises object identifier cannot be changed once set (MC1263280).
pub const REPOINT_HARDENING: ServiceDate = ServiceDate::ymd(2026, 7, 1);

/// Writes and credentials for an object whose source of authority is the cloud.
pub const CLOUD_MANAGED: &str = "Updates from on-premises directory synchronization are blocked for this object: its \
                                 source of authority was moved to the cloud (onPremisesSyncBehavior.isCloudManaged \
                                 is true). Manage it in Microsoft Entra ID, or set isCloudManaged to false to \
                                 synchronize it again.";

/// MC1263280's text (a secondary source quotes it word for word).
pub const REPOINT_BLOCKED: &str =
    "Hard match operation blocked due to security hardening. Review OnPremisesObjectIdentifier mapping.";

/// Why `SetCompanyDirsyncFeatures` is refused for this caller on this day, if it is.
pub fn features_refusal(caller: &Subject, date: ServiceDate) -> Option<String> {
    if date < FEATURES_NEED_ADMIN {
        return None;
    }
    let admin = caller.roles.iter().any(|r| r == GLOBAL_ADMINISTRATOR || r == HYBRID_IDENTITY_ADMINISTRATOR);
    match &caller.upn {
        Some(_) if admin => None,
        Some(upn) => Some(format!(
            "Access denied. {upn} may not change directory synchronization features: it takes an interactive \
             sign-in of a Global Administrator or Hybrid Identity Administrator."
        )),
        None => Some(
            "Access denied. An application may not change directory synchronization features: it takes an \
             interactive sign-in of a Global Administrator or Hybrid Identity Administrator."
                .to_owned(),
        ),
    }
}

/// A soft match the tenant's `BlockSoftMatch` refuses.
pub fn soft_match_blocked(kind: &str, value: &str, cloud_anchor: &str) -> String {
    format!(
        "InvalidSoftMatch: Unable to update this object because the following attributes associated with this \
         object have values that may already be associated with another object in your local directory \
         services: [{kind} <pii>{value}</pii>;]. Soft matching onto the cloud object {cloud_anchor} is blocked in \
         this company (BlockSoftMatch). Correct or remove the duplicate values in your local directory, or set \
         the cloud object's onPremisesImmutableId to this object's source anchor."
    )
}

/// A soft match onto a cloud object that already names another on-premises object.
pub fn soft_match_other_immutable_id(kind: &str, value: &str, cloud_anchor: &str) -> String {
    format!(
        "InvalidSoftMatch: Unable to update this object because the following attributes associated with this \
         object have values that may already be associated with another object in your local directory \
         services: [{kind} <pii>{value}</pii>;]. The cloud object {cloud_anchor} already has an \
         onPremisesImmutableId of another object. Correct or remove the duplicate values in your local directory."
    )
}

/// A hard match the tenant's `BlockCloudObjectTakeoverThroughHardMatch` refuses.
pub fn hard_match_blocked(cloud_anchor: &str) -> String {
    format!(
        "Hard match operation blocked: the cloud object {cloud_anchor} has this object's source anchor as its \
         onPremisesImmutableId, and taking over cloud objects through hard match is blocked in this company \
         (BlockCloudObjectTakeoverThroughHardMatch)."
    )
}

/// A match onto a cloud user who holds a directory role.
pub fn role_holder(cloud_anchor: &str, how: &str) -> String {
    format!(
        "AdminRoleConflict: Unable to {how} this object to the cloud user {cloud_anchor}: the user holds an \
         administrative role in Microsoft Entra ID, and matching an on-premises object onto it is blocked for \
         security reasons. Remove the role from the cloud user, or give the on-premises object another \
         userPrincipalName and proxy addresses."
    )
}
