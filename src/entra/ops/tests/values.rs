//! Property values: every variant through the codec and back, and the tolerant reader.

use super::xml;
use crate::entra::nbfx::{self, Element, ns};
use crate::entra::ops::{AnchorKind, PropertyValue, ReferenceChange, ReferenceOperation};
use crate::entra::soap::SYNC_NS;

/// `value` as a `c:Value` inside a context that declares `c`, `i` and the contract namespace,
/// through msbin1, and read back.
fn round_trip(value: &PropertyValue) -> Result<PropertyValue, String> {
    let wrapper = Element::new("", "w")
        .xmlns("", SYNC_NS)
        .xmlns("c", ns::SERIALIZATION_ARRAYS)
        .xmlns("i", ns::XML_SCHEMA_INSTANCE)
        .child(value.to_element());
    let decoded = nbfx::decode(&nbfx::encode(&wrapper).expect("encodes")).expect("decodes");
    let view = decoded.view();
    let element = view.children().next().expect("value");
    PropertyValue::from_element(&element)
}

/// Reads the first child of `<w>` written as XML with the usual prefixes declared.
fn read(inner: &str) -> Result<PropertyValue, String> {
    let doc = xml(&format!(
        r#"<w xmlns="{SYNC_NS}" xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays" xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns:d="http://www.w3.org/2001/XMLSchema">{inner}</w>"#
    ));
    let view = doc.view();
    let element = view.children().next().expect("value");
    PropertyValue::from_element(&element)
}

#[test]
fn every_variant_survives_the_codec() {
    let values = [
        PropertyValue::String("  spaces kept & <escaped>  ".into()),
        PropertyValue::String(String::new()),
        PropertyValue::String("True".into()),
        PropertyValue::String("abd=".into()),
        PropertyValue::Bool(false),
        PropertyValue::Bool(true),
        PropertyValue::Long(i64::MIN),
        PropertyValue::Base64(vec![0, 255, 16, 32]),
        PropertyValue::Base64(Vec::new()),
        PropertyValue::StringList(vec!["a".into(), String::new(), "c".into()]),
        PropertyValue::Base64List(vec![vec![1], vec![2, 3]]),
        PropertyValue::Base64List(Vec::new()),
        PropertyValue::Nil,
        PropertyValue::EmptyList,
        PropertyValue::ReferenceChanges(vec![
            ReferenceChange::add("x"),
            ReferenceChange::remove("y"),
            ReferenceChange {
                anchor: "Group_1".into(),
                anchor_kind: AnchorKind::Cloud,
                operation: ReferenceOperation::Add,
            },
        ]),
    ];
    for value in values {
        assert_eq!(round_trip(&value).as_ref(), Ok(&value), "{value:?}");
    }
    // An empty string list is written as the clearing empty list.
    assert_eq!(round_trip(&PropertyValue::StringList(Vec::new())), Ok(PropertyValue::EmptyList));
}

#[test]
fn reader_accepts_what_the_service_may_send() {
    assert_eq!(read("<c:Value>plain</c:Value>"), Ok(PropertyValue::String("plain".into())));
    assert_eq!(read(r#"<c:Value i:type="d:string"/>"#), Ok(PropertyValue::String(String::new())));
    assert_eq!(read(r#"<c:Value i:type="d:int"> 42 </c:Value>"#), Ok(PropertyValue::Long(42)));
    assert_eq!(read(r#"<c:Value i:type="d:boolean">True</c:Value>"#), Ok(PropertyValue::Bool(true)));
    assert_eq!(read(r#"<c:Value i:type="d:boolean">0</c:Value>"#), Ok(PropertyValue::Bool(false)));
    assert_eq!(
        read(r#"<c:Value i:type="d:dateTime">2019-08-01T16:43:42Z</c:Value>"#),
        Ok(PropertyValue::String("2019-08-01T16:43:42Z".into()))
    );
    assert_eq!(read(r#"<c:Value i:nil="1"/>"#), Ok(PropertyValue::Nil));
    assert_eq!(read(r#"<c:Value i:nil="TRUE" i:type="d:string"/>"#), Ok(PropertyValue::Nil));
    assert_eq!(
        read(r#"<c:Value i:type="c:ArrayOfstring"><c:string>a</c:string><c:string i:nil="true"/></c:Value>"#),
        Ok(PropertyValue::StringList(vec!["a".into()]))
    );
    // A type prefix the document never declares still names the type by its local part.
    assert_eq!(read(r#"<c:Value i:type="q:long">7</c:Value>"#), Err("unsupported value type q:long".into()));
    assert_eq!(read(r#"<c:Value i:type="x:ArrayOfstring"/>"#), Ok(PropertyValue::EmptyList));
}

#[test]
fn reader_rejects_what_it_cannot_represent() {
    assert!(read(r#"<c:Value i:type="d:long">12a</c:Value>"#).is_err());
    assert!(read(r#"<c:Value i:type="d:boolean">yes</c:Value>"#).is_err());
    assert!(read(r#"<c:Value i:type="d:base64Binary">!!!</c:Value>"#).is_err());
    assert!(read(r#"<c:Value i:type="ComplexThing"><x/></c:Value>"#).is_err());
    assert!(read("<c:Value><x/></c:Value>").is_err());
    assert!(
        read(r#"<c:Value i:type="SyncReferenceChangeCollection"><referenceChanges><SyncReferenceChange><Reference><Anchor>a</Anchor><referenceTypeInt>9</referenceTypeInt></Reference><operationInt>1</operationInt></SyncReferenceChange></referenceChanges></c:Value>"#)
            .is_err()
    );
}
