//! Source anchors (Entra's `onPremisesImmutableId`): Base64 of the anchor attribute's bytes
//! exactly as AD stores them (the first three GUID groups little-endian).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::samba::directory::Identity;

/// Which attribute the anchor comes from. Must agree with the tenant's `AnchorAttribute`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnchorAttribute {
    #[default]
    #[serde(rename = "objectGUID")]
    ObjectGuid,
    #[serde(rename = "ms-DS-ConsistencyGuid", alias = "mS-DS-ConsistencyGuid")]
    ConsistencyGuid,
}

impl AnchorAttribute {
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("objectGUID") {
            Some(AnchorAttribute::ObjectGuid)
        } else if s.eq_ignore_ascii_case("ms-DS-ConsistencyGuid") {
            Some(AnchorAttribute::ConsistencyGuid)
        } else {
            None
        }
    }

    /// The spelling Entra uses in `DirSyncConfiguration/AnchorAttribute`.
    pub fn tenant_name(self) -> &'static str {
        match self {
            AnchorAttribute::ObjectGuid => "objectGUID",
            AnchorAttribute::ConsistencyGuid => "mS-DS-ConsistencyGuid",
        }
    }
}

/// A source anchor (Base64 of the anchor attribute's bytes): what ties an object in the
/// directory, in the state DB and in Entra together. Compared as the text it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Anchor(String);

impl Anchor {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::ops::Deref for Anchor {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Anchor {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Anchor {
    fn from(s: String) -> Self {
        Anchor(s)
    }
}

impl From<&str> for Anchor {
    fn from(s: &str) -> Self {
        Anchor(s.to_owned())
    }
}

impl PartialEq<str> for Anchor {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Anchor {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Anchor {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl rusqlite::ToSql for Anchor {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::from(self.0.as_str()))
    }
}

impl rusqlite::types::FromSql for Anchor {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        Ok(Anchor(value.as_str()?.to_owned()))
    }
}

/// The anchor of an object. With ConsistencyGuid, an object whose consistency GUID is still
/// empty uses its objectGUID (the value Entra Connect writes back into it), so the anchor never
/// changes when the GUID is written back later.
pub fn source_anchor(id: &Identity, attr: AnchorAttribute) -> Anchor {
    Anchor(match (attr, &id.consistency_guid) {
        (AnchorAttribute::ConsistencyGuid, Some(g)) => STANDARD.encode(g),
        _ => STANDARD.encode(id.object_guid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(guid: [u8; 16], cg: Option<Vec<u8>>) -> Identity {
        Identity { sam_account_name: "x".into(), object_guid: guid, consistency_guid: cg, ..Default::default() }
    }

    #[test]
    fn protocol_doc_example() {
        let g = [0x91, 0x98, 0xfb, 0x9e, 0x21, 0xae, 0x6b, 0x41, 0xb3, 0xf7, 0x69, 0x88, 0x0c, 0x29, 0x7e, 0x4f];
        assert_eq!(source_anchor(&id(g, None), AnchorAttribute::ObjectGuid), "kZj7niGua0Gz92mIDCl+Tw==");
        // Without a consistency GUID the consistency anchor equals the objectGUID anchor.
        assert_eq!(source_anchor(&id(g, None), AnchorAttribute::ConsistencyGuid), "kZj7niGua0Gz92mIDCl+Tw==");
        let cg = (0u8..16).collect::<Vec<_>>();
        assert_eq!(source_anchor(&id(g, Some(cg)), AnchorAttribute::ConsistencyGuid), "AAECAwQFBgcICQoLDA0ODw==");
    }
}
