//! Drift: how an object read back from Entra differs from what this installation exports.
//!
//! Only what we send is compared: the service adds attributes of its own (`CloudAnchor`,
//! `CloudMastered`...), spells names in PascalCase and leaves empty values out. Values are
//! compared in a canonical text form, so a list in another order or a number read back as
//! text is not drift.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::model::{AttrValue, ExportObject};
use super::tenant::CloudObject;

/// The name a group's members are read back under.
const MEMBERS: &str = "member";

/// The attributes (and `member`) whose value in Entra differs from `sent`; empty when the
/// object is as we export it.
pub fn changed_attributes(sent: &ExportObject, cloud: &CloudObject) -> Vec<&'static str> {
    let in_cloud = |name: &str| {
        cloud.attributes.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| canonical(v))
    };
    let mut changed: Vec<&'static str> = sent
        .attributes
        .iter()
        .filter(|(name, value)| canonical(value) != in_cloud(name))
        .map(|(name, _)| name)
        .collect();
    if let Some(members) = &sent.members {
        let sent_members = canonical(&AttrValue::StrList(members.iter().map(|m| m.to_string()).collect()));
        if sent_members != in_cloud(MEMBERS) {
            changed.push(MEMBERS);
        }
    }
    changed
}

/// What to do about an object found changed in Entra.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    /// A new finding: export the object again.
    ExportAgain,
    /// The same finding as at the last check, after a re-export: Entra keeps its value. Report it.
    ReportKept,
    /// Reported already and unchanged: leave it alone.
    LeaveAlone,
}

/// The response to a finding (`signature`: our digest and the attributes that differ), given
/// the last check's finding for the same object and whether that one was reported as kept.
pub fn respond(previous: Option<&(String, bool)>, signature: &str) -> Response {
    match previous {
        Some((seen, true)) if seen == signature => Response::LeaveAlone,
        Some((seen, false)) if seen == signature => Response::ReportKept,
        _ => Response::ExportAgain,
    }
}

/// A value as sorted texts; `None` when empty (what the service leaves out).
pub(crate) fn canonical(value: &AttrValue) -> Option<Vec<String>> {
    let mut texts = match value {
        AttrValue::Null => Vec::new(),
        AttrValue::Str(s) => vec![s.clone()],
        AttrValue::Bool(b) => vec![b.to_string()],
        AttrValue::Long(n) => vec![n.to_string()],
        AttrValue::Bytes(b) => vec![BASE64.encode(b)],
        AttrValue::StrList(l) => l.clone(),
        AttrValue::BytesList(l) => l.iter().map(|b| BASE64.encode(b)).collect(),
    };
    texts.retain(|t| !t.is_empty());
    texts.sort_unstable();
    (!texts.is_empty()).then_some(texts)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::sync::model::ObjectType;

    fn sent() -> ExportObject {
        let mut attributes = crate::sync::model::Attributes::default();
        attributes.insert("displayName", AttrValue::Str("Zoe".into()));
        attributes.insert("accountEnabled", AttrValue::Bool(true));
        attributes.insert("proxyAddresses", AttrValue::StrList(vec!["SMTP:a@x".into(), "smtp:b@x".into()]));
        attributes.insert("mail", AttrValue::Null);
        attributes.insert("department", AttrValue::Str(String::new()));
        ExportObject {
            object_type: ObjectType::User,
            anchor: "A".into(),
            dn: "CN=Zoe".into(),
            name: "zoe".into(),
            attributes,
            members: None,
        }
    }

    fn cloud(attributes: &[(&str, AttrValue)]) -> CloudObject {
        CloudObject {
            object_type: ObjectType::User,
            anchor: "A".into(),
            cloud_anchor: Some("User_1".into()),
            attributes: attributes.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        }
    }

    fn as_read_back() -> Vec<(&'static str, AttrValue)> {
        vec![
            ("DisplayName", AttrValue::Str("Zoe".into())),
            ("AccountEnabled", AttrValue::Bool(true)),
            // Another order, and attributes of the service's own.
            ("ProxyAddresses", AttrValue::StrList(vec!["smtp:b@x".into(), "SMTP:a@x".into()])),
            ("CloudMastered", AttrValue::Bool(false)),
        ]
    }

    #[test]
    fn a_finding_is_exported_again_once_then_reported_once_then_left_alone() {
        assert_eq!(respond(None, "d|mail"), Response::ExportAgain);
        assert_eq!(respond(Some(&("d|mail".into(), false)), "d|mail"), Response::ReportKept);
        assert_eq!(respond(Some(&("d|mail".into(), true)), "d|mail"), Response::LeaveAlone);
        // A change on either side (our value, or which attributes differ) is a new finding.
        assert_eq!(respond(Some(&("d|mail".into(), true)), "e|mail"), Response::ExportAgain);
        assert_eq!(respond(Some(&("d|mail".into(), false)), "d|mail, sn"), Response::ExportAgain);
    }

    #[test]
    fn an_object_as_exported_has_no_drift() {
        assert!(changed_attributes(&sent(), &cloud(&as_read_back())).is_empty());
    }

    #[test]
    fn changed_added_and_removed_values_are_drift() {
        let mut changed = as_read_back();
        changed[0].1 = AttrValue::Str("Mallory".into());
        changed.push(("Mail", AttrValue::Str("set@cloud".into())));
        changed.retain(|(k, _)| *k != "AccountEnabled");
        let mut drift = changed_attributes(&sent(), &cloud(&changed));
        drift.sort_unstable();
        assert_eq!(drift, vec!["accountEnabled", "displayName", "mail"]);
    }

    #[test]
    fn members_compare_as_sets_and_missing_members_are_drift() {
        let mut group = sent();
        group.object_type = ObjectType::Group;
        group.members = Some(vec!["m1".into(), "m2".into()]);
        let mut read = as_read_back();
        read.push(("Member", AttrValue::StrList(vec!["m2".into(), "m1".into()])));
        assert!(changed_attributes(&group, &cloud(&read)).is_empty());
        read.pop();
        assert_eq!(changed_attributes(&group, &cloud(&read)), vec!["member"]);
        // A group without members matches a read-back that leaves the empty list out.
        group.members = Some(Vec::new());
        assert!(changed_attributes(&group, &cloud(&read)).is_empty());
    }
}
