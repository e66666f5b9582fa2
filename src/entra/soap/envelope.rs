//! The request envelope (addressing headers and the `SyncToken`), built as a tree for the msbin1 writer.

use std::fmt;

use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use super::{ACTION_BASE, ADMIN_SERVICE_NS, APPLICATION_ID_V1, CLIENT_VERSION, DEFAULT_CLIENT_BUILD, SYNC_NS};
use crate::entra::nbfx::{self, Element, NbfxError, Node, ns};

/// What the client says about itself in every `SyncToken` (and in the `x-ms-aadmsods-*` HTTP
/// headers). The service enforces a minimum build, so the build is configurable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// `ApplicationId`: [`APPLICATION_ID_V1`] or [`super::APPLICATION_ID_V2`].
    pub application_id: String,
    /// `ClientVersion` (`8.0`).
    pub client_version: String,
    /// `DirSyncBuildNumber` and `FIMBuildNumber`.
    pub build_number: String,
    /// `LanguageId`.
    pub language_id: String,
    /// `IsInstalledOnDC`.
    pub installed_on_dc: bool,
    /// `RichCoexistenceEnabled`.
    pub rich_coexistence: bool,
}

impl Default for ClientIdentity {
    fn default() -> Self {
        ClientIdentity {
            application_id: APPLICATION_ID_V1.to_owned(),
            client_version: CLIENT_VERSION.to_owned(),
            build_number: DEFAULT_CLIENT_BUILD.to_owned(),
            language_id: "en-US".to_owned(),
            installed_on_dc: false,
            rich_coexistence: false,
        }
    }
}

/// The per-request parts of the header.
pub struct RequestHeader<'a> {
    pub identity: &'a ClientIdentity,
    /// The raw JWT (no `Bearer ` prefix).
    pub bearer_token: &'a str,
    /// `TrackingId`, `a:MessageID` and the `client-request-id` HTTP header.
    pub tracking_id: Uuid,
    /// `a:To`: the service URL (the real one by default; after a redirect, the new host).
    pub to: &'a str,
}

impl fmt::Debug for RequestHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHeader")
            .field("identity", self.identity)
            .field("bearer_token", &"[redacted]")
            .field("tracking_id", &self.tracking_id)
            .field("to", &self.to)
            .finish()
    }
}

/// The envelope for `operation` with `body` (the operation element) in `s:Body`.
///
/// Element order and namespaces follow what .NET writes exactly (the golden
/// FinalizeExport request of `tests/wire.rs`): the `SyncToken` children
/// are in DataContract (ordinal) order, each declaring the contract namespace itself.
pub fn request_envelope(operation: &str, header: &RequestHeader<'_>, body: Element) -> Element {
    let identity = header.identity;
    let tracking = header.tracking_id.hyphenated().to_string();
    let field = |name: &str, value: &str| {
        let element = Element::new("", name).xmlns("", SYNC_NS);
        if value.is_empty() { element } else { element.text(value) }
    };
    let sync_token = Element::new("", "SyncToken")
        .attr("s", "role", ADMIN_SERVICE_NS)
        .xmlns("", ADMIN_SERVICE_NS)
        .xmlns("i", ns::XML_SCHEMA_INSTANCE)
        .children([
            field("ApplicationId", &identity.application_id),
            field("BearerToken", header.bearer_token),
            field("ClientVersion", &identity.client_version),
            field("DirSyncBuildNumber", &identity.build_number),
            field("FIMBuildNumber", &identity.build_number),
            field("IsInstalledOnDC", bool_text(identity.installed_on_dc)),
            field("IssueDateTime", "0001-01-01T00:00:00"),
            field("LanguageId", &identity.language_id),
            field("LiveToken", ""),
            field("ProtocolVersion", "2.0"),
            field("RichCoexistenceEnabled", bool_text(identity.rich_coexistence)),
            field("TrackingId", &tracking),
        ]);
    let soap_header = Element::new("s", "Header")
        .child(Element::new("a", "Action").attr("s", "mustUnderstand", "1").text(format!("{ACTION_BASE}{operation}")))
        .child(sync_token)
        .child(Element::new("a", "MessageID").text(format!("urn:uuid:{tracking}")))
        .child(Element::new("a", "ReplyTo").child(Element::new("a", "Address").text(ns::ADDRESSING_ANONYMOUS)))
        .child(Element::new("a", "To").attr("s", "mustUnderstand", "1").text(header.to));
    Element::new("s", "Envelope")
        .xmlns("s", ns::SOAP_ENVELOPE)
        .xmlns("a", ns::ADDRESSING)
        .child(soap_header)
        .child(Element::new("s", "Body").child(body))
}

/// Writes the envelope as msbin1 and wipes the tree, which holds the bearer token (and, for
/// `ProvisionCredentials`, the credentials). The buffer is wiped when dropped.
pub fn encode_request(mut envelope: Element) -> Result<Zeroizing<Vec<u8>>, NbfxError> {
    let encoded = nbfx::encode(&envelope).map(Zeroizing::new);
    wipe_tree(&mut envelope);
    encoded
}

/// Overwrites every text and attribute value of a tree with zeros.
pub fn wipe_tree(root: &mut Element) {
    let mut stack = vec![root];
    while let Some(element) = stack.pop() {
        let Element { attributes, children, .. } = element;
        for attribute in attributes.iter_mut() {
            attribute.value.zeroize();
        }
        for node in children.iter_mut() {
            match node {
                Node::Text(text) => text.zeroize(),
                Node::Element(child) => stack.push(child),
            }
        }
    }
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::entra::soap::SERVICE_URL;

    const APPENDIX_C_SHA256: &str = "756718348f84e13611593562eb34d48b61d360286caf915194d7555da243fe1a";

    fn appendix_c_identity() -> ClientIdentity {
        ClientIdentity { build_number: "2.4.21.0".to_owned(), ..ClientIdentity::default() }
    }

    fn finalize_export_body() -> Element {
        Element::new("", "FinalizeExport")
            .xmlns("", SYNC_NS)
            .child(Element::new("", "totalExported").text("1"))
            .child(Element::new("", "successfulExportCount").text("1"))
    }

    #[test]
    fn reproduces_appendix_c_byte_for_byte() {
        let identity = appendix_c_identity();
        let header = RequestHeader {
            identity: &identity,
            bearer_token: "eyJ0eXAiOiJKV1QifQ.eyJ0aWQiOiJ4In0.c2ln",
            tracking_id: Uuid::parse_str("5f0c2d4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f").expect("uuid"),
            to: SERVICE_URL,
        };
        let bytes =
            encode_request(request_envelope("FinalizeExport", &header, finalize_export_body())).expect("encodes");
        assert_eq!(bytes.len(), 1521);
        assert_eq!(hex::encode(Sha256::digest(bytes.as_slice())), APPENDIX_C_SHA256);
        let fixture = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wire/finalize-export.bin"))
            .expect("fixture");
        assert_eq!(bytes.as_slice(), fixture.as_slice());
    }

    #[test]
    fn to_and_tracking_id_follow_the_header() {
        let identity = ClientIdentity::default();
        let id = Uuid::parse_str("00112233-4455-6677-8899-aabbccddeeff").expect("uuid");
        let header = RequestHeader { identity: &identity, bearer_token: "t", tracking_id: id, to: "https://h/x.svc" };
        let envelope = request_envelope("GetCompanyConfiguration", &header, Element::new("", "Op").xmlns("", SYNC_NS));
        let root = envelope.view();
        let head = root.child(ns::SOAP_ENVELOPE, "Header").expect("header");
        assert_eq!(head.child_text(ns::ADDRESSING, "To").as_deref(), Some("https://h/x.svc"));
        assert_eq!(
            head.child_text(ns::ADDRESSING, "MessageID").as_deref(),
            Some("urn:uuid:00112233-4455-6677-8899-aabbccddeeff")
        );
        let token = head.child(ADMIN_SERVICE_NS, "SyncToken").expect("sync token");
        assert_eq!(token.child_text(SYNC_NS, "TrackingId").as_deref(), Some("00112233-4455-6677-8899-aabbccddeeff"));
        assert_eq!(token.child_text(SYNC_NS, "DirSyncBuildNumber").as_deref(), Some(DEFAULT_CLIENT_BUILD));
        assert_eq!(token.child_text(SYNC_NS, "FIMBuildNumber").as_deref(), Some(DEFAULT_CLIENT_BUILD));
        let names: Vec<_> = token.children().map(|c| c.local_name().to_owned()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "DataContract members are in ordinal order");
    }

    #[test]
    fn encoding_wipes_the_token_from_the_tree() {
        let mut e = Element::new("", "x").attr("", "a", "secret-attr").text("secret-text");
        wipe_tree(&mut e);
        assert_eq!(e.attribute("", "a"), Some(""));
        assert_eq!(e.text_content(), "");
    }
}
