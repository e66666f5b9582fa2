//! The service's dated rules (`emulator --service-date`): which client builds, token audiences
//! and kinds of token the sync endpoint takes on a given day. Each rule and its source is listed
//! in docs/emulator.md ("The service's timeline").

use std::fmt;

/// A day of the service's life, as days since 1970-01-01 (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServiceDate(i64);

/// Builds below 2.5.79.0 fail, and the legacy sync app (audience `https://graph.windows.net`)
/// is retired (Learn `harden-update-ad-fs-pingfederate`; the audience part is our inference).
pub(super) const LEGACY_RETIREMENT: ServiceDate = ServiceDate::ymd(2026, 9, 30);
/// User-account sign-in of sync clients is retired (Learn `security-updates-pks`).
pub(super) const USER_SIGN_IN_RETIREMENT: ServiceDate = ServiceDate::ymd(2027, 4, 7);
/// Builds 1.x stopped working in October 2023 (AADInternals issues 76, 77).
pub(super) const FIRST_BUILD_CUTOFF: ServiceDate = ServiceDate::ymd(2023, 10, 1);

impl ServiceDate {
    /// The day of a civil date.
    pub const fn ymd(y: i64, m: u32, d: u32) -> ServiceDate {
        ServiceDate(crate::entra::timefmt::days_from_civil(y, m, d))
    }

    /// The day it is now (UTC).
    pub fn today() -> ServiceDate {
        ServiceDate(super::clock::now_secs().div_euclid(86_400))
    }

    /// `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<ServiceDate, String> {
        let bad = || format!("{text:?} is not a date like 2027-04-08 (YYYY-MM-DD)");
        let parts: Vec<&str> = text.trim().split('-').collect();
        let [y, m, d] = parts[..] else { return Err(bad()) };
        let num = |s: &str, len: usize| {
            (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<i64>().ok()).flatten()
        };
        let (Some(y), Some(m), Some(d)) = (num(y, 4), num(m, 2), num(d, 2)) else { return Err(bad()) };
        let date = ServiceDate::ymd(y, m as u32, d as u32);
        // Round-trips only for a real calendar day (2027-02-30 does not).
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || date.to_string() != format!("{y:04}-{m:02}-{d:02}") {
            return Err(bad());
        }
        Ok(date)
    }

    /// Oldest DirSyncBuildNumber the service takes on this day.
    pub fn min_build(self) -> &'static str {
        if self >= LEGACY_RETIREMENT {
            "2.5.79.0"
        } else if self >= FIRST_BUILD_CUTOFF {
            "2.0.0.0"
        } else {
            "1.0.0.0"
        }
    }

    /// Tokens with audience `https://graph.windows.net` still work at the sync endpoint.
    pub fn takes_legacy_audience(self) -> bool {
        self < LEGACY_RETIREMENT
    }

    /// Delegated (user) tokens still work at the sync endpoint.
    pub fn takes_user_tokens(self) -> bool {
        self < USER_SIGN_IN_RETIREMENT
    }
}

impl fmt::Display for ServiceDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 * 86_400_000;
        f.write_str(&super::clock::rfc3339_ms(ms)[..10])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_print() {
        let d = ServiceDate::parse("2027-04-08").expect("date");
        assert_eq!(d.to_string(), "2027-04-08");
        assert_eq!(ServiceDate::parse("1970-01-01"), Ok(ServiceDate(0)));
        for bad in ["2027-4-8", "2027-02-30", "tomorrow", "2027-13-01", "2027-04-08T00:00"] {
            assert!(ServiceDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_rules_change_on_their_days() {
        let day = |t: &str| ServiceDate::parse(t).expect("date");
        assert!(day("2026-09-29").takes_legacy_audience());
        assert!(!day("2026-09-30").takes_legacy_audience());
        assert_eq!(day("2026-09-29").min_build(), "2.0.0.0");
        assert_eq!(day("2026-09-30").min_build(), "2.5.79.0");
        assert!(day("2027-04-06").takes_user_tokens());
        assert!(!day("2027-04-07").takes_user_tokens());
    }
}
