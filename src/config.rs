//! The configuration file (TOML), strict: an unknown key, a wrong type or a bad value is an
//! error that names the key, and `check-config` reports every error at once, not just the first.
//!
//! Keys and defaults are documented line by line in `etc/samba-entra-sync.toml` (the example
//! config, which samba-entra-sync.toml(5) is made from).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};

/// The config format version this build understands.
pub const CONFIG_VERSION: i64 = 1;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub samba: SambaConfig,
    pub entra: EntraConfig,
    pub sync: SyncConfig,
    pub state: StateConfig,
    pub dbus: DbusConfig,
    pub metrics: MetricsConfig,
    pub seamless_sso: SeamlessSsoConfig,
}

/// `[seamless_sso]`: the AZUREADSSOACC computer account of `seamless-sso`.
#[derive(Clone, Debug, PartialEq)]
pub struct SeamlessSsoConfig {
    /// Where `enable` creates the account: a DN, or one relative to the domain (`CN=System`).
    pub container: String,
    /// `status` and `doctor` warn once the key is older than this.
    pub key_max_age: Duration,
}

impl Default for SeamlessSsoConfig {
    fn default() -> Self {
        SeamlessSsoConfig { container: DEFAULT_SSO_CONTAINER.to_owned(), key_max_age: Duration::from_secs(30 * 86_400) }
    }
}

/// Only Domain Admins, Enterprise Admins, Administrators and SYSTEM may create or change objects
/// in CN=System by default; in CN=Computers, Account Operators may create and delete computers.
pub const DEFAULT_SSO_CONTAINER: &str = "CN=System";

/// `[metrics]`: figures for Prometheus' node exporter (textfile collector).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsConfig {
    /// The `.prom` file the daemon rewrites every few seconds; `None`: off.
    pub textfile: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SambaConfig {
    pub sam_ldb: PathBuf,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EntraConfig {
    pub tenant_id: String,
    pub authority: String,
    pub sync_endpoint: String,
    pub ca_file: Option<PathBuf>,
    pub proxy: Option<String>,
    /// DirSyncBuildNumber/FIMBuildNumber we present (the service rejects retired builds).
    pub client_build: String,
    pub auth: AuthConfig,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AuthMethodConfig {
    RefreshToken,
    Certificate { certificate: PathBuf, private_key: PathBuf },
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuthConfig {
    pub method: AuthMethodConfig,
    pub client_id: String,
    pub token_cache: PathBuf,
    /// The v2 scope tokens are asked for (default: the sync service app's, as Microsoft's client).
    pub scope: String,
    /// With `method = "certificate"`: the daemon renews the app's certificate once this little
    /// validity is left (Entra Connect warns at 150 days).
    pub renew_before: Duration,
    /// How long a certificate made by `register-app` or a renewal is valid (Microsoft's wizard:
    /// 6 months).
    pub certificate_validity: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SyncConfig {
    /// "objectGUID" or "ms-DS-ConsistencyGuid".
    pub source_anchor: String,
    pub interval: Duration,
    pub change_poll: Duration,
    pub deletion_threshold: u32,
    pub deletion_threshold_percent: u32,
    pub dry_run: bool,
    /// Push hashes of users who must change their password at next logon (with
    /// ForcePasswordChangeOnLogon=true). Off by default: a temporary password stays on-premises.
    pub push_temporary_passwords: bool,
    pub write_back_consistency_guid: bool,
    /// How often a full reconcile also reads the tenant back to repair drift (objects deleted
    /// or changed in Entra outside this sync).
    pub drift_check_interval: Duration,
    /// How often the tenant's company configuration is read between reconciles, to see password
    /// hash sync turned on or off by an administrator.
    pub tenant_check_interval: Duration,
    /// Objects per ProvisionAzureADSyncObjects call (the real client's batch size is unknown;
    /// single-object calls are what every port proved).
    pub objects_per_call: u32,
    /// Calls in flight at once.
    pub parallel_calls: u32,
    /// The tenant's write budget (writes per 5 minutes); bulk work keeps 10 % for passwords.
    pub write_budget: u32,
    /// The sliding window `write_budget` counts in (Entra's: 5 minutes; shorter for time-scaled tests).
    pub write_budget_window: Duration,
    pub scope: ScopeConfig,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScopeConfig {
    pub user_bases: Vec<String>,
    pub group_bases: Vec<String>,
    pub computer_bases: Vec<String>,
    pub contact_bases: Vec<String>,
    pub user_filter: Option<String>,
    pub group_filter: Option<String>,
    pub computer_filter: Option<String>,
    pub contact_filter: Option<String>,
    /// sAMAccountNames never exported (the sync's own service accounts, for example).
    pub exclude_accounts: Vec<String>,
    /// Export objects with adminCount=1 (off by default: protected accounts stay on-premises).
    pub include_admin_accounts: bool,
    /// Export accounts named like Entra Connect's service accounts (`MSOL_<hex>`,
    /// `Sync_<server>_<hex>`); off by default: the connector account holds replication rights.
    pub include_sync_service_accounts: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StateConfig {
    pub db: PathBuf,
    /// How long each user's password events are kept (`user NAME --history`).
    pub password_history: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BusConfig {
    System,
    Session,
    Address(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct DbusConfig {
    pub bus: BusConfig,
    /// Members of this Unix group may call the read-only methods.
    pub admin_group: String,
}

/// One problem in the config, tied to its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: String,
    pub problem: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

/// Everything wrong with a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        write!(f, "{} has {n} error{}", self.path.display(), if n == 1 { "" } else { "s" })?;
        for i in &self.issues {
            write!(f, "\n  {i}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            issues: vec![ConfigIssue { key: "(file)".into(), problem: format!("cannot read it: {e}") }],
        })?;
        Config::parse(&text).map_err(|issues| ConfigError { path: path.to_path_buf(), issues })
    }

    /// Parses and validates; on failure returns every issue found.
    pub fn parse(text: &str) -> Result<Config, Vec<ConfigIssue>> {
        let table: Table = text.parse().map_err(|e: toml::de::Error| {
            let msg = e.message().to_string();
            let at = e.span().map(|s| line_col(text, s.start)).unwrap_or_default();
            vec![ConfigIssue { key: format!("(syntax{at})"), problem: msg }]
        })?;
        let mut r = Reader { issues: Vec::new() };
        let config = r.config(&table);
        if r.issues.is_empty() { Ok(config) } else { Err(r.issues) }
    }
}

fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" at line {line}, column {col}")
}

/// Parses a duration such as `500ms`, `10s`, `30m`, `2h` or `1d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    };
    Some(d)
}

/// Walks the table, records issues and falls back to defaults so that every issue is found.
struct Reader {
    issues: Vec<ConfigIssue>,
}

impl Reader {
    fn issue(&mut self, key: &str, problem: impl Into<String>) {
        self.issues.push(ConfigIssue { key: key.to_string(), problem: problem.into() });
    }

    /// Reports keys of `table` (at `path`) that are not in `known`.
    fn unknown_keys(&mut self, table: &Table, path: &str, known: &[&str]) {
        for k in table.keys() {
            if !known.contains(&k.as_str()) {
                let full = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                self.issue(&full, format!("unknown key (known keys here: {})", known.join(", ")));
            }
        }
    }

    fn section<'a>(&mut self, table: &'a Table, name: &str, path: &str) -> Option<&'a Table> {
        match table.get(name) {
            None => None,
            Some(Value::Table(t)) => Some(t),
            Some(_) => {
                self.issue(&join(path, name), "must be a table ([section])");
                None
            }
        }
    }

    fn string(&mut self, t: Option<&Table>, path: &str, key: &str, default: Option<&str>) -> String {
        match t.and_then(|t| t.get(key)) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) => {
                self.issue(&join(path, key), "must not be empty");
                String::new()
            }
            Some(v) => {
                self.issue(&join(path, key), format!("must be a string, not {}", v.type_str()));
                String::new()
            }
            None => match default {
                Some(d) => d.to_string(),
                None => {
                    self.issue(&join(path, key), "is required");
                    String::new()
                }
            },
        }
    }

    fn opt_string(&mut self, t: Option<&Table>, path: &str, key: &str) -> Option<String> {
        t.and_then(|t| t.get(key))?;
        Some(self.string(t, path, key, None))
    }

    fn strings(&mut self, t: Option<&Table>, path: &str, key: &str) -> Vec<String> {
        match t.and_then(|t| t.get(key)) {
            None => Vec::new(),
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for v in a {
                    match v {
                        Value::String(s) => out.push(s.clone()),
                        other => self.issue(&join(path, key), format!("must list strings, found {}", other.type_str())),
                    }
                }
                out
            }
            Some(Value::String(s)) => vec![s.clone()],
            Some(v) => {
                self.issue(&join(path, key), format!("must be a list of strings, not {}", v.type_str()));
                Vec::new()
            }
        }
    }

    fn bool(&mut self, t: Option<&Table>, path: &str, key: &str, default: bool) -> bool {
        match t.and_then(|t| t.get(key)) {
            None => default,
            Some(Value::Boolean(b)) => *b,
            Some(v) => {
                self.issue(&join(path, key), format!("must be true or false, not {}", v.type_str()));
                default
            }
        }
    }

    fn int(
        &mut self,
        t: Option<&Table>,
        path: &str,
        key: &str,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
    ) -> i64 {
        match t.and_then(|t| t.get(key)) {
            None => default,
            Some(Value::Integer(i)) if range.contains(i) => *i,
            Some(Value::Integer(i)) => {
                self.issue(&join(path, key), format!("{i} is out of range ({}..={})", range.start(), range.end()));
                default
            }
            Some(v) => {
                self.issue(&join(path, key), format!("must be an integer, not {}", v.type_str()));
                default
            }
        }
    }

    fn duration(&mut self, t: Option<&Table>, path: &str, key: &str, default: &str, min: Duration) -> Duration {
        let fallback = parse_duration(default).unwrap_or(min);
        let s = self.string(t, path, key, Some(default));
        match parse_duration(&s) {
            Some(d) if d >= min => d,
            Some(_) => {
                self.issue(&join(path, key), format!("\"{s}\" is shorter than the minimum {min:?}"));
                fallback
            }
            None if s.is_empty() => fallback,
            None => {
                self.issue(&join(path, key), format!("\"{s}\" is not a duration (use e.g. 500ms, 10s, 30m, 2h)"));
                fallback
            }
        }
    }

    fn path(&mut self, t: Option<&Table>, path: &str, key: &str, default: Option<&str>) -> PathBuf {
        let s = self.string(t, path, key, default);
        if !s.is_empty() && !s.starts_with('/') {
            self.issue(&join(path, key), format!("\"{s}\" must be an absolute path"));
        }
        PathBuf::from(s)
    }

    fn url(&mut self, t: Option<&Table>, path: &str, key: &str, default: &str) -> String {
        let s = self.string(t, path, key, Some(default));
        if !(s.is_empty() || s.starts_with("https://") || s.starts_with("http://")) {
            self.issue(&join(path, key), format!("\"{s}\" must be an http:// or https:// URL"));
        } else if s.starts_with("http://") && !is_loopback_url(&s) {
            // Bearer tokens, refresh tokens and password credentials travel on these URLs.
            self.issue(
                &join(path, key),
                format!("\"{s}\" sends tokens and credentials in cleartext: use https:// (plain http only to a loopback address, for the emulator)"),
            );
        }
        s.trim_end_matches('/').to_string()
    }

    fn config(&mut self, root: &Table) -> Config {
        self.unknown_keys(root, "", &["version", "samba", "entra", "sync", "state", "dbus", "metrics", "seamless_sso"]);
        let version = self.int(Some(root), "", "version", CONFIG_VERSION, 1..=i64::MAX);
        if version != CONFIG_VERSION {
            self.issue(
                "version",
                format!("version {version} is not supported by this build (it reads version {CONFIG_VERSION})"),
            );
        }

        let samba = self.section(root, "samba", "");
        if let Some(t) = samba {
            self.unknown_keys(t, "samba", &["sam_ldb"]);
        }
        let samba =
            SambaConfig { sam_ldb: self.path(samba, "samba", "sam_ldb", Some("/var/lib/samba/private/sam.ldb")) };

        let entra_t = self.section(root, "entra", "");
        if let Some(t) = entra_t {
            self.unknown_keys(
                t,
                "entra",
                &["tenant_id", "authority", "sync_endpoint", "ca_file", "proxy", "client_build", "auth"],
            );
        }
        let tenant_id = self.string(entra_t, "entra", "tenant_id", None);
        if !tenant_id.is_empty() && uuid::Uuid::parse_str(&tenant_id).is_err() {
            self.issue("entra.tenant_id", format!("\"{tenant_id}\" is not a GUID (the tenant's directory id)"));
        }
        let authority = self.url(entra_t, "entra", "authority", "https://login.microsoftonline.com");
        let sync_endpoint = self.url(
            entra_t,
            "entra",
            "sync_endpoint",
            "https://adminwebservice.microsoftonline.com/provisioningservice.svc",
        );
        let ca_file = self.opt_string(entra_t, "entra", "ca_file").map(PathBuf::from);
        let proxy = self.opt_string(entra_t, "entra", "proxy");
        // 2.6.84.0 is the oldest build Microsoft names for 2027 (Learn `security-updates-pks`); a
        // build leaves support 12 months after its successor ships, so we present the newest one
        // known, the 2.6.92.0 hotfix of 23 Sep 2026 (Entra Connect's version history).
        let client_build = self.string(entra_t, "entra", "client_build", Some("2.6.92.0"));
        if client_build.split('.').count() != 4 || !client_build.split('.').all(|p| p.parse::<u32>().is_ok()) {
            self.issue("entra.client_build", format!("\"{client_build}\" is not a build number like 2.6.3.0"));
        }

        let auth_t = entra_t.and_then(|t| self.section(t, "auth", "entra"));
        if let Some(t) = auth_t {
            self.unknown_keys(
                t,
                "entra.auth",
                &[
                    "method",
                    "client_id",
                    "token_cache",
                    "certificate",
                    "private_key",
                    "scope",
                    "renew_before",
                    "certificate_validity",
                ],
            );
        }
        let method = self.string(auth_t, "entra.auth", "method", Some("refresh_token"));
        let client_id = self.string(auth_t, "entra.auth", "client_id", Some(crate::entra::auth::DEFAULT_PUBLIC_CLIENT));
        let scope = self.string(auth_t, "entra.auth", "scope", Some(crate::entra::auth::DEFAULT_SCOPE));
        let token_cache = self.path(auth_t, "entra.auth", "token_cache", Some("/var/lib/samba-entra-sync/token.json"));
        let day = Duration::from_secs(86_400);
        let renew_before = self.duration(auth_t, "entra.auth", "renew_before", "150d", day);
        let certificate_validity = self.duration(auth_t, "entra.auth", "certificate_validity", "180d", day);
        if renew_before >= certificate_validity {
            // Every new certificate would be due at once: the daemon would renew without end.
            self.issue(
                "entra.auth.renew_before",
                format!(
                    "must be shorter than entra.auth.certificate_validity ({} days), or every new certificate is \
                     renewed at once",
                    certificate_validity.as_secs() / 86_400
                ),
            );
        }
        let method = match method.as_str() {
            "refresh_token" => AuthMethodConfig::RefreshToken,
            "certificate" => AuthMethodConfig::Certificate {
                certificate: self.path(auth_t, "entra.auth", "certificate", None),
                private_key: self.path(auth_t, "entra.auth", "private_key", None),
            },
            other => {
                self.issue(
                    "entra.auth.method",
                    format!("\"{other}\" is not a method (use refresh_token or certificate)"),
                );
                AuthMethodConfig::RefreshToken
            }
        };
        let entra = EntraConfig {
            tenant_id,
            authority,
            sync_endpoint,
            ca_file,
            proxy,
            client_build,
            auth: AuthConfig { method, client_id, token_cache, scope, renew_before, certificate_validity },
        };

        let sync_t = self.section(root, "sync", "");
        if let Some(t) = sync_t {
            self.unknown_keys(
                t,
                "sync",
                &[
                    "source_anchor",
                    "interval",
                    "change_poll",
                    "deletion_threshold",
                    "deletion_threshold_percent",
                    "dry_run",
                    "push_temporary_passwords",
                    "write_back_consistency_guid",
                    "drift_check_interval",
                    "tenant_check_interval",
                    "objects_per_call",
                    "parallel_calls",
                    "write_budget",
                    "write_budget_window",
                    "scope",
                ],
            );
        }
        let source_anchor = self.string(sync_t, "sync", "source_anchor", Some("objectGUID"));
        if !["objectguid", "ms-ds-consistencyguid"].contains(&source_anchor.to_ascii_lowercase().as_str()) {
            self.issue(
                "sync.source_anchor",
                format!("\"{source_anchor}\" must be objectGUID or ms-DS-ConsistencyGuid"),
            );
        }
        let scope_t = sync_t.and_then(|t| self.section(t, "scope", "sync"));
        if let Some(t) = scope_t {
            self.unknown_keys(
                t,
                "sync.scope",
                &[
                    "user_bases",
                    "group_bases",
                    "computer_bases",
                    "contact_bases",
                    "user_filter",
                    "group_filter",
                    "computer_filter",
                    "contact_filter",
                    "exclude_accounts",
                    "include_admin_accounts",
                    "include_sync_service_accounts",
                ],
            );
        }
        let scope = ScopeConfig {
            user_bases: self.strings(scope_t, "sync.scope", "user_bases"),
            group_bases: self.strings(scope_t, "sync.scope", "group_bases"),
            computer_bases: self.strings(scope_t, "sync.scope", "computer_bases"),
            contact_bases: self.strings(scope_t, "sync.scope", "contact_bases"),
            user_filter: self.filter(scope_t, "user_filter"),
            group_filter: self.filter(scope_t, "group_filter"),
            computer_filter: self.filter(scope_t, "computer_filter"),
            contact_filter: self.filter(scope_t, "contact_filter"),
            exclude_accounts: self.strings(scope_t, "sync.scope", "exclude_accounts"),
            include_admin_accounts: self.bool(scope_t, "sync.scope", "include_admin_accounts", false),
            include_sync_service_accounts: self.bool(scope_t, "sync.scope", "include_sync_service_accounts", false),
        };
        let sync = SyncConfig {
            source_anchor,
            interval: self.duration(sync_t, "sync", "interval", "30m", Duration::from_secs(60)),
            change_poll: self.duration(sync_t, "sync", "change_poll", "500ms", Duration::from_millis(50)),
            deletion_threshold: self.int(sync_t, "sync", "deletion_threshold", 500, 0..=10_000_000) as u32,
            deletion_threshold_percent: self.int(sync_t, "sync", "deletion_threshold_percent", 20, 0..=100) as u32,
            dry_run: self.bool(sync_t, "sync", "dry_run", false),
            push_temporary_passwords: self.bool(sync_t, "sync", "push_temporary_passwords", false),
            write_back_consistency_guid: self.bool(sync_t, "sync", "write_back_consistency_guid", false),
            drift_check_interval: self.duration(sync_t, "sync", "drift_check_interval", "30m", Duration::from_secs(1)),
            tenant_check_interval: self.duration(sync_t, "sync", "tenant_check_interval", "5m", Duration::from_secs(1)),
            objects_per_call: self.int(sync_t, "sync", "objects_per_call", 1, 1..=100) as u32,
            parallel_calls: self.int(sync_t, "sync", "parallel_calls", 4, 1..=32) as u32,
            write_budget: self.int(sync_t, "sync", "write_budget", 7000, 1..=1_000_000) as u32,
            write_budget_window: self.duration(sync_t, "sync", "write_budget_window", "5m", Duration::from_secs(1)),
            scope,
        };

        let state_t = self.section(root, "state", "");
        if let Some(t) = state_t {
            self.unknown_keys(t, "state", &["db", "password_history"]);
        }
        let state = StateConfig {
            db: self.path(state_t, "state", "db", Some("/var/lib/samba-entra-sync/state.db")),
            password_history: self.duration(state_t, "state", "password_history", "7d", Duration::from_secs(1)),
        };

        let dbus_t = self.section(root, "dbus", "");
        if let Some(t) = dbus_t {
            self.unknown_keys(t, "dbus", &["bus", "admin_group"]);
        }
        let bus = self.string(dbus_t, "dbus", "bus", Some("system"));
        let bus = match bus.as_str() {
            "system" => BusConfig::System,
            "session" => BusConfig::Session,
            a if a.contains(':') && a.contains('=') => BusConfig::Address(a.to_string()),
            other => {
                self.issue("dbus.bus", format!("\"{other}\" must be system, session or a bus address (unix:path=...)"));
                BusConfig::System
            }
        };
        let dbus = DbusConfig { bus, admin_group: self.string(dbus_t, "dbus", "admin_group", Some("adm")) };

        let metrics_t = self.section(root, "metrics", "");
        if let Some(t) = metrics_t {
            self.unknown_keys(t, "metrics", &["textfile"]);
        }
        let textfile = metrics_t.and_then(|t| t.get("textfile")).and_then(|v| match v {
            Value::String(s) if s.ends_with(".prom") && s.starts_with('/') => Some(PathBuf::from(s)),
            _ => {
                self.issue(
                    "metrics.textfile",
                    "must be an absolute path ending in .prom (the node exporter's textfile collector reads only those)",
                );
                None
            }
        });
        let metrics = MetricsConfig { textfile };
        let sso_t = self.section(root, "seamless_sso", "");
        if let Some(t) = sso_t {
            self.unknown_keys(t, "seamless_sso", &["container", "key_max_age"]);
        }
        let container = self.string(sso_t, "seamless_sso", "container", Some(DEFAULT_SSO_CONTAINER));
        let is_dn = container
            .split(',')
            .all(|rdn| rdn.split_once('=').is_some_and(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty()));
        if !container.is_empty() && !is_dn {
            self.issue(
                "seamless_sso.container",
                format!("\"{container}\" is not a DN such as CN=System or OU=Tier0,DC=example,DC=com"),
            );
        }
        let key_max_age = self.duration(sso_t, "seamless_sso", "key_max_age", "30d", Duration::from_secs(1));
        let seamless_sso = SeamlessSsoConfig { container, key_max_age };

        Config { samba, entra, sync, state, dbus, metrics, seamless_sso }
    }

    /// An LDAP filter must at least be parenthesised and balanced.
    fn filter(&mut self, t: Option<&Table>, key: &str) -> Option<String> {
        let f = self.opt_string(t, "sync.scope", key)?;
        let mut depth: i64 = 0;
        let mut balanced = f.starts_with('(') && f.ends_with(')');
        for c in f.chars() {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            balanced &= depth >= 0;
        }
        if !balanced || depth != 0 {
            self.issue(&format!("sync.scope.{key}"), format!("\"{f}\" is not a parenthesised LDAP filter"));
        }
        Some(f)
    }
}

/// Whether an `http://` URL names a loopback host (localhost, 127.0.0.0/8, [::1]): the only
/// place plain http may go (the local emulator).
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else { return false };
    u.host_str().is_some_and(|h| {
        h.eq_ignore_ascii_case("localhost")
            || h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[entra]\ntenant_id = \"00000000-0000-0000-0000-000000000001\"\n";

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let c = Config::parse(MINIMAL).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.samba.sam_ldb, PathBuf::from("/var/lib/samba/private/sam.ldb"));
        assert_eq!(c.sync.interval, Duration::from_secs(1800));
        assert_eq!(c.sync.change_poll, Duration::from_millis(500));
        assert_eq!(c.sync.deletion_threshold, 500);
        assert_eq!(c.dbus.bus, BusConfig::System);
        assert_eq!(c.entra.client_build, "2.6.92.0");
        assert_eq!(c.entra.auth.method, AuthMethodConfig::RefreshToken);
    }

    #[test]
    fn sign_in_defaults_are_those_of_microsofts_current_client() {
        let c = Config::parse(MINIMAL).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.entra.auth.scope, "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016/.default");
        assert_eq!(c.entra.auth.client_id, "cb1056e2-e479-49de-ae31-7812af012ed8");
        let cert = format!(
            "{MINIMAL}[entra.auth]\nmethod = \"certificate\"\nclient_id = \"11111111-2222-3333-4444-555555555555\"\n\
             certificate = \"/c.pem\"\nprivate_key = \"/k.pem\"\n"
        );
        let c = Config::parse(&cert).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.entra.auth.scope, "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016/.default");
        let legacy = format!("{MINIMAL}[entra.auth]\nscope = \"https://graph.windows.net/.default\"\n");
        let c = Config::parse(&legacy).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.entra.auth.scope, "https://graph.windows.net/.default");
        let empty = format!("{MINIMAL}[entra.auth]\nscope = \" \"\n");
        let keys: Vec<String> = Config::parse(&empty).err().unwrap_or_default().into_iter().map(|i| i.key).collect();
        assert_eq!(keys, ["entra.auth.scope"]);
    }

    #[test]
    fn cleartext_endpoints_only_on_loopback() {
        let with = |authority: &str, endpoint: &str| {
            let text = format!("{MINIMAL}authority = \"{authority}\"\nsync_endpoint = \"{endpoint}\"\n");
            Config::parse(&text).err().unwrap_or_default().into_iter().map(|i| i.key).collect::<Vec<_>>()
        };
        assert_eq!(with("http://127.0.0.1:8443", "http://[::1]:8443/provisioningservice.svc"), Vec::<String>::new());
        assert_eq!(with("http://localhost:1", "https://sync.example/provisioningservice.svc"), Vec::<String>::new());
        assert_eq!(
            with("http://login.example", "http://192.0.2.1/provisioningservice.svc"),
            ["entra.authority", "entra.sync_endpoint"]
        );
        assert_eq!(with("https://a.example", "http://127.0.0.1.evil.example/x"), ["entra.sync_endpoint"]);
    }

    #[test]
    fn every_error_is_reported_with_its_key() {
        let text = r#"
            colour = "blue"
            [samba]
            sam_ldb = "relative/sam.ldb"
            [entra]
            tenant_id = "not-a-guid"
            authority = "ftp://x"
            [entra.auth]
            method = "password"
            [sync]
            interval = "soon"
            deletion_threshold = -1
            dry_run = "yes"
            [sync.scope]
            user_filter = "(objectClass=user"
            [dbus]
            bus = "nowhere"
            extra = 1
        "#;
        let issues = Config::parse(text).err().unwrap_or_default();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        for k in [
            "colour",
            "samba.sam_ldb",
            "entra.tenant_id",
            "entra.authority",
            "entra.auth.method",
            "sync.interval",
            "sync.deletion_threshold",
            "sync.dry_run",
            "sync.scope.user_filter",
            "dbus.bus",
            "dbus.extra",
        ] {
            assert!(keys.contains(&k), "no issue for {k} in {keys:?}");
        }
        assert_eq!(issues.len(), 11, "{issues:?}");
    }

    #[test]
    fn seamless_sso_defaults_and_refusals() {
        let c = Config::parse(MINIMAL).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.seamless_sso, SeamlessSsoConfig::default());
        assert_eq!(c.seamless_sso.key_max_age, Duration::from_secs(30 * 86_400));
        assert_eq!(c.seamless_sso.container, "CN=System");
        let text = format!("{MINIMAL}[seamless_sso]\ncontainer = \"OU=Tier0,DC=lab,DC=test\"\nkey_max_age = \"7d\"\n");
        let c = Config::parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.seamless_sso.container, "OU=Tier0,DC=lab,DC=test");
        assert_eq!(c.seamless_sso.key_max_age, Duration::from_secs(7 * 86_400));
        let bad = format!("{MINIMAL}[seamless_sso]\ncontainer = \"Tier0\"\nkey_max_age = \"soon\"\nkeytab = \"x\"\n");
        let keys: Vec<String> = Config::parse(&bad).err().unwrap_or_default().into_iter().map(|i| i.key).collect();
        assert_eq!(keys, ["seamless_sso.keytab", "seamless_sso.container", "seamless_sso.key_max_age"]);
    }

    #[test]
    fn contact_scope_and_sync_service_accounts() {
        let c = Config::parse(MINIMAL).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!c.sync.scope.include_sync_service_accounts, "service accounts stay out by default");
        let text = format!(
            "{MINIMAL}[sync.scope]\ncontact_bases = [\"OU=Partners,DC=x\"]\ncontact_filter = \"(mail=*)\"\n\
             include_sync_service_accounts = true\n"
        );
        let c = Config::parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.sync.scope.contact_bases, vec!["OU=Partners,DC=x".to_string()]);
        assert_eq!(c.sync.scope.contact_filter.as_deref(), Some("(mail=*)"));
        assert!(c.sync.scope.include_sync_service_accounts);
        let text = format!(
            "{MINIMAL}[sync.scope]\ncontact_bases = 1\ncontact_filter = \"mail=*\"\ninclude_sync_service_accounts = \"no\"\n"
        );
        let issues = Config::parse(&text).err().unwrap_or_default();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            ["sync.scope.contact_bases", "sync.scope.contact_filter", "sync.scope.include_sync_service_accounts"]
        );
    }

    #[test]
    fn syntax_errors_say_where() {
        let issues = Config::parse("[samba\nsam_ldb = 1").err().unwrap_or_default();
        assert_eq!(issues.len(), 1);
        assert!(issues[0].key.contains("line 1"), "{:?}", issues[0]);
    }

    #[test]
    fn certificate_renewal_defaults_and_limits() {
        let c = Config::parse(MINIMAL).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.entra.auth.renew_before, Duration::from_secs(150 * 86_400));
        assert_eq!(c.entra.auth.certificate_validity, Duration::from_secs(180 * 86_400));
        let set = format!("{MINIMAL}[entra.auth]\nrenew_before = \"30d\"\ncertificate_validity = \"90d\"\n");
        let c = Config::parse(&set).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.entra.auth.renew_before, Duration::from_secs(30 * 86_400));
        assert_eq!(c.entra.auth.certificate_validity, Duration::from_secs(90 * 86_400));
        let endless = format!("{MINIMAL}[entra.auth]\nrenew_before = \"200d\"\n");
        let issues = Config::parse(&endless).err().unwrap_or_default();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["entra.auth.renew_before"]);
        assert!(issues[0].problem.contains("180 days"), "{:?}", issues[0]);
        let short = format!("{MINIMAL}[entra.auth]\ncertificate_validity = \"2h\"\nrenew_before = \"1h\"\n");
        let keys: Vec<String> = Config::parse(&short).err().unwrap_or_default().into_iter().map(|i| i.key).collect();
        assert!(keys.contains(&"entra.auth.certificate_validity".to_owned()), "{keys:?}");
    }

    #[test]
    fn certificate_method_needs_its_files() {
        let text = format!("{MINIMAL}[entra.auth]\nmethod = \"certificate\"\n");
        let issues = Config::parse(&text).err().unwrap_or_default();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, vec!["entra.auth.certificate", "entra.auth.private_key"]);
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let text = include_str!("../etc/samba-entra-sync.toml");
        assert!(Config::parse(text).is_ok(), "{:?}", Config::parse(text).err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5 weeks"), None);
    }
}
