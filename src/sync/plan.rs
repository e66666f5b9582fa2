//! The plan: a deterministic diff between the desired tenant (the directory, mapped) and what
//! this installation exported before (the state DB), with the safety rules applied.
//!
//! Order: creates and updates of users, contacts, devices, then groups (a group after the
//! groups it contains), then passwords, then deletes (groups first), last. Deletes are only
//! ever of objects this installation exported, and are held back when the scope collapsed
//! (users or groups read nothing, a base DN is missing) or when they exceed the deletion
//! threshold.
//!
//! An empty read means different things per type. Every domain has users and groups, so a read
//! that finds none of them is a mistake (a wrong filter, a wrong base) and its deletes are held
//! whatever `approve-deletes` says. A domain may well have no contacts or no hybrid-joined
//! computers left, so an empty read of those is believed: its deletes count against the deletion
//! threshold like any other, which `approve-deletes` can release.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::anchor::Anchor;
use super::mapping::Desired;
use super::model::{ExportObject, ObjectType};
use super::state::ExportedObject;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Password,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub action: Action,
    pub object_type: ObjectType,
    pub anchor: Anchor,
    pub name: String,
    pub reason: String,
    /// A held delete that `approve-deletes` can release (held by the deletion threshold, not by
    /// a scope guard).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub approvable: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// What a reconcile sends, in order.
    pub operations: Vec<Operation>,
    /// Deletes held back by a safety rule, with the rule in `reason`.
    pub held: Vec<Operation>,
    /// The digest of the held deletes an approval can release (`approve-deletes --digest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_digest: Option<String>,
    /// Objects the tenant will refuse (known from reading it back), with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Operation>,
    /// Whether the plan looked at what the tenant holds (a first run, or `plan --read-back`).
    pub read_back: bool,
    /// Deletes over the threshold released by an administrator's approval.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub approval_used: bool,
    pub warnings: Vec<String>,
    /// Objects held back because the tenant refused them (`"blocked": "<reason>"`): not sent
    /// until they change on-premises or `sync --retry-blocked` (`reconcile/hold_back.rs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<BlockedOperation>,
}

/// An operation held back because the tenant refused the object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockedOperation {
    pub action: Action,
    pub object_type: ObjectType,
    pub anchor: Anchor,
    pub name: String,
    /// The refusal: its kind and the tenant's text.
    pub blocked: String,
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.operations.iter().filter(|o| o.action == action).count()
    }
}

pub struct PlanInput<'a> {
    pub desired: &'a Desired,
    pub exported: &'a [ExportedObject],
    /// Users whose password is newer in the directory than in Entra: (anchor, name).
    pub passwords: &'a [(Anchor, String)],
    pub deletion_threshold: u32,
    pub deletion_threshold_percent: u32,
    /// The deletes an administrator approved (`approve-deletes`): deletes over the threshold
    /// go ahead only when every one of them is in this set.
    pub approved: &'a HashSet<(ObjectType, Anchor)>,
    /// What the tenant holds (anchor → type), when it was read back: objects not exported by
    /// this installation are then told apart as matches of existing cloud objects or creates.
    pub cloud: Option<&'a HashMap<Anchor, ObjectType>>,
    /// Object types whose directory read cannot be trusted for deletes (a base DN is missing),
    /// with the reason.
    pub untrusted: &'a HashMap<ObjectType, String>,
}

/// The types whose empty read is held as a collapsed scope (see the module comment).
fn always_present(t: ObjectType) -> bool {
    matches!(t, ObjectType::User | ObjectType::Group)
}

fn type_order(t: ObjectType) -> u8 {
    match t {
        ObjectType::User => 0,
        ObjectType::Contact => 1,
        ObjectType::Device => 2,
        ObjectType::Group => 3,
    }
}

pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut out = Plan::default();
    let exported: HashMap<(ObjectType, &str), &ExportedObject> =
        input.exported.iter().map(|e| ((e.object_type, e.anchor.as_str()), e)).collect();

    // Creates and updates.
    let mut upserts: Vec<(&ExportObject, Operation)> = Vec::new();
    for o in &input.desired.objects {
        let op = match exported.get(&(o.object_type, o.anchor.as_str())) {
            None => match input.cloud.map(|c| c.get(&o.anchor)) {
                None => Some((Action::Create, "not in Entra yet".to_string())),
                Some(None) => Some((Action::Create, "Entra has no object with this source anchor: created".into())),
                Some(Some(t)) if *t == o.object_type => Some((
                    Action::Update,
                    "matches an existing object in Entra (same source anchor): updated in place, not created".into(),
                )),
                Some(Some(t)) => {
                    out.refused.push(Operation {
                        action: Action::Create,
                        object_type: o.object_type,
                        anchor: o.anchor.clone(),
                        name: o.name.clone(),
                        reason: format!(
                            "refused: Entra holds a {t} with this source anchor; an anchor names one object of one type"
                        ),
                        approvable: false,
                    });
                    None
                }
            },
            Some(e) if e.digest != o.digest() => {
                Some((Action::Update, "attributes changed since the last export".into()))
            }
            Some(e) if e.last_error.is_some() => Some((Action::Update, "the last export failed".into())),
            Some(_) => None,
        };
        if let Some((action, reason)) = op {
            let op = Operation {
                action,
                object_type: o.object_type,
                anchor: o.anchor.clone(),
                name: o.name.clone(),
                reason,
                approvable: false,
            };
            upserts.push((o, op));
        }
    }
    upserts.sort_by(|(a, _), (b, _)| {
        (type_order(a.object_type), &a.name, &a.anchor).cmp(&(type_order(b.object_type), &b.name, &b.anchor))
    });
    let (groups, others): (Vec<_>, Vec<_>) = upserts.into_iter().partition(|(o, _)| o.object_type == ObjectType::Group);
    out.operations.extend(others.into_iter().map(|(_, op)| op));
    out.operations.extend(order_groups(groups));

    // Passwords.
    let mut passwords = input.passwords.to_vec();
    passwords.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    out.operations.extend(passwords.into_iter().map(|(anchor, name)| Operation {
        action: Action::Password,
        object_type: ObjectType::User,
        anchor,
        name,
        reason: "the directory holds a newer password than Entra acknowledged".into(),
        approvable: false,
    }));

    // Deletes: only what we exported, only what the directory no longer has.
    let desired: HashSet<(ObjectType, &str)> =
        input.desired.objects.iter().map(|o| (o.object_type, o.anchor.as_str())).collect();
    let desired_types: BTreeSet<ObjectType> = input.desired.objects.iter().map(|o| o.object_type).collect();
    let mut deletes: Vec<Operation> = input
        .exported
        .iter()
        .filter_map(|e| {
            let t = e.object_type;
            (!desired.contains(&(t, e.anchor.as_str()))).then(|| Operation {
                action: Action::Delete,
                object_type: t,
                anchor: e.anchor.clone(),
                name: e.name.clone(),
                reason: "no longer in the directory or in scope".into(),
                approvable: false,
            })
        })
        .collect();
    sort_deletes(&mut deletes);
    let guards = DeleteGuards {
        total_exported: input.exported.len(),
        desired_types: &desired_types,
        untrusted: input.untrusted,
        deletion_threshold: input.deletion_threshold,
        deletion_threshold_percent: input.deletion_threshold_percent,
        approved: input.approved,
    };
    guard_deletes(&mut out, deletes, &guards);
    out
}

/// Groups first, so no membership points at a deleted object; then by name.
pub(crate) fn sort_deletes(deletes: &mut [Operation]) {
    deletes.sort_by(|a, b| {
        (std::cmp::Reverse(type_order(a.object_type)), &a.name, &a.anchor).cmp(&(
            std::cmp::Reverse(type_order(b.object_type)),
            &b.name,
            &b.anchor,
        ))
    });
}

/// What decides whether deletes go ahead (see the module comment).
pub(crate) struct DeleteGuards<'a> {
    /// How many objects this installation has exported (the base of the percentage).
    pub total_exported: usize,
    /// The types the directory read returned at least one in-scope object of.
    pub desired_types: &'a BTreeSet<ObjectType>,
    pub untrusted: &'a HashMap<ObjectType, String>,
    pub deletion_threshold: u32,
    pub deletion_threshold_percent: u32,
    pub approved: &'a HashSet<(ObjectType, Anchor)>,
}

/// Applies the scope guards and the deletion threshold to `deletes` (sorted by
/// [`sort_deletes`]): what may go ahead joins `out.operations`, the rest `out.held`.
pub(crate) fn guard_deletes(out: &mut Plan, deletes: Vec<Operation>, input: &DeleteGuards<'_>) {
    let desired_types = input.desired_types;
    let mut allowed: Vec<Operation> = Vec::new();
    for mut d in deletes {
        if let Some(why) = input.untrusted.get(&d.object_type) {
            d.reason = format!("held: {why}");
            out.held.push(d);
        } else if always_present(d.object_type) && !desired_types.contains(&d.object_type) {
            d.reason =
                format!("held: the scope returned no {} objects at all, which looks like a mistake", d.object_type);
            out.held.push(d);
        } else {
            allowed.push(d);
        }
    }
    let total = input.total_exported.max(1);
    let over_count = input.deletion_threshold > 0 && allowed.len() > input.deletion_threshold as usize;
    let over_percent =
        input.deletion_threshold_percent > 0 && allowed.len() * 100 > total * input.deletion_threshold_percent as usize;
    let approved =
        !allowed.is_empty() && allowed.iter().all(|d| input.approved.contains(&(d.object_type, d.anchor.clone())));
    if (over_count || over_percent) && !approved {
        out.warnings.push(format!(
            "{} deletes exceed the deletion threshold ({} objects or {} %): held until `samba-entra-sync approve-deletes`",
            allowed.len(),
            input.deletion_threshold,
            input.deletion_threshold_percent
        ));
        for mut d in allowed {
            d.reason = "held: over the deletion threshold".into();
            d.approvable = true;
            out.held.push(d);
        }
    } else {
        if over_count || over_percent {
            out.approval_used = true;
            for d in &mut allowed {
                d.reason = format!("{}; over the deletion threshold, approved by approve-deletes", d.reason);
            }
        }
        out.operations.extend(allowed);
    }
    let guarded = out.held.iter().filter(|h| !h.approvable).count();
    if guarded > 0 {
        out.warnings.push(format!(
            "{guarded} deletes held back by the scope guards (approve-deletes cannot release them: fix the scope)"
        ));
    }
    let approvable: Vec<(ObjectType, &str)> =
        out.held.iter().filter(|h| h.approvable).map(|h| (h.object_type, h.anchor.as_str())).collect();
    if !approvable.is_empty() {
        out.held_digest = Some(held_digest(approvable));
    }
}

/// A short, order-independent name of a set of deletes: what `approve-deletes --digest` names,
/// so an approval can only ever release the set the administrator looked at.
pub fn held_digest<'a>(objects: impl IntoIterator<Item = (ObjectType, &'a str)>) -> String {
    use sha2::Digest;
    let mut lines: Vec<String> = objects.into_iter().map(|(t, a)| format!("{t}\t{a}\n")).collect();
    lines.sort();
    lines.dedup();
    let hash = sha2::Sha256::digest(lines.concat().as_bytes());
    hex::encode(&hash[..8])
}

/// Groups after the groups they contain (members must exist in Entra before a group names
/// them); cycles, which AD allows, are broken in name order.
pub(crate) fn order_groups(groups: Vec<(&ExportObject, Operation)>) -> Vec<Operation> {
    let anchors: HashSet<&str> = groups.iter().map(|(o, _)| o.anchor.as_str()).collect();
    let mut done: HashSet<Anchor> = HashSet::new();
    let mut pending = groups;
    let mut out = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for (o, op) in pending {
            let waits =
                o.members.iter().flatten().any(|m| m != &o.anchor && anchors.contains(m.as_str()) && !done.contains(m));
            if waits {
                rest.push((o, op));
            } else {
                done.insert(o.anchor.clone());
                out.push(op);
            }
        }
        if rest.len() == before {
            // A cycle: release the first in name order and go on.
            let (o, op) = rest.remove(0);
            done.insert(o.anchor.clone());
            out.push(op);
        }
        pending = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(t: ObjectType, name: &str, members: Option<Vec<&str>>) -> ExportObject {
        ExportObject {
            object_type: t,
            anchor: format!("{name}=").into(),
            dn: format!("CN={name}"),
            name: name.into(),
            attributes: Default::default(),
            members: members.map(|m| m.iter().map(|x| format!("{x}=").into()).collect()),
        }
    }

    fn exported(o: &ExportObject) -> ExportedObject {
        ExportedObject {
            object_type: o.object_type,
            anchor: o.anchor.clone(),
            dn: o.dn.clone(),
            name: o.name.clone(),
            digest: o.digest(),
            cloud_anchor: None,
            exported_at: 0,
            last_error: None,
        }
    }

    fn run(desired: Vec<ExportObject>, exported: &[ExportedObject], approved: bool) -> Plan {
        let everything: HashSet<(ObjectType, Anchor)> =
            exported.iter().map(|e| (e.object_type, e.anchor.clone())).filter(|_| approved).collect();
        run_with(desired, exported, &everything, None)
    }

    fn run_with(
        desired: Vec<ExportObject>,
        exported: &[ExportedObject],
        approved: &HashSet<(ObjectType, Anchor)>,
        cloud: Option<&HashMap<Anchor, ObjectType>>,
    ) -> Plan {
        let d = Desired { objects: desired, ..Default::default() };
        let untrusted = HashMap::new();
        plan(&PlanInput {
            desired: &d,
            exported,
            passwords: &[("u1=".into(), "u1".into())],
            deletion_threshold: 2,
            deletion_threshold_percent: 0,
            approved,
            cloud,
            untrusted: &untrusted,
        })
    }

    #[test]
    fn order_creates_groups_after_members_passwords_then_deletes() {
        let gone = exported(&obj(ObjectType::User, "gone", None));
        let p = run(
            vec![
                obj(ObjectType::Group, "a-outer", Some(vec!["b-inner"])),
                obj(ObjectType::Group, "b-inner", Some(vec!["u1"])),
                obj(ObjectType::User, "u1", None),
                obj(ObjectType::Device, "pc", None),
            ],
            &[gone],
            false,
        );
        let seq: Vec<(Action, &str)> = p.operations.iter().map(|o| (o.action, o.name.as_str())).collect();
        assert_eq!(
            seq,
            vec![
                (Action::Create, "u1"),
                (Action::Create, "pc"),
                (Action::Create, "b-inner"),
                (Action::Create, "a-outer"),
                (Action::Password, "u1"),
                (Action::Delete, "gone"),
            ]
        );
    }

    #[test]
    fn unchanged_objects_are_not_sent_and_changed_ones_are() {
        let u = obj(ObjectType::User, "u1", None);
        let mut changed = obj(ObjectType::User, "u2", None);
        let state = vec![exported(&u), exported(&changed)];
        changed.attributes.insert("displayName", super::super::model::AttrValue::Str("New".into()));
        let p = run(vec![u, changed], &state, false);
        assert_eq!(p.count(Action::Create), 0);
        assert_eq!(p.count(Action::Update), 1);
        assert_eq!(p.operations[0].name, "u2");
    }

    #[test]
    fn deletes_over_the_threshold_are_held_until_approved() {
        let keep = obj(ObjectType::User, "keep", None);
        let state: Vec<ExportedObject> = std::iter::once(exported(&keep))
            .chain((0..3).map(|i| exported(&obj(ObjectType::User, &format!("x{i}"), None))))
            .collect();
        let p = run(vec![keep.clone()], &state, false);
        assert_eq!((p.count(Action::Delete), p.held.len()), (0, 3));
        assert!(p.warnings[0].contains("deletion threshold"));
        assert!(p.held.iter().all(|h| h.approvable));
        let digest = p.held_digest.clone().unwrap_or_default();
        assert_eq!(digest.len(), 16);
        let p = run(vec![keep.clone()], &state, true);
        assert_eq!((p.count(Action::Delete), p.held.len(), p.approval_used), (3, 0, true));
        // An approval of the first two releases nothing when a third is due as well...
        let two: HashSet<(ObjectType, Anchor)> =
            ["x0=", "x1="].iter().map(|a| (ObjectType::User, Anchor::from(*a))).collect();
        let p = run_with(vec![keep.clone()], &state, &two, None);
        assert_eq!((p.count(Action::Delete), p.held.len()), (0, 3));
        assert_ne!(p.held_digest.as_deref(), Some(""));
        // ...and the digest names the set, whatever the order.
        let reversed = held_digest(p.held.iter().rev().map(|h| (h.object_type, h.anchor.as_str())));
        assert_eq!(Some(reversed), p.held_digest);
        assert_eq!(Some(digest), p.held_digest);
    }

    #[test]
    fn a_read_back_tells_matches_from_creates_and_refusals() {
        let cloud: HashMap<Anchor, ObjectType> =
            [("u1=".into(), ObjectType::User), ("pc=".into(), ObjectType::User)].into_iter().collect();
        let desired = vec![
            obj(ObjectType::User, "u1", None),
            obj(ObjectType::User, "u2", None),
            obj(ObjectType::Device, "pc", None),
        ];
        let p = run_with(desired, &[], &HashSet::new(), Some(&cloud));
        let seq: Vec<(Action, &str)> = p.operations.iter().map(|o| (o.action, o.name.as_str())).collect();
        assert_eq!(seq, vec![(Action::Update, "u1"), (Action::Create, "u2"), (Action::Password, "u1")]);
        assert!(p.operations[0].reason.contains("matches an existing object"));
        assert_eq!(p.refused.len(), 1);
        assert!(p.refused[0].reason.contains("Entra holds a User"), "{}", p.refused[0].reason);
    }

    #[test]
    fn an_empty_scope_deletes_nothing() {
        let state = vec![exported(&obj(ObjectType::User, "a", None)), exported(&obj(ObjectType::Group, "g", None))];
        // Users vanished entirely; groups still read.
        let p = run(vec![obj(ObjectType::Group, "g", None)], &state, true);
        assert_eq!(p.count(Action::Delete), 0);
        assert_eq!(p.held.len(), 1);
        assert!(p.held[0].reason.contains("no User objects"));
        assert!(!p.held[0].approvable, "a scope guard's hold cannot be approved");
        assert_eq!(p.held_digest, None);
    }

    #[test]
    fn an_empty_read_of_contacts_or_devices_is_believed_and_goes_through_the_threshold() {
        let u = obj(ObjectType::User, "u", None);
        let contacts: Vec<ExportObject> = (0..3).map(|i| obj(ObjectType::Contact, &format!("c{i}"), None)).collect();
        let device = obj(ObjectType::Device, "pc", None);
        let state: Vec<ExportedObject> =
            std::iter::once(&u).chain(&contacts).chain(std::iter::once(&device)).map(exported).collect();
        // Every contact and the only device gone: four deletes, over the threshold of two.
        let p = run(vec![u.clone()], &state, false);
        assert_eq!((p.count(Action::Delete), p.held.len()), (0, 4));
        assert!(p.held.iter().all(|h| h.reason == "held: over the deletion threshold"), "{:?}", p.held);
        // Approval releases them (the empty-scope guard, which nothing releases, does not apply).
        let p = run(vec![u.clone()], &state, true);
        assert_eq!((p.count(Action::Delete), p.held.len()), (4, 0));
        // Under the threshold they need no approval at all.
        let p = run(vec![u, contacts[0].clone(), contacts[1].clone()], &state, false);
        let deleted: Vec<&str> =
            p.operations.iter().filter(|o| o.action == Action::Delete).map(|o| o.name.as_str()).collect();
        assert_eq!((deleted, p.held.len()), (vec!["pc", "c2"], 0));
    }

    #[test]
    fn an_empty_read_of_groups_is_held_even_when_approved() {
        let u = obj(ObjectType::User, "u", None);
        let state = vec![exported(&u), exported(&obj(ObjectType::Group, "g", None))];
        let p = run(vec![u], &state, true);
        assert_eq!(p.count(Action::Delete), 0);
        assert!(p.held[0].reason.contains("no Group objects"), "{:?}", p.held);
    }

    #[test]
    fn group_cycles_do_not_hang() {
        let p = run(
            vec![obj(ObjectType::Group, "g1", Some(vec!["g2"])), obj(ObjectType::Group, "g2", Some(vec!["g1"]))],
            &[],
            false,
        );
        assert_eq!(p.count(Action::Create), 2);
    }
}
