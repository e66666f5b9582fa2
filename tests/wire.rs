//! msbin1 codec: golden vectors (examples a, b and d below, each decoded with python-wcfbin, and a
//! complete FinalizeExport request as .NET writes it), per-record decoding,
//! every error kind, the XML ⇄ msbin1 round trip, and the `wire` subcommands.

#[path = "wire/cli.rs"]
mod cli;
#[path = "wire/errors.rs"]
mod errors;
#[path = "wire/records.rs"]
mod records;
#[path = "wire/roundtrip.rs"]
mod roundtrip;

use samba_entra_sync::entra::nbfx::{self, Element, ns};
use sha2::{Digest, Sha256};

const SYNC_NS: &str = "http://schemas.microsoft.com/online/aws/change/2010/01";
const APPENDIX_C_SHA256: &str = "756718348f84e13611593562eb34d48b61d360286caf915194d7555da243fe1a";
const EXAMPLE_D_SHA256: &str = "1190ef24d2483202466d37a019e79c257942d8604c29c9228ff86da3f7b77c1b";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn fixture_xml(name: &str) -> Element {
    let text = String::from_utf8(fixture(name)).expect("fixture is UTF-8");
    nbfx::from_xml_ignoring_layout(&text).expect("fixture XML parses")
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[test]
fn appendix_c_is_reproduced_byte_for_byte() {
    let golden = fixture("finalize-export.bin");
    assert_eq!(golden.len(), 1521);
    assert_eq!(sha256_hex(&golden), APPENDIX_C_SHA256, "fixture differs from Appendix C");
    let encoded = nbfx::encode(&fixture_xml("finalize-export.xml")).expect("encodes");
    assert_eq!(encoded.len(), 1521);
    assert_eq!(sha256_hex(&encoded), APPENDIX_C_SHA256);
    assert_eq!(encoded, golden);
}

#[test]
fn appendix_c_decodes_to_its_xml() {
    let decoded = nbfx::decode(&fixture("finalize-export.bin")).expect("decodes");
    assert_eq!(decoded, fixture_xml("finalize-export.xml"));

    let root = decoded.view();
    assert!(root.is(ns::SOAP_ENVELOPE, "Envelope"));
    let header = root.child(ns::SOAP_ENVELOPE, "Header").expect("header");
    let action = header.child(ns::ADDRESSING, "Action").expect("action");
    assert_eq!(action.attribute(ns::SOAP_ENVELOPE, "mustUnderstand"), Some("1"));
    assert!(action.text().ends_with("/IProvisioningWebService/FinalizeExport"));
    let token = header.child("urn:microsoft.online.administrativeservice", "SyncToken").expect("SyncToken");
    assert_eq!(token.attribute(ns::SOAP_ENVELOPE, "role"), Some("urn:microsoft.online.administrativeservice"));
    assert_eq!(token.child_text(SYNC_NS, "ClientVersion").as_deref(), Some("8.0"));
    assert_eq!(token.child_text(SYNC_NS, "LiveToken").as_deref(), Some(""));
    let reply_to = header.child(ns::ADDRESSING, "ReplyTo").expect("ReplyTo");
    assert_eq!(reply_to.child_text(ns::ADDRESSING, "Address").as_deref(), Some(ns::ADDRESSING_ANONYMOUS));
    let body = root.child(ns::SOAP_ENVELOPE, "Body").expect("body");
    let op = body.child(SYNC_NS, "FinalizeExport").expect("operation");
    assert_eq!(op.child_text(SYNC_NS, "successfulExportCount").as_deref(), Some("1"));
}

/// A hand-built document using every record type (element, attribute, xmlns and text records,
/// arrays, lists, comments), against its hand-written XML.
#[test]
fn all_record_types_fixture_decodes_to_its_xml() {
    let decoded = nbfx::decode(&fixture("all-records.bin")).expect("decodes");
    let expected = String::from_utf8(fixture("all-records.xml")).expect("UTF-8");
    assert_eq!(nbfx::to_xml(&decoded), expected.trim_end());
    assert_eq!(nbfx::decode(&nbfx::encode(&decoded).expect("encodes")).expect("decodes again"), decoded);
}

/// Example (a): the envelope prologue.
#[test]
fn example_a_envelope_prologue() {
    let action = "http://schemas.microsoft.com/online/aws/change/2010/01/IProvisioningWebService/FinalizeExport";
    let doc = Element::new("s", "Envelope").xmlns("s", ns::SOAP_ENVELOPE).xmlns("a", ns::ADDRESSING).child(
        Element::new("s", "Header").child(Element::new("a", "Action").attr("s", "mustUnderstand", "1").text(action)),
    );
    let bytes = nbfx::encode(&doc).expect("encodes");
    let mut expected = vec![
        0x56, 0x02, 0x0B, 0x01, 0x73, 0x04, 0x0B, 0x01, 0x61, 0x06, 0x56, 0x08, 0x44, 0x0A, 0x1E, 0x00, 0x82, 0x99,
        0x5D,
    ];
    expected.extend_from_slice(action.as_bytes());
    expected.extend_from_slice(&[0x01, 0x01]);
    assert_eq!(bytes, expected);
    assert_eq!(nbfx::decode(&expected).expect("decodes"), doc);

    // "Further on": ReplyTo/Address with the anonymous URI as DictionaryTextWithEndElement.
    let reply_to = Element::new("a", "ReplyTo").child(Element::new("a", "Address").text(ns::ADDRESSING_ANONYMOUS));
    let doc = Element::new("s", "Envelope").xmlns("s", ns::SOAP_ENVELOPE).xmlns("a", ns::ADDRESSING).child(reply_to);
    let bytes = nbfx::encode(&doc).expect("encodes");
    assert_eq!(&bytes[10..], &[0x44, 0x2C, 0x44, 0x2A, 0xAB, 0x14, 0x01, 0x01]);
}

/// The bytes of example (b) inside a context element that declares `c` and `i`, with `value`
/// being the record(s) of the `i:type` attribute value.
fn example_b(value: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0x40, 0x04];
    bytes.extend_from_slice(b"root");
    bytes.extend_from_slice(&[0x09, 0x01, b'c', ns::SERIALIZATION_ARRAYS.len() as u8]);
    bytes.extend_from_slice(ns::SERIALIZATION_ARRAYS.as_bytes());
    bytes.extend_from_slice(&[0x0B, 0x01, b'i', 0xF2, 0x06]);
    bytes.push(0x60);
    bytes.push(0x17);
    bytes.extend_from_slice(b"KeyValueOfstringanyType");
    bytes.extend_from_slice(&[0x60, 0x03, b'K', b'e', b'y', 0x99, 0x0B]);
    bytes.extend_from_slice(b"displayName");
    bytes.extend_from_slice(&[0x46, 0x9A, 0x01, 0x14, 0xF8, 0x06]);
    bytes.extend_from_slice(value);
    bytes.extend_from_slice(&[0x0B, 0x01, 0x64, 0xF4, 0x06, 0x99, 0x05]);
    bytes.extend_from_slice(b"Alice");
    bytes.extend_from_slice(&[0x01, 0x01]);
    bytes
}

fn example_b_xml() -> Element {
    let entry = Element::new("c", "KeyValueOfstringanyType")
        .child(Element::new("c", "Key").text("displayName"))
        .child(Element::new("c", "Value").attr("i", "type", "d:string").xmlns("d", ns::XML_SCHEMA).text("Alice"));
    Element::new("", "root").xmlns("c", ns::SERIALIZATION_ARRAYS).xmlns("i", ns::XML_SCHEMA_INSTANCE).child(entry)
}

/// Example (b): correct QNameDictionaryText, the .NET-style Chars text, and the broken pre-PR#16
/// form that the service rejected.
#[test]
fn example_b_three_encodings_of_one_value() {
    let qname_form = example_b(&[0xBC, 0x03, 0x96, 0x07]);
    // The 66 bytes of the example, inside our context element.
    let context = 6 + 4 + ns::SERIALIZATION_ARRAYS.len() + 5 + 1;
    assert_eq!(qname_form.len(), 66 + context);
    let decoded = nbfx::decode(&qname_form).expect("QName form decodes");
    assert_eq!(decoded, example_b_xml());
    let value = decoded.view().children().next().and_then(|e| e.children().nth(1)).expect("c:Value");
    assert!(value.is(ns::SERIALIZATION_ARRAYS, "Value"));
    let type_name = value.attribute(ns::XML_SCHEMA_INSTANCE, "type").expect("i:type");
    assert_eq!(value.resolve_qname(type_name), Some((ns::XML_SCHEMA, "string")));

    let mut dotnet_value = vec![0x98, 0x08];
    dotnet_value.extend_from_slice(b"d:string");
    let dotnet_form = example_b(&dotnet_value);
    assert_eq!(nbfx::decode(&dotnet_form).expect(".NET form decodes"), example_b_xml());
    // Our writer produces exactly the .NET-style form.
    assert_eq!(nbfx::encode(&example_b_xml()).expect("encodes"), dotnet_form);

    let broken = example_b(&[0xBC, 0x03, 0x00, 0x03, 0x96]);
    match nbfx::decode(&broken) {
        Err(_) => {}
        Ok(tree) => {
            let xml = nbfx::to_xml(&tree);
            assert!(!xml.contains("d:string"), "broken form decoded to d:string: {xml}");
        }
    }
    // Decoded as the .NET reader does: `d:mustUnderstand`, then 0x03 ends the attribute list
    // and starts an Array record whose element byte (0x96) is not an element.
    assert!(matches!(nbfx::decode(&broken), Err(nbfx::NbfxError::UnexpectedRecord { record: 0x96, .. })));
}

/// Example (d): the emulator's ProvisionAzureADSyncObjectsResponse, with RelatesTo as
/// UniqueIdText and i:nil as TrueText.
#[test]
fn example_d_response_decodes() {
    let bytes = fixture("provision-response.bin");
    assert_eq!(bytes.len(), 542);
    assert_eq!(sha256_hex(&bytes), EXAMPLE_D_SHA256, "fixture differs from example (d)");
    let decoded = nbfx::decode(&bytes).expect("decodes");
    let root = decoded.view();
    let header = root.child(ns::SOAP_ENVELOPE, "Header").expect("header");
    assert_eq!(
        header.child_text(ns::ADDRESSING, "RelatesTo").as_deref(),
        Some("urn:uuid:5f0c2d4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f")
    );
    let b = "http://schemas.microsoft.com/online/aws/change/2014/06";
    let result = root
        .child(ns::SOAP_ENVELOPE, "Body")
        .and_then(|e| e.child(SYNC_NS, "ProvisionAzureADSyncObjectsResponse"))
        .and_then(|e| e.child(SYNC_NS, "ProvisionAzureADSyncObjectsResult"))
        .and_then(|e| e.child(b, "SyncObjectResults"))
        .and_then(|e| e.child(b, "AzureADSyncObjectResult"))
        .expect("result");
    assert_eq!(result.child_text(b, "ResultCode").as_deref(), Some("Success"));
    assert_eq!(result.child_text(b, "SourceAnchor").as_deref(), Some("kZj7niGua0Gz92mIDCl+Tw=="));
    let description = result.child(b, "ResultErrorDescription").expect("description");
    assert_eq!(description.attribute(ns::XML_SCHEMA_INSTANCE, "nil"), Some("true"));

    // Re-encoded the .NET way: i:nil as Chars text "true", never a Boolean record.
    let reencoded = nbfx::encode(&decoded).expect("encodes");
    let nil = [0x14, 0xF6, 0x06, 0x98, 0x04, b't', b'r', b'u', b'e', 0x01];
    assert!(reencoded.windows(nil.len()).any(|w| w == nil));
    assert!(!reencoded.windows(4).any(|w| w == [0x14, 0xF6, 0x06, 0x86]));
    assert_eq!(nbfx::decode(&reencoded).expect("decodes again"), decoded);
}

#[test]
fn writer_never_emits_typed_or_utf16_records_for_text() {
    // Values python-wcfbin would have turned into typed records.
    let values =
        ["0", "1", "True", "false", "8.0", "42", "User", "abd=", "5f0c2d4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "d:string"];
    let mut root = Element::new("", "r");
    for v in values {
        root.push_child(Element::new("", "v").attr("", "a", v).text(v));
    }
    let bytes = nbfx::encode(&root).expect("encodes");
    let decoded = nbfx::decode(&bytes).expect("decodes");
    assert_eq!(decoded, root);
    for v in values {
        let mut record = vec![0x99, v.len() as u8];
        record.extend_from_slice(v.as_bytes());
        assert!(bytes.windows(record.len()).any(|w| w == record), "{v} not written as Chars8Text");
    }
}

/// A fault as the emulator writes it: `s:Text` with `xml:lang` (the predeclared `xml` prefix,
/// written as a String-form attribute since neither `xml` nor `lang` is in the dictionary).
#[test]
fn fault_text_with_xml_lang() {
    let reason = Element::new("s", "Reason").child(Element::new("s", "Text").attr("xml", "lang", "en-US").text("Nope"));
    let fault = Element::new("s", "Envelope")
        .xmlns("s", ns::SOAP_ENVELOPE)
        .child(Element::new("s", "Body").child(Element::new("s", "Fault").child(reason)));
    let bytes = nbfx::encode(&fault).expect("encodes");
    let attribute =
        [0x05, 0x03, b'x', b'm', b'l', 0x04, b'l', b'a', b'n', b'g', 0x98, 0x05, b'e', b'n', b'-', b'U', b'S'];
    assert!(bytes.windows(attribute.len()).any(|w| w == attribute), "{bytes:02X?}");
    let decoded = nbfx::decode(&bytes).expect("decodes");
    assert_eq!(decoded, fault);
    let text = decoded
        .view()
        .child(ns::SOAP_ENVELOPE, "Body")
        .and_then(|b| b.child(ns::SOAP_ENVELOPE, "Fault"))
        .and_then(|f| f.child(ns::SOAP_ENVELOPE, "Reason"))
        .and_then(|r| r.child(ns::SOAP_ENVELOPE, "Text"))
        .expect("s:Text");
    assert_eq!(text.attribute(nbfx::XML_NAMESPACE, "lang"), Some("en-US"));
}
