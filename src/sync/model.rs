//! The engine's own picture of an object as it should look in Entra: a typed property bag,
//! independent of the wire format. The digest of it is what the state DB remembers, so an
//! unchanged object is never sent twice.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::anchor::Anchor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ObjectType {
    User,
    Contact,
    Device,
    Group,
}

impl ObjectType {
    /// The spelling of the sync API's `SyncObjectType`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::User => "User",
            ObjectType::Contact => "Contact",
            ObjectType::Device => "Device",
            ObjectType::Group => "Group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ObjectType::User, ObjectType::Contact, ObjectType::Device, ObjectType::Group]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A property value, with the sync API's value types.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum AttrValue {
    Str(String),
    Bool(bool),
    Long(i64),
    Bytes(#[serde(with = "b64")] Vec<u8>),
    StrList(Vec<String>),
    BytesList(#[serde(with = "b64_list")] Vec<Vec<u8>>),
    /// Explicitly empty: clears the attribute in Entra.
    Null,
}

/// The attributes of an object, sorted by name: a flat list (a map of 30 small entries costs
/// twice the memory, and a reconcile holds one per object of the domain). Serialized as a
/// map, so digests do not depend on this choice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes(Vec<(&'static str, AttrValue)>);

impl Attributes {
    /// Sets an attribute, replacing its earlier value.
    pub fn insert(&mut self, name: &'static str, value: AttrValue) {
        match self.0.binary_search_by(|(n, _)| n.cmp(&name)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        self.0.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| &self.0[i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &AttrValue)> {
        self.0.iter().map(|(n, v)| (*n, v))
    }
}

impl Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// One object as it should be in Entra.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportObject {
    pub object_type: ObjectType,
    pub anchor: Anchor,
    /// Where it comes from (for people and logs; not sent unless mapped as an attribute).
    pub dn: String,
    pub name: String,
    /// Every attribute of the type's catalogue, `Null` when empty, so that an update also clears
    /// what was removed on-premises.
    pub attributes: Attributes,
    /// For groups: the anchors of in-scope members, sorted.
    pub members: Option<Vec<Anchor>>,
}

impl ExportObject {
    /// SHA-256 over the canonical JSON of everything that is sent. Never covers a secret.
    pub fn digest(&self) -> String {
        let canonical = serde_json::json!({
            "t": self.object_type,
            "a": self.anchor,
            "attrs": self.attributes,
            "m": self.members,
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        self.attributes.get(name)
    }
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    pub(super) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }
}

mod b64_list {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::ser::SerializeSeq;

    pub(super) fn serialize<S: serde::Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for item in v {
            seq.serialize_element(&STANDARD.encode(item))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str) -> ExportObject {
        let mut attributes = Attributes::default();
        attributes.insert("displayName", AttrValue::Str(name.into()));
        attributes.insert("mail", AttrValue::Null);
        ExportObject {
            object_type: ObjectType::User,
            anchor: "AAA=".into(),
            dn: "CN=x".into(),
            name: "x".into(),
            attributes,
            members: None,
        }
    }

    #[test]
    fn digest_tracks_what_is_sent() {
        assert_eq!(obj("A").digest(), obj("A").digest());
        assert_ne!(obj("A").digest(), obj("B").digest());
        // The DN is for people; moving within scope changes nothing that is sent...
        let mut moved = obj("A");
        moved.dn = "CN=y".into();
        assert_eq!(moved.digest(), obj("A").digest());
        assert_eq!(ObjectType::parse("group"), Some(ObjectType::Group));
    }

    #[test]
    fn attributes_stay_sorted_and_digest_like_a_map() {
        let mut a = Attributes::default();
        for (n, v) in [("mail", "m"), ("displayName", "d"), ("sn", "s"), ("mail", "m2")] {
            a.insert(n, AttrValue::Str(v.into()));
        }
        assert_eq!(a.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["displayName", "mail", "sn"]);
        assert_eq!(a.get("mail"), Some(&AttrValue::Str("m2".into())));
        assert_eq!(a.get("title"), None);
        // The same JSON as the BTreeMap it replaced: digests of existing state stay valid.
        let map: std::collections::BTreeMap<&str, &AttrValue> = a.iter().collect();
        assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&map).unwrap());
    }
}
