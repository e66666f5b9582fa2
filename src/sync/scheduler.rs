//! The tenant's write budget. Entra allows about 7,000 writes per 5 minutes per tenant, shared
//! with every other writer, and refuses more. Every write this daemon makes takes permits here
//! first, so the budget is never exceeded; bulk work stops short of the limit, keeping headroom
//! that only password pushes (and disables, which go through the same lane) may use.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Password pushes and account disables: may use the whole budget.
    Urgent,
    /// Creates, updates, memberships, deletes: may use the budget minus the headroom.
    Bulk,
}

#[derive(Debug)]
pub struct WriteBudget {
    limit: u32,
    window: Duration,
    headroom: u32,
    spent: Mutex<Spent>,
}

/// The writes in the window, oldest first, and their sum (kept, not summed at each write: an
/// initial sync puts tens of thousands of writes in one window).
#[derive(Debug, Default)]
struct Spent {
    writes: VecDeque<(Instant, u32)>,
    total: u32,
}

impl Spent {
    /// Drops the writes that left the window ending at `now`.
    fn roll(&mut self, now: Instant, window: Duration) {
        while let Some(&(t, n)) = self.writes.front() {
            if now.duration_since(t) < window {
                break;
            }
            self.writes.pop_front();
            self.total -= n;
        }
    }
}

impl WriteBudget {
    /// `limit` writes per `window`; `headroom` of them are kept for the urgent lane.
    pub fn new(limit: u32, window: Duration, headroom: u32) -> Self {
        WriteBudget {
            limit: limit.max(1),
            window,
            headroom: headroom.min(limit.saturating_sub(1)),
            spent: Mutex::new(Spent::default()),
        }
    }

    fn cap(&self, lane: Lane) -> u32 {
        match lane {
            Lane::Urgent => self.limit,
            Lane::Bulk => self.limit - self.headroom,
        }
    }

    /// Takes `writes` permits in `lane`, waiting until the sliding window allows them.
    pub async fn acquire(&self, lane: Lane, writes: u32) {
        let writes = writes.min(self.cap(lane));
        loop {
            let wait = {
                let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                spent.roll(now, self.window);
                let used = spent.total;
                if used + writes <= self.cap(lane) {
                    spent.writes.push_back((now, writes));
                    spent.total += writes;
                    return;
                }
                // Wait until enough of the oldest writes leave the window.
                let mut freed = 0;
                let mut until = now + self.window;
                for (t, n) in spent.writes.iter() {
                    freed += n;
                    if used - freed + writes <= self.cap(lane) {
                        until = *t + self.window;
                        break;
                    }
                }
                until.saturating_duration_since(now).max(Duration::from_millis(1))
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Writes spent in the current window.
    pub fn used(&self) -> u32 {
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        spent.roll(Instant::now(), self.window);
        spent.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bulk_keeps_headroom_and_urgent_may_use_it() {
        let b = WriteBudget::new(10, Duration::from_secs(60), 3);
        for _ in 0..7 {
            b.acquire(Lane::Bulk, 1).await;
        }
        let t0 = Instant::now();
        // The 8th bulk write waits for the window to roll...
        let bulk = b.acquire(Lane::Bulk, 1);
        tokio::pin!(bulk);
        assert!(tokio::time::timeout(Duration::from_secs(1), &mut bulk).await.is_err());
        // ...while an urgent write goes through at once, into the headroom.
        let t1 = Instant::now();
        b.acquire(Lane::Urgent, 3).await;
        assert_eq!(t1.elapsed(), Duration::ZERO);
        assert_eq!(b.used(), 10);
        bulk.await;
        assert!(t0.elapsed() >= Duration::from_secs(59), "{:?}", t0.elapsed());
    }
}
