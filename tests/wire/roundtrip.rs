//! Property: XML → msbin1 → XML is the identity, over generated documents.

use proptest::prelude::*;
use samba_entra_sync::entra::nbfx::{self, Attribute, Element, Node, ns};

const NAMESPACES: [&str; 8] = [
    ns::SOAP_ENVELOPE,
    ns::ADDRESSING,
    ns::XML_SCHEMA_INSTANCE,
    ns::XML_SCHEMA,
    ns::SERIALIZATION_ARRAYS,
    "urn:microsoft.online.administrativeservice",
    "http://example.com/a&b<c>\"d\"",
    "urn:ünïcode",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        // Names of the static dictionary (written as dictionary records).
        prop::sample::select(vec![
            "Envelope",
            "Header",
            "Body",
            "Value",
            "type",
            "nil",
            "string",
            "mustUnderstand",
            "role",
            "Address",
            "Fault",
            "Text",
            "lang",
        ])
        .prop_map(String::from),
        "[A-Za-z_][A-Za-z0-9_.-]{0,12}",
        prop::sample::select(vec!["名前", "Ñame", "naïve_x", "Ωmega"]).prop_map(String::from),
    ]
}

fn prefix() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", "", "", "s", "a", "i", "c", "d", "b", "z", "p1", "ns0", "Long_Prefix"])
        .prop_map(String::from)
}

fn attribute_prefix() -> impl Strategy<Value = String> {
    prop_oneof![4 => prefix(), 1 => Just("xml".to_owned())]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[\\PC\t\n\r<>&\"' ]{0,30}",
        1 => "[\u{1}-\u{1F}a]{1,4}",
        1 => Just(ns::ADDRESSING_ANONYMOUS.to_owned()),
        1 => Just("1".to_owned()),
        1 => "[a-zé]{250,300}",
        1 => Just(" \n\t ".to_owned()),
    ]
}

fn namespace() -> impl Strategy<Value = String> {
    prop::sample::select(NAMESPACES.to_vec()).prop_map(String::from)
}

fn leaf() -> impl Strategy<Value = Element> {
    (
        prefix(),
        name(),
        prop::collection::vec((attribute_prefix(), name(), text()), 0..4),
        prop::collection::vec((prefix(), namespace()), 0..2),
        prop::option::of(text()),
    )
        .prop_map(|(prefix, name, attributes, declarations, text)| {
            let mut e = Element::new(prefix, name);
            for (p, uri) in declarations {
                e = e.xmlns(p, uri);
            }
            for (p, n, v) in attributes {
                e.attributes.push(Attribute::new(p, n, v));
            }
            if let Some(t) = text {
                e.children.push(Node::Text(t));
            }
            e
        })
}

fn tree() -> impl Strategy<Value = Element> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        (leaf(), prop::collection::vec(prop_oneof![inner.prop_map(Node::Element), text().prop_map(Node::Text)], 0..6))
            .prop_map(|(mut e, children)| {
                e.children.extend(children);
                e
            })
    })
}

/// Makes a generated tree well-formed: unique attributes, every prefix declared, no
/// adjacent or empty texts (XML cannot express them).
fn well_formed(mut e: Element, declared: &[String]) -> Element {
    let mut seen: Vec<(String, String)> = Vec::new();
    e.attributes.retain(|a| {
        let key = (a.prefix.clone(), a.name.clone());
        let keep = !seen.contains(&key);
        seen.push(key);
        keep
    });
    let mut in_scope: Vec<String> = declared.to_vec();
    in_scope.extend(e.namespace_declarations().map(|(p, _)| p.to_owned()));
    let used: Vec<String> = std::iter::once(e.prefix.clone())
        .chain(e.attributes.iter().filter(|a| a.declared_prefix().is_none()).map(|a| a.prefix.clone()))
        .collect();
    for p in used {
        if !p.is_empty() && p != "xml" && !in_scope.contains(&p) {
            let uri = NAMESPACES[p.len() % NAMESPACES.len()];
            e.attributes.push(Attribute::new("xmlns", p.clone(), uri));
            in_scope.push(p);
        }
    }
    let children = std::mem::take(&mut e.children);
    for child in children {
        match child {
            Node::Element(c) => e.push_child(well_formed(c, &in_scope)),
            Node::Text(t) => e.push_text(t),
        }
    }
    e
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn xml_to_msbin1_to_xml_is_the_identity(generated in tree()) {
        let doc = well_formed(generated, &[]);
        let xml = nbfx::to_xml(&doc);
        let parsed = nbfx::from_xml(&xml).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        prop_assert_eq!(&parsed, &doc);
        let bytes = nbfx::encode(&parsed).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        let decoded = nbfx::decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        prop_assert_eq!(&decoded, &doc);
        prop_assert_eq!(nbfx::to_xml(&decoded), xml);
    }

    #[test]
    fn pretty_xml_reads_back_ignoring_layout(generated in tree()) {
        let mut doc = well_formed(generated, &[]);
        strip_layout_whitespace(&mut doc);
        let pretty = nbfx::to_xml_pretty(&doc);
        let parsed = nbfx::from_xml_ignoring_layout(&pretty).map_err(|e| TestCaseError::fail(format!("{e}: {pretty}")))?;
        prop_assert_eq!(parsed, doc);
    }

    #[test]
    fn decoder_never_panics_on_mutated_messages(position in 0usize..1521, byte in any::<u8>(), cut in 0usize..1521) {
        let mut bytes = super::fixture("finalize-export.bin");
        bytes[position] = byte;
        bytes.truncate(cut.max(position + 1));
        if let Ok(tree) = nbfx::decode(&bytes) {
            // Whatever decodes must re-encode and decode to the same tree.
            let again = nbfx::encode(&tree).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(nbfx::decode(&again).map_err(|e| TestCaseError::fail(e.to_string()))?, tree);
        }
    }
}

/// What `from_xml_ignoring_layout` drops: whitespace-only text beside elements.
fn strip_layout_whitespace(e: &mut Element) {
    if e.children.iter().any(|n| matches!(n, Node::Element(_))) {
        e.children.retain(|n| !matches!(n, Node::Text(t) if t.bytes().all(|b| b" \t\n\r".contains(&b))));
    }
    for child in &mut e.children {
        if let Node::Element(c) = child {
            strip_layout_whitespace(c);
        }
    }
}

#[test]
fn long_texts_use_wider_length_fields_and_round_trip() {
    for len in [255usize, 256, 65_535, 65_536, 200_000] {
        let text = "x".repeat(len);
        let doc = Element::new("", "t").text(text.as_str());
        let bytes = nbfx::encode(&doc).expect("encodes");
        let expected_record = match len {
            0..=255 => 0x99,
            256..=65_535 => 0x9B,
            _ => 0x9D,
        };
        assert_eq!(bytes[3], expected_record, "length {len}");
        assert_eq!(nbfx::decode(&bytes).expect("decodes"), doc);
    }
}

#[test]
fn escaping_survives_both_ways() {
    let doc = Element::new("", "e").attr("", "a", "<&>\"'\t\n\r").text("]]> <&> \r\n \u{1}");
    let xml = nbfx::to_xml(&doc);
    assert_eq!(xml, "<e a=\"&lt;&amp;&gt;&quot;'&#x9;&#xA;&#xD;\">]]&gt; &lt;&amp;&gt; &#xD;\n &#x1;</e>");
    assert_eq!(nbfx::from_xml(&xml).expect("parses"), doc);
}
