//! Property values of sync objects (scalars, lists and member references): the typed `c:Value` of each
//! `KeyValueOfstringanyType` entry.
//!
//! `i:type` values are written as plain text (`d:string` with its own `xmlns:d`), never as
//! QNameDictionaryText, the record that broke python-wcfbin (its pull request 16).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{member, nil_element, text_element};
use crate::entra::nbfx::{Element, ElementRef, ns};
use crate::entra::soap::is_nil;

/// One attribute value as the service types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyValue {
    /// `d:string`.
    String(String),
    /// `d:boolean`.
    Bool(bool),
    /// `d:long`.
    Long(i64),
    /// `d:base64Binary`.
    Base64(Vec<u8>),
    /// `c:ArrayOfstring` with items. An empty list is written (and read back) as [`Self::EmptyList`].
    StringList(Vec<String>),
    /// `c:ArrayOfbase64Binary`.
    Base64List(Vec<Vec<u8>>),
    /// `i:nil="true"`: clears the attribute.
    Nil,
    /// `c:ArrayOfstring` without items: clears a multi-valued attribute.
    EmptyList,
    /// `SyncReferenceChangeCollection`: member additions and removals
    /// (`ProvisionAzureADSyncObjects2` only).
    ReferenceChanges(Vec<ReferenceChange>),
}

/// One delta of a reference attribute such as `member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceChange {
    pub anchor: String,
    pub anchor_kind: AnchorKind,
    pub operation: ReferenceOperation,
}

/// `referenceTypeInt`: what kind of anchor names the referenced object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorKind {
    Cloud = 1,
    Source = 2,
}

/// `operationInt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceOperation {
    Add = 1,
    Remove = 2,
}

impl ReferenceChange {
    /// Adds the object with this source anchor.
    pub fn add(source_anchor: impl Into<String>) -> ReferenceChange {
        ReferenceChange {
            anchor: source_anchor.into(),
            anchor_kind: AnchorKind::Source,
            operation: ReferenceOperation::Add,
        }
    }

    /// Removes the object with this source anchor.
    pub fn remove(source_anchor: impl Into<String>) -> ReferenceChange {
        ReferenceChange {
            anchor: source_anchor.into(),
            anchor_kind: AnchorKind::Source,
            operation: ReferenceOperation::Remove,
        }
    }
}

impl PropertyValue {
    /// The string, for [`Self::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PropertyValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number of link values this value makes the service process (bounded per call by
    /// `MaxLinksSupportedAcrossBatchInProvision2`).
    pub fn link_count(&self) -> usize {
        match self {
            PropertyValue::ReferenceChanges(changes) => changes.len(),
            PropertyValue::StringList(items) => items.len(),
            _ => 0,
        }
    }

    /// The `c:Value` element. Expects `c` (Arrays) and `i` (XMLSchema-instance) to be declared
    /// on an ancestor, and the contract namespace to be the default one.
    pub(crate) fn to_element(&self) -> Element {
        let typed = |type_name: &str, text: String| {
            text_element("c", "Value", text).attr("i", "type", type_name).xmlns("d", ns::XML_SCHEMA)
        };
        let array = |type_name: &str| Element::new("c", "Value").attr("i", "type", type_name);
        match self {
            PropertyValue::String(s) => typed("d:string", s.clone()),
            PropertyValue::Bool(b) => typed("d:boolean", super::bool_text(*b).to_owned()),
            PropertyValue::Long(n) => typed("d:long", n.to_string()),
            PropertyValue::Base64(bytes) => typed("d:base64Binary", BASE64.encode(bytes)),
            PropertyValue::StringList(items) => {
                array("c:ArrayOfstring").children(items.iter().map(|item| text_element("c", "string", item.as_str())))
            }
            PropertyValue::Base64List(items) => array("c:ArrayOfbase64Binary")
                .children(items.iter().map(|item| text_element("c", "base64Binary", BASE64.encode(item)))),
            PropertyValue::Nil => nil_element("c", "Value"),
            PropertyValue::EmptyList => array("c:ArrayOfstring"),
            PropertyValue::ReferenceChanges(changes) => Element::new("c", "Value")
                .attr("i", "type", "SyncReferenceChangeCollection")
                .child(Element::new("", "referenceChanges").children(changes.iter().map(reference_element))),
        }
    }

    /// Reads a `c:Value` element. Unknown XML Schema types are read as their text; an
    /// unsupported complex type is an error (the caller decides whether to skip the property).
    pub(crate) fn from_element(value: &ElementRef<'_>) -> Result<PropertyValue, String> {
        if is_nil(value) {
            return Ok(PropertyValue::Nil);
        }
        let Some(type_name) = value.attribute(ns::XML_SCHEMA_INSTANCE, "type") else {
            return if value.children().next().is_some() {
                Err("a value without i:type has child elements".to_owned())
            } else {
                Ok(PropertyValue::String(value.text()))
            };
        };
        let type_name = type_name.trim();
        let (namespace, local) = match value.resolve_qname(type_name) {
            Some((namespace, local)) => (namespace, local),
            None => ("", type_name.rsplit(':').next().unwrap_or(type_name)),
        };
        let text = value.text();
        match (namespace, local) {
            (ns::XML_SCHEMA, "boolean") => super::parse_bool(&text)
                .map(PropertyValue::Bool)
                .ok_or_else(|| "a d:boolean is not a boolean".to_owned()),
            (ns::XML_SCHEMA, "long" | "int" | "short" | "byte" | "unsignedInt" | "unsignedShort" | "unsignedByte") => {
                text.trim().parse().map(PropertyValue::Long).map_err(|_| format!("a d:{local} is not a number"))
            }
            (ns::XML_SCHEMA, "base64Binary") => decode_base64(&text).map(PropertyValue::Base64),
            (ns::XML_SCHEMA, _) => Ok(PropertyValue::String(text)),
            (_, "ArrayOfstring") => {
                let items: Vec<String> = value.children().filter(|c| !is_nil(c)).map(|c| c.text()).collect();
                Ok(if items.is_empty() { PropertyValue::EmptyList } else { PropertyValue::StringList(items) })
            }
            (_, "ArrayOfbase64Binary") => value
                .children()
                .filter(|c| !is_nil(c))
                .map(|c| decode_base64(&c.text()))
                .collect::<Result<_, _>>()
                .map(PropertyValue::Base64List),
            (_, "SyncReferenceChangeCollection") => read_reference_changes(value).map(PropertyValue::ReferenceChanges),
            _ => Err(format!("unsupported value type {type_name}")),
        }
    }
}

fn reference_element(change: &ReferenceChange) -> Element {
    Element::new("", "SyncReferenceChange")
        .child(
            Element::new("", "Reference")
                .child(text_element("", "Anchor", change.anchor.as_str()))
                .child(Element::new("", "referenceTypeInt").text((change.anchor_kind as u8).to_string())),
        )
        .child(Element::new("", "operationInt").text((change.operation as u8).to_string()))
}

fn read_reference_changes(value: &ElementRef<'_>) -> Result<Vec<ReferenceChange>, String> {
    let Some(list) = member(value, "referenceChanges") else {
        return Ok(Vec::new());
    };
    list.children()
        .map(|change| {
            let reference = member(&change, "Reference").ok_or("a reference change has no Reference")?;
            let anchor = member(&reference, "Anchor").map(|a| a.text()).unwrap_or_default();
            let anchor_kind = match member(&reference, "referenceTypeInt").map(|t| t.text()).as_deref().map(str::trim) {
                Some("1") => AnchorKind::Cloud,
                Some("2") => AnchorKind::Source,
                other => return Err(format!("unknown referenceTypeInt {other:?}")),
            };
            let operation = match member(&change, "operationInt").map(|t| t.text()).as_deref().map(str::trim) {
                Some("1") => ReferenceOperation::Add,
                Some("2") => ReferenceOperation::Remove,
                other => return Err(format!("unknown operationInt {other:?}")),
            };
            Ok(ReferenceChange { anchor, anchor_kind, operation })
        })
        .collect()
}

fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    BASE64.decode(text.trim()).map_err(|_| "a d:base64Binary is not valid Base64".to_owned())
}
