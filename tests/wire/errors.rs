//! Every error kind of the reader, the writer and the XML bridge, from hand-built input.

use samba_entra_sync::entra::nbfx::{self, Element, LimitKind, Limits, Location, NbfxError};

fn err(bytes: &[u8]) -> NbfxError {
    match nbfx::decode(bytes) {
        Ok(tree) => panic!("{bytes:02X?} decoded to {tree:?}"),
        Err(e) => e,
    }
}

fn err_with(bytes: &[u8], limits: &Limits) -> NbfxError {
    match nbfx::decode_with_limits(bytes, limits) {
        Ok(tree) => panic!("{bytes:02X?} decoded to {tree:?}"),
        Err(e) => e,
    }
}

#[test]
fn truncated() {
    for bytes in [
        &[0x40, 0x05, b'a', b'b'][..],
        &[0x40, 0x01, b'x', 0x8C, 0x01, 0x02],
        &[0x40, 0x01, b'x', 0x98],
        &[0x40, 0x01, b'x', 0x9A, 0xFF, 0xFF, b'a'],
        &[0x40, 0x01, b'x', 0x04, 0x01, b'a'],
        &[0x42, 0x80],
        &[0x40, 0x01, b'x', 0x03, 0x40, 0x01, b'v', 0x01, 0x8D, 0x7F, 0, 0, 0, 0],
        &[0x40, 0x01, b'x', 0x04, 0x01, b'a', 0xA4, 0x80],
    ] {
        assert!(matches!(err(bytes), NbfxError::Truncated { .. }), "{bytes:02X?}: {}", err(bytes));
    }
}

#[test]
fn unknown_record() {
    for record in [0x00u8, 0x78, 0x7F, 0xA5, 0xA7, 0xBE, 0xC0, 0xFF] {
        let bytes = [0x40, 0x01, b'x', record, 0x01];
        assert_eq!(err(&bytes), NbfxError::UnknownRecord { record, at: Location::Byte(3) });
    }
}

#[test]
fn unexpected_record() {
    let cases: [&[u8]; 7] = [
        // WithEndElement text as an attribute value.
        &[0x40, 0x01, b'x', 0x04, 0x01, b'a', 0x99, 0x00, 0x01],
        // An element record as an attribute value.
        &[0x40, 0x01, b'x', 0x04, 0x01, b'a', 0x40, 0x01, b'y', 0x01],
        // EndListText outside a list.
        &[0x40, 0x01, b'x', 0xA6, 0x01],
        // A list inside a list.
        &[0x40, 0x01, b'x', 0x04, 0x01, b'a', 0xA4, 0xA4, 0xA6, 0xA6, 0x01],
        // An attribute outside any element.
        &[0x04, 0x01, b'a', 0x98, 0x00],
        // An array whose value type is not allowed (Chars8TextWithEndElement).
        &[0x40, 0x01, b'x', 0x03, 0x40, 0x01, b'v', 0x01, 0x99, 0x01, 0x00, 0x01],
        // An array record whose element is a text record.
        &[0x40, 0x01, b'x', 0x03, 0x98, 0x00, 0x01],
    ];
    for bytes in cases {
        assert!(matches!(err(bytes), NbfxError::UnexpectedRecord { .. }), "{bytes:02X?}: {}", err(bytes));
    }
}

#[test]
fn attribute_after_content() {
    let bytes = [0x40, 0x01, b'x', 0x98, 0x00, 0x04, 0x01, b'a', 0x98, 0x00, 0x01];
    assert_eq!(err(&bytes), NbfxError::AttributeAfterContent { at: Location::Byte(5) });
    let after_child = [0x40, 0x01, b'x', 0x40, 0x01, b'y', 0x01, 0x04, 0x01, b'a', 0x98, 0x00, 0x01];
    assert!(matches!(err(&after_child), NbfxError::AttributeAfterContent { .. }));
}

#[test]
fn unbalanced_end() {
    assert_eq!(err(&[0x01]), NbfxError::UnbalancedEnd { at: Location::Byte(0) });
    assert!(matches!(err(&[0x40, 0x01, b'x', 0x01, 0x01]), NbfxError::UnbalancedEnd { .. }));
}

#[test]
fn unclosed_elements() {
    assert_eq!(
        err(&[0x40, 0x01, b'x', 0x40, 0x01, b'y']),
        NbfxError::UnclosedElements { open: 2, at: Location::Byte(6) }
    );
}

#[test]
fn trailing_data() {
    assert!(matches!(err(&[0x40, 0x01, b'x', 0x01, 0x40, 0x01, b'y', 0x01]), NbfxError::TrailingData { .. }));
    assert!(matches!(err(&[0x40, 0x01, b'x', 0x01, 0x98, 0x00]), NbfxError::TrailingData { .. }));
    // A top-level array with two items makes two roots.
    let array = [0x03, 0x40, 0x01, b'v', 0x01, 0xB5, 0x02, 0x00, 0x01];
    assert!(matches!(err(&array), NbfxError::TrailingData { .. }));
}

#[test]
fn text_outside_root() {
    assert_eq!(err(&[0x98, 0x01, b'a']), NbfxError::TextOutsideRoot { at: Location::Byte(0) });
}

#[test]
fn no_root_element() {
    assert_eq!(err(&[]), NbfxError::NoRootElement);
    assert_eq!(err(&[0x02, 0x00]), NbfxError::NoRootElement);
}

#[test]
fn invalid_utf8() {
    assert!(matches!(err(&[0x40, 0x02, 0xFF, 0xFE, 0x01]), NbfxError::InvalidUtf8 { .. }));
    assert!(matches!(err(&[0x40, 0x01, b'x', 0x98, 0x02, 0xC3, 0x28, 0x01]), NbfxError::InvalidUtf8 { .. }));
}

#[test]
fn invalid_utf16() {
    // A lone high surrogate.
    assert!(matches!(err(&[0x40, 0x01, b'x', 0xB6, 0x02, 0x00, 0xD8, 0x01]), NbfxError::InvalidUtf16 { .. }));
}

#[test]
fn invalid_multi_byte_int() {
    assert!(matches!(err(&[0x42, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), NbfxError::InvalidMultiByteInt { .. }));
    assert!(matches!(err(&[0x40, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), NbfxError::InvalidMultiByteInt { .. }));
}

#[test]
fn in_band_dictionary() {
    let e = err(&[0x42, 0x01, 0x01]);
    assert_eq!(e, NbfxError::InBandDictionary { id: 1, at: Location::Byte(1) });
    assert!(e.to_string().contains("in-band dictionary not negotiated"), "{e}");
    assert!(matches!(err(&[0x40, 0x01, b'x', 0xAA, 0x97, 0x07, 0x01]), NbfxError::InBandDictionary { id: 0x397, .. }));
}

#[test]
fn unknown_dictionary_id() {
    assert_eq!(err(&[0x42, 0xCE, 0x07, 0x01]), NbfxError::UnknownDictionaryId { id: 0x3CE, at: Location::Byte(1) });
}

#[test]
fn invalid_value() {
    let x = |payload: &[u8]| [&[0x40, 0x01, b'x'][..], payload, &[0x01]].concat();
    let mut decimal = vec![0x94, 0, 0, 29, 0];
    decimal.extend_from_slice(&[0; 12]);
    let cases = [
        x(&[0xB4, 0x02]),
        x(&decimal),
        x(&[0x96, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F]),
        x(&[0x9C, 0xFF, 0xFF, 0xFF, 0xFF]),
        x(&[0xBC, 0x1A, 0x00]),
        x(&[0xB6, 0x01, 0x41]),
    ];
    for bytes in cases {
        assert!(matches!(err(&bytes), NbfxError::InvalidValue { .. }), "{bytes:02X?}: {}", err(&bytes));
    }
}

#[test]
fn invalid_name() {
    assert!(matches!(err(&[0x40, 0x03, b'a', b' ', b'b', 0x01]), NbfxError::InvalidName { .. }));
    // A dictionary string that is a URI, used as an element name.
    assert!(matches!(err(&[0x42, 0x04, 0x01]), NbfxError::InvalidName { .. }));
    // xmlns declaration with an empty prefix.
    assert!(matches!(err(&[0x40, 0x01, b'x', 0x09, 0x00, 0x01, b'u', 0x01]), NbfxError::InvalidName { .. }));
}

#[test]
fn undeclared_prefix() {
    assert_eq!(
        err(&[0x41, 0x01, b'p', 0x01, b'x', 0x01]),
        NbfxError::UndeclaredPrefix { prefix: "p".into(), at: Location::Byte(0) }
    );
    // Attribute prefixes must resolve too; a declaration on a sibling does not count.
    let bytes = [
        0x40, 0x01, b'r', 0x40, 0x01, b'a', 0x09, 0x01, b'p', 0x01, b'u', 0x01, 0x40, 0x01, b'b', 0x35, 0x01, b'k',
        0x80, 0x01, 0x01,
    ];
    assert!(matches!(err(&bytes), NbfxError::UndeclaredPrefix { .. }));
}

#[test]
fn reserved_prefix() {
    let mut bytes = vec![0x40, 0x01, b'x', 0x09, 0x05];
    bytes.extend_from_slice(b"xmlns");
    bytes.extend_from_slice(&[0x01, b'u', 0x01]);
    assert!(matches!(err(&bytes), NbfxError::ReservedPrefix { .. }));
    let xml_rebound = [0x40, 0x01, b'x', 0x09, 0x03, b'x', b'm', b'l', 0x01, b'u', 0x01];
    assert!(matches!(err(&xml_rebound), NbfxError::ReservedPrefix { .. }));
}

#[test]
fn duplicate_attribute() {
    let bytes = [0x40, 0x01, b'x', 0x04, 0x01, b'a', 0x80, 0x04, 0x01, b'a', 0x82, 0x01];
    assert_eq!(err(&bytes), NbfxError::DuplicateAttribute { name: "a".into(), at: Location::Byte(0) });
    // Also with many attributes (the sorted path).
    let mut many = vec![0x40, 0x01, b'x'];
    for i in 0..20u8 {
        many.extend_from_slice(&[0x04, 0x02, b'a', b'a' + i, 0x80]);
    }
    many.extend_from_slice(&[0x04, 0x02, b'a', b'c', 0x80, 0x01]);
    assert!(matches!(err(&many), NbfxError::DuplicateAttribute { .. }));
}

fn limit_of(e: NbfxError) -> LimitKind {
    match e {
        NbfxError::LimitExceeded { limit, .. } => limit,
        other => panic!("expected a limit error, got {other}"),
    }
}

#[test]
fn limits_are_enforced() {
    let small = Limits {
        max_input_bytes: 64,
        max_depth: 3,
        max_string_bytes: 8,
        max_elements: 4,
        max_attributes: 2,
        max_array_items: 3,
        max_decoded_bytes: 40,
    };
    assert_eq!(limit_of(err_with(&[0u8; 65], &small)), LimitKind::InputSize);
    let deep = [0x40, 0x01, b'a', 0x40, 0x01, b'b', 0x40, 0x01, b'c', 0x40, 0x01, b'd', 0x01, 0x01, 0x01, 0x01];
    assert_eq!(limit_of(err_with(&deep, &small)), LimitKind::Depth);
    assert_eq!(
        limit_of(err_with(&[0x40, 0x09, b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', b'i', 0x01], &small)),
        LimitKind::StringLength
    );
    let wide = [
        0x40, 0x01, b'r', 0x40, 0x01, b'a', 0x01, 0x40, 0x01, b'b', 0x01, 0x40, 0x01, b'c', 0x01, 0x40, 0x01, b'd',
        0x01, 0x01,
    ];
    assert_eq!(limit_of(err_with(&wide, &small)), LimitKind::Elements);
    let attributes = [0x40, 0x01, b'x', 0x04, 0x01, b'a', 0x80, 0x04, 0x01, b'b', 0x80, 0x04, 0x01, b'c', 0x80, 0x01];
    assert_eq!(limit_of(err_with(&attributes, &small)), LimitKind::Attributes);
    let array = [0x40, 0x01, b'x', 0x03, 0x40, 0x01, b'v', 0x01, 0xB5, 0x04, 0, 1, 0, 1, 0x01];
    assert_eq!(limit_of(err_with(&array, &small)), LimitKind::ArrayItems);
    // Dictionary references expand: 5 × "http://www.w3.org/2005/08/addressing/anonymous".
    let amplified = [0x40, 0x01, b'x', 0xAA, 0x14, 0xAA, 0x14, 0xAA, 0x14, 0xAA, 0x14, 0xAB, 0x14];
    assert_eq!(limit_of(err_with(&amplified, &small)), LimitKind::DecodedSize);
    // The defaults accept all of these.
    for bytes in [&deep[..], &wide, &attributes, &amplified] {
        assert!(nbfx::decode(bytes).is_ok(), "{bytes:02X?}");
    }
}

#[test]
fn huge_declared_lengths_fail_without_allocating() {
    // Chars32Text claiming 2 GiB, Bytes32Text too, and an array claiming 2^31-1 items.
    let chars = [0x40, 0x01, b'x', 0x9C, 0xFF, 0xFF, 0xFF, 0x7F, b'a'];
    assert!(matches!(err(&chars), NbfxError::LimitExceeded { limit: LimitKind::StringLength, .. }));
    let big = Limits { max_string_bytes: usize::MAX, max_array_items: usize::MAX, ..Limits::default() };
    assert!(matches!(err_with(&chars, &big), NbfxError::Truncated { .. }));
    let array = [0x40, 0x01, b'x', 0x03, 0x40, 0x01, b'v', 0x01, 0x95, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00];
    assert!(matches!(err_with(&array, &big), NbfxError::Truncated { .. }));
}

#[test]
fn xml_text_errors() {
    let xml_err = |text: &str| match nbfx::from_xml(text) {
        Ok(tree) => panic!("{text:?} parsed to {tree:?}"),
        Err(e) => e,
    };
    assert!(matches!(xml_err("<a></b>"), NbfxError::Xml { .. }));
    assert!(matches!(xml_err("<a>&nbsp;</a>"), NbfxError::Xml { .. }));
    assert!(matches!(xml_err("<!DOCTYPE a><a/>"), NbfxError::Xml { .. }));
    assert!(matches!(xml_err("<a>&#0;</a>"), NbfxError::Xml { .. }));
    assert!(matches!(xml_err("<a><b>"), NbfxError::Xml { .. } | NbfxError::UnclosedElements { .. }));
    assert!(matches!(xml_err("<a/><b/>"), NbfxError::TrailingData { .. }));
    assert!(matches!(xml_err("text<a/>"), NbfxError::TextOutsideRoot { .. }));
    assert!(matches!(xml_err(""), NbfxError::NoRootElement));
    assert!(matches!(xml_err("<p:a/>"), NbfxError::UndeclaredPrefix { .. }));
    assert!(matches!(xml_err("<a:b:c/>"), NbfxError::InvalidName { .. }));
    assert!(matches!(xml_err("<a x='1' x='2'/>"), NbfxError::Xml { .. } | NbfxError::DuplicateAttribute { .. }));
}

#[test]
fn writer_errors() {
    assert!(matches!(nbfx::encode(&Element::new("p", "x")), Err(NbfxError::UndeclaredPrefix { .. })));
    assert!(matches!(nbfx::encode(&Element::new("", "")), Err(NbfxError::InvalidName { .. })));
    let twice = Element::new("", "x").xmlns("p", "u").xmlns("p", "v");
    assert!(matches!(nbfx::encode(&twice), Err(NbfxError::DuplicateAttribute { .. })));
    let reserved = Element::new("", "x").xmlns("xmlns", "u");
    assert!(matches!(nbfx::encode(&reserved), Err(NbfxError::ReservedPrefix { .. })));
    let nested = Element::new("", "r").child(Element::new("", "ok").child(Element::new("q", "bad")));
    match nbfx::encode(&nested) {
        Err(NbfxError::UndeclaredPrefix { at: Location::Element(name), .. }) => assert_eq!(name, "q:bad"),
        other => panic!("{other:?}"),
    }
}
