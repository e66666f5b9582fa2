//! Record type bytes of MC-NBFX (protocol doc §6.3), the MultiByteInt31 primitive and the
//! static-dictionary look-ups shared by the reader and the writer.

use super::dictionary::{SORTED_BY_STRING, STATIC_DICTIONARY};

pub(crate) const END_ELEMENT: u8 = 0x01;
pub(crate) const COMMENT: u8 = 0x02;
pub(crate) const ARRAY: u8 = 0x03;

pub(crate) const SHORT_ATTRIBUTE: u8 = 0x04;
pub(crate) const ATTRIBUTE: u8 = 0x05;
pub(crate) const SHORT_DICTIONARY_ATTRIBUTE: u8 = 0x06;
pub(crate) const DICTIONARY_ATTRIBUTE: u8 = 0x07;
pub(crate) const SHORT_XMLNS_ATTRIBUTE: u8 = 0x08;
pub(crate) const XMLNS_ATTRIBUTE: u8 = 0x09;
pub(crate) const SHORT_DICTIONARY_XMLNS_ATTRIBUTE: u8 = 0x0A;
pub(crate) const DICTIONARY_XMLNS_ATTRIBUTE: u8 = 0x0B;
/// PrefixDictionaryAttribute a–z: 0x0C–0x25.
pub(crate) const PREFIX_DICTIONARY_ATTRIBUTE_A: u8 = 0x0C;
/// PrefixAttribute a–z: 0x26–0x3F.
pub(crate) const PREFIX_ATTRIBUTE_A: u8 = 0x26;

pub(crate) const SHORT_ELEMENT: u8 = 0x40;
pub(crate) const ELEMENT: u8 = 0x41;
pub(crate) const SHORT_DICTIONARY_ELEMENT: u8 = 0x42;
pub(crate) const DICTIONARY_ELEMENT: u8 = 0x43;
/// PrefixDictionaryElement a–z: 0x44–0x5D.
pub(crate) const PREFIX_DICTIONARY_ELEMENT_A: u8 = 0x44;
/// PrefixElement a–z: 0x5E–0x77.
pub(crate) const PREFIX_ELEMENT_A: u8 = 0x5E;

// Text records: the even byte; `byte | 1` is the WithEndElement twin.
pub(crate) const ZERO_TEXT: u8 = 0x80;
pub(crate) const ONE_TEXT: u8 = 0x82;
pub(crate) const FALSE_TEXT: u8 = 0x84;
pub(crate) const TRUE_TEXT: u8 = 0x86;
pub(crate) const INT8_TEXT: u8 = 0x88;
pub(crate) const INT16_TEXT: u8 = 0x8A;
pub(crate) const INT32_TEXT: u8 = 0x8C;
pub(crate) const INT64_TEXT: u8 = 0x8E;
pub(crate) const FLOAT_TEXT: u8 = 0x90;
pub(crate) const DOUBLE_TEXT: u8 = 0x92;
pub(crate) const DECIMAL_TEXT: u8 = 0x94;
pub(crate) const DATETIME_TEXT: u8 = 0x96;
pub(crate) const CHARS8_TEXT: u8 = 0x98;
pub(crate) const CHARS16_TEXT: u8 = 0x9A;
pub(crate) const CHARS32_TEXT: u8 = 0x9C;
pub(crate) const BYTES8_TEXT: u8 = 0x9E;
pub(crate) const BYTES16_TEXT: u8 = 0xA0;
pub(crate) const BYTES32_TEXT: u8 = 0xA2;
pub(crate) const START_LIST_TEXT: u8 = 0xA4;
pub(crate) const END_LIST_TEXT: u8 = 0xA6;
pub(crate) const EMPTY_TEXT: u8 = 0xA8;
pub(crate) const DICTIONARY_TEXT: u8 = 0xAA;
pub(crate) const UNIQUE_ID_TEXT: u8 = 0xAC;
pub(crate) const TIMESPAN_TEXT: u8 = 0xAE;
pub(crate) const UUID_TEXT: u8 = 0xB0;
pub(crate) const UINT64_TEXT: u8 = 0xB2;
pub(crate) const BOOL_TEXT: u8 = 0xB4;
pub(crate) const UNICODE_CHARS8_TEXT: u8 = 0xB6;
pub(crate) const UNICODE_CHARS16_TEXT: u8 = 0xB8;
pub(crate) const UNICODE_CHARS32_TEXT: u8 = 0xBA;
pub(crate) const QNAME_DICTIONARY_TEXT: u8 = 0xBC;

/// The WithEndElement twin of an even text record.
pub(crate) const fn with_end(record: u8) -> u8 {
    record | 1
}

/// Static dictionary ids the writer profile refers to by number.
pub(crate) const DICT_WSA_ANONYMOUS: u32 = 0x14;
pub(crate) const WSA_ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";

/// The static dictionary string for an even id; `None` for odd ids and ids past the table.
pub(crate) fn static_string(id: u32) -> Option<&'static str> {
    if !id.is_multiple_of(2) {
        return None;
    }
    STATIC_DICTIONARY.get((id / 2) as usize).copied()
}

/// The static dictionary id of a string, if the string is in the table.
pub(crate) fn static_id(s: &str) -> Option<u32> {
    SORTED_BY_STRING.binary_search_by(|(entry, _)| entry.as_bytes().cmp(s.as_bytes())).ok().map(|i| {
        let (_, id) = SORTED_BY_STRING[i];
        u32::from(id)
    })
}

/// Largest value a MultiByteInt31 can carry.
pub(crate) const MB31_MAX: u32 = 0x7FFF_FFFF;

/// Appends `value` as a MultiByteInt31: 7 bits a byte, least significant group first.
pub(crate) fn write_mb31(out: &mut Vec<u8>, mut value: u32) {
    debug_assert!(value <= MB31_MAX);
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a MultiByteInt31 from the start of `input`: `Ok(Some((value, length)))`, `Ok(None)`
/// when the input ends first, `Err(())` when it is longer than 5 bytes or exceeds 2^31-1.
pub(crate) fn read_mb31(input: &[u8]) -> Result<Option<(u32, usize)>, ()> {
    let mut value: u32 = 0;
    for (i, &byte) in input.iter().enumerate().take(5) {
        let group = u32::from(byte & 0x7F);
        if i == 4 && byte > 0x07 {
            // The fifth byte may carry only the top 3 bits of a 31-bit value and no continuation.
            return Err(());
        }
        value |= group << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if input.len() >= 5 { Err(()) } else { Ok(None) }
}

/// Whether `name` is usable as an XML NCName (a local name or a prefix). The ASCII rules are
/// exact; outside ASCII, letters and digits are accepted, which covers real names without
/// carrying the full Unicode tables of XML 1.0.
pub(crate) fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else { return false };
    let start_ok = first == '_' || first.is_ascii_alphabetic() || (!first.is_ascii() && first.is_alphabetic());
    start_ok
        && chars.all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | '.')
                || (!c.is_ascii() && (c.is_alphanumeric() || c == '\u{B7}'))
        })
}

/// Index 0–25 of a one-letter prefix `a`–`z`, for the Prefix* record families.
pub(crate) fn single_letter_prefix(prefix: &str) -> Option<u8> {
    match prefix.as_bytes() {
        [c @ b'a'..=b'z'] => Some(c - b'a'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mb31_examples_of_the_spec() {
        for (value, bytes) in [
            (0u32, &[0x00][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (0x9A, &[0x9A, 0x01]),
            (0x378, &[0xF8, 0x06]),
            (0x396, &[0x96, 0x07]),
            (16383, &[0xFF, 0x7F]),
            (MB31_MAX, &[0xFF, 0xFF, 0xFF, 0xFF, 0x07]),
        ] {
            let mut out = Vec::new();
            write_mb31(&mut out, value);
            assert_eq!(out, bytes, "encoding {value}");
            assert_eq!(read_mb31(bytes), Ok(Some((value, bytes.len()))), "decoding {value}");
        }
    }

    #[test]
    fn mb31_rejects_overlong_and_oversized() {
        assert_eq!(read_mb31(&[0xFF, 0xFF, 0xFF, 0xFF, 0x08]), Err(()));
        assert_eq!(read_mb31(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), Err(()));
        assert_eq!(read_mb31(&[0x80, 0x80]), Ok(None));
        assert_eq!(read_mb31(&[]), Ok(None));
    }

    #[test]
    fn dictionary_lookups_agree_both_ways() {
        for (n, s) in STATIC_DICTIONARY.iter().enumerate() {
            let id = (n * 2) as u32;
            assert_eq!(static_string(id), Some(*s));
            assert_eq!(static_id(s), Some(id), "reverse look-up of {s:?}");
        }
        assert_eq!(static_string(0x396), Some("string"));
        assert_eq!(static_string(0x3CC), Some("detail"));
        assert_eq!(static_string(0x3CE), None);
        assert_eq!(static_string(0x397), None);
        assert_eq!(static_id("SyncToken"), None);
    }

    #[test]
    fn ncname_rules() {
        for good in ["a", "_x", "Envelope", "KeyValueOfstringanyType", "a-b.c_d1", "名前"] {
            assert!(is_ncname(good), "{good}");
        }
        for bad in ["", "1a", "-a", "a:b", "a b", "a<b", "a&b", "xmlns\"", ".a"] {
            assert!(!is_ncname(bad), "{bad}");
        }
    }
}
