//! Wall-clock helpers without a date crate: Unix milliseconds, RFC 3339 formatting, and the
//! strict xs:dateTime check `ProvisionCredentials` needs for `ChangeDate`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch.
pub(super) fn now_secs() -> i64 {
    now_ms() / 1000
}

/// `2024-05-01T10:20:30.123Z` for a Unix time in milliseconds.
pub(super) fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::entra::timefmt::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Whether `text` is an xs:dateTime the way .NET's `XmlConvert` reads a `DateTime` member:
/// `YYYY-MM-DDThh:mm:ss`, then 0 to 7 fractional digits, then nothing (unspecified kind), `Z`
/// or `±hh:mm`. Surrounding whitespace is allowed, as XmlConvert trims it.
pub(super) fn is_xs_date_time(text: &str) -> bool {
    let t = text.trim_matches([' ', '\t', '\r', '\n']).as_bytes();
    if t.len() < 19 {
        return false;
    }
    let digits = |range: std::ops::Range<usize>| t[range].iter().all(u8::is_ascii_digit);
    let num =
        |range: std::ops::Range<usize>| -> u32 { t[range].iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0')) };
    let shape = digits(0..4)
        && t[4] == b'-'
        && digits(5..7)
        && t[7] == b'-'
        && digits(8..10)
        && t[10] == b'T'
        && digits(11..13)
        && t[13] == b':'
        && digits(14..16)
        && t[16] == b':'
        && digits(17..19);
    if !shape {
        return false;
    }
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return false,
    };
    if year == 0 || day == 0 || day > days_in_month || num(11..13) > 23 || num(14..16) > 59 || num(17..19) > 59 {
        return false;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 7 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest {
        [] | [b'Z'] => true,
        [sign, h1, h2, b':', m1, m2] if (*sign == b'+' || *sign == b'-') => {
            let all_digits = [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit());
            all_digits && (h1 - b'0') * 10 + (h2 - b'0') <= 14 && (m1 - b'0') * 10 + (m2 - b'0') <= 59
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_714_558_830_123), "2024-05-01T10:20:30.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn accepts_zero_to_seven_fraction_digits() {
        for text in [
            "2024-05-01T10:20:30",
            "2024-05-01T10:20:30Z",
            "2024-05-01T10:20:30.1Z",
            "2024-05-01T10:20:30.1234567Z",
            "2024-05-01T10:20:30.123+02:00",
            "2024-02-29T00:00:00",
            " 2024-05-01T10:20:30Z ",
        ] {
            assert!(is_xs_date_time(text), "{text}");
        }
    }

    #[test]
    fn rejects_what_xmlconvert_rejects() {
        for text in [
            "",
            "2024-05-01",
            "2024-05-01 10:20:30",
            "2024-05-01T10:20:30.12345678Z",
            "2024-05-01T10:20:30.Z",
            "2023-02-29T00:00:00",
            "2024-13-01T00:00:00",
            "2024-05-01T24:00:00",
            "2024-05-01T10:20:30z",
            "2024-05-01T10:20:30+2:00",
            "yesterday",
        ] {
            assert!(!is_xs_date_time(text), "{text}");
        }
    }
}
