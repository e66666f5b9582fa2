//! msbin1 → tree. A single loop over the record stream with an explicit stack of open elements
//! (no recursion on input), every length checked against the remaining input before use, and
//! the [`Limits`] enforced as the tree grows.

use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::dom::{Attribute, Element, Node};
use super::error::{Location, NbfxError};
use super::limits::{LimitKind, Limits};
use super::records::*;
use super::scope::PrefixScope;
use super::typed;

/// Decodes one msbin1 document with the default [`Limits`].
pub fn decode(input: &[u8]) -> Result<Element, NbfxError> {
    decode_with_limits(input, &Limits::default())
}

/// Decodes one msbin1 document (an MC-NBFX record stream using only the MC-NBFS static
/// dictionary) into its root element.
pub fn decode_with_limits(input: &[u8], limits: &Limits) -> Result<Element, NbfxError> {
    if input.len() > limits.max_input_bytes {
        return Err(NbfxError::LimitExceeded {
            limit: LimitKind::InputSize,
            max: limits.max_input_bytes,
            at: Location::Byte(0),
        });
    }
    Reader::new(input, limits, None).run()
}

/// Decodes like [`decode_with_limits`], but hands every child element of an element whose local
/// name is `container` to `each` as soon as it is complete, instead of keeping it in the tree:
/// memory then holds one item at a time, however many items the document has. Each item
/// carries the namespace declarations in scope where it stood, so it resolves on its own; the
/// returned tree is the rest of the document (the container left empty). The element and
/// decoded-size limits apply to that rest and to each item on its own.
///
/// `each` may already have seen items when the document turns out to be malformed further on.
pub fn decode_split(
    input: &[u8],
    limits: &Limits,
    container: &str,
    each: &mut dyn FnMut(Element),
) -> Result<Element, NbfxError> {
    decode_split_ranges(input, limits, container, &mut |item, _| each(item))
}

/// [`decode_split`], also handing out where each item stood in `input`: the bytes of its
/// element record up to its end, or `None` for an item of an array record (which shares its
/// record with its siblings). What [`super::stream::SplitStream`] cuts the input at.
pub fn decode_split_ranges(
    input: &[u8],
    limits: &Limits,
    container: &str,
    each: &mut dyn FnMut(Element, Option<Range<usize>>),
) -> Result<Element, NbfxError> {
    if input.len() > limits.max_input_bytes {
        return Err(NbfxError::LimitExceeded {
            limit: LimitKind::InputSize,
            max: limits.max_input_bytes,
            at: Location::Byte(0),
        });
    }
    Reader::new(input, limits, Some(Split { container, each })).run()
}

/// Where a split decode sends the container's children.
struct Split<'s> {
    container: &'s str,
    each: &'s mut dyn FnMut(Element, Option<Range<usize>>),
}

struct Open {
    element: Element,
    /// The element and decoded-size counts before this element began (a split item gives
    /// them back once handed out).
    counted_before: (usize, usize),
    /// Still reading the attribute list.
    in_start_tag: bool,
    /// Offset of the element record, for errors about the start tag.
    start: usize,
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    split: Option<Split<'a>>,
    stack: Vec<Open>,
    scope: PrefixScope,
    root: Option<Element>,
    elements: usize,
    decoded: usize,
}

fn at(offset: usize) -> Location {
    Location::Byte(offset)
}

fn is_attribute_record(record: u8) -> bool {
    (SHORT_ATTRIBUTE..=PREFIX_ATTRIBUTE_A + 25).contains(&record)
}

fn is_element_record(record: u8) -> bool {
    (SHORT_ELEMENT..=PREFIX_ELEMENT_A + 25).contains(&record)
}

/// Text records that exist (with their WithEndElement twins); 0xA5 and 0xA7 do not.
fn is_text_record(record: u8) -> bool {
    (ZERO_TEXT..=QNAME_DICTIONARY_TEXT + 1).contains(&record) && record != 0xA5 && record != 0xA7
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8], limits: &'a Limits, split: Option<Split<'a>>) -> Self {
        Reader {
            input,
            pos: 0,
            limits,
            split,
            stack: Vec::new(),
            scope: PrefixScope::default(),
            root: None,
            elements: 0,
            decoded: 0,
        }
    }

    fn run(mut self) -> Result<Element, NbfxError> {
        while self.pos < self.input.len() {
            let start = self.pos;
            let record = self.input[start];
            self.pos += 1;
            match record {
                END_ELEMENT => {
                    self.finish_start_tag()?;
                    self.close(start)?;
                }
                COMMENT => {
                    self.finish_start_tag()?;
                    self.read_string()?;
                }
                ARRAY => {
                    self.finish_start_tag()?;
                    self.read_array(start)?;
                }
                r if is_attribute_record(r) => self.read_attribute_into_start_tag(r, start)?,
                r if is_element_record(r) => {
                    self.finish_start_tag()?;
                    self.open(r, start)?;
                }
                r if is_text_record(r) => {
                    self.finish_start_tag()?;
                    self.read_content_text(r, start)?;
                }
                r => return Err(NbfxError::UnknownRecord { record: r, at: at(start) }),
            }
        }
        if !self.stack.is_empty() {
            return Err(NbfxError::UnclosedElements { open: self.stack.len(), at: at(self.pos) });
        }
        self.root.ok_or(NbfxError::NoRootElement)
    }

    // ---- primitives -------------------------------------------------------------------------

    fn truncated(&self) -> NbfxError {
        NbfxError::Truncated { at: at(self.input.len()) }
    }

    fn take(&mut self, len: usize) -> Result<&[u8], NbfxError> {
        if len > self.input.len() - self.pos {
            return Err(self.truncated());
        }
        let bytes = &self.input[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, NbfxError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], NbfxError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn mb31(&mut self) -> Result<u32, NbfxError> {
        match read_mb31(&self.input[self.pos..]) {
            Ok(Some((value, len))) => {
                self.pos += len;
                Ok(value)
            }
            Ok(None) => Err(self.truncated()),
            Err(()) => Err(NbfxError::InvalidMultiByteInt { at: at(self.pos) }),
        }
    }

    /// Counts produced bytes against the decoded-size limit.
    fn account(&mut self, bytes: usize, offset: usize) -> Result<(), NbfxError> {
        self.decoded = self.decoded.saturating_add(bytes);
        if self.decoded > self.limits.max_decoded_bytes {
            return Err(NbfxError::LimitExceeded {
                limit: LimitKind::DecodedSize,
                max: self.limits.max_decoded_bytes,
                at: at(offset),
            });
        }
        Ok(())
    }

    /// Checks a length read from the input against the string limit and the remaining input.
    fn checked_len(&self, len: usize, offset: usize) -> Result<usize, NbfxError> {
        if len > self.limits.max_string_bytes {
            return Err(NbfxError::LimitExceeded {
                limit: LimitKind::StringLength,
                max: self.limits.max_string_bytes,
                at: at(offset),
            });
        }
        if len > self.input.len() - self.pos {
            return Err(self.truncated());
        }
        Ok(len)
    }

    fn utf8(&mut self, len: usize, offset: usize) -> Result<&str, NbfxError> {
        let len = self.checked_len(len, offset)?;
        let start = self.pos;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|e| NbfxError::InvalidUtf8 { at: at(start + e.valid_up_to()) })
    }

    /// A String: mb31 byte length + UTF-8.
    fn read_string(&mut self) -> Result<String, NbfxError> {
        let offset = self.pos;
        let len = self.mb31()? as usize;
        let s = self.utf8(len, offset)?.to_owned();
        self.account(s.len(), offset)?;
        Ok(s)
    }

    /// A DictionaryString: an even id of the static dictionary.
    fn read_dictionary_string(&mut self) -> Result<&'static str, NbfxError> {
        let offset = self.pos;
        let id = self.mb31()?;
        if id % 2 == 1 {
            return Err(NbfxError::InBandDictionary { id, at: at(offset) });
        }
        static_string(id).ok_or(NbfxError::UnknownDictionaryId { id, at: at(offset) })
    }

    /// A DictionaryString used as a name or namespace, counted against the decoded size.
    fn read_dictionary_name(&mut self) -> Result<String, NbfxError> {
        let offset = self.pos;
        let s = self.read_dictionary_string()?;
        self.account(s.len(), offset)?;
        Ok(s.to_owned())
    }

    fn letter(record: u8, first: u8) -> String {
        char::from(b'a' + (record - first)).to_string()
    }

    // ---- structure ----------------------------------------------------------------------------

    /// Prefix and local name of an element record.
    fn read_element_name(&mut self, record: u8) -> Result<(String, String), NbfxError> {
        Ok(match record {
            SHORT_ELEMENT => (String::new(), self.read_string()?),
            ELEMENT => (self.read_string()?, self.read_string()?),
            SHORT_DICTIONARY_ELEMENT => (String::new(), self.read_dictionary_name()?),
            DICTIONARY_ELEMENT => (self.read_string()?, self.read_dictionary_name()?),
            r if r < PREFIX_ELEMENT_A => (Self::letter(r, PREFIX_DICTIONARY_ELEMENT_A), self.read_dictionary_name()?),
            r => (Self::letter(r, PREFIX_ELEMENT_A), self.read_string()?),
        })
    }

    fn count_element(&mut self, offset: usize) -> Result<(), NbfxError> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(NbfxError::LimitExceeded {
                limit: LimitKind::Elements,
                max: self.limits.max_elements,
                at: at(offset),
            });
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(NbfxError::LimitExceeded {
                limit: LimitKind::Depth,
                max: self.limits.max_depth,
                at: at(offset),
            });
        }
        Ok(())
    }

    fn open(&mut self, record: u8, start: usize) -> Result<(), NbfxError> {
        if self.stack.is_empty() && self.root.is_some() {
            return Err(NbfxError::TrailingData { at: at(start) });
        }
        let counted_before = (self.elements, self.decoded);
        self.count_element(start)?;
        let (prefix, name) = self.read_element_name(record)?;
        let element = Element { prefix, name, attributes: Vec::new(), children: Vec::new() };
        self.stack.push(Open { element, counted_before, in_start_tag: true, start });
        Ok(())
    }

    /// Ends the attribute list of the innermost element, if still open, and checks it.
    fn finish_start_tag(&mut self) -> Result<(), NbfxError> {
        if let Some(top) = self.stack.last_mut()
            && top.in_start_tag
        {
            top.in_start_tag = false;
            let start = top.start;
            self.scope.open(&top.element, &|| at(start))?;
        }
        Ok(())
    }

    fn close(&mut self, offset: usize) -> Result<(), NbfxError> {
        let open = self.stack.pop().ok_or(NbfxError::UnbalancedEnd { at: at(offset) })?;
        self.scope.close();
        let bytes = open.start..self.pos;
        self.attach(open.element, offset, open.counted_before, Some(bytes))
    }

    /// Hands a finished element to its parent (or, when the parent is a split container, to
    /// the split's receiver), or makes it the root.
    fn attach(
        &mut self,
        element: Element,
        offset: usize,
        counted_before: (usize, usize),
        bytes: Option<Range<usize>>,
    ) -> Result<(), NbfxError> {
        if let (Some(split), Some(parent)) = (self.split.as_mut(), self.stack.last())
            && parent.element.name == split.container
        {
            let mut element = element;
            inherit_namespaces(&mut element, &self.stack);
            (split.each)(element, bytes);
            (self.elements, self.decoded) = counted_before;
            return Ok(());
        }
        match self.stack.last_mut() {
            Some(parent) => parent.element.children.push(Node::Element(element)),
            None if self.root.is_none() => self.root = Some(element),
            None => return Err(NbfxError::TrailingData { at: at(offset) }),
        }
        Ok(())
    }

    fn read_attribute_into_start_tag(&mut self, record: u8, start: usize) -> Result<(), NbfxError> {
        match self.stack.last() {
            None => {
                return Err(NbfxError::UnexpectedRecord { record, context: "outside an element", at: at(start) });
            }
            Some(top) if !top.in_start_tag => return Err(NbfxError::AttributeAfterContent { at: at(start) }),
            Some(top) => self.check_attribute_count(top.element.attributes.len(), start)?,
        }
        let attribute = self.read_attribute(record)?;
        if let Some(top) = self.stack.last_mut() {
            top.element.attributes.push(attribute);
        }
        Ok(())
    }

    fn check_attribute_count(&self, existing: usize, offset: usize) -> Result<(), NbfxError> {
        if existing >= self.limits.max_attributes {
            return Err(NbfxError::LimitExceeded {
                limit: LimitKind::Attributes,
                max: self.limits.max_attributes,
                at: at(offset),
            });
        }
        Ok(())
    }

    /// One attribute or xmlns record (the record byte already consumed).
    fn read_attribute(&mut self, record: u8) -> Result<Attribute, NbfxError> {
        let (prefix, name, value) = match record {
            SHORT_ATTRIBUTE => (String::new(), self.read_string()?, self.read_attribute_value()?),
            ATTRIBUTE => (self.read_string()?, self.read_string()?, self.read_attribute_value()?),
            SHORT_DICTIONARY_ATTRIBUTE => (String::new(), self.read_dictionary_name()?, self.read_attribute_value()?),
            DICTIONARY_ATTRIBUTE => (self.read_string()?, self.read_dictionary_name()?, self.read_attribute_value()?),
            SHORT_XMLNS_ATTRIBUTE => (String::new(), "xmlns".to_owned(), self.read_string()?),
            XMLNS_ATTRIBUTE => ("xmlns".to_owned(), self.read_string()?, self.read_string()?),
            SHORT_DICTIONARY_XMLNS_ATTRIBUTE => (String::new(), "xmlns".to_owned(), self.read_dictionary_name()?),
            DICTIONARY_XMLNS_ATTRIBUTE => ("xmlns".to_owned(), self.read_string()?, self.read_dictionary_name()?),
            r if r < PREFIX_ATTRIBUTE_A => (
                Self::letter(r, PREFIX_DICTIONARY_ATTRIBUTE_A),
                self.read_dictionary_name()?,
                self.read_attribute_value()?,
            ),
            r => (Self::letter(r, PREFIX_ATTRIBUTE_A), self.read_string()?, self.read_attribute_value()?),
        };
        Ok(Attribute { prefix, name, value })
    }

    /// The text record after an attribute name: an even text record or a list.
    fn read_attribute_value(&mut self) -> Result<String, NbfxError> {
        let start = self.pos;
        let record = self.byte()?;
        if !is_text_record(record) || record == END_LIST_TEXT {
            return Err(NbfxError::UnexpectedRecord { record, context: "as an attribute value", at: at(start) });
        }
        if record & 1 == 1 {
            return Err(NbfxError::UnexpectedRecord {
                record,
                context: "as an attribute value (WithEndElement form)",
                at: at(start),
            });
        }
        let mut value = String::new();
        self.read_text(record, start, &mut value)?;
        Ok(value)
    }

    /// A text record in element content; the odd (WithEndElement) form also closes the element.
    fn read_content_text(&mut self, record: u8, start: usize) -> Result<(), NbfxError> {
        if self.stack.is_empty() {
            return Err(if self.root.is_some() {
                NbfxError::TrailingData { at: at(start) }
            } else {
                NbfxError::TextOutsideRoot { at: at(start) }
            });
        }
        if record == END_LIST_TEXT {
            return Err(NbfxError::UnexpectedRecord { record, context: "outside a text list", at: at(start) });
        }
        let mut text = String::new();
        self.read_text(record & !1, start, &mut text)?;
        if let Some(top) = self.stack.last_mut() {
            top.element.push_text(text);
        }
        if record & 1 == 1 { self.close(start) } else { Ok(()) }
    }

    // ---- text records -------------------------------------------------------------------------

    /// Appends the canonical text of the payload of the text record `record` (even form).
    fn read_text(&mut self, record: u8, start: usize, out: &mut String) -> Result<(), NbfxError> {
        if record & !1 == START_LIST_TEXT {
            // Accounted item by item: a list can be long.
            return self.read_list(out);
        }
        let before = out.len();
        self.read_single_text(record & !1, start, out)?;
        self.account(out.len() - before, start)
    }

    /// Items of a StartListText … EndListText run, separated by spaces.
    fn read_list(&mut self, out: &mut String) -> Result<(), NbfxError> {
        let mut first = true;
        loop {
            let start = self.pos;
            let record = self.byte()?;
            if record == END_LIST_TEXT {
                return Ok(());
            }
            if !is_text_record(record) || record & 1 == 1 || record == START_LIST_TEXT {
                return Err(NbfxError::UnexpectedRecord { record, context: "inside a text list", at: at(start) });
            }
            if !first {
                out.push(' ');
            }
            first = false;
            let before = out.len();
            self.read_single_text(record, start, out)?;
            self.account(out.len() - before + 1, start)?;
        }
    }

    fn invalid(what: &'static str, offset: usize) -> NbfxError {
        NbfxError::InvalidValue { what, at: at(offset) }
    }

    /// Appends the canonical text of one non-list text record (even form, byte consumed).
    fn read_single_text(&mut self, record: u8, start: usize, out: &mut String) -> Result<(), NbfxError> {
        use std::fmt::Write as _;
        match record {
            ZERO_TEXT => out.push('0'),
            ONE_TEXT => out.push('1'),
            FALSE_TEXT => out.push_str("false"),
            TRUE_TEXT => out.push_str("true"),
            INT8_TEXT => {
                let _ = write!(out, "{}", i8::from_le_bytes(self.array()?));
            }
            INT16_TEXT => {
                let _ = write!(out, "{}", i16::from_le_bytes(self.array()?));
            }
            INT32_TEXT => {
                let _ = write!(out, "{}", i32::from_le_bytes(self.array()?));
            }
            INT64_TEXT => {
                let _ = write!(out, "{}", i64::from_le_bytes(self.array()?));
            }
            UINT64_TEXT => {
                let _ = write!(out, "{}", u64::from_le_bytes(self.array()?));
            }
            FLOAT_TEXT => typed::format_f32(f32::from_le_bytes(self.array()?), out),
            DOUBLE_TEXT => typed::format_f64(f64::from_le_bytes(self.array()?), out),
            DECIMAL_TEXT => typed::format_decimal(&self.array()?, out).ok_or(Self::invalid("Decimal value", start))?,
            DATETIME_TEXT => typed::format_datetime(u64::from_le_bytes(self.array()?), out)
                .ok_or(Self::invalid("DateTime value", start))?,
            TIMESPAN_TEXT => typed::format_timespan(i64::from_le_bytes(self.array()?), out),
            UNIQUE_ID_TEXT => {
                out.push_str("urn:uuid:");
                typed::format_guid(&self.array()?, out);
            }
            UUID_TEXT => typed::format_guid(&self.array()?, out),
            BOOL_TEXT => match self.byte()? {
                0 => out.push_str("false"),
                1 => out.push_str("true"),
                _ => return Err(Self::invalid("Bool value (must be 0 or 1)", start)),
            },
            EMPTY_TEXT => {}
            DICTIONARY_TEXT => out.push_str(self.read_dictionary_string()?),
            QNAME_DICTIONARY_TEXT => {
                let prefix = self.byte()?;
                if prefix > 25 {
                    return Err(Self::invalid("QNameDictionaryText prefix (must be 0-25)", start));
                }
                out.push(char::from(b'a' + prefix));
                out.push(':');
                out.push_str(self.read_dictionary_string()?);
            }
            CHARS8_TEXT | CHARS16_TEXT | CHARS32_TEXT => {
                let len = self.text_length(record - CHARS8_TEXT, start)?;
                out.push_str(self.utf8(len, start)?);
            }
            BYTES8_TEXT | BYTES16_TEXT | BYTES32_TEXT => {
                let len = self.text_length(record - BYTES8_TEXT, start)?;
                let len = self.checked_len(len, start)?;
                BASE64.encode_string(self.take(len)?, out);
            }
            UNICODE_CHARS8_TEXT | UNICODE_CHARS16_TEXT | UNICODE_CHARS32_TEXT => {
                let len = self.text_length(record - UNICODE_CHARS8_TEXT, start)?;
                let len = self.checked_len(len, start)?;
                if len % 2 != 0 {
                    return Err(Self::invalid("UnicodeChars length (odd byte count)", start));
                }
                let bytes = self.take(len)?;
                let units = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
                for c in char::decode_utf16(units) {
                    out.push(c.map_err(|_| NbfxError::InvalidUtf16 { at: at(start) })?);
                }
            }
            _ => return Err(NbfxError::UnexpectedRecord { record, context: "as text", at: at(start) }),
        }
        Ok(())
    }

    /// The length field of a Chars/Bytes/UnicodeChars record: `width_step` 0, 2, 4 selects the
    /// 8-, 16- or 32-bit form (record offsets within each family).
    fn text_length(&mut self, width_step: u8, start: usize) -> Result<usize, NbfxError> {
        Ok(match width_step {
            0 => usize::from(self.byte()?),
            2 => usize::from(u16::from_le_bytes(self.array()?)),
            _ => {
                let len = i32::from_le_bytes(self.array()?);
                usize::try_from(len).map_err(|_| Self::invalid("text length (negative)", start))?
            }
        })
    }

    // ---- arrays -------------------------------------------------------------------------------

    /// Array record: element + attributes + EndElement, a value type, an mb31 count, then the
    /// raw values; expanded into `count` sibling elements.
    fn read_array(&mut self, start: usize) -> Result<(), NbfxError> {
        if self.stack.is_empty() && self.root.is_some() {
            return Err(NbfxError::TrailingData { at: at(start) });
        }
        let element_at = self.pos;
        let record = self.byte()?;
        if !is_element_record(record) {
            return Err(NbfxError::UnexpectedRecord {
                record,
                context: "as the element of an array record",
                at: at(element_at),
            });
        }
        let (prefix, name) = self.read_element_name(record)?;
        let mut template = Element { prefix, name, attributes: Vec::new(), children: Vec::new() };
        loop {
            let attribute_at = self.pos;
            match self.byte()? {
                END_ELEMENT => break,
                r if is_attribute_record(r) => {
                    self.check_attribute_count(template.attributes.len(), attribute_at)?;
                    let attribute = self.read_attribute(r)?;
                    template.attributes.push(attribute);
                }
                r => {
                    return Err(NbfxError::UnexpectedRecord {
                        record: r,
                        context: "in the element of an array record (only attributes and an end-element)",
                        at: at(attribute_at),
                    });
                }
            }
        }
        let type_at = self.pos;
        let value_type = self.byte()?;
        // The value types .NET's reader accepts in arrays, all in their WithEndElement form.
        let item_size = match value_type {
            t if t & 1 == 0 => 0,
            t => match t & !1 {
                BOOL_TEXT => 1,
                INT16_TEXT => 2,
                INT32_TEXT | FLOAT_TEXT => 4,
                INT64_TEXT | DOUBLE_TEXT | DATETIME_TEXT | TIMESPAN_TEXT => 8,
                DECIMAL_TEXT | UUID_TEXT => 16,
                _ => 0,
            },
        };
        if item_size == 0 {
            return Err(NbfxError::UnexpectedRecord {
                record: value_type,
                context: "as the value type of an array record",
                at: at(type_at),
            });
        }
        let count_at = self.pos;
        let count = self.mb31()? as usize;
        if count > self.limits.max_array_items {
            return Err(NbfxError::LimitExceeded {
                limit: LimitKind::ArrayItems,
                max: self.limits.max_array_items,
                at: at(count_at),
            });
        }
        if count.saturating_mul(item_size) > self.input.len() - self.pos {
            return Err(self.truncated());
        }
        self.scope.open(&template, &|| at(element_at))?;
        let result = self.expand_array(&template, value_type & !1, count, item_size, start);
        self.scope.close();
        result
    }

    fn expand_array(
        &mut self,
        template: &Element,
        value_type: u8,
        count: usize,
        item_size: usize,
        start: usize,
    ) -> Result<(), NbfxError> {
        let template_size = template.prefix.len()
            + template.name.len()
            + template.attributes.iter().map(|a| a.prefix.len() + a.name.len() + a.value.len()).sum::<usize>();
        for _ in 0..count {
            let item_at = self.pos;
            let counted_before = (self.elements, self.decoded);
            self.count_element(item_at)?;
            self.account(template_size, item_at)?;
            let mut text = String::new();
            self.read_text(value_type, item_at, &mut text)?;
            let mut item = template.clone();
            item.children.push(Node::Text(text));
            self.attach(item, start, counted_before, None)?;
            debug_assert_eq!(self.pos, item_at + item_size);
        }
        Ok(())
    }
}

/// Copies onto `element` the namespace declarations of its open ancestors that it does not
/// itself (re)declare, innermost first, so that it resolves on its own.
fn inherit_namespaces(element: &mut Element, ancestors: &[Open]) {
    for open in ancestors.iter().rev() {
        for (prefix, uri) in open.element.namespace_declarations() {
            if !element.namespace_declarations().any(|(p, _)| p == prefix) {
                element.attributes.push(Attribute::namespace_declaration(prefix, uri));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entra::nbfx::{ElementRef, encode, from_xml};

    const DOC: &str = r#"<r:Result xmlns:r="urn:r" xmlns:i="urn:i"><r:Count>2</r:Count><r:Items>
        <r:Item i:type="x"><r:Key>one</r:Key></r:Item><r:Item xmlns:r="urn:other"><r:Key>two</r:Key></r:Item>
        </r:Items></r:Result>"#;

    fn split(input: &[u8], limits: &Limits) -> Result<(Element, Vec<Element>), NbfxError> {
        let mut items = Vec::new();
        let rest = decode_split(input, limits, "Items", &mut |item| items.push(item))?;
        Ok((rest, items))
    }

    #[test]
    fn split_items_resolve_on_their_own_and_leave_the_container_empty() {
        let bytes = encode(&from_xml(DOC).unwrap()).unwrap();
        let (rest, items) = split(&bytes, &Limits::default()).unwrap();
        assert_eq!(items.len(), 2);
        let first = ElementRef::root(&items[0]);
        assert!(first.is("urn:r", "Item"));
        assert_eq!(first.attribute("urn:i", "type"), Some("x"));
        assert_eq!(first.child_text("urn:r", "Key").as_deref(), Some("one"));
        // The item's own declaration wins over the inherited one of the same prefix.
        assert!(ElementRef::root(&items[1]).is("urn:other", "Item"));
        let rest = ElementRef::root(&rest);
        assert_eq!(rest.child_text("urn:r", "Count").as_deref(), Some("2"));
        assert_eq!(rest.child("urn:r", "Items").unwrap().children().count(), 0);
        // Without the split, the same document decodes whole.
        let whole = decode(&bytes).unwrap();
        assert_eq!(ElementRef::root(&whole).child("urn:r", "Items").unwrap().children().count(), 2);
    }

    #[test]
    fn split_limits_bound_each_item_not_the_number_of_items() {
        let items: String = (0..50).map(|i| format!("<Item><A>{i}</A><B/></Item>")).collect();
        let bytes = encode(&from_xml(&format!("<R><Items>{items}</Items></R>")).unwrap()).unwrap();
        let limits = Limits { max_elements: 10, ..Limits::default() };
        assert!(matches!(decode_with_limits(&bytes, &limits), Err(NbfxError::LimitExceeded { .. })));
        let (_, out) = split(&bytes, &limits).unwrap();
        assert_eq!(out.len(), 50);
        let big: String = (0..20).map(|i| format!("<A>{i}</A>")).collect();
        let bytes = encode(&from_xml(&format!("<R><Items><Item>{big}</Item></Items></R>")).unwrap()).unwrap();
        assert!(matches!(split(&bytes, &limits), Err(NbfxError::LimitExceeded { limit: LimitKind::Elements, .. })));
    }

    #[test]
    fn split_reports_malformed_input_after_the_items_it_saw() {
        let bytes = encode(&from_xml(DOC).unwrap()).unwrap();
        let mut seen = 0;
        let cut = decode_split(&bytes[..bytes.len() - 3], &Limits::default(), "Items", &mut |_| seen += 1);
        assert!(cut.is_err());
        assert_eq!(seen, 2);
    }
}
