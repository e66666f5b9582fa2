//! `ProvisionAzureADSyncObjects(2)` semantics (docs/emulator.md, "Sync API"): upsert and delete by anchor,
//! typed attributes, group members resolved by anchor, and duplicate-attribute resiliency.

use std::collections::HashMap;

use uuid::Uuid;

use super::model::*;
use super::rules;
use super::store::StoreError;
use super::tenant::{ProvisionContext, Tenant};

/// The value type an attribute must have, for the attributes whose type the service is known
/// to fix. Others accept any type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Bool,
    Long,
    Binary,
    StringList,
    BinaryList,
    Any,
}

fn kind_of(key_lower: &str) -> Kind {
    match key_lower {
        "accountenabled" | "cloudmastered" | "securityenabled" => Kind::Bool,
        "countrycode" => Kind::Long,
        "onpremisesecurityidentifier" | "deviceid" => Kind::Binary,
        "proxyaddresses" | "member" => Kind::StringList,
        "usercertificate" => Kind::BinaryList,
        "userprincipalname"
        | "displayname"
        | "givenname"
        | "surname"
        | "commonname"
        | "mail"
        | "onpremisessamaccountname"
        | "onpremisesdistinguishedname"
        | "dnsdomainname"
        | "netbiosname"
        | "usagelocation"
        | "usertype"
        | "manager"
        | "description"
        | "deviceostype"
        | "deviceosversion"
        | "devicetrusttype"
        | "lastpasswordchangetimestamp"
        | "department"
        | "title"
        | "company"
        | "mobile"
        | "telephonenumber"
        | "physicaldeliveryofficename"
        | "employeeid"
        | "streetaddress"
        | "city"
        | "state"
        | "country"
        | "employeetype"
        | "facsimiletelephonenumber" => Kind::String,
        _ => Kind::Any,
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "a d:string",
        Kind::Bool => "a d:boolean",
        Kind::Long => "a d:long",
        Kind::Binary => "a d:base64Binary",
        Kind::StringList => "a c:ArrayOfstring",
        Kind::BinaryList => "a c:ArrayOfbase64Binary",
        Kind::Any => "any",
    }
}

/// Checks a value against its attribute's type; an empty ArrayOfstring stands for any empty
/// list (the Python port sends it for an empty `userCertificate`).
fn check_kind(key: &str, value: Value) -> Result<Value, String> {
    let kind = kind_of(&key.to_ascii_lowercase());
    let ok = match (&value, kind) {
        (Value::Null, _) | (_, Kind::Any) => true,
        (Value::StringList(l), Kind::BinaryList) if l.is_empty() => return Ok(Value::BinaryList(Vec::new())),
        (Value::String(_), Kind::String)
        | (Value::Bool(_), Kind::Bool)
        | (Value::Long(_), Kind::Long)
        | (Value::Binary(_), Kind::Binary)
        | (Value::StringList(_), Kind::StringList)
        | (Value::BinaryList(_), Kind::BinaryList) => true,
        _ => false,
    };
    if ok {
        Ok(value)
    } else {
        Err(format!("The attribute '{key}' must be {}, but a {} value was sent.", kind_name(kind), value.type_name()))
    }
}

/// The observed duplicate-attribute-resiliency warning, in the service's own words.
fn resiliency_warning(conflicts: &[String]) -> String {
    let list: String = conflicts.iter().map(|c| format!("{c};")).collect();
    format!(
        "This object has been updated in your Azure Active Directory, but with some modified properties, because \
         the following attributes are associated with another object [{list}]. Please refer to \
         https://aka.ms/duplicateattributeresiliency for steps on how to resolve this issue."
    )
}

fn failure(source_anchor: Option<String>, text: String) -> ObjectResult {
    ObjectResult { cloud_anchor: None, success: false, description: Some(text), source_anchor }
}

/// The answer to a Delete of an object the tenant does not hold (`--unknown-delete`).
fn nothing_to_delete(source_anchor: Option<String>, text: String, ctx: &ProvisionContext) -> ObjectResult {
    if ctx.unknown_delete_fails {
        failure(source_anchor, text)
    } else {
        ObjectResult { cloud_anchor: None, success: true, description: None, source_anchor }
    }
}

fn string_property(map: &HashMap<String, &Property>, key: &str) -> Result<Option<String>, String> {
    match map.get(key).map(|p| &p.value) {
        None | Some(PropertyValue::Value(Value::Null)) => Ok(None),
        Some(PropertyValue::Value(Value::String(s))) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(format!("The attribute '{}' must be a non-empty d:string.", map[key].key)),
    }
}

/// Changes to commit at the end of a call.
#[derive(Default)]
struct Pending {
    dirty: Vec<Uuid>,
    deleted: Vec<Uuid>,
    writes: u64,
}

impl Pending {
    fn touch(&mut self, id: Uuid) {
        if !self.dirty.contains(&id) {
            self.dirty.push(id);
        }
    }
}

impl Tenant {
    /// Applies the objects of one call in order; one result per object.
    pub(crate) fn provision(
        &mut self,
        changes: &[ObjectChange],
        ctx: &ProvisionContext,
    ) -> Result<(Vec<ObjectResult>, u64), StoreError> {
        let mut pending = Pending::default();
        let links: usize = changes.iter().map(link_count).sum();
        let results = if let Some(max) = ctx.max_links.filter(|max| links > *max) {
            changes
                .iter()
                .map(|c| {
                    let anchor = c.properties.iter().find(|p| p.key.eq_ignore_ascii_case("SourceAnchor"));
                    let anchor = match anchor.map(|p| &p.value) {
                        Some(PropertyValue::Value(Value::String(s))) => Some(s.clone()),
                        _ => None,
                    };
                    failure(
                        anchor,
                        format!(
                            "The request carries {links} member links, more than \
                             MaxLinksSupportedAcrossBatchInProvision2 ({max}); split the membership into several calls."
                        ),
                    )
                })
                .collect()
        } else {
            changes.iter().map(|c| self.apply(c, ctx, &mut pending)).collect()
        };
        let changed = pending.dirty.iter().filter_map(|id| self.objects.get(id));
        self.store.persist(changed, &pending.deleted)?;
        Ok((results, pending.writes))
    }

    /// A change made in the cloud, not by the sync client (an administrator in the portal, or
    /// another writer): deletes the object. Returns whether it existed.
    pub(crate) fn cloud_delete(&mut self, id: Uuid) -> Result<bool, StoreError> {
        let mut pending = Pending::default();
        if !self.delete(id, None, &mut pending).success {
            return Ok(false);
        }
        let changed = pending.dirty.iter().filter_map(|id| self.objects.get(id));
        self.store.persist(changed, &pending.deleted)?;
        Ok(true)
    }

    /// A change made in the cloud: sets (or, with `Value::Null`, clears) attributes of an
    /// object. Returns whether it exists.
    pub(crate) fn cloud_set_attributes(
        &mut self,
        id: Uuid,
        attributes: Vec<(String, Value)>,
    ) -> Result<bool, StoreError> {
        let Some(mut object) = self.objects.remove(&id) else { return Ok(false) };
        self.unindex(&object);
        for (key, value) in attributes {
            match value {
                Value::Null => object.attributes.remove(&key.to_ascii_lowercase()),
                value => object.attributes.insert(key.to_ascii_lowercase(), Attribute { key, value }),
            };
        }
        self.index(&object);
        self.store.persist([&object], &[])?;
        self.objects.insert(id, object);
        Ok(true)
    }

    fn apply(&mut self, change: &ObjectChange, ctx: &ProvisionContext, pending: &mut Pending) -> ObjectResult {
        let mut by_key: HashMap<String, &Property> = HashMap::new();
        let echoed = match change.properties.iter().find(|p| p.key.eq_ignore_ascii_case("SourceAnchor")) {
            Some(Property { value: PropertyValue::Value(Value::String(s)), .. }) => Some(s.clone()),
            _ => None,
        };
        for property in &change.properties {
            if by_key.insert(property.key.to_ascii_lowercase(), property).is_some() {
                return failure(
                    echoed,
                    format!("The attribute '{}' is given more than once (keys are case-insensitive).", property.key),
                );
            }
        }
        let (source_anchor, cloud_anchor) =
            match (string_property(&by_key, "sourceanchor"), string_property(&by_key, "cloudanchor")) {
                (Ok(s), Ok(c)) => (s, c),
                (Err(e), _) | (_, Err(e)) => return failure(echoed, e),
            };
        let kind = change.object_type;
        let target = match (&cloud_anchor, &source_anchor) {
            (Some(cloud), _) => match parse_cloud_anchor(cloud) {
                Some((t, id)) if t == kind => match self.objects.get(&id) {
                    Some(o) if o.object_type == kind => Some(id),
                    _ => {
                        let text = format!("{kind} '{cloud}' does not exist in the tenant (object not found).");
                        if change.operation == SyncOperation::Delete {
                            return nothing_to_delete(echoed, text, ctx);
                        }
                        return failure(echoed, text);
                    }
                },
                _ => {
                    return failure(
                        echoed,
                        format!("The CloudAnchor '{cloud}' does not name a {kind} (<Type>_<objectId>)."),
                    );
                }
            },
            (None, Some(anchor)) => self.anchors.get(&(kind, anchor.clone())).copied(),
            (None, None) => return failure(None, "Every object needs a SourceAnchor or a CloudAnchor.".to_owned()),
        };
        let target = match target {
            None if change.operation != SyncOperation::Delete && cloud_anchor.is_none() => {
                match self.match_cloud_only(kind, source_anchor.as_deref().unwrap_or_default(), &by_key, ctx) {
                    Ok(found) => found,
                    Err(text) => return failure(echoed, text),
                }
            }
            target => target,
        };
        if let Some(object) = target.and_then(|id| self.objects.get(&id))
            && object.cloud.cloud_managed
        {
            return failure(echoed, rules::CLOUD_MANAGED.to_owned());
        }
        if change.operation == SyncOperation::Delete {
            let Some(id) = target else {
                let anchor = source_anchor.unwrap_or_default();
                let text = format!("{kind} '{anchor}' does not exist in the tenant (object not found).");
                return nothing_to_delete(echoed, text, ctx);
            };
            return self.delete(id, echoed, pending);
        }
        if let (Some(id), Some(anchor)) = (target, &source_anchor) {
            let object = &self.objects[&id];
            match &object.source_anchor {
                Some(existing) if existing != anchor => {
                    if ctx.service_date >= rules::REPOINT_HARDENING {
                        return failure(echoed, rules::REPOINT_BLOCKED.to_owned());
                    }
                    return failure(
                        echoed,
                        format!(
                            "The SourceAnchor of {} is already '{existing}'; an object's SourceAnchor can be set only once.",
                            object.cloud_anchor()
                        ),
                    );
                }
                None if self.anchors.contains_key(&(kind, anchor.clone())) => {
                    return failure(echoed, format!("Another {kind} already has the SourceAnchor '{anchor}'."));
                }
                _ => {}
            }
        }
        let previous = target.and_then(|id| self.objects.get(&id)).cloned();
        let mut object = match previous.clone() {
            Some(existing) => existing,
            None => {
                self.next_seq += 1;
                SyncObject::new(kind, ctx.now_ms, self.next_seq - 1)
            }
        };
        if source_anchor.is_some() {
            object.source_anchor.clone_from(&source_anchor);
        }
        let mut notes = Notes::default();
        for property in &change.properties {
            let lower = property.key.to_ascii_lowercase();
            if lower == "sourceanchor" || lower == "cloudanchor" {
                continue;
            }
            if let Err(text) = self.set_property(&mut object, property, ctx, &mut notes) {
                return failure(echoed, text);
            }
        }
        let cloud = object.cloud_anchor();
        if previous.as_ref() != Some(&object) {
            if let Some(previous) = &previous {
                self.unindex(previous);
            }
            self.index(&object);
            pending.touch(object.object_id);
            pending.writes += 1;
            self.objects.insert(object.object_id, object);
        }
        let mut description = Vec::new();
        if !notes.conflicts.is_empty() {
            description.push(resiliency_warning(&notes.conflicts));
        }
        if ctx.report_unresolved_members && !notes.unresolved.is_empty() {
            let list: String = notes.unresolved.iter().map(|a| format!("{a};")).collect();
            description.push(format!(
                "The following member references could not be resolved to objects in the tenant and were not \
                 applied: [{list}]. Send the group again once they exist."
            ));
        }
        ObjectResult {
            cloud_anchor: Some(cloud),
            success: true,
            description: (!description.is_empty()).then(|| description.join(" ")),
            source_anchor: echoed,
        }
    }

    /// The cloud-only object a synced object with a new anchor takes over, if any: by hard
    /// match (its `onPremisesImmutableId` is the anchor), else by soft match (the same UPN or
    /// primary SMTP address); `Err` when the tenant's protections refuse the match.
    fn match_cloud_only(
        &self,
        kind: ObjectType,
        anchor: &str,
        by_key: &HashMap<String, &Property>,
        ctx: &ProvisionContext,
    ) -> Result<Option<Uuid>, String> {
        if !matches!(kind, ObjectType::User | ObjectType::Group | ObjectType::Contact) || anchor.is_empty() {
            return Ok(None);
        }
        let cloud_only =
            |id: &Uuid| self.objects.get(id).filter(|o| o.object_type == kind && o.source_anchor.is_none());
        let features = self.info.dirsync_features;
        let hard_match = self.immutable_ids.get(&(kind, anchor.to_owned())).and_then(cloud_only);
        if let Some(o) = hard_match.filter(|o| o.cloud.immutable_id.as_deref() == Some(anchor)) {
            // A role holder is never taken over, whatever else the tenant allows.
            if !o.cloud.roles.is_empty() && ctx.service_date >= rules::ROLE_HOLDER_HARD_MATCH {
                return Err(rules::role_holder(&o.cloud_anchor(), "hard-match"));
            }
            if features & rules::BLOCK_HARD_MATCH_TAKEOVER != 0 {
                return Err(rules::hard_match_blocked(&o.cloud_anchor()));
            }
            return Ok(Some(o.object_id));
        }
        let text = |key: &str| match by_key.get(key).map(|p| &p.value) {
            Some(PropertyValue::Value(Value::String(s))) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        let primary_smtp = match by_key.get("proxyaddresses").map(|p| &p.value) {
            Some(PropertyValue::Value(Value::StringList(list))) => {
                list.iter().find(|a| a.starts_with("SMTP:")).cloned()
            }
            _ => None,
        };
        let by_upn = (kind == ObjectType::User).then(|| text("userprincipalname")).flatten().and_then(|upn| {
            self.upns.get(&upn.to_lowercase()).and_then(cloud_only).map(|o| (o, "UserPrincipalName", upn))
        });
        let by_smtp = || {
            primary_smtp.as_ref().and_then(|smtp| {
                self.proxies.get(&smtp.to_lowercase()).and_then(cloud_only).map(|o| (o, "ProxyAddresses", smtp.clone()))
            })
        };
        let Some((o, what, value)) = by_upn.or_else(by_smtp) else { return Ok(None) };
        if !o.cloud.roles.is_empty() {
            return Err(rules::role_holder(&o.cloud_anchor(), "soft-match"));
        }
        if features & rules::BLOCK_SOFT_MATCH != 0 {
            return Err(rules::soft_match_blocked(what, &value, &o.cloud_anchor()));
        }
        if o.cloud.immutable_id.as_deref().is_some_and(|id| id != anchor) {
            return Err(rules::soft_match_other_immutable_id(what, &value, &o.cloud_anchor()));
        }
        Ok(Some(o.object_id))
    }

    fn delete(&mut self, id: Uuid, echoed: Option<String>, pending: &mut Pending) -> ObjectResult {
        let Some(object) = self.objects.remove(&id) else {
            return failure(echoed, "The object does not exist in the tenant (object not found).".to_owned());
        };
        self.unindex(&object);
        let groups: Vec<Uuid> =
            self.objects.values().filter(|g| g.members.contains(&id)).map(|g| g.object_id).collect();
        for group in groups {
            if let Some(g) = self.objects.get_mut(&group) {
                g.members.retain(|m| *m != id);
                pending.touch(group);
            }
        }
        pending.dirty.retain(|d| *d != id);
        pending.deleted.push(id);
        pending.writes += 1;
        ObjectResult {
            cloud_anchor: Some(object.cloud_anchor()),
            success: true,
            description: None,
            source_anchor: echoed,
        }
    }

    fn set_property(
        &self,
        object: &mut SyncObject,
        property: &Property,
        ctx: &ProvisionContext,
        notes: &mut Notes,
    ) -> Result<(), String> {
        let key = &property.key;
        let lower = key.to_ascii_lowercase();
        if lower == "member" {
            if object.object_type != ObjectType::Group {
                return Err(format!(
                    "The attribute 'member' is valid only on groups, not on a {}.",
                    object.object_type
                ));
            }
            return self.set_members(object, &property.value, ctx, notes);
        }
        let PropertyValue::Value(value) = &property.value else {
            return Err(format!("A SyncReferenceChangeCollection value is valid only for 'member', not for '{key}'."));
        };
        let mut value = check_kind(key, value.clone())?;
        match (&lower[..], &mut value) {
            ("userprincipalname", Value::String(upn))
                if object.object_type == ObjectType::User
                    && self.upns.get(&upn.to_lowercase()).is_some_and(|owner| *owner != object.object_id) =>
            {
                notes.conflicts.push(format!("UserPrincipalName <pii>{upn}</pii>"));
                *upn = self.placeholder_upn(upn, object.object_id);
            }
            ("proxyaddresses", Value::StringList(list)) => {
                list.retain(|address| {
                    let taken =
                        self.proxies.get(&address.to_lowercase()).is_some_and(|owner| *owner != object.object_id);
                    if taken {
                        notes.conflicts.push(format!("ProxyAddresses <pii>{address}</pii>"));
                    }
                    !taken
                });
            }
            _ => {}
        }
        object.attributes.insert(lower, Attribute { key: key.clone(), value });
        Ok(())
    }

    fn set_members(
        &self,
        group: &mut SyncObject,
        value: &PropertyValue,
        ctx: &ProvisionContext,
        notes: &mut Notes,
    ) -> Result<(), String> {
        match value {
            PropertyValue::Value(Value::Null) => group.members.clear(),
            PropertyValue::Value(Value::StringList(anchors)) => {
                let mut members = Vec::new();
                for anchor in anchors {
                    match self.resolve_member(anchor, false, ctx) {
                        Some(id) if id == group.object_id => return Err("A group cannot be a member of itself.".into()),
                        Some(id) if !members.contains(&id) => members.push(id),
                        Some(_) => {}
                        None => notes.unresolved.push(anchor.clone()),
                    }
                }
                group.members = members;
            }
            PropertyValue::ReferenceDelta(changes) => {
                if !ctx.delta_members_allowed {
                    return Err("SyncReferenceChangeCollection member changes are accepted only by \
                                ProvisionAzureADSyncObjects2."
                        .into());
                }
                for change in changes {
                    match self.resolve_member(&change.anchor, change.by_cloud_anchor, ctx) {
                        Some(id) if id == group.object_id => return Err("A group cannot be a member of itself.".into()),
                        Some(id) if change.add => {
                            if !group.members.contains(&id) {
                                group.members.push(id);
                            }
                        }
                        Some(id) => group.members.retain(|m| *m != id),
                        None => notes.unresolved.push(change.anchor.clone()),
                    }
                }
            }
            PropertyValue::Value(other) => {
                return Err(format!(
                    "The attribute 'member' must be a c:ArrayOfstring, but a {} value was sent.",
                    other.type_name()
                ));
            }
        }
        Ok(())
    }

    /// A member anchor → object id, if the object exists and has replicated.
    fn resolve_member(&self, anchor: &str, by_cloud_anchor: bool, ctx: &ProvisionContext) -> Option<Uuid> {
        let object = if by_cloud_anchor {
            let (kind, id) = parse_cloud_anchor(anchor)?;
            self.objects.get(&id).filter(|o| o.object_type == kind)?
        } else {
            self.find_by_anchor(anchor)?
        };
        Tenant::visible(object.created_at_ms, ctx).then_some(object.object_id)
    }

    /// Entra's quarantine UPN: the local part, four digits, and the initial domain.
    fn placeholder_upn(&self, wanted: &str, id: Uuid) -> String {
        let local = wanted.split('@').next().unwrap_or("user");
        let seed = u16::from_le_bytes([id.as_bytes()[0], id.as_bytes()[1]]);
        (0..10_000u32)
            .map(|i| format!("{local}{:04}@{}", (u32::from(seed) + i) % 10_000, self.info.initial_domain))
            .find(|candidate| !self.upns.contains_key(&candidate.to_lowercase()))
            .unwrap_or_else(|| format!("{local}-{id}@{}", self.info.initial_domain))
    }
}

#[derive(Default)]
struct Notes {
    conflicts: Vec<String>,
    unresolved: Vec<String>,
}

fn link_count(change: &ObjectChange) -> usize {
    change
        .properties
        .iter()
        .filter(|p| p.key.eq_ignore_ascii_case("member"))
        .map(|p| match &p.value {
            PropertyValue::Value(Value::StringList(l)) => l.len(),
            PropertyValue::ReferenceDelta(d) => d.len(),
            PropertyValue::Value(_) => 0,
        })
        .sum()
}
