//! Tests of the typed messages: requests go through the msbin1 writer and reader and are compared
//! with the XML a real client sends, as element trees; responses are written as XML (or spliced
//! with typed records the real service may use), encoded, decoded and parsed.

mod requests;
mod responses;
mod values;

use uuid::Uuid;

use super::Operation;
use crate::entra::nbfx::{self, Element, Node, from_xml_ignoring_layout};
use crate::entra::soap::{
    ClientIdentity, Reply, RequestHeader, ResponseError, SERVICE_URL, encode_request, read_response, request_envelope,
};

/// The encoded request of `op`.
fn request_bytes<O: Operation>(op: &O) -> Vec<u8> {
    let identity = ClientIdentity::default();
    let header =
        RequestHeader { identity: &identity, bearer_token: "token", tracking_id: Uuid::nil(), to: SERVICE_URL };
    encode_request(request_envelope(op.name(), &header, op.body())).expect("encodes").to_vec()
}

/// The body element of `op`'s request, after a trip through the msbin1 writer and reader.
fn sent_body<O: Operation>(op: &O) -> Element {
    let envelope = nbfx::decode(&request_bytes(op)).expect("decodes");
    let body = envelope.child_elements().nth(1).expect("s:Body");
    assert_eq!(body.name, "Body");
    let mut operations = body.child_elements();
    let operation = operations.next().expect("operation element").clone();
    assert!(operations.next().is_none());
    operation
}

fn xml(text: &str) -> Element {
    from_xml_ignoring_layout(text).expect("valid XML")
}

const ENVELOPE_START: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">http://schemas.microsoft.com/online/aws/change/2010/01/IProvisioningWebService/Response</a:Action></s:Header><s:Body>"#;
const ENVELOPE_END: &str = "</s:Body></s:Envelope>";

/// msbin1 of a response envelope whose body is `body_xml`. Each `(placeholder, record)` splice
/// replaces the Chars text record holding exactly `placeholder` with the raw `record` bytes, to
/// produce the typed records a .NET writer may choose (BoolText, Int32Text, UuidText, …).
fn response_bytes(body_xml: &str, splices: &[(&str, &[u8])]) -> Vec<u8> {
    let envelope = xml(&format!("{ENVELOPE_START}{body_xml}{ENVELOPE_END}"));
    let mut bytes = nbfx::encode(&envelope).expect("encodes");
    for (placeholder, record) in splices {
        let mut needle = vec![u8::try_from(placeholder.len()).expect("short placeholder")];
        needle.extend_from_slice(placeholder.as_bytes());
        let at = bytes.windows(needle.len()).position(|w| w == needle.as_slice()).expect("placeholder present");
        let start = at - 1;
        assert!(matches!(bytes[start], 0x98 | 0x99), "placeholder is a Chars8 text");
        bytes.splice(start..at + needle.len(), record.iter().copied());
    }
    bytes
}

/// Parses msbin1 as the response to `op`.
fn parse_bytes<O: Operation>(op: &O, bytes: &[u8]) -> Result<O::Output, ResponseError> {
    let envelope = nbfx::decode(bytes)?;
    match read_response(&envelope, op.name())? {
        Reply::Result(result) => op.parse(result),
        Reply::Fault(fault) => panic!("unexpected fault {fault:?}"),
    }
}

/// Parses XML text (the `{Op}Response` element) as the response to `op`, through the codec.
fn parse_xml<O: Operation>(op: &O, body_xml: &str) -> Result<O::Output, ResponseError> {
    parse_bytes(op, &response_bytes(body_xml, &[]))
}

/// Every text of a tree, for checking that nothing secret is left.
fn all_text(element: &Element) -> String {
    let mut out = String::new();
    for a in &element.attributes {
        out.push_str(&a.value);
    }
    for node in &element.children {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => out.push_str(&all_text(e)),
        }
    }
    out
}
