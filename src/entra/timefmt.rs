//! The few date and time texts the sync API needs, without a calendar crate: `ChangeDate`
//! (UTC, 7 fractional digits, `Z`), the HTTP-date form of `Retry-After`, and `xs:duration`
//! values such as `PT30M`. Also the crate's one day-count ↔ calendar-date conversion
//! ([`civil_from_days`], [`days_from_civil`]), here because every layer that needs it (the
//! engine, the emulator, the CLI) may import `entra`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: u64 = 86_400;

/// `2024-05-01T10:20:30.1234567Z`: the round-trip UTC form .NET writes for `ChangeDate`. Times before
/// 1970 are written as the epoch (a password cannot have changed then).
pub fn format_utc_ticks(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / SECONDS_PER_DAY) as i64);
    let rem = secs % SECONDS_PER_DAY;
    let ticks = since.subsec_nanos() / 100;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ticks:07}Z", rem / 3600, (rem / 60) % 60, rem % 60)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only HTTP-date form servers
/// may send today (RFC 9110 §5.6.7).
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    let mut parts = text.split_ascii_whitespace();
    let _weekday = parts.next().filter(|w| w.ends_with(','))?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u64 + 1;
    let year: u64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next() != Some("GMT") || parts.next().is_some() || clock.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || year < 1970 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let (year, month, day) = (year as i64, month as u32, day as u32);
    let days = days_from_civil(year, month, day);
    // Reject 31 April and friends: the round trip must give the same date back.
    if civil_from_days(days) != (year, month, day) {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs(days as u64 * SECONDS_PER_DAY + h * 3600 + m * 60 + s))
}

/// Parses the day/time part of an `xs:duration` (`PT30M`, `P1DT2H`, `PT0.5S`); years and months
/// have no fixed length and are refused, as are negative durations.
pub fn parse_xs_duration(text: &str) -> Option<Duration> {
    let rest = text.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total = Duration::ZERO;
    let mut any = false;
    let mut add = |number: &str, unit: u64| -> Option<()> {
        let seconds: f64 = number.parse().ok()?;
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        total = total.checked_add(Duration::try_from_secs_f64(seconds * unit as f64).ok()?)?;
        any = true;
        Some(())
    };
    for (number, unit) in components(date)? {
        match unit {
            'D' => add(number, SECONDS_PER_DAY)?,
            _ => return None,
        }
    }
    for (number, unit) in components(time.unwrap_or(""))? {
        match unit {
            'H' => add(number, 3600)?,
            'M' => add(number, 60)?,
            'S' => add(number, 1)?,
            _ => return None,
        }
    }
    any.then_some(total)
}

/// `12H30M` → [("12", 'H'), ("30", 'M')].
fn components(text: &str) -> Option<Vec<(&str, char)>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c.is_ascii_alphabetic() {
            if i == start {
                return None;
            }
            out.push((&text[start..i], c));
            start = i + 1;
        }
    }
    (start == text.len()).then_some(out)
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Milliseconds since the epoch as an RFC 3339 UTC timestamp.
pub fn utc_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400).max(0) as u64;
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days_since_0001(days + DAYS_TO_UNIX_EPOCH);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// Days from 0001-01-01 to 1970-01-01.
pub const DAYS_TO_UNIX_EPOCH: u64 = 719_162;

/// Days since 0001-01-01 → (year, month, day): the codec's DateTime ticks count from there.
pub fn civil_from_days_since_0001(days: u64) -> (u64, u64, u64) {
    let (year, month, day) = civil_from_days(days as i64 - DAYS_TO_UNIX_EPOCH as i64);
    (year as u64, u64::from(month), u64::from(day))
}

/// Days since 1970-01-01 (negative before it) → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, on eras of 400 years that start on 1 March).
pub const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month as u32, day as u32)
}

/// (year, month, day) → days since 1970-01-01 (Hinnant's `days_from_civil`). The day is not
/// checked against its month: a caller that must refuse 31 April compares the round trip
/// through [`civil_from_days`].
pub const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (month, day) = (month as i64, day as i64);
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_date_has_seven_fractional_digits_and_z() {
        let t = UNIX_EPOCH + Duration::new(1_714_558_830, 123_456_789);
        assert_eq!(format_utc_ticks(t), "2024-05-01T10:20:30.1234567Z");
        assert_eq!(format_utc_ticks(UNIX_EPOCH), "1970-01-01T00:00:00.0000000Z");
        // Leap day, end of a leap year.
        assert_eq!(format_utc_ticks(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.0000000Z");
        assert_eq!(format_utc_ticks(UNIX_EPOCH + Duration::from_secs(1_735_689_599)), "2024-12-31T23:59:59.0000000Z");
    }

    #[test]
    fn the_calendar_round_trips_across_eras_leap_days_and_the_epoch() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(2026, 9, 30), 20_726);
        assert_eq!(civil_from_days_since_0001(0), (1, 1, 1));
        assert_eq!(civil_from_days_since_0001(DAYS_TO_UNIX_EPOCH), (1970, 1, 1));
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn http_dates_round_trip_through_the_calendar() {
        let parsed = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parsed, Some(UNIX_EPOCH + Duration::from_secs(784_111_777)));
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(1_709_164_800))
        );
        assert_eq!(parse_http_date("Fri, 31 Apr 2026 00:00:00 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("120"), None);
        assert_eq!(parse_http_date(""), None);
    }

    #[test]
    fn xs_durations() {
        assert_eq!(parse_xs_duration("PT30M"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_xs_duration("P1DT2H3M4S"), Some(Duration::from_secs(86_400 + 7200 + 180 + 4)));
        assert_eq!(parse_xs_duration("PT0.5S"), Some(Duration::from_millis(500)));
        assert_eq!(parse_xs_duration("P1M"), None);
        assert_eq!(parse_xs_duration("PT"), None);
        assert_eq!(parse_xs_duration("P"), None);
        assert_eq!(parse_xs_duration("-PT5M"), None);
        assert_eq!(parse_xs_duration("PTM"), None);
        assert_eq!(parse_xs_duration("30 minutes"), None);
    }

    #[test]
    fn utc_millis_is_rfc3339() {
        assert_eq!(utc_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_millis(1_795_457_924_720), "2026-11-23T18:18:44.720Z");
    }
}
