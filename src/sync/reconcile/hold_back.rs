//! Holding back what the tenant refused: a plan's operations on objects still blocked go to
//! its held-back list, until the object changes on-premises (a cloud-managed one for good).

use std::collections::HashMap;

use crate::sync::anchor::Anchor;
use crate::sync::blocked::Blocked;
use crate::sync::mapping::Desired;
use crate::sync::plan::{Action, BlockedOperation, Plan};

/// Takes the creates, updates and deletes of still-blocked objects out of a plan and lists them
/// as held back. A block no longer holds once the object changed on-premises (its digest), except
/// for a cloud-managed object, which is left alone for good. Returns the blocks that no longer
/// hold (their objects go out again).
pub fn hold_back<'b>(plan: &mut Plan, desired: &Desired, blocks: &'b [Blocked]) -> Vec<&'b Blocked> {
    if blocks.is_empty() {
        return Vec::new();
    }
    let digests: HashMap<(&str, &str), String> =
        desired.objects.iter().map(|o| ((o.object_type.as_str(), o.anchor.as_str()), o.digest())).collect();
    let by_key: HashMap<(String, Anchor), &Blocked> =
        blocks.iter().map(|b| ((b.object_type.clone(), b.anchor.clone()), b)).collect();
    let mut lifted = Vec::new();
    let mut kept = Vec::with_capacity(plan.operations.len());
    for op in plan.operations.drain(..) {
        let block = by_key.get(&(op.object_type.as_str().to_owned(), op.anchor.clone())).copied();
        let holds = block.is_some_and(|b| match op.action {
            Action::Create | Action::Update => {
                digests.get(&(b.object_type.as_str(), b.anchor.as_str())).is_some_and(|d| b.holds_for(d))
            }
            // Its password follows the object: held while the object is, cloud-managed for good.
            Action::Password => b.kind.permanent() || b.object_type == "User",
            Action::Delete => b.kind.permanent(),
        });
        match block {
            Some(b) if holds => plan.blocked.push(BlockedOperation {
                action: op.action,
                object_type: op.object_type,
                anchor: op.anchor,
                name: op.name,
                blocked: b.short(),
            }),
            Some(b) => {
                if matches!(op.action, Action::Create | Action::Update) {
                    lifted.push(b);
                }
                kept.push(op);
            }
            None => kept.push(op),
        }
    }
    plan.operations = kept;
    // Blocked objects with nothing planned (unchanged, exported before) are still listed.
    for b in blocks {
        let listed = plan.blocked.iter().any(|o| o.anchor == b.anchor && o.object_type.as_str() == b.object_type);
        let lifted_now = lifted.iter().any(|l| l.anchor == b.anchor && l.object_type == b.object_type);
        if !listed
            && !lifted_now
            && let Some(object_type) = crate::sync::model::ObjectType::parse(&b.object_type)
        {
            plan.blocked.push(BlockedOperation {
                action: Action::Update,
                object_type,
                anchor: b.anchor.clone(),
                name: b.name.clone(),
                blocked: b.short(),
            });
        }
    }
    lifted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::blocked::{BlockKind, sample as blocked};
    use crate::sync::model::{AttrValue, Attributes, ExportObject, ObjectType};
    use crate::sync::plan::Operation;

    fn object(anchor: &str, name: &str) -> ExportObject {
        let mut attributes = Attributes::default();
        attributes.insert("displayName", AttrValue::Str(name.into()));
        ExportObject {
            object_type: ObjectType::User,
            anchor: anchor.into(),
            dn: format!("CN={name}"),
            name: name.into(),
            attributes,
            members: None,
        }
    }

    fn op(action: Action, anchor: &str) -> Operation {
        Operation {
            action,
            object_type: ObjectType::User,
            anchor: anchor.into(),
            name: anchor.into(),
            reason: String::new(),
            approvable: false,
        }
    }

    #[test]
    fn blocked_objects_are_held_back_until_they_change() {
        let a = object("a", "alice");
        let b = object("b", "bob");
        let desired = Desired { objects: vec![a.clone(), b.clone()], ..Default::default() };
        let mut block_a = blocked(BlockKind::SoftMatch);
        block_a.digest = a.digest();
        let mut block_b = blocked(BlockKind::HardMatch);
        block_b.anchor = "b".into();
        block_b.digest = "an older state".into();
        let blocks = vec![block_a, block_b];
        let mut plan = Plan {
            operations: vec![op(Action::Create, "a"), op(Action::Create, "b"), op(Action::Password, "a")],
            ..Default::default()
        };
        let lifted = hold_back(&mut plan, &desired, &blocks);
        assert_eq!(plan.operations.iter().map(|o| o.anchor.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(lifted.len(), 1);
        assert_eq!(lifted[0].anchor, "b");
        assert_eq!(plan.blocked.len(), 2);
        assert!(plan.blocked.iter().all(|o| o.anchor == "a" && o.blocked.starts_with("soft-match: ")));
    }
}
