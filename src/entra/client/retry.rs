//! Retry waits: exponential backoff with full jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

use super::settings::RetryPolicy;
use crate::entra::timefmt::parse_http_date;

/// The wait before retry number `failures` (1 after the first failure): uniform in
/// `[c/2, c]` with `c = min(max_delay, base_delay · 2^(failures-1))`. Every retry waits a growing
/// pause (about 1 s, 2 s, 4 s... with the defaults), never next to nothing, and the jitter keeps
/// many clients that failed together from coming back together. `random` is any 64-bit random
/// number.
pub(crate) fn backoff(policy: &RetryPolicy, failures: u32, random: u64) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    let ceiling = policy.base_delay.saturating_mul(1 << doublings).min(policy.max_delay);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    let half = nanos / 2;
    Duration::from_nanos(nanos - half + random % half.saturating_add(1))
}

/// A random number for the jitter; without an OS source the wait is simply 0.
pub(crate) fn jitter_random() -> u64 {
    getrandom::u64().unwrap_or(0)
}

/// `Retry-After`: delta-seconds or an HTTP-date (a date in the past means now).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    parse_http_date(value).map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        // Ceilings 1, 2, 4, 8 s, then the 10 s cap; each wait lies in [ceiling/2, ceiling].
        for (failures, ceiling) in [(1u32, 1u64), (2, 2), (3, 4), (4, 8), (5, 10), (6, 10), (40, 10)] {
            let nanos = ceiling * 1_000_000_000;
            let half = nanos / 2;
            assert_eq!(backoff(&policy, failures, 0), Duration::from_nanos(nanos - half), "failure {failures}");
            assert_eq!(backoff(&policy, failures, half), Duration::from_nanos(nanos), "failure {failures}");
            assert_eq!(backoff(&policy, failures, half + 1), Duration::from_nanos(nanos - half), "failure {failures}");
        }
        assert!(backoff(&policy, u32::MAX, u64::MAX) <= Duration::from_secs(10));
    }

    #[test]
    fn every_retry_waits_longer_than_the_one_before_could() {
        // The shortest wait of retry n+1 is the longest of retry n: the pause grows whatever
        // the jitter, until the cap.
        let policy = RetryPolicy::default();
        for failures in 1..6 {
            assert!(backoff(&policy, failures + 1, 0) >= backoff(&policy, failures, u64::MAX % 1_000_000_007));
            assert!(backoff(&policy, failures, 0) >= Duration::from_millis(500));
        }
    }

    #[test]
    fn jitter_spreads_waits() {
        let policy = RetryPolicy::default();
        let waits: std::collections::HashSet<_> = (0..20).map(|_| backoff(&policy, 4, jitter_random())).collect();
        assert!(waits.len() > 10, "jitter gives different waits");
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(8) && *w >= Duration::from_secs(4)));
    }

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after(" 5 ", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
