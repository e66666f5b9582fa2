//! Times for people: the local time of this machine's zone (`TZ` first, then /etc/localtime),
//! with the zone's abbreviation: `2026-12-05 17:48:03 CET`. Only the human summaries use it;
//! JSON records keep epoch milliseconds or UTC texts.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Milliseconds since the epoch as a local time.
pub(crate) fn local_time(ms: i64) -> String {
    in_zone(ms, TimeZone::system())
}

fn in_zone(ms: i64, zone: TimeZone) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.to_zoned_datetime(zone).strftime("%Y-%m-%d %H:%M:%S %Z").to_string(),
        // Outside the years jiff handles: say it in UTC rather than not at all.
        Err(_) => crate::entra::timefmt::utc_millis(ms),
    }
}

/// A text that starts with a UTC time (`2026-11-23T18:18:44.720Z state: …`, as the engine
/// records errors) with that time in local time; any other text as it is.
pub(crate) fn localise_leading_time(text: &str) -> String {
    match text.split_once(' ').and_then(|(stamp, rest)| Some((stamp.parse::<Timestamp>().ok()?, rest))) {
        Some((at, rest)) => format!("{} {rest}", local_time(at.as_millisecond())),
        None => text.to_owned(),
    }
}

/// A text with every UTC time in it (`… expires 2027-05-01T10:00:00.000Z (147 days); …`, as
/// `doctor` words its findings for both its JSON and its lines) in local time.
pub(crate) fn localise_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail.find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ')')).unwrap_or(tail.len());
        let word = &tail[..end];
        match word.ends_with('Z').then(|| word.parse::<Timestamp>().ok()).flatten() {
            Some(at) => out.push_str(&local_time(at.as_millisecond())),
            None => out.push_str(word),
        }
        // A digit starts the word, so `end` > 0: every turn moves on.
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23T18:18:44.720Z
    const AT: i64 = 1_795_457_924_720;

    #[test]
    fn shows_the_zones_wall_clock_and_abbreviation() {
        let zone = |posix: &str| TimeZone::posix(posix).unwrap();
        assert_eq!(in_zone(AT, TimeZone::UTC), "2026-11-23 18:18:44 UTC");
        assert_eq!(in_zone(AT, zone("CET-1CEST,M3.5.0,M10.5.0/3")), "2026-11-23 19:18:44 CET");
        // Summer time, and a zone west of UTC across midnight.
        assert_eq!(in_zone(1_784_000_000_000, zone("CET-1CEST,M3.5.0,M10.5.0/3")), "2026-07-14 05:33:20 CEST");
        assert_eq!(in_zone(AT, zone("XST+20")), "2026-11-22 22:18:44 XST");
    }

    #[test]
    fn only_a_leading_utc_time_is_rewritten() {
        let text = "2026-11-23T18:18:44.720Z state: disk full";
        let local = localise_leading_time(text);
        assert!(local.ends_with(" state: disk full") && !local.contains("T18:18:44"), "{local}");
        assert_eq!(localise_leading_time("no time here"), "no time here");
        assert_eq!(localise_leading_time(""), "");
    }

    #[test]
    fn every_utc_time_in_a_text_is_shown_in_local_time() {
        let text = "certificate x expires 2026-11-23T18:18:44.720Z (3 days); renewal: idle, automatic from 2026-11-23T18:18:44.720Z";
        let got = localise_times(text);
        let local = local_time(AT);
        assert_eq!(got, format!("certificate x expires {local} (3 days); renewal: idle, automatic from {local}"));
        assert_eq!(localise_times("3 users, 2026 is a year; no time"), "3 users, 2026 is a year; no time");
    }
}
