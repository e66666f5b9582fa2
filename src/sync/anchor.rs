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

/// The anchor of an object. With ConsistencyGuid, an object whose consistency GUID is still
/// empty uses its objectGUID (the value Entra Connect writes back into it), so the anchor never
/// changes when the GUID is written back later.
pub fn source_anchor(id: &Identity, attr: AnchorAttribute) -> String {
    match (attr, &id.consistency_guid) {
        (AnchorAttribute::ConsistencyGuid, Some(g)) => STANDARD.encode(g),
        _ => STANDARD.encode(id.object_guid),
    }
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
