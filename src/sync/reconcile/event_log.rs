//! The engine's side of what [`Control`](crate::sync::control::Control) passes on without
//! touching the state DB itself: reported errors written to the event log, and the tenant's
//! refusals forgotten on request.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::mpsc::error::TryRecvError;
use tokio_util::sync::CancellationToken;

use super::Reconciler;
use crate::sync::control::ReportedError;
use crate::sync::directory::Directory;
use crate::sync::state::StateError;
use crate::sync::tenant::Tenant;

type Errors = Arc<tokio::sync::Mutex<UnboundedReceiver<ReportedError>>>;

impl<D: Directory, T: Tenant> Reconciler<D, T> {
    /// Writes reported errors to the event log until `shutdown`, then what is still queued. A
    /// reloaded engine takes over the same channel.
    pub async fn record_errors(self: Arc<Self>, errors: Errors, shutdown: CancellationToken) {
        let mut errors = errors.lock().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                e = errors.recv() => match e {
                    Some(e) => self.record_error(&e),
                    None => return,
                },
            }
        }
        self.drain(&mut errors);
    }

    /// Writes what is queued now (a one-shot engine, e.g. `sync --config`, before it exits).
    pub fn record_queued_errors(&self, errors: &Errors) {
        if let Ok(mut errors) = errors.try_lock() {
            self.drain(&mut errors);
        }
    }

    fn drain(&self, errors: &mut UnboundedReceiver<ReportedError>) {
        loop {
            match errors.try_recv() {
                Ok(e) => self.record_error(&e),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
    }

    fn record_error(&self, e: &ReportedError) {
        if let Err(err) = self.store().record_event("error", &e.subject, &e.message) {
            tracing::warn!("cannot record an error in the state DB: {err}");
        }
    }

    /// `sync --retry-blocked`: forgets every refusal of the tenant, so the next reconcile sends
    /// each refused object (and its password) once more. Returns how many there were.
    pub fn retry_blocked(&self) -> Result<usize, StateError> {
        let n = self.store().clear_blocks()?;
        tracing::info!(objects = n, "an administrator asked to send the objects the tenant refused again");
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use crate::sync::testing::Rig;

    #[tokio::test]
    async fn reported_errors_reach_the_event_log_through_the_engine() {
        let rig = Rig::new().await;
        rig.control.report_error("push", "HTTP 503 from Entra");
        assert!(rig.store.recent_events(10).unwrap().is_empty(), "control writes nothing itself");
        rig.reconciler.record_queued_errors(&rig.inbox.errors);
        let events = rig.store.recent_events(10).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].subject.as_str(), events[0].message.as_str()), ("push", "HTTP 503 from Entra"));
    }
}
