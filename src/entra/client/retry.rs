//! Retry waits: exponential backoff with full jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

use super::settings::RetryPolicy;
use crate::entra::timefmt::parse_http_date;

/// The wait before retry number `failures` (1 after the first failure): uniform in
/// `[0, min(max_delay, base_delay · 2^(failures-1))]`, so that many clients that failed together
/// do not come back together. `random` is any 64-bit random number.
pub(crate) fn backoff(policy: &RetryPolicy, failures: u32, random: u64) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    let ceiling = policy.base_delay.saturating_mul(1 << doublings).min(policy.max_delay);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random % nanos.saturating_add(1))
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
        // A random number equal to the ceiling (in nanoseconds) gives the ceiling; one more wraps
        // to zero. Ceilings: 1, 2, 4, 8 s, then the 10 s cap.
        for (failures, ceiling) in [(1u32, 1u64), (2, 2), (3, 4), (4, 8), (5, 10), (6, 10), (40, 10)] {
            let nanos = ceiling * 1_000_000_000;
            assert_eq!(backoff(&policy, failures, nanos), Duration::from_secs(ceiling), "failure {failures}");
            assert_eq!(backoff(&policy, failures, nanos + 1), Duration::ZERO, "failure {failures}");
        }
        assert_eq!(backoff(&policy, 3, 0), Duration::ZERO);
        assert_eq!(backoff(&policy, 3, 1_000_000_000), Duration::from_secs(1));
        assert!(backoff(&policy, u32::MAX, u64::MAX) <= Duration::from_secs(10));
    }

    #[test]
    fn jitter_spreads_waits() {
        let policy = RetryPolicy::default();
        let waits: std::collections::HashSet<_> = (0..20).map(|_| backoff(&policy, 4, jitter_random())).collect();
        assert!(waits.len() > 10, "full jitter gives different waits");
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(8)));
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
