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
use crate::sync::cluster::Cluster;
use crate::sync::control::{Control, ControlInbox, EngineState, ReportedError};
use crate::sync::entra_port::{EntraPort, sign_in_refusal};
use crate::sync::gate::TenantGate;
use crate::sync::ldb_directory::LdbDirectory;
use crate::sync::passwords::{PasswordPath, PasswordSettings};
use crate::sync::reconcile::{ReconcileError, ReconcileSettings, Reconciler};
use crate::sync::scheduler::WriteBudget;
use crate::sync::scope::Scope;
use crate::sync::settings::auth_settings;
use crate::sync::state::State;
use crate::sync::tenant::{TenantError, with_sign_in_fix};

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
/// Also refuses one owned by another user or in a directory others can write (the same checks
/// as each read of it).
fn check_private(path: &Path, what: &'static str) -> Result<(), DaemonError> {
    match std::fs::metadata(path) {
        Ok(m) => {
            crate::entra::auth::check_private_metadata(&m, path, what).map_err(|e| DaemonError::Config(e.to_string()))
        }
        Err(_) => Ok(()),
    }
}

pub fn load_config(path: &Path) -> Result<Config, DaemonError> {
    let c = Config::load(path).map_err(|e| DaemonError::Config(e.to_string()))?;
    load_config_checks(&c)?;
    Ok(c)
}

/// The checks the daemon makes of a parsed config before it uses it (secrets not readable by
/// others).
pub(crate) fn load_config_checks(c: &Config) -> Result<(), DaemonError> {
    check_private(&c.entra.auth.token_cache, "the token cache")?;
    if let crate::config::AuthMethodConfig::Certificate { private_key, .. } = &c.entra.auth.method {
        check_private(private_key, "the private key")?;
    }
    Ok(())
}

type Port = EntraPort<TokenSource>;
type Dir = LdbDirectory;

/// Everything that lives as long as the process (a reload keeps these).
struct Base {
    ldb: LdbHandle,
    store: State,
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
    let (control, inbox) = Control::new();
    // A certificate switch a crash interrupted is finished before anything signs in.
    if let Err(e) = crate::sync::cert_rotation::finish_interrupted_switch(&store, &config) {
        tracing::error!("cannot finish the interrupted certificate renewal: {e}");
        control.report_error("certificate", &e.to_string());
    }
    let base = Base { ldb, store, control: control.clone(), inbox };
    tokio::spawn(watch_complexity(base.ldb.clone(), control.clone()));

    // The bus name is taken before READY, so the hook's first notice is never lost (it waits
    // in the inbox until the engine runs).
    let admin_gid = group_id(&config.dbus.admin_group);
    let control_for_bus = control.clone();
    // A reconnect to a restarted bus serves a fresh service object over the same engine; every
    // answer comes from the running engine through `Control`.
    let make_service: ServiceFactory = Box::new(move || Service::new(control_for_bus.clone(), admin_gid));
    let bus_task = serve_reconnecting(config.dbus.bus.clone(), make_service, control.clone())
        .await
        .map_err(|e| DaemonError::Startup(format!("cannot take the bus name io.github.SambaEntraSync1: {e}")))?;

    // The first engine is built here: a config that cannot build one is a start-up failure.
    let mut next = Some(build_engine(&config, &base.ldb, &base.store, &control).await?);
    let mut first = true;
    loop {
        let engine_stop = shutdown.child_token();
        let Some(built) = next.take() else { break };
        let engine = start_engine(built, &config, &base, engine_stop.clone(), first).await?;
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
                _ = sighup.recv() => match reload_engine(&config_path, &config, &base).await {
                    Ok((new, built)) => {
                        tracing::info!("config reloaded; restarting the engine");
                        control.set_reload_error(None);
                        config = new;
                        next = Some(built);
                        break true;
                    }
                    // The old engine keeps running: a reload never stops password sync.
                    Err(e) => {
                        tracing::error!("config reload refused, the running config stays in force: {e}");
                        control.report_error("reload", &format!("refused, the running config stays in force: {e}"));
                        control.set_reload_error(Some(e.to_string()));
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

/// A SIGHUP: the new config, and an engine built from it, before anything of the running
/// engine is stopped (a config that parses but cannot build an engine is refused whole).
async fn reload_engine(path: &Path, running: &Config, base: &Base) -> Result<(Config, Built), DaemonError> {
    let new = load_config(path)?;
    if new.samba != running.samba || new.state != running.state || new.dbus != running.dbus {
        tracing::warn!("[samba], [state] and [dbus] changes take effect at the next restart");
    }
    let built = build_engine(&new, &base.ldb, &base.store, &base.control).await?;
    Ok((new, built))
}

type Engine = (Arc<Reconciler<Dir, Port>>, tokio::task::JoinSet<()>);

async fn stop_engine(token: &CancellationToken, engine: Engine) {
    token.cancel();
    let (_, mut tasks) = engine;
    let all = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), all).await.is_err() {
        tracing::warn!("engine tasks did not stop within 5 s");
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

/// Samba runs the check password script only while the domain's password complexity is on: with
/// it off the hook never runs and changes arrive only through the safety net. `status` warns
/// while that lasts (checked at start and every five minutes).
async fn watch_complexity(ldb: LdbHandle, control: Control) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(300);
    loop {
        match ldb.call(|c| crate::samba::directory::password_properties(c)).await {
            Ok(Some(p)) if p & 1 != 0 => control.set_warning("complexity", None),
            Ok(p) => control.set_warning(
                "complexity",
                Some(&format!(
                    "the domain's password complexity is off (pwdProperties = {}): Samba then never runs the check password script, so password changes arrive only through the safety net; turn it on with `samba-tool domain passwordsettings set --complexity=on` (the hook applies the rule, or a chained script of yours instead)",
                    p.map_or("unset".to_string(), |p| p.to_string())
                )),
            ),
            Err(e) => tracing::debug!("cannot read the domain's pwdProperties: {e}"),
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// The gid of a Unix group, from /etc/group (the admin group is a local group).
pub(crate) fn group_id(name: &str) -> Option<u32> {
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
    pub store: State,
    pub reconciler: Arc<Reconciler<Dir, Port>>,
    pub passwords: PasswordPath<Dir, Port>,
    errors: Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<ReportedError>>>,
}

impl Drop for OfflineEngine {
    /// The errors this one-shot engine reported reach the event log (`status` shows them).
    fn drop(&mut self) {
        self.reconciler.record_queued_errors(&self.errors);
    }
}

pub async fn offline_engine(config: &Config, dry_run: bool) -> Result<OfflineEngine, DaemonError> {
    let store = State::open(&config.state.db).map_err(|e| DaemonError::Startup(e.to_string()))?;
    let ldb = LdbHandle::open(&config.samba.sam_ldb).await.map_err(|e| DaemonError::Startup(e.to_string()))?;
    let (control, inbox) = Control::new();
    let mut config = config.clone();
    config.sync.dry_run |= dry_run;
    let built = build_engine(&config, &ldb, &store, &control).await?;
    // The CLI checks the tenant itself before it writes (`sync --config`).
    built.gate.open();
    Ok(OfflineEngine { control, store, reconciler: built.reconciler, passwords: built.passwords, errors: inbox.errors })
}

/// An engine built from a config, not started yet.
struct Built {
    directory: Arc<Dir>,
    reconciler: Arc<Reconciler<Dir, Port>>,
    passwords: PasswordPath<Dir, Port>,
    gate: TenantGate,
    budget: Arc<WriteBudget>,
    cluster: Arc<Cluster>,
}

/// The sync client a config describes (its HTTP client, sign-in and client identity).
pub(crate) fn sync_client(config: &Config) -> Result<SyncClient<TokenSource>, DaemonError> {
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
    SyncClient::new(http, tokens, settings).map_err(|e| DaemonError::Config(e.to_string()))
}

async fn build_engine(
    config: &Config,
    ldb: &LdbHandle,
    store: &State,
    control: &Control,
) -> Result<Built, DaemonError> {
    let anchor = AnchorAttribute::parse(&config.sync.source_anchor).unwrap_or_default();
    let client = sync_client(config)?;
    let budget = Arc::new(WriteBudget::new(
        config.sync.write_budget,
        config.sync.write_budget_window,
        config.sync.write_budget / 10,
    ));
    let port = Arc::new(EntraPort::new(client, budget.clone()).with_user_token(user_token(config)));
    announce_sign_in(config, control);
    let scope = Arc::new(Scope::from_config(&config.sync.scope));
    let directory = Arc::new(LdbDirectory::new(ldb.clone(), scope.clone()));
    let gate = TenantGate::default();
    // Several DCs: the role is known before anything runs (a follower never starts a reconcile).
    let cluster = Cluster::new(&config.cluster);
    cluster.report_to(control.clone());
    if let Err(e) = cluster.refresh(directory.as_ref()).await {
        tracing::warn!("cannot read this DC's identity and the PDC emulator role: {e}");
    }
    let path = PasswordPath::new(
        directory.clone(),
        control.clone(),
        store.clone(),
        scope.clone(),
        PasswordSettings {
            anchor,
            push_temporary: config.sync.push_temporary_passwords,
            change_poll: config.sync.change_poll,
            parallel: config.sync.parallel_calls as usize,
            dry_run: config.sync.dry_run,
            history: config.state.password_history,
            ..Default::default()
        },
        port.clone(),
        gate.clone(),
    )
    .with_cluster(cluster.clone());
    let wake_path = path.clone();
    let reconciler = Reconciler::new(
        directory.clone(),
        control.clone(),
        store.clone(),
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
            push_temporary: config.sync.push_temporary_passwords,
        },
        port,
        gate.clone(),
        Arc::new(move || wake_path.wake()),
    )
    .await
    .map_err(|e| DaemonError::Startup(e.to_string()))?
    .with_cluster(cluster.clone());
    Ok(Built { directory, reconciler: Arc::new(reconciler), passwords: path, gate, budget, cluster })
}

/// The daemon signs in with a user token (`method = "refresh_token"`).
fn user_token(config: &Config) -> bool {
    matches!(config.entra.auth.method, crate::config::AuthMethodConfig::RefreshToken)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Says in the log and in `status` how the daemon signs in, and what of it is ending.
fn announce_sign_in(config: &Config, control: &Control) {
    use crate::entra::auth::{USER_SIGN_IN_RETIREMENT, sign_in_notes};
    for note in sign_in_notes(&config.entra.auth.scope, user_token(config)) {
        tracing::warn!("{note}");
    }
    control.set_sign_in(&if user_token(config) {
        format!("user token (method = \"refresh_token\"): {USER_SIGN_IN_RETIREMENT}")
    } else {
        format!("application (method = \"certificate\", client {})", config.entra.auth.client_id)
    });
}

/// What one round of the tenant checks found.
enum TenantCheck {
    Passed,
    /// The tenant's anchor attribute differs from ours: nothing may be written, ever.
    AnchorMismatch(String),
    /// The API answered in a way this build does not understand.
    Incompatible(String),
    /// Worth trying again (unreachable, refused sign-in, a fault).
    Failed(String),
}

/// The API compatibility probe, then the anchor attribute and the company configuration.
async fn check_tenant(reconciler: &Reconciler<Dir, Port>, config: &Config, control: &Control) -> TenantCheck {
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
            return TenantCheck::Incompatible(reason);
        }
        Err(e) => {
            control.set_api_compatibility(&format!("unknown: {e}"));
            if e.needs_sign_in() {
                let m = sign_in_refusal(&e.to_string(), user_token(config), now_unix());
                return TenantCheck::Failed(with_sign_in_fix(&format!("cannot check the tenant yet: {m}")));
            }
            return TenantCheck::Failed(format!("cannot check the tenant yet: {e}"));
        }
    }
    match reconciler.check_tenant().await {
        Ok(()) => TenantCheck::Passed,
        Err(e @ ReconcileError::AnchorMismatch { .. }) => TenantCheck::AnchorMismatch(e.to_string()),
        Err(ReconcileError::Tenant(TenantError::SignIn(m))) => {
            TenantCheck::Failed(with_sign_in_fix(&format!("cannot check the tenant: {m}")))
        }
        Err(e) => TenantCheck::Failed(format!("cannot check the tenant yet: {e}")),
    }
}

/// Acts on one round of the tenant checks: opens the gate when they passed, or records why
/// not and returns how long to wait before the next round.
fn settle_check(
    check: TenantCheck,
    reconciler: &Reconciler<Dir, Port>,
    control: &Control,
    failures: u32,
) -> Option<Duration> {
    match check {
        TenantCheck::Passed => {
            control.clear_problem("tenant");
            control.set_state(EngineState::Running);
            reconciler.gate().open();
            None
        }
        TenantCheck::AnchorMismatch(m) => {
            control.set_problem("tenant", &m);
            Some(Duration::from_secs(300))
        }
        TenantCheck::Incompatible(reason) => {
            control.set_state(EngineState::ApiIncompatible);
            control.report_error("api", &reason);
            tracing::error!("the sync API is incompatible with this build; nothing is sent: {reason}");
            Some(Duration::from_secs(600))
        }
        TenantCheck::Failed(m) => {
            control.report_error("tenant", &m);
            control.set_problem("tenant", &format!("{m} (nothing is sent until the tenant can be checked)"));
            // About 1 s, doubling, at most a minute apart.
            Some(Duration::from_millis(1_000u64 << failures.min(6)).min(Duration::from_secs(60)))
        }
    }
}

/// Repeats the tenant checks until they pass (see [`settle_check`]).
async fn tenant_checks(
    reconciler: Arc<Reconciler<Dir, Port>>,
    config: Config,
    control: Control,
    first_wait: Duration,
    stop: CancellationToken,
) {
    let mut wait = first_wait;
    for failures in 1.. {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let check = check_tenant(&reconciler, &config, &control).await;
        match settle_check(check, &reconciler, &control, failures) {
            None => {
                tracing::info!("the tenant's checks passed; syncing");
                return;
            }
            Some(next) => wait = next,
        }
    }
}

/// Starts the password path and the reconciler of a built engine, and the tenant checks that
/// open its gate. At the first start, a tenant whose anchor attribute differs from ours stops
/// the daemon (exit 2) with the reason.
async fn start_engine(
    built: Built,
    config: &Config,
    base: &Base,
    stop: CancellationToken,
    first_start: bool,
) -> Result<Engine, DaemonError> {
    let control = base.control.clone();
    control.set_dry_run(config.sync.dry_run);
    if config.sync.dry_run {
        tracing::warn!("sync.dry_run is on: changes are seen and reported, nothing is sent to Entra");
    }
    let Built { directory, reconciler, passwords, budget, cluster, .. } = built;
    // The inboxes outlive an engine: a reload hands them to the next one. Questions are
    // answered from the start, also while the tenant's first check is still waiting.
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(reconciler.clone().answer_queries(base.inbox.queries.clone(), stop.clone()));
    tasks.spawn(reconciler.clone().record_errors(base.inbox.errors.clone(), stop.clone()));
    let first = check_tenant(&reconciler, config, &control).await;
    if let (true, TenantCheck::AnchorMismatch(m)) = (first_start, &first) {
        return Err(DaemonError::Config(m.clone()));
    }
    // Settled at once, so `status` tells the truth as soon as READY is sent.
    if let Some(wait) = settle_check(first, &reconciler, &control, 0) {
        tasks.spawn(tenant_checks(reconciler.clone(), config.clone(), control.clone(), wait, stop.clone()));
    }
    if let Some(path) = config.metrics.textfile.clone() {
        let not_after = match &config.entra.auth.method {
            crate::config::AuthMethodConfig::Certificate { certificate, private_key } => {
                crate::entra::auth::AppCredential::load(certificate, private_key).ok().map(|a| a.not_after())
            }
            crate::config::AuthMethodConfig::RefreshToken => None,
        };
        let limit = config.sync.write_budget;
        let store = base.store.clone();
        tasks.spawn(crate::sync::metrics::run(control.clone(), store, budget, limit, not_after, path, stop.clone()));
    }
    if let Some(settings) = crate::sync::cert_rotation::RotationSettings::from_config(config) {
        match http_client(&settings.auth.http_settings()) {
            Ok(http) => {
                tasks.spawn(crate::sync::cert_rotation::run(
                    settings,
                    base.store.clone(),
                    control.clone(),
                    http,
                    stop.clone(),
                ));
            }
            Err(e) => control.report_error("certificate", &format!("cannot renew the certificate: {e}")),
        }
    }
    tasks.spawn(reconciler.clone().watch_password_sync(config.sync.tenant_check_interval, stop.clone()));
    tasks.spawn(cluster.watch(directory.clone(), config.sync.change_poll, stop.clone()));
    tasks.spawn(crate::sync::usn_watch::run(directory, control.clone(), config.sync.change_poll, stop.clone()));
    tasks.spawn(passwords.run(base.inbox.notices.clone(), stop.clone()));
    tasks.spawn(reconciler.clone().run(base.inbox.commands.clone(), control.watch_directory_usn(), stop));
    Ok((reconciler, tasks))
}
