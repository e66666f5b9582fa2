//! HTTP wiring: the routes of the one base URL, plain or TLS listeners, graceful shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::tenant::{Tenant, TenantSeed};
use super::tokens::{self, RegisteredCertificate, TokenService, TokenSettings};
use super::{
    App, EmulatorConfig, EmulatorError, Settings, Stats, admin, apps, cloud, desktop_sso, endpoint, graph, oauth, page,
};

pub(super) fn build_app(
    config: &EmulatorConfig,
    scheme: &'static str,
    base_url: String,
) -> Result<Arc<App>, EmulatorError> {
    let service_date = config.service_date.unwrap_or_else(super::ServiceDate::today);
    let min_build_text =
        if config.min_build.trim().is_empty() { service_date.min_build() } else { config.min_build.trim() }.to_owned();
    let min_build = super::parse_build(&min_build_text).ok_or_else(|| {
        EmulatorError::Config(format!("the minimum build {min_build_text:?} is not a version like 2.6.3.0"))
    })?;
    let roles = |names: &[String]| -> Result<Vec<String>, EmulatorError> {
        names
            .iter()
            .map(|n| tokens::role_id(n).ok_or_else(|| EmulatorError::Config(format!("unknown role {n:?}"))))
            .collect()
    };
    let signin_roles = roles(&config.signin_roles)?;
    let client_roles = roles(&config.client_roles)?;
    if let Some(dir) = &config.data_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| EmulatorError::Config(format!("cannot create the data directory {}: {e}", dir.display())))?;
    }
    let seed = TenantSeed {
        tenant_id: config.tenant_id,
        display_name: config.tenant_name.clone(),
        initial_domain: config.domain.to_ascii_lowercase(),
        dirsync_enabled: config.dirsync_enabled,
        dirsync_features: config.dirsync_features,
        anchor_attribute: config.anchor_attribute.clone(),
    };
    let tenant = Tenant::open(config.data_dir.as_deref(), &seed)?;
    let key = token_key(&tenant)?;
    let mut certificates = Vec::new();
    for row in tenant.store().certificates().map_err(super::tenant::TenantError::from)? {
        if let Ok(cert) = RegisteredCertificate::new(&row.client_id, row.der, row.roles) {
            certificates.push(cert);
        }
    }
    for (client_id, pem) in &config.client_certificates {
        let ders = tokens::pem_certificates(pem)
            .map_err(|e| EmulatorError::Config(format!("client certificate of {client_id}: {e}")))?;
        for der in ders {
            let cert = RegisteredCertificate::new(client_id, der, client_roles.clone())
                .map_err(|e| EmulatorError::Config(format!("client certificate of {client_id}: {e}")))?;
            certificates.push(cert);
        }
    }
    let mut public_clients: Vec<String> = tokens::DEFAULT_PUBLIC_CLIENTS.iter().map(|s| (*s).to_owned()).collect();
    public_clients.extend(config.public_clients.iter().cloned());
    let domain = tenant.info.initial_domain.clone();
    let token_settings = TokenSettings {
        tenant_id: tenant.info.tenant_id,
        domains: vec![domain.clone()],
        auto_approve: config.auto_approve,
        pending_polls: config.pending_polls,
        poll_interval_secs: config.poll_interval_secs,
        access_token_lifetime_secs: i64::try_from(config.access_token_lifetime.as_secs()).unwrap_or(3600).max(1),
        refresh_token_lifetime_secs: i64::try_from(config.refresh_token_lifetime.as_secs()).unwrap_or(i64::MAX / 4),
        single_use_refresh_tokens: config.single_use_refresh_tokens,
        public_clients,
        signin_user: config.signin_user.clone().unwrap_or_else(|| format!("admin@{domain}")),
        signin_roles,
    };
    let settings = Settings {
        scheme,
        base_url,
        max_body_bytes: config.max_body_bytes,
        min_build,
        min_build_text,
        replication_delay_ms: i64::try_from(config.replication_delay.as_millis()).unwrap_or(i64::MAX),
        report_unresolved_members: config.report_unresolved_members,
        unknown_delete_fails: config.unknown_delete_fails,
        require_phs_feature: config.require_phs_feature,
        machine_name: config.machine_name.clone(),
        client_roles,
        client_app_roles: config.client_app_roles.clone(),
        service_date,
        seamless_sso_rc4: config.seamless_sso_rc4,
    };
    let token_service = TokenService::new(key, token_settings, certificates);
    let granted: Vec<String> = config
        .client_certificates
        .iter()
        .map(|(c, _)| c.clone())
        .chain(
            tenant.store().certificates().map_err(super::tenant::TenantError::from)?.into_iter().map(|r| r.client_id),
        )
        .collect();
    for client in granted {
        for role in &config.client_app_roles {
            token_service.grant_app_role(&client, role);
        }
    }
    tracing::info!(%service_date, min_build = %settings.min_build_text, "the service's rules of this day are in force");
    Ok(Arc::new(App {
        tenant: Arc::new(Mutex::new(tenant)),
        tokens: token_service,
        apps: Mutex::new(super::apps::AppDirectory::default()),
        faults: Mutex::new(super::faults::Faults::default()),
        throttle: Mutex::new(super::throttle::Throttle::new(config.throttle_writes, config.throttle_window)),
        stats: Mutex::new(Stats::default()),
        desktop_sso: Mutex::new(super::desktop_sso::DesktopSso::default()),
        settings,
    }))
}

/// The HS256 key of this tenant: random once, then kept in the database so that tokens stay
/// valid across a restart with the same `--data`.
fn token_key(tenant: &Tenant) -> Result<Vec<u8>, EmulatorError> {
    let store = tenant.store();
    if let Some(hex_key) = store.meta("token_key").map_err(super::tenant::TenantError::from)?
        && let Ok(key) = hex::decode(hex_key)
        && key.len() == 32
    {
        return Ok(key);
    }
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(|e| EmulatorError::Config(format!("the random number generator failed: {e}")))?;
    store.set_meta("token_key", &hex::encode(&key)).map_err(super::tenant::TenantError::from)?;
    Ok(key)
}

pub(super) fn tenant_id(app: &App) -> Uuid {
    app.tokens.settings.tenant_id
}

pub(super) fn router(app: Arc<App>) -> Router {
    let max_body = app.settings.max_body_bytes;
    Router::new()
        .route("/", get(page::index))
        .route("/provisioningservice.svc", post(endpoint::provisioning).layer(DefaultBodyLimit::max(max_body)))
        .route("/common/discovery/instance", get(oauth::instance_discovery))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(oauth::openid_configuration_v2))
        .route("/{tenant}/.well-known/openid-configuration", get(oauth::openid_configuration_v1))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(oauth::device_code_v2))
        .route("/{tenant}/oauth2/v2.0/token", post(oauth::token_v2))
        .route("/{tenant}/oauth2/devicecode", post(oauth::device_code_v1))
        .route("/{tenant}/oauth2/token", post(oauth::token_v1))
        .route("/admin/objects", get(admin::objects).post(cloud::admin_create))
        .route("/admin/objects/{anchor}/cloud", patch(cloud::admin_patch))
        .route("/admin/objects/{anchor}", get(admin::object).delete(admin::delete_object).patch(admin::edit_object))
        .route("/admin/verify-password", post(admin::verify_password))
        .route("/admin/stats", get(admin::stats))
        .route("/admin/company", get(admin::company).patch(admin::patch_company))
        .route("/admin/credentials", axum::routing::delete(admin::wipe_credentials))
        .route("/admin/faults", get(admin::list_faults).post(admin::add_faults).delete(admin::clear_faults))
        .route("/admin/device-codes/{code}/approve", post(admin::approve_device_code))
        .route("/admin/certificates", post(admin::add_certificates))
        .route("/admin/desktop-sso", get(desktop_sso::admin_state))
        .route("/register/{operation}", post(desktop_sso::register).layer(DefaultBodyLimit::max(64 << 10)))
        .route("/{tenant}/winauth/sso", get(desktop_sso::winauth_sso))
        .route("/v1.0/users", get(graph::users).post(cloud::graph_create_user))
        .route("/v1.0/groups", get(graph::groups).post(cloud::graph_create_group))
        .route("/v1.0/roleManagement/directory/roleAssignments", post(cloud::graph_assign_role))
        .route("/v1.0/users/{id}/onPremisesSyncBehavior", sync_behavior("users"))
        .route("/v1.0/groups/{id}/onPremisesSyncBehavior", sync_behavior("groups"))
        .route("/v1.0/contacts/{id}/onPremisesSyncBehavior", sync_behavior("contacts"))
        .route("/v1.0/devices", get(graph::devices))
        .route("/v1.0/organization", get(graph::organization))
        .route("/v1.0/organization/{id}", patch(graph::patch_organization))
        .route("/v1.0/applications", get(apps::list_applications).post(apps::create_application))
        .route("/v1.0/applications/{id}", get(apps::get_application).patch(apps::update_application))
        .route("/v1.0/applications/{id}/addKey", post(apps::add_key))
        .route("/v1.0/applications/{id}/removeKey", post(apps::remove_key))
        .route("/v1.0/servicePrincipals", get(apps::list_service_principals).post(apps::create_service_principal))
        .route("/v1.0/servicePrincipals/{id}/appRoleAssignedTo", get(apps::list_assigned_to).post(apps::assign_role))
        .route("/v1.0/servicePrincipals/{id}/appRoleAssignments", get(apps::list_assignments))
        .with_state(app)
}

/// `GET`/`PATCH …/{collection}/{id}/onPremisesSyncBehavior`.
fn sync_behavior(collection: &'static str) -> axum::routing::MethodRouter<Arc<App>> {
    use axum::extract::{Path, State};
    use axum::http::HeaderMap;
    get(move |State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>| {
        cloud::graph_get_sync_behavior(app, headers, collection, id)
    })
    .patch(
        move |State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, body: axum::body::Bytes| {
            cloud::graph_patch_sync_behavior(app, headers, collection, id, body)
        },
    )
}

pub(super) fn spawn(
    app: Arc<App>,
    config: &EmulatorConfig,
    listener: TcpListener,
    cancel: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, EmulatorError> {
    let service = router(app).into_make_service();
    let shutdown = cancel.clone().cancelled_owned();
    Ok(match &config.tls {
        None => tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, service).with_graceful_shutdown(shutdown).await {
                tracing::error!("the emulator's HTTP server failed: {e}");
            }
        }),
        Some(files) => {
            let acceptor = tls_acceptor(&files.certificate, &files.private_key)?;
            let tls = TlsListener::start(listener, acceptor, cancel)?;
            tokio::spawn(async move {
                if let Err(e) = axum::serve(tls, service).with_graceful_shutdown(shutdown).await {
                    tracing::error!("the emulator's HTTPS server failed: {e}");
                }
            })
        }
    })
}

fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor, EmulatorError> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| EmulatorError::Tls(format!("cannot read the certificate {}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(EmulatorError::Tls(format!("{} holds no certificate", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| EmulatorError::Tls(format!("cannot read the private key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EmulatorError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| EmulatorError::Tls(format!("the certificate and key do not form a usable pair: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TCP connections and completes TLS handshakes in their own tasks, so a slow client
/// cannot hold up the others; axum takes finished TLS streams from a channel.
struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    fn start(
        listener: TcpListener,
        acceptor: TlsAcceptor,
        cancel: CancellationToken,
    ) -> Result<TlsListener, EmulatorError> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = cancel.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let (tcp, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Some(pair) = self.ready.recv().await {
                return pair;
            }
            // The acceptor stopped (shutdown): wait for axum's graceful shutdown to drop us.
            std::future::pending::<()>().await;
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
