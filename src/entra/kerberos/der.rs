//! A minimal DER reader for the Kerberos and SPNEGO messages of a browser's first request: tags
//! below 31 (every tag RFC 4120 and RFC 4178 use), definite lengths up to 4 bytes. Strict: a
//! length running past its parent is an error, never a short read.

use super::KerberosError;

/// Universal tags used here.
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const GENERAL_STRING: u8 = 0x1b;
pub const GENERALIZED_TIME: u8 = 0x18;
pub const SEQUENCE: u8 = 0x30;

/// `[n]` context-specific, constructed.
pub const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// `[APPLICATION n]`, constructed.
pub const fn application(n: u8) -> u8 {
    0x60 | n
}

/// A cursor over the contents of one constructed value.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next tag, without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// The next (tag, contents).
    pub fn next_any(&mut self) -> Result<(u8, &'a [u8]), KerberosError> {
        let bad = KerberosError::Malformed;
        let (&tag, rest) = self.data.split_first().ok_or(bad("DER value expected, found the end"))?;
        if tag & 0x1f == 0x1f {
            return Err(bad("DER high tag numbers are not used by these messages"));
        }
        let (&first, mut rest) = rest.split_first().ok_or(bad("DER length missing"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(bad("DER length of an unsupported form"));
            }
            let mut len = 0usize;
            for b in &rest[..n] {
                len = (len << 8) | usize::from(*b);
            }
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err(bad("DER value longer than its container"));
        }
        let (contents, after) = rest.split_at(len);
        self.data = after;
        Ok((tag, contents))
    }

    /// The next value, which must have `tag`.
    pub fn next(&mut self, tag: u8) -> Result<&'a [u8], KerberosError> {
        let (got, contents) = self.next_any()?;
        if got != tag {
            return Err(KerberosError::UnexpectedTag { expected: tag, found: got });
        }
        Ok(contents)
    }

    /// The next value if it has `tag` (an OPTIONAL field), else nothing is consumed.
    pub fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, KerberosError> {
        if self.peek_tag() == Some(tag) { self.next(tag).map(Some) } else { Ok(None) }
    }

    /// `[n] EXPLICIT inner`: the contents of the inner value.
    pub fn explicit(&mut self, n: u8, inner: u8) -> Result<&'a [u8], KerberosError> {
        let outer = self.next(context(n))?;
        let mut r = Reader::new(outer);
        let value = r.next(inner)?;
        Ok(value)
    }

    /// An optional `[n] EXPLICIT inner`.
    pub fn optional_explicit(&mut self, n: u8, inner: u8) -> Result<Option<&'a [u8]>, KerberosError> {
        if self.peek_tag() == Some(context(n)) { self.explicit(n, inner).map(Some) } else { Ok(None) }
    }

    /// Skips fields until `[n]` (an OPTIONAL field later in a SEQUENCE); the reader stops at it.
    pub fn skip_to(&mut self, n: u8) -> Result<(), KerberosError> {
        while let Some(tag) = self.peek_tag() {
            if tag == context(n) {
                return Ok(());
            }
            self.next_any()?;
        }
        Ok(())
    }
}

/// A DER INTEGER that fits an i64.
pub fn integer(contents: &[u8]) -> Result<i64, KerberosError> {
    if contents.is_empty() || contents.len() > 8 {
        return Err(KerberosError::Malformed("an INTEGER of an unsupported size"));
    }
    let mut v: i64 = if contents[0] & 0x80 != 0 { -1 } else { 0 };
    for b in contents {
        v = (v << 8) | i64::from(*b);
    }
    Ok(v)
}

/// KerberosTime (RFC 4120 §5.2.3): GeneralizedTime `YYYYMMDDHHMMSSZ`, to Unix seconds.
pub fn kerberos_time(contents: &[u8]) -> Result<i64, KerberosError> {
    let bad = KerberosError::Malformed("a KerberosTime that is not YYYYMMDDHHMMSSZ");
    if contents.len() != 15 || contents[14] != b'Z' || !contents[..14].iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let num = |a: usize, b: usize| contents[a..b].iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
    let (y, mo, d) = (num(0, 4), num(4, 6), num(6, 8));
    let (h, mi, s) = (num(8, 10), num(10, 12), num(12, 14));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad);
    }
    let days = crate::entra::timefmt::days_from_civil(y, mo as u32, d as u32);
    Ok(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// Encoding, for tests and test tooling that build messages.
pub mod write {
    /// A TLV with a definite length.
    pub fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = contents.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(contents);
        out
    }

    pub fn integer(v: i64) -> Vec<u8> {
        let bytes = v.to_be_bytes();
        let mut start = 0;
        while start < 7
            && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
                || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
        {
            start += 1;
        }
        tlv(super::INTEGER, &bytes[start..])
    }

    /// Concatenated parts inside a SEQUENCE.
    pub fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(super::SEQUENCE, &parts.concat())
    }

    pub fn explicit(n: u8, inner: Vec<u8>) -> Vec<u8> {
        tlv(super::context(n), &inner)
    }

    /// A KerberosTime of Unix seconds.
    pub fn kerberos_time(unix: i64) -> Vec<u8> {
        let days = unix.div_euclid(86_400);
        let secs = unix.rem_euclid(86_400);
        let (y, m, d) = crate::entra::timefmt::civil_from_days(days);
        let text = format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60);
        tlv(super::GENERALIZED_TIME, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_integers_and_times_round_trip() {
        let long = vec![7u8; 300];
        let encoded = write::tlv(OCTET_STRING, &long);
        assert_eq!(&encoded[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(Reader::new(&encoded).next(OCTET_STRING).unwrap(), &long[..]);
        for v in [0i64, 1, 127, 128, 255, 256, -1, -129, 2_147_483_647] {
            let e = write::integer(v);
            assert_eq!(integer(Reader::new(&e).next(INTEGER).unwrap()).unwrap(), v);
        }
        assert_eq!(kerberos_time(b"19700101000000Z").unwrap(), 0);
        assert_eq!(kerberos_time(b"20261205164803Z").unwrap(), 1_796_489_283);
        for t in [0i64, 951_782_400, 1_796_489_283, 4_102_444_799] {
            let e = write::kerberos_time(t);
            assert_eq!(kerberos_time(Reader::new(&e).next(GENERALIZED_TIME).unwrap()).unwrap(), t);
        }
        assert!(kerberos_time(b"2026120516480Z").is_err());
    }

    #[test]
    fn a_length_past_its_container_is_an_error() {
        assert!(Reader::new(&[0x30, 0x05, 0x02, 0x01]).next_any().is_err());
        assert!(Reader::new(&[0x30, 0x85, 1, 1, 1, 1, 1]).next_any().is_err());
        assert!(matches!(
            Reader::new(&[0x02, 0x01, 0x05]).next(OCTET_STRING),
            Err(KerberosError::UnexpectedTag { expected: 0x04, found: 0x02 })
        ));
    }
}
