//! `AzureADSyncObject`: a property bag with an object type and an operation ,
//! as sent by provision calls and returned by read-back.

use std::fmt;
use std::str::FromStr;

use super::values::PropertyValue;
use super::{member, member_token, text_element};
use crate::entra::nbfx::{Element, ElementRef};

/// `SyncObjectType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectType {
    User,
    Group,
    Contact,
    Device,
}

/// `SyncOperation`. The service treats `Add` and `Set` as upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncOperation {
    Add,
    Set,
    Delete,
}

impl ObjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::User => "User",
            ObjectType::Group => "Group",
            ObjectType::Contact => "Contact",
            ObjectType::Device => "Device",
        }
    }
}

impl FromStr for ObjectType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [ObjectType::User, ObjectType::Group, ObjectType::Contact, ObjectType::Device]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(())
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SyncOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncOperation::Add => "Add",
            SyncOperation::Set => "Set",
            SyncOperation::Delete => "Delete",
        }
    }
}

impl FromStr for SyncOperation {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [SyncOperation::Add, SyncOperation::Set, SyncOperation::Delete]
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(())
    }
}

/// One object to provision, or one object read back. Keys are attribute names as the
/// sync API names them; the service compares them case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncObject {
    pub object_type: ObjectType,
    pub operation: SyncOperation,
    pub properties: Vec<(String, PropertyValue)>,
}

impl SyncObject {
    pub fn new(object_type: ObjectType, operation: SyncOperation) -> SyncObject {
        SyncObject { object_type, operation, properties: Vec::new() }
    }

    /// Adds a property (builder style).
    pub fn with(mut self, key: impl Into<String>, value: PropertyValue) -> SyncObject {
        self.properties.push((key.into(), value));
        self
    }

    /// A `Delete` naming only the source anchor.
    pub fn delete(object_type: ObjectType, source_anchor: impl Into<String>) -> SyncObject {
        SyncObject::new(object_type, SyncOperation::Delete)
            .with("SourceAnchor", PropertyValue::String(source_anchor.into()))
    }

    /// The value of a property, keys compared case-insensitively.
    pub fn property(&self, key: &str) -> Option<&PropertyValue> {
        self.properties.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
    }

    pub fn source_anchor(&self) -> Option<&str> {
        self.property("SourceAnchor").and_then(PropertyValue::as_str)
    }

    pub fn cloud_anchor(&self) -> Option<&str> {
        self.property("CloudAnchor").and_then(PropertyValue::as_str)
    }

    /// Link values in this object (see [`PropertyValue::link_count`]).
    pub fn link_count(&self) -> usize {
        self.properties.iter().map(|(_, v)| v.link_count()).sum()
    }

    /// `<b:AzureADSyncObject>`; expects `b` (…/2014/06) and `i` declared on an ancestor.
    pub(crate) fn to_element(&self) -> Element {
        let entries = self.properties.iter().map(|(key, value)| {
            Element::new("c", "KeyValueOfstringanyType")
                .child(text_element("c", "Key", key.as_str()))
                .child(value.to_element())
        });
        Element::new("b", "AzureADSyncObject")
            .child(
                Element::new("b", "PropertyValues")
                    .xmlns("c", crate::entra::nbfx::ns::SERIALIZATION_ARRAYS)
                    .children(entries),
            )
            .child(Element::new("b", "SyncObjectType").text(self.object_type.as_str()))
            .child(Element::new("b", "SyncOperation").text(self.operation.as_str()))
    }

    /// Reads an `AzureADSyncObject`. Properties whose value cannot be read are left out and
    /// named in the second element of the answer, so one odd attribute does not hide an
    /// object.
    pub(crate) fn from_element(element: &ElementRef<'_>) -> Result<(SyncObject, Vec<String>), String> {
        let type_text = member_token(element, "SyncObjectType").unwrap_or_default();
        let object_type = type_text.parse().map_err(|()| format!("unknown SyncObjectType {type_text:?}"))?;
        let operation = match member_token(element, "SyncOperation") {
            None => SyncOperation::Set,
            Some(text) => text.parse().map_err(|()| format!("unknown SyncOperation {text:?}"))?,
        };
        let mut object = SyncObject::new(object_type, operation);
        let mut skipped = Vec::new();
        if let Some(values) = member(element, "PropertyValues") {
            for entry in values.children() {
                let Some(key) = member(&entry, "Key").map(|k| k.text()) else {
                    skipped.push("a property without a Key".to_owned());
                    continue;
                };
                let value = match member(&entry, "Value") {
                    None => Ok(PropertyValue::Nil),
                    Some(value) => PropertyValue::from_element(&value),
                };
                match value {
                    Ok(value) => object.properties.push((key, value)),
                    Err(reason) => skipped.push(format!("{key}: {reason}")),
                }
            }
        }
        Ok((object, skipped))
    }
}
