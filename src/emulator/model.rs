//! The tenant's objects and the typed requests and results the operations exchange with it.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `SyncObjectType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum ObjectType {
    User,
    Group,
    Contact,
    Device,
}

impl ObjectType {
    pub(crate) const ALL: [ObjectType; 4] =
        [ObjectType::User, ObjectType::Group, ObjectType::Contact, ObjectType::Device];

    /// The exact spelling DataContractSerializer accepts for the enum (case-sensitive).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Case-insensitive, for people typing admin URLs.
    pub(crate) fn parse_loose(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(text))
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ObjectType::User => "User",
            ObjectType::Group => "Group",
            ObjectType::Contact => "Contact",
            ObjectType::Device => "Device",
        }
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `SyncOperation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncOperation {
    Add,
    Set,
    Delete,
}

impl SyncOperation {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "Add" => Some(SyncOperation::Add),
            "Set" => Some(SyncOperation::Set),
            "Delete" => Some(SyncOperation::Delete),
            _ => None,
        }
    }
}

/// One typed attribute value (the `i:type` of its `c:Value`). `Null` is a cleared attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v")]
pub(crate) enum Value {
    Null,
    String(String),
    Bool(bool),
    Long(i64),
    Binary(#[serde(with = "b64")] Vec<u8>),
    StringList(Vec<String>),
    BinaryList(#[serde(with = "b64_list")] Vec<Vec<u8>>),
}

impl Value {
    /// Null, an empty string or an empty list: what ReadBackAzureADSyncObjects2 leaves out.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::StringList(l) => l.is_empty(),
            Value::BinaryList(l) => l.is_empty(),
            Value::Binary(b) => b.is_empty(),
            Value::Bool(_) | Value::Long(_) => false,
        }
    }

    /// The logical type name used in error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "nil",
            Value::String(_) => "d:string",
            Value::Bool(_) => "d:boolean",
            Value::Long(_) => "d:long",
            Value::Binary(_) => "d:base64Binary",
            Value::StringList(_) => "c:ArrayOfstring",
            Value::BinaryList(_) => "c:ArrayOfbase64Binary",
        }
    }

    /// The JSON form of the admin API: binary as standard Base64.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::String(s) => J::String(s.clone()),
            Value::Bool(b) => J::Bool(*b),
            Value::Long(n) => J::from(*n),
            Value::Binary(b) => J::String(BASE64.encode(b)),
            Value::StringList(l) => J::Array(l.iter().map(|s| J::String(s.clone())).collect()),
            Value::BinaryList(l) => J::Array(l.iter().map(|b| J::String(BASE64.encode(b))).collect()),
        }
    }
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

mod b64_list {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(list: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(|b| STANDARD.encode(b)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts.into_iter().map(|t| STANDARD.decode(t).map_err(serde::de::Error::custom)).collect()
    }
}

/// A stored PHS credential. The string is a password equivalent: it never goes to a log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredCredential {
    pub credential_data: String,
    /// `ChangeDate` as the client sent it.
    pub change_date: String,
    /// When the emulator stored it (RFC 3339, UTC).
    pub received_at: String,
    pub force_change_on_logon: bool,
}

impl fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCredential")
            .field("credential_data", &"[redacted]")
            .field("change_date", &self.change_date)
            .field("received_at", &self.received_at)
            .finish()
    }
}

/// One attribute: the key as the client last spelt it, and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attribute {
    pub key: String,
    pub value: Value,
}

/// A synced object. Attributes are keyed by the lower-cased name (keys are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncObject {
    pub object_id: Uuid,
    pub object_type: ObjectType,
    pub source_anchor: Option<String>,
    pub attributes: BTreeMap<String, Attribute>,
    /// Object ids of the members (groups only), in the order they were added.
    pub members: Vec<Uuid>,
    pub created_at_ms: i64,
    /// Creation order within the tenant (listings and read-back keep it).
    pub seq: u64,
    pub credential: Option<StoredCredential>,
}

impl SyncObject {
    /// `<Type>_<objectId>`.
    pub(crate) fn cloud_anchor(&self) -> String {
        format!("{}_{}", self.object_type, self.object_id)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.attributes.get(&key.to_ascii_lowercase()).map(|a| &a.value)
    }

    pub(crate) fn string(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// Parses `<Type>_<guid>`.
pub(super) fn parse_cloud_anchor(text: &str) -> Option<(ObjectType, Uuid)> {
    let (kind, id) = text.split_once('_')?;
    Some((ObjectType::parse(kind)?, Uuid::parse_str(id).ok()?))
}

/// A member reference change of the delta form (`SyncReferenceChange`: add or remove one member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReferenceChange {
    pub anchor: String,
    /// `referenceTypeInt` 1: the anchor is a CloudAnchor; 2: a SourceAnchor.
    pub by_cloud_anchor: bool,
    /// `operationInt` 1: add; 2: remove.
    pub add: bool,
}

/// A property value as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PropertyValue {
    Value(Value),
    ReferenceDelta(Vec<ReferenceChange>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Property {
    pub key: String,
    pub value: PropertyValue,
}

/// One `AzureADSyncObject` of a provision request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectChange {
    pub properties: Vec<Property>,
    pub object_type: ObjectType,
    pub operation: SyncOperation,
}

/// One `AzureADSyncObjectResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectResult {
    pub cloud_anchor: Option<String>,
    pub success: bool,
    pub description: Option<String>,
    pub source_anchor: Option<String>,
}

/// One `SyncCredentialsChangeItem`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct CredentialChange {
    pub change_date: String,
    pub cloud_anchor: Option<String>,
    pub credential_data: Option<String>,
    pub force_change_on_logon: bool,
    pub source_anchor: Option<String>,
    pub windows_legacy_credentials: bool,
    pub windows_supplemental_credentials: bool,
}

impl fmt::Debug for CredentialChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialChange")
            .field("source_anchor", &self.source_anchor)
            .field("cloud_anchor", &self.cloud_anchor)
            .field("credential_data", &"[redacted]")
            .finish()
    }
}

/// One `SyncCredentialsChangeResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CredentialResult {
    pub cloud_anchor: Option<String>,
    pub extended_error: Option<String>,
    pub result: i32,
    pub source_anchor: Option<String>,
}

/// `Result` codes of `ProvisionCredentials`: 0 and 2 are observed; 1 is the emulator's own code
/// for an item it cannot read (the real codes are not documented).
pub(super) mod credential_result {
    pub(crate) const SUCCESS: i32 = 0;
    pub(crate) const INVALID_ITEM: i32 = 1;
    pub(crate) const OBJECT_NOT_FOUND: i32 = 2;
}
