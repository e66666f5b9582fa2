//! `samba-entra-sync seamless-sso enable|rollover|disable|status --config FILE`: Seamless single
//! sign-on. A computer account `AZUREADSSOACC$` on this DC carries the SPNs browsers ask tickets
//! for; Entra holds its password (the key) and reads the tickets. The password is made here,
//! in memory: it goes to sam.ldb (through libldb as Samba's system session) and to Entra's
//! registration service (inside TLS), never to a file, a log or a command line.
//!
//! Order of a rollover: the administrator signs in first (a device code can take minutes), then
//! the new password is set on the account and registered with Entra right after, so the two
//! sides differ only for the length of one HTTPS call. The account goes first: until Entra has
//! the new key, every ticket browsers already hold (sealed with the old key, valid for hours)
//! still matches the key Entra holds; registering first would break those and the tickets the
//! KDC still issues with the old key alike. The password exists only in this process: should
//! Entra's call fail it is retried with the same password, and if it keeps failing Entra still
//! holds the old key, and a second `rollover` (a new password, both sides again) repairs it.
//! A failed `enable` removes the account it made.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use zeroize::Zeroizing;

use super::{CliResult, Failure};
use crate::config::Config;
use crate::entra::auth::device_code_access_token;
use crate::entra::desktop_sso::{CONNECT_CLIENT_ID, REGISTER_APP_SCOPE, RegistrationService, service_base};
use crate::entra::http::http_client;
use crate::entra::kerberos::{SSO_COMPUTER_NAME, SSO_SPNS};
use crate::samba::computer_account::{self as account, ComputerAccount, ENCTYPE_AES256, ENCTYPE_RC4_HMAC};
use crate::samba::ldb::LdbConnection;
use crate::samba::{AccountWriter, directory};

/// The password's length: as long as Windows' own machine passwords (120 characters).
const PASSWORD_LEN: usize = 120;
/// 64 symbols, so a random byte maps to one without bias.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const REGISTER_ATTEMPTS: u32 = 3;
const DESCRIPTION: &str = "Seamless SSO (samba-entra-sync): its key is held by Microsoft Entra ID. Roll it over with samba-entra-sync seamless-sso rollover.";
const DEFAULT_CONFIG: &str = "/etc/samba-entra-sync/config.toml";

#[derive(clap::Args, Debug)]
pub struct SeamlessSsoArgs {
    #[command(subcommand)]
    pub action: SsoAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum SsoAction {
    /// Create the AZUREADSSOACC computer account (AES256 only) and register its key with Entra;
    /// an administrator signs in once by device code.
    Enable(EnableArgs),
    /// Give the account a new key and register it with Entra.
    Rollover(ConfigArgs),
    /// Unregister the domain from Entra's Seamless SSO and delete the account.
    Disable(ConfigArgs),
    /// Whether Seamless SSO is on here, the key's age and encryption types (no sign-in).
    Status(StatusArgs),
}

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// The daemon's config file ([samba], [entra], [seamless_sso] are used).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct EnableArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also allow RC4-HMAC tickets (weak; only for clients that cannot do AES).
    #[arg(long)]
    pub allow_rc4: bool,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &SeamlessSsoArgs) -> CliResult {
    match &args.action {
        SsoAction::Enable(a) => {
            let config = super::config::load(&a.config.config)?;
            super::runtime()?.block_on(enable(&config, a.allow_rc4))
        }
        SsoAction::Rollover(a) => {
            let config = super::config::load(&a.config)?;
            super::runtime()?.block_on(rollover(&config, &a.config))
        }
        SsoAction::Disable(a) => {
            let config = super::config::load(&a.config)?;
            super::runtime()?.block_on(disable(&config))
        }
        SsoAction::Status(a) => status(a),
    }
}

/// The domain as sam.ldb names it.
struct Domain {
    dn: String,
    dns_name: String,
}

impl Domain {
    fn realm(&self) -> String {
        self.dns_name.to_ascii_uppercase()
    }
}

fn ldb_failure(e: crate::samba::LdbError) -> Failure {
    Failure::runtime(e)
}

fn open_directory(config: &Config) -> Result<(LdbConnection, Domain), Failure> {
    let conn = LdbConnection::open(&config.samba.sam_ldb).map_err(ldb_failure)?;
    let dn = directory::domain_dn(&conn).map_err(ldb_failure)?;
    let dns_name = account::dns_domain_of(&dn);
    Ok((conn, Domain { dn, dns_name }))
}

/// The container's DN: as given, or relative to the domain.
fn container_dn(container: &str, domain_dn: &str) -> String {
    if container.to_ascii_uppercase().contains("DC=") {
        container.to_owned()
    } else {
        format!("{container},{domain_dn}")
    }
}

/// A random password of [`PASSWORD_LEN`] characters, in memory only.
fn new_password() -> Result<Zeroizing<String>, Failure> {
    let mut bytes = Zeroizing::new([0u8; PASSWORD_LEN]);
    getrandom::fill(&mut bytes[..])
        .map_err(|e| Failure::runtime(format!("the random number generator failed: {e}")))?;
    let mut out = Zeroizing::new(String::with_capacity(PASSWORD_LEN));
    for b in bytes.iter() {
        out.push(char::from(ALPHABET[usize::from(b & 63)]));
    }
    Ok(out)
}

/// An administrator signs in once (device code); the token is kept in memory for this command.
async fn sign_in(config: &Config) -> Result<RegistrationService, Failure> {
    let settings = crate::sync::settings::auth_settings(config);
    let http = http_client(&settings.http_settings()).map_err(Failure::usage)?;
    let scope = format!("{REGISTER_APP_SCOPE} openid profile");
    let token = device_code_access_token(&settings, CONNECT_CLIENT_ID, &scope, &http, |p| {
        super::login::print_device_code_prompt(p, "a Global Administrator or Hybrid Identity Administrator")
    })
    .await
    .map_err(|e| Failure::runtime(format!("the administrator's sign-in failed: {e}")))?;
    println!("signed in the administrator (the token is used for this command only and not stored)");
    Ok(RegistrationService::new(http, &service_base(&settings.authority, &settings.tenant_id), token))
}

/// Registers `password` for the domain, a few times if the service fails.
async fn register(service: &RegistrationService, domain: &Domain, password: &str) -> Result<(), Failure> {
    let mut last = None;
    for attempt in 1..=REGISTER_ATTEMPTS {
        match service.register_domain(SSO_COMPUTER_NAME, &domain.dns_name, password).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::warn!(attempt, "registering the Seamless SSO key failed: {e}");
                last = Some(e);
                if attempt < REGISTER_ATTEMPTS {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }
    Err(Failure::runtime(last.map_or_else(|| "registration failed".to_owned(), |e| e.to_string())))
}

async fn enable(config: &Config, allow_rc4: bool) -> CliResult {
    let (conn, domain) = open_directory(config)?;
    if let Some(existing) = account::find(&conn, SSO_COMPUTER_NAME).map_err(ldb_failure)? {
        return Err(Failure::usage(format!(
            "Seamless SSO is already enabled here ({}): `seamless-sso rollover` gives it a new key, `seamless-sso disable` removes it",
            existing.dn
        )));
    }
    let container = container_dn(&config.seamless_sso.container, &domain.dn);
    if !directory::dn_exists(&conn, &container).map_err(ldb_failure)? {
        return Err(Failure::usage(format!("the container {container} ([seamless_sso] container) does not exist")));
    }
    let encryption_types = if allow_rc4 {
        eprintln!("warning: --allow-rc4: RC4-HMAC tickets are weak (the key is the NT hash of the password)");
        ENCTYPE_AES256 | ENCTYPE_RC4_HMAC
    } else {
        ENCTYPE_AES256
    };
    let service = sign_in(config).await?;
    let writer = AccountWriter::open(&config.samba.sam_ldb, &domain.realm()).map_err(ldb_failure)?;
    let password = new_password()?;
    let new = account::NewAccount {
        name: SSO_COMPUTER_NAME,
        container: &container,
        spns: &SSO_SPNS,
        encryption_types,
        password: &password,
        description: DESCRIPTION,
    };
    let dn = account::create(&writer, &new).map_err(ldb_failure)?;
    println!("created the computer account {dn} (SPNs {}; {})", SSO_SPNS.join(", "), enc_names(Some(encryption_types)));
    let registered = async {
        service.set_enabled(true).await.map_err(Failure::runtime)?;
        register(&service, &domain, &password).await
    }
    .await;
    if let Err(e) = registered {
        // Nothing half-done: without Entra holding its key the account is of no use.
        let cleanup = account::delete(&writer, &dn);
        return Err(Failure::runtime(format!(
            "registering the key with Entra failed ({e}); {}",
            match cleanup {
                Ok(()) => "the account was removed again".to_owned(),
                Err(d) => format!("removing the account failed too ({d}): remove {dn} by hand"),
            }
        )));
    }
    drop(password);
    println!(
        "registered {} for {} with Entra: Seamless SSO is on (roll the key over at least every {})",
        SSO_COMPUTER_NAME,
        domain.dns_name,
        human_duration(config.seamless_sso.key_max_age)
    );
    Ok(())
}

async fn rollover(config: &Config, config_path: &Path) -> CliResult {
    let (conn, domain) = open_directory(config)?;
    let Some(existing) = account::find(&conn, SSO_COMPUTER_NAME).map_err(ldb_failure)? else {
        return Err(Failure::usage(format!(
            "Seamless SSO is not enabled here (no {SSO_COMPUTER_NAME}$ account): run seamless-sso enable --config {}",
            config_path.display()
        )));
    };
    let service = sign_in(config).await?;
    let writer = AccountWriter::open(&config.samba.sam_ldb, &domain.realm()).map_err(ldb_failure)?;
    let password = new_password()?;
    account::set_password(&writer, &existing.dn, &password).map_err(ldb_failure)?;
    let after = account::find_with(&writer, SSO_COMPUTER_NAME).map_err(ldb_failure)?;
    println!(
        "gave {} a new key (key version {})",
        existing.dn,
        after.and_then(|a| a.key_version).map_or("?".to_owned(), |v| v.to_string())
    );
    if let Err(e) = register(&service, &domain, &password).await {
        return Err(Failure::runtime(format!(
            "the account has its new key but registering it with Entra failed ({e}); Entra still holds the old key, so \
             sign-ins with new tickets fail: run seamless-sso rollover --config {} again",
            config_path.display()
        )));
    }
    drop(password);
    println!("registered the new key with Entra; tickets issued before now are refused from here on");
    Ok(())
}

async fn disable(config: &Config) -> CliResult {
    let (conn, domain) = open_directory(config)?;
    let existing = account::find(&conn, SSO_COMPUTER_NAME).map_err(ldb_failure)?;
    let service = sign_in(config).await?;
    service.unregister_domain(SSO_COMPUTER_NAME, &domain.dns_name).await.map_err(Failure::runtime)?;
    println!("unregistered {} from Entra's Seamless SSO", domain.dns_name);
    let left = service.status().await.map_err(Failure::runtime)?;
    if left.domains.is_empty() && left.enabled {
        service.set_enabled(false).await.map_err(Failure::runtime)?;
        println!("no domain is registered any more: switched Seamless SSO off for the tenant");
    }
    match existing {
        Some(acc) => {
            let writer = AccountWriter::open(&config.samba.sam_ldb, &domain.realm()).map_err(ldb_failure)?;
            account::delete(&writer, &acc.dn).map_err(ldb_failure)?;
            println!("deleted the computer account {}", acc.dn);
        }
        None => println!("there was no {SSO_COMPUTER_NAME}$ account to delete"),
    }
    Ok(())
}

fn enc_names(bits: Option<u32>) -> String {
    account::encryption_type_names(bits).join(", ")
}

fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 86_400 && secs.is_multiple_of(86_400) {
        format!("{} days", secs / 86_400)
    } else if secs >= 3600 {
        format!("{:.1} hours", secs as f64 / 3600.0)
    } else {
        format!("{secs} seconds")
    }
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// What sam.ldb says about Seamless SSO on this DC, for `status`, the daemon's status and `doctor`.
pub struct LocalState {
    pub account: Option<ComputerAccount>,
    pub key_max_age: Duration,
    pub config_path: PathBuf,
}

impl LocalState {
    pub fn read(config: &Config, config_path: &Path) -> Result<LocalState, Failure> {
        let conn = LdbConnection::open(&config.samba.sam_ldb).map_err(ldb_failure)?;
        let account = account::find(&conn, SSO_COMPUTER_NAME).map_err(ldb_failure)?;
        Ok(LocalState::of(account, config, config_path))
    }

    /// The state of an account read elsewhere (e.g. on the doctor's sam.ldb thread).
    pub fn of(account: Option<ComputerAccount>, config: &Config, config_path: &Path) -> LocalState {
        LocalState { account, key_max_age: config.seamless_sso.key_max_age, config_path: config_path.to_path_buf() }
    }

    /// Seconds since the key was set.
    pub fn key_age(&self) -> Option<i64> {
        self.account.as_ref()?.password_set_at.map(|t| (now_unix() - t).max(0))
    }

    /// One line: on or off, the key's age and encryption types.
    pub fn summary(&self) -> String {
        match &self.account {
            None => "off (no AZUREADSSOACC$ account)".to_owned(),
            Some(a) => format!(
                "on: key {} old, {}",
                self.key_age().map_or("of unknown age".to_owned(), age_text),
                enc_names(a.encryption_types)
            ),
        }
    }

    /// What needs the administrator's attention, each with its fix.
    pub fn warnings(&self) -> Vec<String> {
        let Some(a) = &self.account else { return Vec::new() };
        let mut out = Vec::new();
        let max = i64::try_from(self.key_max_age.as_secs()).unwrap_or(i64::MAX);
        if self.key_age().is_none_or(|age| age > max) {
            out.push(format!(
                "the Seamless SSO key is older than key_max_age ({}): roll it over with `samba-entra-sync seamless-sso rollover --config {}`",
                human_duration(self.key_max_age),
                self.config_path.display()
            ));
        }
        if a.encryption_types.is_none_or(|t| t & ENCTYPE_RC4_HMAC != 0) {
            out.push(
                "RC4-HMAC tickets are allowed for AZUREADSSOACC$: set msDS-SupportedEncryptionTypes to 16 (AES256 only)"
                    .to_owned(),
            );
        }
        let mut spns: Vec<String> = a.spns.iter().map(|s| s.to_ascii_lowercase()).collect();
        spns.sort();
        let mut want: Vec<String> = SSO_SPNS.iter().map(|s| s.to_ascii_lowercase()).collect();
        want.sort();
        if spns != want {
            out.push(format!("AZUREADSSOACC$ has the SPNs {:?}, expected exactly {:?}", a.spns, SSO_SPNS));
        }
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        match &self.account {
            None => json!({"enabled": false}),
            Some(a) => json!({
                "enabled": true,
                "dn": a.dn,
                "servicePrincipalNames": a.spns,
                "encryptionTypes": account::encryption_type_names(a.encryption_types),
                "supportedEncryptionTypes": a.encryption_types,
                "keySetAt": a.password_set_at,
                "keyAgeSeconds": self.key_age(),
                "keyVersion": a.key_version,
                "keyMaxAgeSeconds": self.key_max_age.as_secs(),
                "warnings": self.warnings(),
            }),
        }
    }
}

fn age_text(secs: i64) -> String {
    if secs >= 2 * 86_400 {
        format!("{} days", secs / 86_400)
    } else if secs >= 2 * 3600 {
        format!("{} hours", secs / 3600)
    } else if secs >= 120 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{secs} seconds")
    }
}

fn status(args: &StatusArgs) -> CliResult {
    let config = super::config::load(&args.config.config)?;
    let state = LocalState::read(&config, &args.config.config)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&state.to_json()).unwrap_or_default());
        return Ok(());
    }
    println!("seamless SSO:          {}", state.summary());
    if let Some(a) = &state.account {
        println!("account:               {}", a.dn);
        println!("SPNs:                  {}", a.spns.join(", "));
        println!("encryption types:      {}", enc_names(a.encryption_types));
        if let Some(t) = a.password_set_at {
            println!(
                "key set:               {} (key version {})",
                crate::entra::timefmt::utc_millis(t * 1000),
                a.key_version.map_or("?".to_owned(), |v| v.to_string())
            );
        }
        println!("key_max_age:           {}", human_duration(state.key_max_age));
    }
    for w in state.warnings() {
        println!("warning:               {w}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_random_and_plain_ascii() {
        let a = new_password().unwrap();
        let b = new_password().unwrap();
        assert_eq!(a.len(), PASSWORD_LEN);
        assert_ne!(*a, *b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
    }

    #[test]
    fn the_container_is_relative_to_the_domain_unless_it_names_one() {
        assert_eq!(container_dn("CN=System", "DC=lab,DC=test"), "CN=System,DC=lab,DC=test");
        assert_eq!(container_dn("OU=T0,DC=lab,DC=test", "DC=lab,DC=test"), "OU=T0,DC=lab,DC=test");
    }

    fn state(age: i64, enc: Option<u32>, max: u64) -> LocalState {
        LocalState {
            account: Some(ComputerAccount {
                dn: "CN=AZUREADSSOACC,CN=System,DC=lab,DC=test".into(),
                spns: SSO_SPNS.iter().map(|s| s.to_string()).collect(),
                encryption_types: enc,
                password_set_at: Some(now_unix() - age),
                key_version: Some(2),
            }),
            key_max_age: Duration::from_secs(max),
            config_path: PathBuf::from("/etc/x.toml"),
        }
    }

    #[test]
    fn status_warns_past_key_max_age_and_on_rc4_with_the_fix() {
        assert!(state(60, Some(16), 3600).warnings().is_empty());
        let old = state(40 * 86_400, Some(16), 30 * 86_400).warnings();
        assert_eq!(old.len(), 1);
        assert!(old[0].contains("seamless-sso rollover --config /etc/x.toml"), "{old:?}");
        assert_eq!(state(60, Some(0x14), 3600).warnings().len(), 1);
        assert!(state(60, Some(16), 3600).summary().starts_with("on: key 60 seconds old, AES256"));
    }
}
