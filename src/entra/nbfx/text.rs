//! XML text ⇄ tree, for people, fixtures and the `wire` subcommand. Escaping is done here and
//! only here: msbin1 carries raw text.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::dom::{Attribute, Element, Node};
use super::error::{Location, NbfxError, clip};
use super::limits::{LimitKind, Limits};
use super::scope::PrefixScope;

/// Compact XML text of a tree: no declaration, no added whitespace, so
/// `from_xml(&to_xml(e)) == e`.
pub fn to_xml(root: &Element) -> String {
    write_xml(root, None)
}

/// Indented XML text for people. Indentation is only added inside elements whose children are
/// all elements, so text content is never changed; [`from_xml_ignoring_layout`] reads it back.
pub fn to_xml_pretty(root: &Element) -> String {
    write_xml(root, Some("  "))
}

fn write_xml(root: &Element, indent: Option<&str>) -> String {
    let mut out = String::with_capacity(256);
    // (element, next child, whether its children are laid out on their own lines)
    let mut stack: Vec<(&Element, usize, bool)> = Vec::new();
    open_tag(root, &mut out);
    if root.children.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        stack.push((root, 0, indent.is_some() && is_element_only(root)));
    }
    while let Some(&(element, next, layout)) = stack.last() {
        let depth = stack.len();
        let Some(child) = element.children.get(next) else {
            stack.pop();
            if layout {
                newline(&mut out, indent, depth - 1);
            }
            out.push_str("</");
            push_qualified(&element.prefix, &element.name, &mut out);
            out.push('>');
            continue;
        };
        if let Some(top) = stack.last_mut() {
            top.1 += 1;
        }
        match child {
            Node::Text(text) => escape_into(text, false, &mut out),
            Node::Element(child) => {
                if layout {
                    newline(&mut out, indent, depth);
                }
                open_tag(child, &mut out);
                if child.children.is_empty() {
                    out.push_str("/>");
                } else {
                    out.push('>');
                    stack.push((child, 0, indent.is_some() && is_element_only(child)));
                }
            }
        }
    }
    out
}

fn is_element_only(element: &Element) -> bool {
    element.children.iter().all(|n| matches!(n, Node::Element(_)))
}

fn newline(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(unit) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(unit);
        }
    }
}

fn push_qualified(prefix: &str, name: &str, out: &mut String) {
    if !prefix.is_empty() {
        out.push_str(prefix);
        out.push(':');
    }
    out.push_str(name);
}

fn open_tag(element: &Element, out: &mut String) {
    out.push('<');
    push_qualified(&element.prefix, &element.name, out);
    for attribute in &element.attributes {
        out.push(' ');
        push_qualified(&attribute.prefix, &attribute.name, out);
        out.push_str("=\"");
        escape_into(&attribute.value, true, out);
        out.push('"');
    }
}

/// Escapes markup characters, and the characters an XML parser would normalise away (CR
/// everywhere; TAB and LF in attribute values) or cannot read literally (other C0 controls), as
/// character references.
fn escape_into(text: &str, attribute: bool, out: &mut String) {
    let needs = |c: char| match c {
        '&' | '<' | '>' | '\r' => true,
        '"' | '\t' | '\n' => attribute,
        c => c < ' ',
    };
    let mut rest = text;
    while let Some(i) = rest.find(needs) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or('\0');
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => {
                use std::fmt::Write as _;
                let _ = write!(out, "&#x{:X};", u32::from(c));
            }
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
}

/// Parses XML text into a tree, keeping every text node (whitespace included).
pub fn from_xml(xml: &str) -> Result<Element, NbfxError> {
    parse(xml, false, &Limits::default())
}

/// Parses XML text into a tree, dropping whitespace-only text in elements that also contain
/// elements (indentation), as SOAP processing does. Reads [`to_xml_pretty`] output back.
pub fn from_xml_ignoring_layout(xml: &str) -> Result<Element, NbfxError> {
    parse(xml, true, &Limits::default())
}

/// [`from_xml`] / [`from_xml_ignoring_layout`] with explicit limits.
pub fn from_xml_with_limits(xml: &str, ignore_layout: bool, limits: &Limits) -> Result<Element, NbfxError> {
    parse(xml, ignore_layout, limits)
}

fn xml_error(reader: &Reader<&[u8]>, message: impl ToString) -> NbfxError {
    NbfxError::Xml { message: message.to_string(), at: Location::Xml(reader.error_position()) }
}

fn limit(limit: LimitKind, max: usize, reader: &Reader<&[u8]>) -> NbfxError {
    NbfxError::LimitExceeded { limit, max, at: Location::Xml(reader.buffer_position()) }
}

fn parse(xml: &str, ignore_layout: bool, limits: &Limits) -> Result<Element, NbfxError> {
    if xml.len() > limits.max_input_bytes {
        return Err(NbfxError::LimitExceeded {
            limit: LimitKind::InputSize,
            max: limits.max_input_bytes,
            at: Location::Xml(0),
        });
    }
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut scope = PrefixScope::default();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|e| xml_error(&reader, e))?;
        let text = match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if stack.is_empty() && root.is_some() {
                    return Err(NbfxError::TrailingData { at: Location::Xml(position) });
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(limit(LimitKind::Elements, limits.max_elements, &reader));
                }
                if stack.len() >= limits.max_depth {
                    return Err(limit(LimitKind::Depth, limits.max_depth, &reader));
                }
                let element = element_of(start, &reader, limits)?;
                scope.open(&element, &|| Location::Xml(position))?;
                if matches!(event, Event::Start(_)) {
                    stack.push(element);
                } else {
                    scope.close();
                    attach(element, &mut stack, &mut root);
                }
                continue;
            }
            Event::End(_) => {
                // quick-xml has checked that the end tag matches.
                let Some(mut element) = stack.pop() else {
                    return Err(xml_error(&reader, "end tag without a start tag"));
                };
                scope.close();
                if ignore_layout && element.children.iter().any(|n| matches!(n, Node::Element(_))) {
                    element.children.retain(|n| !matches!(n, Node::Text(t) if is_xml_whitespace(t)));
                }
                attach(element, &mut stack, &mut root);
                continue;
            }
            Event::Text(text) => text.xml10_content().into_owned(),
            Event::CData(data) => data.xml10_content().into_owned(),
            Event::GeneralRef(reference) => match reference.resolve_char_ref().map_err(|e| xml_error(&reader, e))? {
                Some(c) => c.to_string(),
                None => match predefined_entity(&reference) {
                    Some(s) => s.to_owned(),
                    None => {
                        return Err(xml_error(&reader, format!("undefined entity &{};", clip(&reference))));
                    }
                },
            },
            Event::DocType(_) => return Err(xml_error(&reader, "DOCTYPE declarations are not supported")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => continue,
            Event::Eof => break,
        };
        match stack.last_mut() {
            Some(parent) => {
                let existing = match parent.children.last() {
                    Some(Node::Text(t)) => t.len(),
                    _ => 0,
                };
                if existing + text.len() > limits.max_string_bytes {
                    return Err(limit(LimitKind::StringLength, limits.max_string_bytes, &reader));
                }
                parent.push_text(text);
            }
            None if is_xml_whitespace(&text) => {}
            None => return Err(NbfxError::TextOutsideRoot { at: Location::Xml(position) }),
        }
    }
    if !stack.is_empty() {
        return Err(NbfxError::UnclosedElements { open: stack.len(), at: Location::Xml(reader.buffer_position()) });
    }
    root.ok_or(NbfxError::NoRootElement)
}

fn attach(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

fn is_xml_whitespace(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

fn split_name<'n>(qname: &'n str, reader: &Reader<&[u8]>) -> Result<(&'n str, &'n str), NbfxError> {
    match qname.split_once(':') {
        None => Ok(("", qname)),
        Some((prefix, local)) if !local.contains(':') => Ok((prefix, local)),
        Some(_) => Err(NbfxError::InvalidName { name: clip(qname), at: Location::Xml(reader.buffer_position()) }),
    }
}

fn element_of(start: &BytesStart<'_>, reader: &Reader<&[u8]>, limits: &Limits) -> Result<Element, NbfxError> {
    let qname = start.name();
    let (prefix, name) = split_name(qname.as_ref(), reader)?;
    let mut element = Element::new(prefix, name);
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| xml_error(reader, e))?;
        if element.attributes.len() >= limits.max_attributes {
            return Err(limit(LimitKind::Attributes, limits.max_attributes, reader));
        }
        let key = attribute.key;
        let (prefix, name) = split_name(key.as_ref(), reader)?;
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| xml_error(reader, e))?
            .into_owned();
        if value.len() > limits.max_string_bytes {
            return Err(limit(LimitKind::StringLength, limits.max_string_bytes, reader));
        }
        element.attributes.push(Attribute::new(prefix, name, value));
    }
    Ok(element)
}
