//! The tenant gate: nothing is written to a tenant before its checks (API compatibility, the
//! anchor attribute, the company configuration) have passed. The checks are retried until they
//! do; meanwhile password changes wait in the durable outbox and reconciles do not start.

use std::sync::Arc;

use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct TenantGate {
    open: Arc<watch::Sender<bool>>,
    /// Password hash sync is on in the tenant (as last read): while it is off, password pushes
    /// wait in the outbox. Only an administrator turns it on or off, never the daemon.
    password_sync: Arc<watch::Sender<bool>>,
}

impl Default for TenantGate {
    fn default() -> Self {
        TenantGate { open: Arc::new(watch::channel(false).0), password_sync: Arc::new(watch::channel(true).0) }
    }
}

impl TenantGate {
    /// A gate that is open from the start (the CLI's in-process runs check the tenant first).
    pub fn opened() -> Self {
        let gate = TenantGate::default();
        gate.open();
        gate
    }

    pub fn open(&self) {
        self.open.send_replace(true);
    }

    pub fn set_password_sync(&self, on: bool) {
        self.password_sync.send_replace(on);
    }

    pub fn password_sync_on(&self) -> bool {
        *self.password_sync.borrow()
    }

    /// Returns once password hash sync is on in the tenant.
    pub async fn wait_password_sync(&self) {
        let mut rx = self.password_sync.subscribe();
        let _ = rx.wait_for(|on| *on).await;
    }

    /// Returns once the tenant's checks have passed.
    pub async fn wait_open(&self) {
        let mut rx = self.open.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = rx.wait_for(|open| *open).await;
    }
}
