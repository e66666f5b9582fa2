//! Tree → msbin1, in the profile .NET's writer emits: dictionary records for names and namespace URIs of the static dictionary, String
//! records otherwise; every text and attribute value as UTF-8 Chars8/16/32Text (the
//! WithEndElement form for the last text of an element), except `mustUnderstand="1"` as OneText
//! and the WS-Addressing anonymous URI as DictionaryText. Never QNameDictionaryText, UnicodeChars
//! or other typed records, so nothing the caller wrote is reinterpreted.

use super::dom::{Attribute, Element, Node};
use super::error::{Location, NbfxError};
use super::limits::LimitKind;
use super::records::*;
use super::scope::PrefixScope;

/// Encodes a tree as one msbin1 document.
///
/// Fails on trees the .NET reader would reject: invalid names, undeclared prefixes,
/// duplicate attributes, strings longer than 2^31-1 bytes.
pub fn encode(root: &Element) -> Result<Vec<u8>, NbfxError> {
    // Sized once for the whole document: growing would free the old buffer, with the bearer
    // token and credential inside, without wiping it.
    let mut writer = Writer { out: Vec::with_capacity(size_bound(root)), scope: PrefixScope::default() };
    writer.write(root)?;
    Ok(writer.out)
}

/// An upper bound of the encoded size: every record byte, every length field at its largest
/// (5 bytes of mb31, 4 of Chars32), every name, prefix and text in full.
fn size_bound(root: &Element) -> usize {
    let mut total = 0;
    let mut stack = vec![root];
    while let Some(element) = stack.pop() {
        // Record, prefix and name as Strings, end element.
        total += 2 + 10 + element.prefix.len() + element.name.len();
        for a in &element.attributes {
            total += 1 + 15 + a.prefix.len() + a.name.len() + a.value.len();
        }
        for child in &element.children {
            match child {
                Node::Element(e) => stack.push(e),
                Node::Text(t) => total += 6 + t.len(),
            }
        }
    }
    total
}

struct Writer {
    out: Vec<u8>,
    scope: PrefixScope,
}

/// An element being written: which child comes next and which child is its last content.
struct Frame<'a> {
    element: &'a Element,
    next: usize,
    /// Index of the last non-empty child, if any.
    last: Option<usize>,
}

fn location(element: &Element) -> Location {
    Location::Element(super::error::clip(&element.qualified_name()))
}

fn last_content(element: &Element) -> Option<usize> {
    element.children.iter().rposition(|n| !matches!(n, Node::Text(t) if t.is_empty()))
}

impl Writer {
    fn write(&mut self, root: &Element) -> Result<(), NbfxError> {
        self.start(root)?;
        let mut stack = vec![Frame { element: root, next: 0, last: last_content(root) }];
        while let Some(frame) = stack.last_mut() {
            let element = frame.element;
            let index = frame.next;
            let last = match frame.last {
                Some(last) if index <= last => last,
                _ => {
                    // No content left. An element whose last content was text is already closed
                    // by the WithEndElement record.
                    let ends_with_text = frame.last.is_some_and(|i| matches!(element.children[i], Node::Text(_)));
                    if !ends_with_text {
                        self.out.push(END_ELEMENT);
                    }
                    self.scope.close();
                    stack.pop();
                    continue;
                }
            };
            frame.next += 1;
            let is_last = index == last;
            match &element.children[index] {
                Node::Element(child) => {
                    self.start(child)?;
                    stack.push(Frame { element: child, next: 0, last: last_content(child) });
                }
                Node::Text(text) if text.is_empty() => {}
                Node::Text(text) => self.text(text, is_last, element)?,
            }
        }
        Ok(())
    }

    /// Element record and attribute records.
    fn start(&mut self, element: &Element) -> Result<(), NbfxError> {
        self.scope.open(element, &|| location(element))?;
        let dictionary_name = static_id(&element.name);
        match (element.prefix.as_str(), single_letter_prefix(&element.prefix), dictionary_name) {
            ("", _, Some(id)) => self.record_dictionary(SHORT_DICTIONARY_ELEMENT, id),
            ("", _, None) => self.record_string(SHORT_ELEMENT, &element.name, element)?,
            (_, Some(letter), Some(id)) => self.record_dictionary(PREFIX_DICTIONARY_ELEMENT_A + letter, id),
            (_, Some(letter), None) => self.record_string(PREFIX_ELEMENT_A + letter, &element.name, element)?,
            (prefix, None, Some(id)) => {
                self.record_string(DICTIONARY_ELEMENT, prefix, element)?;
                write_mb31(&mut self.out, id);
            }
            (prefix, None, None) => {
                self.record_string(ELEMENT, prefix, element)?;
                self.string(&element.name, element)?;
            }
        }
        for attribute in &element.attributes {
            self.attribute(attribute, element)?;
        }
        Ok(())
    }

    fn attribute(&mut self, attribute: &Attribute, element: &Element) -> Result<(), NbfxError> {
        if let Some(declared) = attribute.declared_prefix() {
            let uri = &attribute.value;
            match (declared, static_id(uri)) {
                ("", Some(id)) => self.record_dictionary(SHORT_DICTIONARY_XMLNS_ATTRIBUTE, id),
                ("", None) => self.record_string(SHORT_XMLNS_ATTRIBUTE, uri, element)?,
                (prefix, Some(id)) => {
                    self.record_string(DICTIONARY_XMLNS_ATTRIBUTE, prefix, element)?;
                    write_mb31(&mut self.out, id);
                }
                (prefix, None) => {
                    self.record_string(XMLNS_ATTRIBUTE, prefix, element)?;
                    self.string(uri, element)?;
                }
            }
            return Ok(());
        }
        let name = &attribute.name;
        match (attribute.prefix.as_str(), single_letter_prefix(&attribute.prefix), static_id(name)) {
            ("", _, Some(id)) => self.record_dictionary(SHORT_DICTIONARY_ATTRIBUTE, id),
            ("", _, None) => self.record_string(SHORT_ATTRIBUTE, name, element)?,
            (_, Some(letter), Some(id)) => self.record_dictionary(PREFIX_DICTIONARY_ATTRIBUTE_A + letter, id),
            (_, Some(letter), None) => self.record_string(PREFIX_ATTRIBUTE_A + letter, name, element)?,
            (prefix, None, Some(id)) => {
                self.record_string(DICTIONARY_ATTRIBUTE, prefix, element)?;
                write_mb31(&mut self.out, id);
            }
            (prefix, None, None) => {
                self.record_string(ATTRIBUTE, prefix, element)?;
                self.string(name, element)?;
            }
        }
        if attribute.name == "mustUnderstand" && attribute.value == "1" {
            // What .NET writes for the SOAP header flag.
            self.out.push(ONE_TEXT);
            Ok(())
        } else {
            self.chars(&attribute.value, false, element)
        }
    }

    /// Element content text; `last` selects the WithEndElement form.
    fn text(&mut self, text: &str, last: bool, element: &Element) -> Result<(), NbfxError> {
        if text == WSA_ANONYMOUS {
            self.out.push(if last { with_end(DICTIONARY_TEXT) } else { DICTIONARY_TEXT });
            write_mb31(&mut self.out, DICT_WSA_ANONYMOUS);
            Ok(())
        } else {
            self.chars(text, last, element)
        }
    }

    /// Chars8/16/32Text with the smallest length field that fits.
    fn chars(&mut self, text: &str, last: bool, element: &Element) -> Result<(), NbfxError> {
        let bytes = text.as_bytes();
        let end = u8::from(last);
        if let Ok(len) = u8::try_from(bytes.len()) {
            self.out.extend_from_slice(&[CHARS8_TEXT | end, len]);
        } else if let Ok(len) = u16::try_from(bytes.len()) {
            self.out.push(CHARS16_TEXT | end);
            self.out.extend_from_slice(&len.to_le_bytes());
        } else if let Ok(len) = i32::try_from(bytes.len()) {
            self.out.push(CHARS32_TEXT | end);
            self.out.extend_from_slice(&len.to_le_bytes());
        } else {
            return Err(too_long(element));
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    fn record_dictionary(&mut self, record: u8, id: u32) {
        self.out.push(record);
        write_mb31(&mut self.out, id);
    }

    fn record_string(&mut self, record: u8, s: &str, element: &Element) -> Result<(), NbfxError> {
        self.out.push(record);
        self.string(s, element)
    }

    /// A String: mb31 length + UTF-8.
    fn string(&mut self, s: &str, element: &Element) -> Result<(), NbfxError> {
        let len = u32::try_from(s.len()).ok().filter(|&l| l <= MB31_MAX).ok_or_else(|| too_long(element))?;
        write_mb31(&mut self.out, len);
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn too_long(element: &Element) -> NbfxError {
    NbfxError::LimitExceeded { limit: LimitKind::StringLength, max: MB31_MAX as usize, at: location(element) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_element_is_record_plus_end() {
        let bytes = encode(&Element::new("", "x")).expect("encodes");
        assert_eq!(bytes, [SHORT_ELEMENT, 1, b'x', END_ELEMENT]);
    }

    #[test]
    fn last_text_closes_its_element() {
        let e = Element::new("", "x").child(Element::new("", "y")).text("ab");
        let bytes = encode(&e).expect("encodes");
        assert_eq!(bytes, [0x40, 1, b'x', 0x40, 1, b'y', 0x01, 0x99, 2, b'a', b'b']);
    }

    #[test]
    fn length_field_grows_with_the_text() {
        let long = "é".repeat(200); // 400 bytes
        let bytes = encode(&Element::new("", "x").text(long.as_str())).expect("encodes");
        assert_eq!(&bytes[3..6], &[CHARS16_TEXT | 1, 0x90, 0x01]);
        assert_eq!(bytes.len(), 6 + 400);
    }

    #[test]
    fn the_buffer_is_sized_up_front_so_no_token_is_left_in_a_freed_one() {
        // A request with a large bearer token and credential: the buffer must not grow (each
        // growth frees the old buffer, token inside, without wiping it).
        let token = "t".repeat(20_000);
        let credential = "c".repeat(5_000);
        let e = Element::new("s", "Envelope").xmlns("s", "http://www.w3.org/2003/05/soap-envelope").child(
            Element::new("s", "Header")
                .child(Element::new("", "BearerToken").xmlns("", "urn:x").text(token.as_str()))
                .child(Element::new("", "Credential").attr("", "kind", "pbkdf2").text(credential.as_str())),
        );
        let bytes = encode(&e).expect("encodes");
        assert!(
            bytes.capacity() <= bytes.len() + 1024,
            "capacity {} for {} bytes: the buffer grew while the token was in it",
            bytes.capacity(),
            bytes.len()
        );
    }

    #[test]
    fn rejects_trees_the_service_would_reject() {
        let undeclared = Element::new("p", "x");
        assert!(matches!(encode(&undeclared), Err(NbfxError::UndeclaredPrefix { .. })));
        let bad_name = Element::new("", "a b");
        assert!(matches!(encode(&bad_name), Err(NbfxError::InvalidName { .. })));
        let twice = Element::new("", "x").attr("", "a", "1").attr("", "a", "2");
        assert!(matches!(encode(&twice), Err(NbfxError::DuplicateAttribute { .. })));
    }
}
