//! `Plan` takes a full snapshot of the domain on the one sam.ldb thread. A member of the admin
//! group may call it, so it must not be able to queue snapshots without end: one runs at a
//! time, callers that arrive meanwhile wait for it and get its result, and a result is handed
//! out again for a short while instead of taking a new snapshot.

use std::time::{Duration, Instant};

/// Renders what a reconcile would do now, as JSON.
pub type PlanFn = Box<dyn Fn() -> futures_util::future::BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// How long a finished plan is handed out again.
pub const REUSE_FOR: Duration = Duration::from_secs(10);

/// A plan's result and when it was made.
type Made = (Instant, Result<String, String>);

pub struct PlanGate {
    plan: PlanFn,
    reuse_for: Duration,
    /// The last result and when it was made; the lock is held while a plan runs.
    last: tokio::sync::Mutex<Option<Made>>,
}

impl PlanGate {
    pub fn new(plan: PlanFn, reuse_for: Duration) -> PlanGate {
        PlanGate { plan, reuse_for, last: tokio::sync::Mutex::default() }
    }

    /// The current plan: a fresh one, or the one just made (by this or another caller).
    pub async fn plan(&self) -> Result<String, String> {
        let mut last = self.last.lock().await;
        // Only a plan is reused: after an error (the engine restarting) the next caller tries again.
        if let Some((at, result @ Ok(_))) = last.as_ref()
            && at.elapsed() < self.reuse_for
        {
            return result.clone();
        }
        let result = (self.plan)().await;
        *last = Some((Instant::now(), result.clone()));
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn counting(runs: Arc<AtomicU32>) -> PlanFn {
        Box::new(move || {
            let runs = runs.clone();
            Box::pin(async move {
                let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(format!("plan {n}"))
            })
        })
    }

    #[tokio::test]
    async fn concurrent_plans_take_one_snapshot_and_a_result_is_reused_briefly() {
        let runs = Arc::new(AtomicU32::new(0));
        let gate = Arc::new(PlanGate::new(counting(runs.clone()), Duration::from_millis(300)));
        let callers: Vec<_> = (0..20)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.plan().await })
            })
            .collect();
        for c in callers {
            assert_eq!(c.await.expect("caller").as_deref(), Ok("plan 1"));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "twenty callers at once: one snapshot");
        assert_eq!(gate.plan().await.as_deref(), Ok("plan 1"), "reused within the window");
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(gate.plan().await.as_deref(), Ok("plan 2"), "a new one after it");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
