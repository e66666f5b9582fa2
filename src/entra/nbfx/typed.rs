//! Canonical text of the typed text records, as the .NET reader presents them (it reads every
//! record through `XmlConvert`, so the service and the emulator see these exact strings).

use std::fmt::Write as _;

/// `XmlConvert.ToString(double)`: "R" formatting (shortest round-trip digits), `INF`, `-INF`, `NaN`.
pub(crate) fn format_f64(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value < 0.0 { "-INF" } else { "INF" });
    } else {
        // .NET keeps plain notation up to 15 significant positions before the point.
        format_general(&format!("{value:e}"), 15, out);
    }
}

/// `XmlConvert.ToString(float)`: as for double, with single precision (7 positions).
pub(crate) fn format_f32(value: f32, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value < 0.0 { "-INF" } else { "INF" });
    } else {
        format_general(&format!("{value:e}"), 7, out);
    }
}

/// Lays out Rust's shortest round-trip digits (`-1.2345e-7`) the way .NET's "R" format does:
/// scientific (`1.2345E-07`) when the decimal point would sit more than
/// max(digit count, `precision`) places right of the first digit or more than 3 places left of it.
fn format_general(rust_exp: &str, precision: i32, out: &mut String) {
    let (negative, unsigned) = match rust_exp.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rust_exp),
    };
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    if negative {
        out.push('-');
    }
    if digits.is_empty() {
        // Zero (including -0, which .NET prints as "-0").
        out.push('0');
        return;
    }
    let count = digits.len() as i32;
    // .NET's "scale": the value is 0.d1d2…dn × 10^scale.
    let scale = exponent + 1;
    if scale > count.max(precision) || scale < -3 {
        out.push_str(&digits[..1]);
        if count > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = scale - 1;
        let _ = write!(out, "E{}{:02}", if e < 0 { '-' } else { '+' }, e.unsigned_abs());
    } else if scale <= 0 {
        out.push_str("0.");
        for _ in scale..0 {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let scale = scale as usize;
        if scale >= digits.len() {
            out.push_str(digits);
            for _ in digits.len()..scale {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..scale]);
            out.push('.');
            out.push_str(&digits[scale..]);
        }
    }
}

/// `decimal.ToString()` of a .NET `decimal` in its [MS-OAUT] DECIMAL layout (reserved u16,
/// scale, sign, hi32, lo64): all digits of the scale are kept (`1.50`), zero has no sign.
/// `None` when the scale or the sign byte is out of range.
pub(crate) fn format_decimal(bytes: &[u8; 16], out: &mut String) -> Option<()> {
    let scale = usize::from(bytes[2]);
    let sign = bytes[3];
    if bytes[0] != 0 || bytes[1] != 0 || scale > 28 || (sign != 0 && sign != 0x80) {
        return None;
    }
    let hi = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let lo = u64::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]]);
    let magnitude = (u128::from(hi) << 64) | u128::from(lo);
    if sign != 0 && magnitude != 0 {
        out.push('-');
    }
    let digits = magnitude.to_string();
    if scale == 0 {
        out.push_str(&digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        for _ in digits.len()..scale {
            out.push('0');
        }
        out.push_str(&digits);
    }
    Some(())
}

const TICKS_PER_SECOND: u64 = 10_000_000;
const TICKS_PER_DAY: u64 = 86_400 * TICKS_PER_SECOND;
/// Ticks of 9999-12-31T23:59:59.9999999, the last instant .NET's DateTime can hold.
const MAX_DATETIME_TICKS: u64 = 3_155_378_975_999_999_999;

/// `XmlConvert.ToString(DateTime, RoundtripKind)` of a DateTimeText payload: 62 bits of ticks
/// since 0001-01-01 plus a 2-bit kind. Unspecified has no zone, UTC ends in `Z`; local times are
/// stored as a UTC instant, which we print with offset `+00:00` (what .NET shows on a UTC host,
/// and the only choice that does not invent a time zone). `None` outside DateTime's range or
/// for kind 3.
pub(crate) fn format_datetime(raw: u64, out: &mut String) -> Option<()> {
    let kind = raw >> 62;
    let ticks = raw & ((1 << 62) - 1);
    if ticks > MAX_DATETIME_TICKS || kind == 3 {
        return None;
    }
    let days = ticks / TICKS_PER_DAY;
    let in_day = ticks % TICKS_PER_DAY;
    let (year, month, day) = crate::entra::timefmt::civil_from_days_since_0001(days);
    let seconds = in_day / TICKS_PER_SECOND;
    let fraction = in_day % TICKS_PER_SECOND;
    let _ =
        write!(out, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    push_fraction(fraction, out);
    match kind {
        1 => out.push('Z'),
        2 => out.push_str("+00:00"),
        _ => {}
    }
    Some(())
}

/// `.FFFFFFF`: up to seven fractional digits without trailing zeros, nothing when zero.
fn push_fraction(ticks: u64, out: &mut String) {
    if ticks != 0 {
        let digits = format!("{ticks:07}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// `XmlConvert.ToString(TimeSpan)`: an xs:duration with days, hours, minutes and seconds
/// (`P1DT2H3M4.5S`, `-PT0.0000001S`, `PT0S`).
pub(crate) fn format_timespan(ticks: i64, out: &mut String) {
    let magnitude = ticks.unsigned_abs();
    if ticks < 0 {
        out.push('-');
    }
    out.push('P');
    let days = magnitude / TICKS_PER_DAY;
    let rest = magnitude % TICKS_PER_DAY;
    let hours = rest / (3600 * TICKS_PER_SECOND);
    let minutes = rest / (60 * TICKS_PER_SECOND) % 60;
    let seconds = rest / TICKS_PER_SECOND % 60;
    let fraction = rest % TICKS_PER_SECOND;
    if days != 0 {
        let _ = write!(out, "{days}D");
    }
    if rest != 0 {
        out.push('T');
        if hours != 0 {
            let _ = write!(out, "{hours}H");
        }
        if minutes != 0 {
            let _ = write!(out, "{minutes}M");
        }
        if seconds != 0 || fraction != 0 {
            let _ = write!(out, "{seconds}");
            push_fraction(fraction, out);
            out.push('S');
        }
    }
    if magnitude == 0 {
        out.push_str("T0S");
    }
}

/// A GUID in .NET byte order (first three groups little-endian) as lower-case `D` text.
pub(crate) fn format_guid(b: &[u8; 16], out: &mut String) {
    let _ = write!(
        out,
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f64_text(v: f64) -> String {
        let mut s = String::new();
        format_f64(v, &mut s);
        s
    }

    fn f32_text(v: f32) -> String {
        let mut s = String::new();
        format_f32(v, &mut s);
        s
    }

    #[test]
    fn doubles_print_like_dotnet_round_trip_format() {
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-60.0, "-60"),
            (8.0, "8"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1E-05"),
            (123456789012345.0, "123456789012345"),
            (1e15, "1E+15"),
            (1234567890123456.0, "1234567890123456"),
            (1.2345678901234568e17, "1.2345678901234568E+17"),
            (f64::MAX, "1.7976931348623157E+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (5e-324, "5E-324"),
            (f64::INFINITY, "INF"),
            (f64::NEG_INFINITY, "-INF"),
            (f64::NAN, "NaN"),
        ];
        for (value, text) in cases {
            assert_eq!(f64_text(value), text, "{value:e}");
        }
    }

    #[test]
    fn floats_print_like_dotnet_round_trip_format() {
        for (value, text) in [
            (1.5f32, "1.5"),
            (0.1, "0.1"),
            (1234567.0, "1234567"),
            (1e7, "1E+07"),
            (16777216.0, "16777216"),
            (3.4028235e38, "3.4028235E+38"),
            (f32::NAN, "NaN"),
            (f32::NEG_INFINITY, "-INF"),
        ] {
            assert_eq!(f32_text(value), text, "{value:e}");
        }
    }

    fn decimal(scale: u8, negative: bool, hi: u32, lo: u64) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[2] = scale;
        b[3] = if negative { 0x80 } else { 0 };
        b[4..8].copy_from_slice(&hi.to_le_bytes());
        b[8..16].copy_from_slice(&lo.to_le_bytes());
        b
    }

    #[test]
    fn decimals_keep_their_scale() {
        for (bytes, text) in [
            (decimal(0, false, 0, 0), "0"),
            (decimal(2, true, 0, 0), "0.00"),
            (decimal(2, false, 0, 150), "1.50"),
            (decimal(2, true, 0, 5), "-0.05"),
            (decimal(0, false, 0, 12345), "12345"),
            (decimal(0, false, u32::MAX, u64::MAX), "79228162514264337593543950335"),
            (decimal(28, false, 0, 1), "0.0000000000000000000000000001"),
        ] {
            let mut s = String::new();
            assert_eq!(format_decimal(&bytes, &mut s), Some(()));
            assert_eq!(s, text);
        }
        let mut s = String::new();
        assert_eq!(format_decimal(&decimal(29, false, 0, 1), &mut s), None);
        let mut bad_sign = decimal(0, false, 0, 1);
        bad_sign[3] = 1;
        assert_eq!(format_decimal(&bad_sign, &mut s), None);
    }

    fn datetime_text(raw: u64) -> Option<String> {
        let mut s = String::new();
        format_datetime(raw, &mut s).map(|()| s)
    }

    #[test]
    fn datetimes_print_roundtrip_kind() {
        assert_eq!(datetime_text(0).as_deref(), Some("0001-01-01T00:00:00"));
        // 2024-02-29T12:34:56.789 UTC: 638448308967890000 ticks.
        assert_eq!(datetime_text(638_448_068_967_890_000 | 1 << 62).as_deref(), Some("2024-02-29T12:34:56.789Z"));
        assert_eq!(datetime_text(621_355_968_000_000_000).as_deref(), Some("1970-01-01T00:00:00"));
        assert_eq!(datetime_text(MAX_DATETIME_TICKS).as_deref(), Some("9999-12-31T23:59:59.9999999"));
        assert_eq!(datetime_text(1 | 2 << 62).as_deref(), Some("0001-01-01T00:00:00.0000001+00:00"));
        assert_eq!(datetime_text(MAX_DATETIME_TICKS + 1), None);
        assert_eq!(datetime_text(3 << 62), None);
    }

    fn timespan_text(ticks: i64) -> String {
        let mut s = String::new();
        format_timespan(ticks, &mut s);
        s
    }

    #[test]
    fn timespans_print_as_xs_duration() {
        assert_eq!(timespan_text(0), "PT0S");
        assert_eq!(timespan_text(TICKS_PER_DAY as i64), "P1D");
        assert_eq!(timespan_text(36_000_000_000), "PT1H");
        assert_eq!(timespan_text(937_845_000_000), "P1DT2H3M4.5S");
        assert_eq!(timespan_text(-1), "-PT0.0000001S");
        assert_eq!(timespan_text(i64::MIN), "-P10675199DT2H48M5.4775808S");
    }

    #[test]
    fn guids_use_dotnet_byte_order() {
        let bytes = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        let mut s = String::new();
        format_guid(&bytes, &mut s);
        assert_eq!(s, "33221100-5544-7766-8899-aabbccddeeff");
    }
}
