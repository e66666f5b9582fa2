//! In-memory fakes of the engine's two ports ([`FakeDirectory`], [`FakeTenant`]) and a harness
//! that builds an engine over them, for unit tests without Samba or HTTP.

mod directory;
mod tenant;

pub use directory::{FAKE_THIS_DC, FakeDirectory};
pub use tenant::FakeTenant;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::anchor::{Anchor, AnchorAttribute};
use super::control::{Control, ControlInbox, EngineEvent};
use super::gate::TenantGate;
use super::passwords::{PasswordPath, PasswordSettings};
use super::reconcile::{ReconcileSettings, Reconciler};
use super::report::ReconcileSummary;
use super::scope::Scope;
use super::state::State;

/// An engine over the fakes, with a real state DB in a temporary directory.
pub struct Rig {
    pub directory: Arc<FakeDirectory>,
    pub tenant: Arc<FakeTenant>,
    pub control: Control,
    pub store: State,
    pub inbox: ControlInbox,
    pub gate: TenantGate,
    pub reconciler: Arc<Reconciler<FakeDirectory, FakeTenant>>,
    pub passwords: PasswordPath<FakeDirectory, FakeTenant>,
    /// How many times the reconciler woke the password path.
    pub wakes: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
}

pub fn settings() -> ReconcileSettings {
    ReconcileSettings {
        anchor: AnchorAttribute::ObjectGuid,
        interval: Duration::from_secs(3600),
        deletion_threshold: 500,
        deletion_threshold_percent: 0,
        dry_run: false,
        objects_per_call: 10,
        parallel_calls: 2,
        drift_repair: true,
        drift_interval: Duration::ZERO,
        write_back_consistency_guid: false,
        push_temporary: false,
    }
}

pub fn password_settings() -> PasswordSettings {
    PasswordSettings {
        commit_poll: Duration::from_millis(5),
        commit_timeout: Duration::from_millis(500),
        settle: Duration::from_millis(50),
        change_poll: Duration::from_millis(20),
        ..Default::default()
    }
}

impl Rig {
    pub async fn new() -> Rig {
        Rig::with(settings(), password_settings()).await
    }

    /// An engine of a domain with several DCs (`cluster`), over a fake directory that answers
    /// `view`; the role is read once before it is returned.
    pub async fn clustered(cluster: &crate::config::ClusterConfig, view: super::directory::ClusterView) -> Rig {
        let c = super::cluster::Cluster::new(cluster);
        let rig = Rig::build(settings(), password_settings(), Some(c.clone())).await;
        rig.directory.set_cluster_view(view);
        c.refresh(rig.directory.as_ref()).await.expect("the fake answers");
        rig
    }

    pub async fn with(settings: ReconcileSettings, password: PasswordSettings) -> Rig {
        Rig::build(settings, password, None).await
    }

    async fn build(
        settings: ReconcileSettings,
        password: PasswordSettings,
        cluster: Option<Arc<super::cluster::Cluster>>,
    ) -> Rig {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = State::open(&dir.path().join("state.db")).expect("the state DB opens");
        let (control, inbox) = Control::new();
        let directory = Arc::new(FakeDirectory::new());
        let tenant = Arc::new(FakeTenant::new());
        let scope = Arc::new(Scope::default());
        let gate = TenantGate::default();
        let password = PasswordSettings { anchor: settings.anchor, ..password };
        let passwords = PasswordPath::new(
            directory.clone(),
            control.clone(),
            store.clone(),
            scope.clone(),
            password,
            tenant.clone(),
            gate.clone(),
        );
        let passwords = match &cluster {
            Some(c) => passwords.with_cluster(c.clone()),
            None => passwords,
        };
        let wakes = Arc::new(AtomicU64::new(0));
        let (wake_path, counter) = (passwords.clone(), wakes.clone());
        let reconciler = Reconciler::new(
            directory.clone(),
            control.clone(),
            store.clone(),
            scope,
            settings,
            tenant.clone(),
            gate.clone(),
            Arc::new(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                wake_path.wake();
            }),
        )
        .await
        .expect("the reconciler builds");
        let reconciler = match cluster {
            Some(c) => reconciler.with_cluster(c),
            None => reconciler,
        };
        gate.open();
        Rig {
            directory,
            tenant,
            control,
            store,
            inbox,
            gate,
            reconciler: Arc::new(reconciler),
            passwords,
            wakes,
            _dir: dir,
        }
    }

    /// The objectGUID anchor of a fake user.
    pub fn anchor(&self, name: &str) -> Anchor {
        Anchor::from(STANDARD.encode(self.directory.user(name).id.object_guid))
    }

    /// The next reconcile summary the engine announces (within `within`).
    pub async fn next_summary(
        events: &mut tokio::sync::broadcast::Receiver<EngineEvent>,
        within: Duration,
    ) -> Option<ReconcileSummary> {
        tokio::time::timeout(within, async {
            loop {
                match events.recv().await {
                    Ok(EngineEvent::ReconcileFinished(s)) => return Some(s),
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
        })
        .await
        .ok()
        .flatten()
    }
}
