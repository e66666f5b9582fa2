//! The tenant's write budget: a sliding window of changes, like the real tenant's 7,000 writes
//! per 5 minutes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub(crate) struct Throttle {
    limit: u64,
    window: Duration,
    /// (when, how many writes), oldest first.
    events: VecDeque<(Instant, u64)>,
    in_window: u64,
}

impl Throttle {
    pub(crate) fn new(limit: u64, window: Duration) -> Throttle {
        Throttle { limit, window, events: VecDeque::new(), in_window: 0 }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, n)) = self.events.front() {
            if now.duration_since(at) < self.window {
                break;
            }
            self.in_window -= n;
            self.events.pop_front();
        }
    }

    /// `Err(seconds to wait)` when the budget of the window is used up.
    pub(crate) fn check(&mut self, now: Instant) -> Result<(), u64> {
        self.expire(now);
        if self.in_window < self.limit {
            return Ok(());
        }
        // Wait until enough old writes leave the window to get back under the limit.
        let mut freed = 0;
        for &(at, n) in &self.events {
            freed += n;
            if self.in_window - freed < self.limit {
                let wait = (at + self.window).saturating_duration_since(now);
                return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero())));
            }
        }
        Err(self.window.as_secs().max(1))
    }

    pub(crate) fn record(&mut self, now: Instant, writes: u64) {
        if writes > 0 {
            self.events.push_back((now, writes));
            self.in_window += writes;
        }
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    pub(crate) fn window(&self) -> Duration {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_slides() {
        let start = Instant::now();
        let mut t = Throttle::new(3, Duration::from_secs(10));
        assert!(t.check(start).is_ok());
        t.record(start, 2);
        t.record(start + Duration::from_secs(4), 1);
        let wait = t.check(start + Duration::from_secs(5)).expect_err("full");
        assert_eq!(wait, 5);
        assert!(t.check(start + Duration::from_secs(10)).is_ok());
        t.record(start + Duration::from_secs(10), 2);
        assert_eq!(t.check(start + Duration::from_secs(11)), Err(3));
    }
}
