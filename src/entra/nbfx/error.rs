//! Errors and resource limits of the codec. Every malformation has its own variant so that the
//! emulator can answer a precise fault and tests can assert the exact failure.

use std::fmt;

use super::limits::LimitKind;

/// Where a problem was found: a byte offset in msbin1 input, an element of a tree being
/// encoded, or a byte offset in XML text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Offset of the offending record (or field) in the msbin1 input.
    Byte(usize),
    /// Qualified name of the element being encoded.
    Element(String),
    /// Byte offset in XML text.
    Xml(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Byte(offset) => write!(f, "at byte {offset}"),
            Location::Element(name) => write!(f, "in element <{name}>"),
            Location::Xml(offset) => write!(f, "at XML offset {offset}"),
        }
    }
}

/// A failure of the msbin1 reader, the msbin1 writer or the XML text bridge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NbfxError {
    #[error("msbin1 input ends in the middle of a record {at}")]
    Truncated { at: Location },
    #[error("unknown msbin1 record type 0x{record:02X} {at}")]
    UnknownRecord { record: u8, at: Location },
    #[error("msbin1 record type 0x{record:02X} is not allowed {context} {at}")]
    UnexpectedRecord { record: u8, context: &'static str, at: Location },
    #[error("attribute record {at} comes after element content; attributes must directly follow their element")]
    AttributeAfterContent { at: Location },
    #[error("end-element record {at} has no open element to close")]
    UnbalancedEnd { at: Location },
    #[error("msbin1 input ends {at} with {open} element(s) still open")]
    UnclosedElements { open: usize, at: Location },
    #[error("unexpected data {at} after the root element")]
    TrailingData { at: Location },
    #[error("text {at} is outside the root element")]
    TextOutsideRoot { at: Location },
    #[error("the document has no root element")]
    NoRootElement,
    #[error("invalid UTF-8 in a string {at}")]
    InvalidUtf8 { at: Location },
    #[error("invalid UTF-16 in a UnicodeChars text {at}")]
    InvalidUtf16 { at: Location },
    #[error("malformed multi-byte integer {at}")]
    InvalidMultiByteInt { at: Location },
    #[error(
        "odd dictionary id {id} {at} refers to an in-band (MC-NBFSE) dictionary, which is not negotiated on this \
         endpoint (in-band dictionary not negotiated)"
    )]
    InBandDictionary { id: u32, at: Location },
    #[error("dictionary id {id} {at} is not in the MC-NBFS static dictionary")]
    UnknownDictionaryId { id: u32, at: Location },
    #[error("invalid {what} {at}")]
    InvalidValue { what: &'static str, at: Location },
    #[error("{name:?} is not a valid XML name {at}")]
    InvalidName { name: String, at: Location },
    #[error("namespace prefix {prefix:?} is used {at} but never declared")]
    UndeclaredPrefix { prefix: String, at: Location },
    #[error("namespace prefix {prefix:?} is reserved and cannot be declared {at}")]
    ReservedPrefix { prefix: String, at: Location },
    #[error("attribute {name} appears twice {at}")]
    DuplicateAttribute { name: String, at: Location },
    #[error("the {limit} exceeds the limit of {max} {at}")]
    LimitExceeded { limit: LimitKind, max: usize, at: Location },
    #[error("the XML text is not well-formed {at}: {message}")]
    Xml { message: String, at: Location },
}

/// Shortens a name taken from hostile input before it goes into an error message.
pub(crate) fn clip(name: &str) -> String {
    const MAX_CHARS: usize = 64;
    match name.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}
