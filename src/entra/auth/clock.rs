//! Wall-clock time as a parameter, so token expiry can be tested without waiting.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch. Token lifetimes are minutes long, so seconds are precise enough.
pub trait Clock: Send + Sync + 'static {
    fn now_unix(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}
