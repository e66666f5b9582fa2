//! Time as a parameter: waits between retries go through [`Timer`], so tests run without
//! sleeping and can see every wait.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// A wait in progress.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Timer: Send + Sync {
    /// Wall-clock time, for `Retry-After` dates.
    fn now(&self) -> SystemTime;
    /// Monotonic time since an arbitrary origin, for retry budgets.
    fn elapsed(&self) -> Duration;
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// Real time, through tokio.
#[derive(Debug, Clone, Copy)]
pub struct TokioTimer {
    origin: tokio::time::Instant,
}

impl Default for TokioTimer {
    fn default() -> Self {
        TokioTimer { origin: tokio::time::Instant::now() }
    }
}

impl Timer for TokioTimer {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}
