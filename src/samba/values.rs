//! Conversions of AD attribute values that libldb hands out as bytes.

use std::fmt::Write;

/// The canonical string of a GUID stored in AD byte order (the first three groups
/// little-endian): `91 98 fb 9e 21 ae 6b 41 ...` → `9efb9891-ae21-416b-...`.
pub fn guid_string(b: &[u8; 16]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

/// The `S-1-5-21-...` form of a binary SID, or `None` when the bytes are not a SID.
pub fn sid_string(b: &[u8]) -> Option<String> {
    if b.len() < 8 || b[0] != 1 {
        return None;
    }
    let count = b[1] as usize;
    if b.len() != 8 + 4 * count {
        return None;
    }
    let mut authority: u64 = 0;
    for &x in &b[2..8] {
        authority = (authority << 8) | u64::from(x);
    }
    let mut s = format!("S-1-{authority}");
    for i in 0..count {
        let o = 8 + 4 * i;
        let sub = u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let _ = write!(s, "-{sub}");
    }
    Some(s)
}

/// The relative identifier (last sub-authority) of a binary SID.
pub fn sid_rid(b: &[u8]) -> Option<u32> {
    let s = sid_string(b)?;
    if b[1] == 0 {
        return None;
    }
    s.rsplit('-').next()?.parse().ok()
}

/// Parses an integer attribute (AD sends integers as decimal text).
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

/// A FILETIME (100 ns since 1601) as Unix seconds; `None` for 0 and "never".
pub fn filetime_to_unix(ft: i64) -> Option<i64> {
    if ft <= 0 || ft == i64::MAX {
        return None;
    }
    Some(ft / 10_000_000 - 11_644_473_600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_uses_ad_byte_order() {
        let b = [0x91, 0x98, 0xfb, 0x9e, 0x21, 0xae, 0x6b, 0x41, 0xb3, 0xf7, 0x69, 0x88, 0x0c, 0x29, 0x7e, 0x4f];
        assert_eq!(guid_string(&b), "9efb9891-ae21-416b-b3f7-69880c297e4f");
    }

    #[test]
    fn sid_round_trips_the_protocol_doc_example() {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD
            .decode("AQUAAAAAAAUVAAAAwM8SUMELJU0m/cWzfAQAAA==")
            .unwrap_or_default();
        assert_eq!(sid_string(&b).as_deref(), Some("S-1-5-21-1343410112-1294273473-3016097062-1148"));
        assert_eq!(sid_rid(&b), Some(1148));
        assert_eq!(sid_string(&b[..10]), None);
    }

    #[test]
    fn filetime_never_and_a_date() {
        assert_eq!(filetime_to_unix(0), None);
        assert_eq!(filetime_to_unix(i64::MAX), None);
        assert_eq!(filetime_to_unix(116_444_736_000_000_000), Some(0));
    }
}
