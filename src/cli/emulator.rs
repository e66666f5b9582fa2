//! `samba-entra-sync emulator --listen ADDR …`: run the Entra sync-endpoint emulator until
//! SIGTERM or SIGINT. The first line on stdout is `listening on <base URL>`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::{CliResult, Failure};
use crate::emulator::{Emulator, EmulatorConfig, TlsFiles};

#[derive(clap::Args, Debug)]
pub struct EmulatorArgs {
    /// Address to listen on, e.g. 127.0.0.1:8443 (port 0 picks a free port); loopback only
    /// unless --allow-remote.
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// Listen on a non-loopback address too. The admin API (/admin/...) has no authentication:
    /// anyone who reaches the port can read and change the emulated tenant.
    #[arg(long)]
    pub allow_remote: bool,
    /// Keep the tenant in DIR/tenant.db so it survives restarts (in memory otherwise).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Approve device codes without POST /admin/device-codes/{code}/approve.
    #[arg(long)]
    pub auto_approve: bool,
    /// With --auto-approve, answer authorization_pending this many polls first.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub pending_polls: u32,
    /// Polling interval (seconds) that device-code answers ask for.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub poll_interval: u64,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Tenant id of a new tenant (random by default).
    #[arg(long, value_name = "UUID")]
    pub tenant_id: Option<uuid::Uuid>,
    /// Display name of a new tenant.
    #[arg(long, value_name = "NAME", default_value = "Emulated Company")]
    pub tenant_name: String,
    /// Initial domain of a new tenant.
    #[arg(long, value_name = "DOMAIN", default_value = "emulator.onmicrosoft.com")]
    pub domain: String,
    /// Accept this public client id too (repeatable); the two first-party ids of the ports are always accepted.
    #[arg(long, value_name = "CLIENT_ID")]
    pub public_client: Vec<String>,
    /// Register a certificate for client credentials: CLIENT_ID=PEM-file (repeatable).
    #[arg(long, value_name = "CLIENT_ID=PEM")]
    pub client_cert: Vec<String>,
    /// Directory role of applications signing in with a certificate (repeatable).
    #[arg(long, value_name = "ROLE", default_value = "Directory Synchronization Accounts")]
    pub client_role: Vec<String>,
    /// User who signs in through the device code flow (default admin@DOMAIN).
    #[arg(long, value_name = "UPN")]
    pub signin_user: Option<String>,
    /// Directory role of that user (repeatable): "Global Administrator", "Directory Synchronization Accounts", a template id.
    #[arg(long, value_name = "ROLE", default_value = "Global Administrator")]
    pub signin_role: Vec<String>,
    /// Oldest DirSyncBuildNumber accepted (default: the service's on --service-date; 2.5.79.0 from 2026-09-30).
    #[arg(long, value_name = "VERSION")]
    pub min_build: Option<String>,
    /// Which of the service's dated rules are in force (default: today): graph.windows.net tokens and
    /// builds below 2.5.79.0 are refused from 2026-09-30, user tokens from 2027-04-07 (docs/emulator.md).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_service_date)]
    pub service_date: Option<crate::emulator::ServiceDate>,
    /// Application role on the sync app granted to the --client-cert applications (repeatable).
    #[arg(long, value_name = "ROLE", default_value = "ADSynchronization.ReadWrite.All")]
    pub client_app_role: Vec<String>,
    /// Largest request body in bytes (larger ones get HTTP 413).
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20)]
    pub max_body: usize,
    /// Writes (objects or credentials changed) allowed per --throttle-window.
    #[arg(long, value_name = "N", default_value_t = 7000)]
    pub throttle_writes: u64,
    /// Sliding window of the write limit, e.g. 5m, 30s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub throttle_window: Duration,
    /// Age before a new object is visible to ProvisionCredentials and member resolution.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub replication_delay: Duration,
    /// Lifetime of access tokens.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub token_lifetime: Duration,
    /// Lifetime of refresh tokens (each refresh issues a new one).
    #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = parse_duration)]
    pub refresh_token_lifetime: Duration,
    /// Invalidate a refresh token once it has been used.
    #[arg(long)]
    pub single_use_refresh_tokens: bool,
    /// What to do with group members whose anchor does not resolve: report (ResultErrorDescription) or drop.
    #[arg(long, value_name = "MODE", default_value = "report", value_parser = ["report", "drop"])]
    pub unresolved_members: String,
    /// The answer to a Delete of an object the tenant does not hold: `failure` ("object not
    /// found") or `success`. The service's answer is not published; clients must cope with both.
    #[arg(long, value_name = "ANSWER", default_value = "failure", value_parser = ["failure", "success"])]
    pub unknown_delete: String,
    /// Accept ProvisionCredentials while the PasswordHashSync feature bit is off.
    #[arg(long)]
    pub allow_credentials_without_phs: bool,
    /// Start a new tenant with directory synchronisation disabled (enable it through Graph).
    #[arg(long)]
    pub dirsync_disabled: bool,
    /// Start a new tenant with password hash sync already on (an administrator turned it on);
    /// turn it on or off later with `PATCH /admin/company`.
    #[arg(long)]
    pub password_hash_sync: bool,
    /// DirSyncClientMachineName reported by GetCompanyConfiguration.
    #[arg(long, value_name = "NAME", default_value = "EMULATOR")]
    pub machine_name: String,
    /// A tenant that already synced with this source anchor (`DirSyncConfiguration/AnchorAttribute`);
    /// a new tenant has none.
    #[arg(long, value_name = "ATTRIBUTE", value_parser = ["objectGUID", "mS-DS-ConsistencyGuid"])]
    pub anchor_attribute: Option<String>,
    /// Seamless SSO: whether a domain registered from now on also gets the RC4-HMAC key (the NT
    /// hash of its secret), so RC4 tickets for it are accepted (`accept`, what Microsoft's service
    /// does: Learn "Troubleshoot Seamless SSO"), or only the AES256 key, so they are refused.
    #[arg(long, value_name = "MODE", default_value = "accept", value_parser = ["accept", "refuse"])]
    pub seamless_sso_rc4: String,
}

fn parse_service_date(text: &str) -> Result<crate::emulator::ServiceDate, String> {
    crate::emulator::ServiceDate::parse(text)
}

/// `90d`, `1h`, `5m`, `30s`, `500ms`; a bare number is seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 30s, 5m or 500ms"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        _ => return Err(format!("{text:?} has an unknown unit (use ms, s, m, h or d)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is out of range"))
}

fn config(args: EmulatorArgs) -> Result<EmulatorConfig, Failure> {
    let mut client_certificates = Vec::new();
    for spec in &args.client_cert {
        let (client_id, path) = spec
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--client-cert {spec:?} must be CLIENT_ID=PEM-file")))?;
        let pem =
            std::fs::read(path).map_err(|e| Failure::usage(format!("cannot read the certificate {path}: {e}")))?;
        client_certificates.push((client_id.to_owned(), pem));
    }
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(certificate), Some(private_key)) => Some(TlsFiles { certificate, private_key }),
        _ => None,
    };
    Ok(EmulatorConfig {
        data_dir: args.data,
        tenant_id: args.tenant_id,
        tenant_name: args.tenant_name,
        domain: args.domain,
        auto_approve: args.auto_approve,
        pending_polls: args.pending_polls,
        poll_interval_secs: args.poll_interval,
        access_token_lifetime: args.token_lifetime,
        refresh_token_lifetime: args.refresh_token_lifetime,
        single_use_refresh_tokens: args.single_use_refresh_tokens,
        public_clients: args.public_client,
        client_certificates,
        client_roles: args.client_role,
        client_app_roles: args.client_app_role,
        service_date: args.service_date,
        signin_user: args.signin_user,
        signin_roles: args.signin_role,
        min_build: args.min_build.unwrap_or_default(),
        max_body_bytes: args.max_body,
        throttle_writes: args.throttle_writes,
        throttle_window: args.throttle_window,
        replication_delay: args.replication_delay,
        report_unresolved_members: args.unresolved_members == "report",
        unknown_delete_fails: args.unknown_delete == "failure",
        require_phs_feature: !args.allow_credentials_without_phs,
        dirsync_enabled: !args.dirsync_disabled,
        dirsync_features: EmulatorConfig::default().dirsync_features | i64::from(args.password_hash_sync),
        machine_name: args.machine_name,
        anchor_attribute: args.anchor_attribute,
        seamless_sso_rc4: args.seamless_sso_rc4 == "accept",
        tls,
    })
}

pub fn run(args: EmulatorArgs) -> CliResult {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let listen = args.listen.clone();
    let allow_remote = args.allow_remote;
    let config = config(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host(&listen)
            .await
            .map_err(|e| Failure::usage(format!("--listen {listen:?} is not an address to listen on: {e}")))?
            .collect();
        let remote = addresses.iter().any(|a| !a.ip().is_loopback());
        if remote && !allow_remote {
            return Err(Failure::usage(format!(
                "--listen {listen} is not a loopback address: the emulator's admin API has no authentication; \
                 listen on 127.0.0.1 (or [::1]), or add --allow-remote to expose it on purpose"
            )));
        }
        let listener = tokio::net::TcpListener::bind(addresses.as_slice())
            .await
            .map_err(|e| Failure::runtime(format!("cannot listen on {listen}: {e}")))?;
        let emulator = Emulator::start(config, listener).await.map_err(|e| Failure::usage(e.to_string()))?;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", emulator.base_url());
        let _ = writeln!(out, "tenant {}", emulator.tenant_id());
        if remote {
            let _ = writeln!(
                out,
                "warning: listening beyond loopback (--allow-remote): the admin API (/admin/...) is unauthenticated; \
                 anyone who reaches this port can read and change the tenant"
            );
            tracing::warn!("the admin API is unauthenticated and reachable from other hosts (--allow-remote)");
        }
        let _ = out.flush();
        drop(out);
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Failure::runtime(format!("cannot watch SIGTERM: {e}")))?;
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("shutting down");
        emulator.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }
}
