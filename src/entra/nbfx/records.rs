//! Record type bytes of MC-NBFX, the MultiByteInt31 primitive and the
//! static-dictionary look-ups shared by the reader and the writer.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use super::dictionary::STATIC_DICTIONARY;

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

/// FNV-1a: the writer looks up every name it writes, and these keys are short, fixed and not
/// attacker-chosen, so a fast non-keyed hash is the right tool.
#[derive(Default)]
struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = hash;
    }
}

static IDS_BY_STRING: LazyLock<HashMap<&'static str, u32, BuildHasherDefault<Fnv1a>>> =
    LazyLock::new(|| STATIC_DICTIONARY.iter().enumerate().map(|(n, s)| (*s, (n * 2) as u32)).collect());

/// The static dictionary id of a string, if the string is in the table.
pub(crate) fn static_id(s: &str) -> Option<u32> {
    IDS_BY_STRING.get(s).copied()
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
    let bytes = name.as_bytes();
    let Some(&first) = bytes.first() else { return false };
    if first < 0x80 && ASCII_NAME[usize::from(first)] != NAME_START {
        return false;
    }
    // The common case, ASCII, is decided byte by byte without decoding characters.
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b >= 0x80 {
            return is_ncname_unicode(name);
        }
        if ASCII_NAME[usize::from(b)] == 0 {
            return false;
        }
        i += 1;
    }
    true
}

const NAME_START: u8 = 2;
const NAME_CHAR: u8 = 1;

/// For each ASCII byte: NAME_START (letters, `_`), NAME_CHAR (digits, `-`, `.`) or 0.
static ASCII_NAME: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphabetic() || c == b'_' {
            NAME_START
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            NAME_CHAR
        } else {
            0
        };
        b += 1;
    }
    table
};

fn is_ncname_unicode(name: &str) -> bool {
    let mut chars = name.chars();
    let first = chars.next().unwrap_or(' ');
    let start_ok = if first.is_ascii() { ASCII_NAME[first as usize] == NAME_START } else { first.is_alphabetic() };
    start_ok
        && chars.all(|c| if c.is_ascii() { ASCII_NAME[c as usize] != 0 } else { c.is_alphanumeric() || c == '\u{B7}' })
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
