//! The daemon: wiring and lifecycle.
//!
//! Opens the state DB, sam.ldb and the bus, checks the tenant, then runs the password path and
//! the reconciler until SIGTERM. systemd `Type=notify`: READY only when sam.ldb, the bus name
//! and the state DB are ready; the watchdog is pinged only while the sam.ldb thread answers;
//! STOPPING on shutdown, when pushes in flight get a few seconds to finish (the rest stay in the
//! durable outbox). SIGHUP re-reads the config: a bad one is refused and the old one kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::bus::service::{Service, ServiceFactory, serve_reconnecting};
use crate::config::Config;
use crate::entra::auth::{AuthError, TokenSource};
use crate::entra::client::{ApiCompatibility, SyncClient, SyncSettings};
use crate::entra::http::{HttpSettings, http_client};
use crate::samba::LdbHandle;
use crate::sync::anchor::AnchorAttribute;
use crate::sync::control::{Control, ControlInbox, EngineState};
use crate::sync::entra_port::EntraPort;
use crate::sync::passwords::{PasswordPath, PasswordSettings};
use crate::sync::reconcile::{ReconcileError, ReconcileSettings, Reconciler};
use crate::sync::scheduler::WriteBudget;
use crate::sync::scope::Scope;
use crate::sync::settings::auth_settings;
use crate::sync::state::State;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Startup(String),
}

impl DaemonError {
    /// Exit status: 2 for configuration problems, 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            DaemonError::Config(_) => 2,
            DaemonError::Startup(_) => 1,
        }
    }
}

fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if sd_notify::booted().unwrap_or(false) || std::env::var_os("NOTIFY_SOCKET").is_some() {
        let _ = sd_notify::notify(state);
    }
}

/// Refuses secrets that others can read: the token cache and a private key (issue: the daemon
/// handles every password in the domain; a leaked token is a password-reset-anything token).
fn check_private(path: &Path, what: &str) -> Result<(), DaemonError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.permissions().mode() & 0o077 != 0 => Err(DaemonError::Config(format!(
            "{what} {} is readable by group or others (mode {:o}): chmod 600 it",
            path.display(),
            m.permissions().mode() & 0o777
        ))),
        _ => Ok(()),
    }
}

pub fn load_config(path: &Path) -> Result<Config, DaemonError> {
    let c = Config::load(path).map_err(|e| DaemonError::Config(e.to_string()))?;
    check_private(&c.entra.auth.token_cache, "the token cache")?;
    if let crate::config::AuthMethodConfig::Certificate { private_key, .. } = &c.entra.auth.method {
        check_private(private_key, "the private key")?;
    }
    Ok(c)
}

type Port = EntraPort<TokenSource>;

/// Everything that lives as long as the process (a reload keeps these).
struct Base {
    ldb: LdbHandle,
    control: Control,
    inbox: ControlInbox,
}

pub async fn run(config_path: PathBuf) -> Result<(), DaemonError> {
    let mut config = load_config(&config_path)?;
    let shutdown = CancellationToken::new();
    let sig = |k| signal(k).map_err(|e| DaemonError::Startup(format!("cannot install a signal handler: {e}")));
    let (mut sigterm, mut sigint, mut sighup) =
        (sig(SignalKind::terminate())?, sig(SignalKind::interrupt())?, sig(SignalKind::hangup())?);

    let store = State::open(&config.state.db).map_err(|e| DaemonError::Startup(e.to_string()))?;
    let ldb = open_ldb(&config.samba.sam_ldb, &shutdown).await?;
    let (control, inbox) = Control::new(store);
    let base = Base { ldb, control: control.clone(), inbox };

    // The bus name is taken before READY, so the hook's first notice is never lost (it waits
    // in the inbox until the engine runs).
    let plan_source: Arc<tokio::sync::RwLock<Option<Arc<Reconciler<Port>>>>> = Arc::default();
    let admin_gid = group_id(&config.dbus.admin_group);
    let (plan_for_bus, control_for_bus) = (plan_source.clone(), control.clone());
    // A reconnect to a restarted bus serves a fresh service object over the same engine.
    let make_service: ServiceFactory = Box::new(move || {
        let source = plan_for_bus.clone();
        let plan_fn: PlanFn = Box::new(move || {
            let source = source.clone();
            Box::pin(async move {
                let r = source.read().await.clone().ok_or("the engine is not running")?;
                let plan = r.plan().await.map_err(|e| e.to_string())?;
                serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())
            })
        });
        Service::new(control_for_bus.clone(), admin_gid, plan_fn)
    });
    let bus_task = serve_reconnecting(config.dbus.bus.clone(), make_service, control.clone())
        .await
        .map_err(|e| DaemonError::Startup(format!("cannot take the bus name io.github.SambaEntraSync1: {e}")))?;

    let mut first = true;
    loop {
        let engine_stop = shutdown.child_token();
        let engine = match start_engine(&config, &base, engine_stop.clone()).await {
            Ok(e) => e,
            Err(e) if first => return Err(e),
            Err(e) => {
                tracing::error!("the engine did not restart after the reload: {e}");
                control.set_state(EngineState::Degraded);
                control.report_error("reload", &e.to_string());
                None
            }
        };
        *plan_source.write().await = engine.as_ref().map(|(r, _)| r.clone());
        notify(&[sd_notify::NotifyState::Ready]);
        if first {
            tracing::info!("samba-entra-sync is ready");
            first = false;
        }
        let watchdog = tokio::spawn(watchdog(base.ldb.clone(), control.clone()));
        let reload = loop {
            tokio::select! {
                _ = sigterm.recv() => break false,
                _ = sigint.recv() => break false,
                _ = sighup.recv() => match load_config(&config_path) {
                    Ok(new) => {
                        if new.samba != config.samba || new.state != config.state || new.dbus != config.dbus {
                            tracing::warn!("[samba], [state] and [dbus] changes take effect at the next restart");
                        }
                        tracing::info!("config reloaded; restarting the engine");
                        config = new;
                        break true;
                    }
                    Err(e) => {
                        tracing::error!("config reload refused, keeping the old config: {e}");
                        control.report_error("reload", &format!("refused, the old config stays: {e}"));
                    }
                },
            }
        };
        if reload {
            notify(&[sd_notify::NotifyState::Reloading]);
        } else {
            notify(&[sd_notify::NotifyState::Stopping]);
            control.set_state(EngineState::Stopping);
            tracing::info!("stopping: pushes in flight get a few seconds, the rest stay in the outbox");
        }
        stop_engine(&engine_stop, engine).await;
        watchdog.abort();
        if !reload {
            break;
        }
    }
    bus_task.abort();
    shutdown.cancel();
    Ok(())
}

type PlanFn = crate::bus::service::PlanFn;
type Engine = Option<(Arc<Reconciler<Port>>, tokio::task::JoinSet<()>)>;

async fn stop_engine(token: &CancellationToken, engine: Engine) {
    token.cancel();
    if let Some((_, mut tasks)) = engine {
        let all = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), all).await.is_err() {
            tracing::warn!("engine tasks did not stop within 5 s");
        }
    }
}

/// sam.ldb may be briefly unreadable (samba restarting, a restore): retry until it opens.
async fn open_ldb(path: &Path, shutdown: &CancellationToken) -> Result<LdbHandle, DaemonError> {
    let mut delay = Duration::from_millis(500);
    loop {
        match LdbHandle::open(path).await {
            Ok(h) => return Ok(h),
            Err(e @ (crate::samba::LdbError::NotSamLdb { .. } | crate::samba::LdbError::MissingSecretsKey { .. })) => {
                return Err(DaemonError::Config(e.to_string()));
            }
            Err(e) => {
                tracing::warn!("cannot open sam.ldb yet, retrying in {delay:?}: {e}");
                tokio::select! {
                    _ = shutdown.cancelled() => return Err(DaemonError::Startup(e.to_string())),
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Pings systemd's watchdog while the sam.ldb thread answers (a hung libldb call stops the
/// pings, and systemd restarts the daemon).
async fn watchdog(ldb: LdbHandle, control: Control) {
    let Some(timeout) = sd_notify::watchdog_enabled() else { return };
    let period = timeout / 2;
    loop {
        tokio::time::sleep(period).await;
        let alive = tokio::time::timeout(period, ldb.call(|c| crate::samba::directory::highest_committed_usn(c))).await;
        match alive {
            Ok(Ok(_)) => notify(&[sd_notify::NotifyState::Watchdog]),
            Ok(Err(e)) => control.report_error("sam.ldb", &e.to_string()),
            Err(_) => tracing::error!("the sam.ldb thread did not answer within {period:?}; not pinging the watchdog"),
        }
    }
}

/// The gid of a Unix group, from /etc/group (the admin group is a local group).
fn group_id(name: &str) -> Option<u32> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        if f.next()? != name {
            return None;
        }
        f.nth(1)?.parse().ok()
    })
}

/// The engine's pieces without the process around it, for `plan` and `sync --config` run in
/// the CLI: the same construction as the daemon's, so both behave alike.
pub struct OfflineEngine {
    pub control: Control,
    pub reconciler: Arc<Reconciler<Port>>,
    pub passwords: PasswordPath<Port>,
}

pub async fn offline_engine(config: &Config, dry_run: bool) -> Result<OfflineEngine, DaemonError> {
    let store = State::open(&config.state.db).map_err(|e| DaemonError::Startup(e.to_string()))?;
    let ldb = LdbHandle::open(&config.samba.sam_ldb).await.map_err(|e| DaemonError::Startup(e.to_string()))?;
    let (control, _inbox) = Control::new(store);
    let mut config = config.clone();
    config.sync.dry_run |= dry_run;
    let (reconciler, passwords) = build_engine(&config, &ldb, &control).await?;
    Ok(OfflineEngine { control, reconciler, passwords })
}

async fn build_engine(
    config: &Config,
    ldb: &LdbHandle,
    control: &Control,
) -> Result<(Arc<Reconciler<Port>>, PasswordPath<Port>), DaemonError> {
    let anchor = AnchorAttribute::parse(&config.sync.source_anchor).unwrap_or_default();
    let http = http_client(&HttpSettings {
        ca_file: config.entra.ca_file.clone(),
        proxy: config.entra.proxy.clone(),
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(360),
    })
    .map_err(|e| DaemonError::Config(e.to_string()))?;
    let tokens = TokenSource::new(auth_settings(config), http.clone()).map_err(|e: AuthError| {
        if e.is_config_error() { DaemonError::Config(e.to_string()) } else { DaemonError::Startup(e.to_string()) }
    })?;
    let mut settings = SyncSettings::new(config.entra.sync_endpoint.clone(), config.entra.tenant_id.clone());
    settings.identity.build_number = config.entra.client_build.clone();
    let client = SyncClient::new(http, tokens, settings).map_err(|e| DaemonError::Config(e.to_string()))?;
    let budget = Arc::new(WriteBudget::new(
        config.sync.write_budget,
        config.sync.write_budget_window,
        config.sync.write_budget / 10,
    ));
    let port = Arc::new(EntraPort::new(client, budget.clone()));
    let scope = Arc::new(Scope::from_config(&config.sync.scope));
    let path = PasswordPath::new(
        ldb.clone(),
        control.clone(),
        scope.clone(),
        PasswordSettings {
            anchor,
            push_temporary: config.sync.push_temporary_passwords,
            change_poll: config.sync.change_poll,
            parallel: config.sync.parallel_calls as usize,
            ..Default::default()
        },
        port.clone(),
    );
    let wake_path = path.clone();
    let reconciler = Reconciler::new(
        ldb.clone(),
        control.clone(),
        scope,
        ReconcileSettings {
            anchor,
            interval: config.sync.interval,
            deletion_threshold: config.sync.deletion_threshold,
            deletion_threshold_percent: config.sync.deletion_threshold_percent,
            dry_run: config.sync.dry_run,
            objects_per_call: config.sync.objects_per_call as usize,
            parallel_calls: config.sync.parallel_calls as usize,
            drift_repair: true,
            // SyncNow and expiry runs in between skip the read-back.
            drift_interval: config.sync.drift_check_interval,
            write_back_consistency_guid: config.sync.write_back_consistency_guid,
        },
        port,
        budget,
        Arc::new(move || wake_path.wake()),
    )
    .await
    .map_err(|e| DaemonError::Startup(e.to_string()))?;
    Ok((Arc::new(reconciler), path))
}

/// Builds the Entra side and starts the password path and the reconciler.
async fn start_engine(config: &Config, base: &Base, stop: CancellationToken) -> Result<Engine, DaemonError> {
    let control = base.control.clone();
    let (reconciler, path) = build_engine(config, &base.ldb, &control).await?;

    // The compatibility probe: an API this build does not understand stops all sending.
    match reconciler.tenant().client().probe().await {
        Ok(ApiCompatibility::Compatible { configuration, .. }) => {
            control.set_api_compatibility(&format!(
                "compatible (client build {}, tenant {})",
                config.entra.client_build,
                configuration.display_name.as_deref().unwrap_or("?")
            ));
        }
        Ok(ApiCompatibility::Incompatible { reason }) => {
            control.set_api_compatibility(&format!("incompatible: {reason}"));
            control.set_state(EngineState::ApiIncompatible);
            control.report_error("api", &reason);
            tracing::error!("the sync API is incompatible with this build; nothing is sent: {reason}");
            return Ok(None);
        }
        Err(e) => {
            control.set_api_compatibility(&format!("unknown: {e}"));
            control.report_error("api", &e.to_string());
            control.set_state(EngineState::Degraded);
            tracing::warn!("cannot probe the sync API yet (will retry through normal operation): {e}");
        }
    }

    match reconciler.check_tenant().await {
        Err(e @ ReconcileError::AnchorMismatch { .. }) => return Err(DaemonError::Config(e.to_string())),
        Err(e) => {
            control.report_error("tenant", &e.to_string());
            control.set_state(EngineState::Degraded);
        }
        Ok(()) => {
            if control.state() == EngineState::Starting {
                control.set_state(EngineState::Running);
            }
        }
    }

    // The inboxes outlive an engine: a reload hands them to the next one.
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(path.run(base.inbox.notices.clone(), stop.clone()));
    tasks.spawn(reconciler.clone().run(base.inbox.commands.clone(), control.watch_directory_usn(), stop));
    Ok(Some((reconciler, tasks)))
}
