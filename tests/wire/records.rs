//! One hand-built byte string per record type, decoded to the expected tree or canonical text.

use samba_entra_sync::entra::nbfx::{self, Attribute, Element, Node};

const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";

/// `<x>` + `content` + `</x>`.
fn in_x(content: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0x40, 0x01, b'x'];
    bytes.extend_from_slice(content);
    bytes.push(0x01);
    bytes
}

fn decode(bytes: &[u8]) -> Element {
    nbfx::decode(bytes).unwrap_or_else(|e| panic!("{bytes:02X?} does not decode: {e}"))
}

/// Canonical text of one even text record used as element content, checked against the
/// WithEndElement twin and against the same record as an attribute value.
fn text_of(record: &[u8]) -> String {
    let content = decode(&in_x(record)).text_content();
    let mut with_end = vec![0x40, 0x01, b'x', record[0] | 1];
    with_end.extend_from_slice(&record[1..]);
    assert_eq!(decode(&with_end).text_content(), content, "WithEndElement twin of {:02X}", record[0]);
    let mut attribute = vec![0x40, 0x01, b'x', 0x04, 0x01, b'a'];
    attribute.extend_from_slice(record);
    attribute.push(0x01);
    assert_eq!(decode(&attribute).attribute("", "a"), Some(content.as_str()), "{:02X} as attribute", record[0]);
    content
}

fn le<const N: usize>(record: u8, bytes: [u8; N]) -> Vec<u8> {
    let mut v = vec![record];
    v.extend_from_slice(&bytes);
    v
}

#[test]
fn end_element_0x01_closes_an_empty_element() {
    assert_eq!(decode(&[0x40, 0x01, b'x', 0x01]), Element::new("", "x"));
}

#[test]
fn comment_0x02_is_skipped_everywhere() {
    let bytes = [0x02, 0x01, b'c', 0x40, 0x01, b'x', 0x02, 0x02, b'h', b'i', 0x98, 0x01, b't', 0x01, 0x02, 0x00];
    assert_eq!(decode(&bytes), Element::new("", "x").text("t"));
}

#[test]
fn short_element_0x40() {
    assert_eq!(decode(&[0x40, 0x03, b'a', b'b', b'c', 0x01]), Element::new("", "abc"));
}

#[test]
fn element_0x41_with_prefix() {
    let bytes = [0x41, 0x02, b'p', b'q', 0x01, b'x', 0x09, 0x02, b'p', b'q', 0x03, b'u', b':', b'a', 0x01];
    assert_eq!(decode(&bytes), Element::new("pq", "x").xmlns("pq", "u:a"));
}

#[test]
fn short_dictionary_element_0x42() {
    assert_eq!(decode(&[0x42, 0x9A, 0x01, 0x01]), Element::new("", "Value"));
}

#[test]
fn dictionary_element_0x43() {
    let bytes = [0x43, 0x02, b's', b'e', 0x02, 0x0B, 0x02, b's', b'e', 0x04, 0x01];
    assert_eq!(decode(&bytes), Element::new("se", "Envelope").xmlns("se", SOAP));
}

#[test]
fn prefix_dictionary_elements_0x44_to_0x5d() {
    for (i, letter) in ('a'..='z').enumerate() {
        let bytes = [0x44 + i as u8, 0x08, 0x0B, 0x01, letter as u8, 0x04, 0x01];
        assert_eq!(decode(&bytes), Element::new(letter.to_string(), "Header").xmlns(letter.to_string(), SOAP));
    }
}

#[test]
fn prefix_elements_0x5e_to_0x77() {
    for (i, letter) in ('a'..='z').enumerate() {
        let bytes = [0x5E + i as u8, 0x01, b'k', 0x09, 0x01, letter as u8, 0x01, b'u', 0x01];
        assert_eq!(decode(&bytes), Element::new(letter.to_string(), "k").xmlns(letter.to_string(), "u"));
    }
}

fn attributes_of(bytes: &[u8]) -> Vec<Attribute> {
    decode(&in_x(bytes)).attributes
}

#[test]
fn short_attribute_0x04() {
    assert_eq!(attributes_of(&[0x04, 0x01, b'a', 0x98, 0x01, b'v']), vec![Attribute::new("", "a", "v")]);
}

#[test]
fn attribute_0x05() {
    let bytes = [0x05, 0x01, b'p', 0x01, b'a', 0x98, 0x01, b'v', 0x09, 0x01, b'p', 0x01, b'u'];
    assert_eq!(attributes_of(&bytes), vec![Attribute::new("p", "a", "v"), Attribute::new("xmlns", "p", "u")]);
}

#[test]
fn short_dictionary_attribute_0x06() {
    assert_eq!(attributes_of(&[0x06, 0x8A, 0x01, 0x98, 0x01, b'v']), vec![Attribute::new("", "role", "v")]);
}

#[test]
fn dictionary_attribute_0x07() {
    let bytes = [0x07, 0x01, b'p', 0x00, 0x82, 0x0B, 0x01, b'p', 0x04];
    assert_eq!(
        attributes_of(&bytes),
        vec![Attribute::new("p", "mustUnderstand", "1"), Attribute::new("xmlns", "p", SOAP)]
    );
}

#[test]
fn short_xmlns_attribute_0x08() {
    assert_eq!(attributes_of(&[0x08, 0x03, b'u', b':', b'x']), vec![Attribute::new("", "xmlns", "u:x")]);
}

#[test]
fn xmlns_attribute_0x09() {
    assert_eq!(attributes_of(&[0x09, 0x01, b'q', 0x01, b'u']), vec![Attribute::new("xmlns", "q", "u")]);
}

#[test]
fn short_dictionary_xmlns_attribute_0x0a() {
    assert_eq!(attributes_of(&[0x0A, 0x06]), vec![Attribute::new("", "xmlns", "http://www.w3.org/2005/08/addressing")]);
}

#[test]
fn dictionary_xmlns_attribute_0x0b() {
    let xsi = "http://www.w3.org/2001/XMLSchema-instance";
    assert_eq!(attributes_of(&[0x0B, 0x01, b'i', 0xF2, 0x06]), vec![Attribute::new("xmlns", "i", xsi)]);
}

#[test]
fn prefix_dictionary_attributes_0x0c_to_0x25() {
    for (i, letter) in ('a'..='z').enumerate() {
        // The declaration comes after the attribute that uses it, which is legal.
        let bytes = [0x0C + i as u8, 0xF6, 0x06, 0x86, 0x09, 0x01, letter as u8, 0x01, b'u'];
        let p = letter.to_string();
        assert_eq!(
            attributes_of(&bytes),
            vec![Attribute::new(p.clone(), "nil", "true"), Attribute::new("xmlns", p, "u")]
        );
    }
}

#[test]
fn prefix_attributes_0x26_to_0x3f() {
    for (i, letter) in ('a'..='z').enumerate() {
        let bytes = [0x09, 0x01, letter as u8, 0x01, b'u', 0x26 + i as u8, 0x01, b'k', 0xA8];
        let p = letter.to_string();
        assert_eq!(attributes_of(&bytes), vec![Attribute::new("xmlns", p.clone(), "u"), Attribute::new(p, "k", "")]);
    }
}

#[test]
fn zero_one_false_true_text_0x80_to_0x86() {
    assert_eq!(text_of(&[0x80]), "0");
    assert_eq!(text_of(&[0x82]), "1");
    assert_eq!(text_of(&[0x84]), "false");
    assert_eq!(text_of(&[0x86]), "true");
}

#[test]
fn int8_text_0x88() {
    assert_eq!(text_of(&[0x88, 0xFF]), "-1");
    assert_eq!(text_of(&[0x88, 0x7F]), "127");
}

#[test]
fn int16_text_0x8a() {
    assert_eq!(text_of(&le(0x8A, (-300i16).to_le_bytes())), "-300");
}

#[test]
fn int32_text_0x8c() {
    assert_eq!(text_of(&le(0x8C, i32::MIN.to_le_bytes())), "-2147483648");
}

#[test]
fn int64_text_0x8e() {
    assert_eq!(text_of(&le(0x8E, 9_007_199_254_740_993i64.to_le_bytes())), "9007199254740993");
}

#[test]
fn float_text_0x90() {
    assert_eq!(text_of(&le(0x90, 1.5f32.to_le_bytes())), "1.5");
    assert_eq!(text_of(&le(0x90, f32::INFINITY.to_le_bytes())), "INF");
    assert_eq!(text_of(&le(0x90, 1e-7f32.to_le_bytes())), "1E-07");
}

#[test]
fn double_text_0x92() {
    assert_eq!(text_of(&le(0x92, 8.0f64.to_le_bytes())), "8");
    assert_eq!(text_of(&le(0x92, 0.1f64.to_le_bytes())), "0.1");
    assert_eq!(text_of(&le(0x92, f64::NEG_INFINITY.to_le_bytes())), "-INF");
    assert_eq!(text_of(&le(0x92, f64::NAN.to_le_bytes())), "NaN");
    assert_eq!(text_of(&le(0x92, 1e20f64.to_le_bytes())), "1E+20");
}

#[test]
fn decimal_text_0x94() {
    // -123.4500: scale 4, sign 0x80, hi 0, lo 1234500.
    let mut payload = [0u8; 16];
    payload[2] = 4;
    payload[3] = 0x80;
    payload[8..].copy_from_slice(&1_234_500u64.to_le_bytes());
    assert_eq!(text_of(&le(0x94, payload)), "-123.4500");
}

#[test]
fn datetime_text_0x96() {
    assert_eq!(text_of(&le(0x96, 0u64.to_le_bytes())), "0001-01-01T00:00:00");
    let utc = 638_448_068_967_890_000u64 | 1 << 62;
    assert_eq!(text_of(&le(0x96, utc.to_le_bytes())), "2024-02-29T12:34:56.789Z");
}

#[test]
fn chars_text_0x98_0x9a_0x9c() {
    assert_eq!(text_of(&[0x98, 0x03, b'a', b'&', b'<']), "a&<");
    assert_eq!(text_of(&[0x9A, 0x02, 0x00, 0xC3, 0xA9]), "é");
    assert_eq!(text_of(&[0x9C, 0x01, 0x00, 0x00, 0x00, b'z']), "z");
}

#[test]
fn bytes_text_0x9e_0xa0_0xa2() {
    assert_eq!(text_of(&[0x9E, 0x03, 0x69, 0xB7, 0x1D]), "abcd");
    assert_eq!(text_of(&[0xA0, 0x01, 0x00, 0xFF]), "/w==");
    assert_eq!(text_of(&[0xA2, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00]), "AAA=");
}

#[test]
fn start_and_end_list_text_0xa4_0xa6() {
    let list = [0xA4, 0x80, 0x82, 0x98, 0x01, b'x', 0xAA, 0x9A, 0x01, 0xA6];
    let attribute = attributes_of(&[&[0x04, 0x01, b'a'][..], &list].concat());
    assert_eq!(attribute, vec![Attribute::new("", "a", "0 1 x Value")]);
    assert_eq!(decode(&in_x(&list)).text_content(), "0 1 x Value");
    assert_eq!(attributes_of(&[0x04, 0x01, b'a', 0xA4, 0xA6]), vec![Attribute::new("", "a", "")]);
}

#[test]
fn empty_text_0xa8() {
    assert_eq!(text_of(&[0xA8]), "");
    assert_eq!(decode(&[0x40, 0x01, b'x', 0xA9]), Element::new("", "x"));
}

#[test]
fn dictionary_text_0xaa() {
    assert_eq!(text_of(&[0xAA, 0x14]), "http://www.w3.org/2005/08/addressing/anonymous");
    assert_eq!(text_of(&[0xAA, 0x96, 0x07]), "string");
}

#[test]
fn unique_id_text_0xac() {
    let guid = [0x4e, 0x2d, 0x0c, 0x5f, 0x2b, 0x1a, 0x3d, 0x4c, 0x8e, 0x9f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f];
    assert_eq!(text_of(&le(0xAC, guid)), "urn:uuid:5f0c2d4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f");
}

#[test]
fn timespan_text_0xae() {
    assert_eq!(text_of(&le(0xAE, 0i64.to_le_bytes())), "PT0S");
    assert_eq!(text_of(&le(0xAE, (-36_000_000_000i64).to_le_bytes())), "-PT1H");
}

#[test]
fn uuid_text_0xb0() {
    let guid = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
    assert_eq!(text_of(&le(0xB0, guid)), "33221100-5544-7766-8899-aabbccddeeff");
}

#[test]
fn uint64_text_0xb2() {
    assert_eq!(text_of(&le(0xB2, u64::MAX.to_le_bytes())), "18446744073709551615");
}

#[test]
fn bool_text_0xb4() {
    assert_eq!(text_of(&[0xB4, 0x00]), "false");
    assert_eq!(text_of(&[0xB4, 0x01]), "true");
}

#[test]
fn unicode_chars_text_0xb6_0xb8_0xba() {
    assert_eq!(text_of(&[0xB6, 0x0A, b'A', 0, b'l', 0, b'i', 0, b'c', 0, b'e', 0]), "Alice");
    // U+1F600 as a surrogate pair.
    assert_eq!(text_of(&[0xB8, 0x04, 0x00, 0x3D, 0xD8, 0x00, 0xDE]), "😀");
    assert_eq!(text_of(&[0xBA, 0x02, 0x00, 0x00, 0x00, 0xE9, 0x00]), "é");
}

#[test]
fn qname_dictionary_text_0xbc() {
    assert_eq!(text_of(&[0xBC, 0x03, 0x96, 0x07]), "d:string");
    assert_eq!(text_of(&[0xBC, 0x19, 0x00]), "z:mustUnderstand");
}

#[test]
fn array_0x03_expands_into_repeated_elements() {
    // <a:i xmlns:a="u"> Int32 × 3.
    let mut bytes = vec![0x40, 0x01, b'r', 0x03, 0x5E, 0x01, b'i', 0x09, 0x01, b'a', 0x01, b'u', 0x01, 0x8D, 0x03];
    for v in [1i32, -2, 300] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.push(0x01);
    let item = |t: &str| Element::new("a", "i").xmlns("a", "u").text(t);
    assert_eq!(decode(&bytes), Element::new("", "r").child(item("1")).child(item("-2")).child(item("300")));
}

#[test]
fn array_0x03_accepts_every_dotnet_value_type() {
    let cases: [(u8, Vec<u8>, &str); 10] = [
        (0xB5, vec![1], "true"),
        (0x8B, 7i16.to_le_bytes().to_vec(), "7"),
        (0x8D, 7i32.to_le_bytes().to_vec(), "7"),
        (0x8F, 7i64.to_le_bytes().to_vec(), "7"),
        (0x91, 0.5f32.to_le_bytes().to_vec(), "0.5"),
        (0x93, 0.25f64.to_le_bytes().to_vec(), "0.25"),
        (0x95, [0u8; 16].to_vec(), "0"),
        (0x97, 0u64.to_le_bytes().to_vec(), "0001-01-01T00:00:00"),
        (0xAF, 10_000_000i64.to_le_bytes().to_vec(), "PT1S"),
        (0xB1, [0u8; 16].to_vec(), "00000000-0000-0000-0000-000000000000"),
    ];
    for (value_type, item, text) in cases {
        let mut bytes = vec![0x40, 0x01, b'r', 0x03, 0x40, 0x01, b'v', 0x01, value_type, 0x02];
        bytes.extend_from_slice(&item);
        bytes.extend_from_slice(&item);
        bytes.push(0x01);
        let decoded = decode(&bytes);
        assert_eq!(decoded.children.len(), 2, "type {value_type:02X}");
        assert!(
            decoded.child_elements().all(|e| e.children == [Node::Text(text.to_owned())]),
            "type {value_type:02X}: {decoded:?}"
        );
    }
}

#[test]
fn adjacent_text_records_merge() {
    let bytes = [0x40, 0x01, b'x', 0x98, 0x01, b'a', 0x80, 0x99, 0x01, b'b'];
    assert_eq!(decode(&bytes).children, vec![Node::Text("a0b".to_owned())]);
}
