//! `doctor`: every condition samba-entra-sync depends on, checked in order, one line each with
//! a verdict and the fix. What an administrator would otherwise piece together from `status`,
//! smb.conf and the journal. Exit 0 only when every check passes.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::install_hook::{DEFAULT_HOOK, Existing};
use super::{CliResult, Failure};
use crate::config::{AuthMethodConfig, Config};
use crate::entra::client::ApiCompatibility;

#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    #[arg(long, value_name = "FILE", default_value = "/etc/samba-entra-sync/config.toml")]
    pub config: PathBuf,
    /// Samba's configuration file (where the hook must be registered).
    #[arg(long, value_name = "FILE", default_value = "/etc/samba/smb.conf")]
    pub smb_conf: PathBuf,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    /// Works, but something will need attention (a certificate expiring soon...).
    Warn,
    Fail,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do (empty when it passed).
    pub fix: String,
}

fn pass(check: &'static str, detail: impl Into<String>) -> Check {
    Check { check, verdict: Verdict::Pass, detail: detail.into(), fix: String::new() }
}

fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check { check, verdict: Verdict::Fail, detail: detail.into(), fix: fix.into() }
}

fn warn(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check { check, verdict: Verdict::Warn, detail: detail.into(), fix: fix.into() }
}

/// The hook path of a `check password script` value (its first word, unquoted).
fn hook_of(value: &str) -> PathBuf {
    let v = value.trim();
    let first = match v.strip_prefix('\'') {
        Some(rest) => rest.split('\'').next().unwrap_or(""),
        None => v.split_whitespace().next().unwrap_or(""),
    };
    PathBuf::from(first)
}

fn check_hook(smb_conf: &Path) -> Check {
    const NAME: &str = "hook registered in smb.conf";
    let text = match std::fs::read_to_string(smb_conf) {
        Ok(t) => t,
        Err(e) => {
            return fail(
                NAME,
                format!("cannot read {}: {e}", smb_conf.display()),
                "give Samba's smb.conf with --smb-conf",
            );
        }
    };
    let plan = match super::install_hook::plan(&text, Path::new(DEFAULT_HOOK), true, false) {
        Ok(p) => p,
        Err(e) => return fail(NAME, format!("{}: {e:?}", smb_conf.display()), "check that it is Samba's smb.conf"),
    };
    let fix = "samba-entra-sync install-hook --apply, then restart samba (a reload is not enough)";
    match plan.existing {
        Existing::None => fail(
            NAME,
            "smb.conf has no `check password script`: password changes arrive only through the 500 ms safety net",
            fix,
        ),
        Existing::Foreign { value } => fail(
            NAME,
            format!("smb.conf runs another check password script ({value}), not samba-entra-sync's hook"),
            format!("{fix} (with --chain to keep yours)"),
        ),
        Existing::Ours { value, .. } => {
            let hook = hook_of(&value);
            match std::fs::metadata(&hook) {
                Ok(m) if super::install_hook::is_executable_file(&m) => {
                    pass(NAME, format!("check password script = {value}"))
                }
                Ok(_) => fail(
                    NAME,
                    format!("{} is not an executable file: Samba refuses every password change", hook.display()),
                    "reinstall the package (or chmod 755 the hook)",
                ),
                Err(e) => fail(
                    NAME,
                    format!("{}: {e}: Samba refuses every password change", hook.display()),
                    "reinstall the package, or samba-entra-sync install-hook --apply --hook PATH",
                ),
            }
        }
    }
}

/// Seamless SSO is optional: off passes; on warns about an old key, RC4 or unexpected SPNs. Read
/// on the sam.ldb thread (one thread per process uses sam.ldb).
async fn check_seamless_sso(ldb: &crate::samba::LdbHandle, config: &Config, config_path: &Path) -> Check {
    const CHECK: &str = "seamless SSO key";
    let name = crate::entra::kerberos::SSO_COMPUTER_NAME;
    match ldb.call(move |c| crate::samba::computer_account::find(c, name)).await {
        Ok(account) => {
            let state = super::seamless_sso::LocalState::of(account, config, config_path);
            let warnings = state.warnings();
            if warnings.is_empty() {
                pass(CHECK, state.summary())
            } else {
                warn(CHECK, format!("{}: {}", state.summary(), warnings.join("; ")), "see the warning")
            }
        }
        Err(e) => warn(CHECK, e.to_string(), "run as root on the DC"),
    }
}

async fn check_directory(config: &Config, config_path: &Path) -> Vec<Check> {
    const COMPLEXITY: &str = "password complexity on";
    let ldb = match crate::samba::LdbHandle::open(&config.samba.sam_ldb).await {
        Ok(l) => l,
        Err(e) => {
            return vec![fail("sam.ldb readable", e.to_string(), "check [samba] sam_ldb and run as root on the DC")];
        }
    };
    let mut out = vec![pass("sam.ldb readable", config.samba.sam_ldb.display().to_string())];
    out.push(match ldb.call(|c| crate::samba::directory::password_properties(c)).await {
        Ok(Some(p)) if p & 1 != 0 => pass(COMPLEXITY, format!("pwdProperties = {p}")),
        Ok(p) => fail(
            COMPLEXITY,
            format!(
                "the domain's password complexity is off (pwdProperties = {}): Samba then never runs the check password script, so changes arrive only through the safety net",
                p.map_or("unset".to_string(), |p| p.to_string())
            ),
            "samba-tool domain passwordsettings set --complexity=on",
        ),
        Err(e) => fail(COMPLEXITY, e.to_string(), "check that sam.ldb is the DC's"),
    });
    out.push(check_seamless_sso(&ldb, config, config_path).await);
    out
}

/// A [global] parameter of smb.conf (names compare without case and spaces, as Samba's do).
fn global_parameter(text: &str, name: &str) -> Option<String> {
    let key = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let wanted = key(name);
    let mut in_global = false;
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_global = key(line) == "[global]";
        } else if in_global
            && let Some((k, v)) = line.split_once('=')
            && key(k) == wanted
        {
            found = Some(v.trim().to_string());
        }
    }
    found
}

/// Samba writes its main process id to `samba.pid` in its `pid directory` (default /run/samba).
fn samba_running(smb_conf: &Path) -> Check {
    const NAME: &str = "Samba running";
    let text = std::fs::read_to_string(smb_conf).unwrap_or_default();
    let dir = global_parameter(&text, "pid directory").unwrap_or_else(|| "/run/samba".into());
    let pid_file = Path::new(&dir).join("samba.pid");
    let pid = std::fs::read_to_string(&pid_file).ok().and_then(|p| p.trim().parse::<u32>().ok());
    let alive = pid.is_some_and(|p| {
        std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim().starts_with("samba"))
    });
    if alive {
        pass(NAME, format!("samba runs (pid {}, {})", pid.unwrap_or(0), pid_file.display()))
    } else {
        fail(
            NAME,
            format!(
                "samba does not run ({} names no live samba process): nobody can change a password",
                pid_file.display()
            ),
            "systemctl start samba-ad-dc",
        )
    }
}

async fn check_daemon(config: &Config) -> Check {
    const NAME: &str = "daemon running";
    let asked = async {
        let proxy = crate::bus::client::connect(&config.dbus.bus).await?;
        proxy.status().await
    };
    match tokio::time::timeout(Duration::from_secs(10), asked).await {
        Ok(Ok(dict)) => {
            let json = crate::bus::client::to_json(&dict);
            let state = json["state"].as_str().unwrap_or("?").to_string();
            let reasons: Vec<String> = json["degradedReasons"]
                .as_array()
                .map(|a| a.iter().filter_map(|r| r.as_str().map(String::from)).collect())
                .unwrap_or_default();
            match state.as_str() {
                "running" => pass(NAME, "state running"),
                "starting" => warn(NAME, "state starting", "wait a moment and run doctor again"),
                _ => fail(
                    NAME,
                    format!(
                        "state {state}{}",
                        if reasons.is_empty() { String::new() } else { format!(": {}", reasons.join("; ")) }
                    ),
                    "samba-entra-sync status shows the reasons and their fixes",
                ),
            }
        }
        Ok(Err(e)) => fail(
            NAME,
            format!("the daemon does not answer on the bus: {e}"),
            "systemctl enable --now samba-entra-sync (journalctl -u samba-entra-sync says why it stopped)",
        ),
        Err(_) => fail(NAME, "the daemon did not answer within 10 s", "journalctl -u samba-entra-sync"),
    }
}

fn check_sign_in(config: &Config) -> Check {
    const NAME: &str = "sign-in";
    match &config.entra.auth.method {
        AuthMethodConfig::RefreshToken => {
            let auth = crate::sync::settings::auth_settings(config);
            match crate::entra::auth::load_cache(&config.entra.auth.token_cache, &auth.tenant_id, &auth.client_id) {
                Ok(_) => pass(NAME, format!("refresh token in {}", config.entra.auth.token_cache.display())),
                Err(e) => fail(NAME, e.to_string(), "samba-entra-sync login --config FILE"),
            }
        }
        AuthMethodConfig::Certificate { certificate, private_key } => {
            match crate::entra::auth::AppCredential::load(certificate, private_key) {
                Ok(app) => {
                    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                    certificate_check(config, certificate, &app, now)
                }
                Err(e) => fail(NAME, e.to_string(), "fix [entra.auth] certificate and private_key"),
            }
        }
    }
}

/// The certificate's expiry and its renewal: what the state DB records of the rotation, and
/// whether the daemon can renew by itself.
fn certificate_check(config: &Config, certificate: &Path, app: &crate::entra::auth::AppCredential, now: u64) -> Check {
    use crate::entra::auth::rotation::{Action, InUse, REGISTER_AGAIN, due_at, next_action};
    const NAME: &str = "sign-in";
    let renew_before = config.entra.auth.renew_before.as_secs();
    let expires = crate::entra::timefmt::utc_millis(app.not_after() as i64 * 1000);
    let days = (app.not_after() as i64 - now as i64) / 86_400;
    // The state DB is the daemon's; doctor only reads what it recorded.
    let (record, rotation) = match config.state.db.exists().then(|| crate::sync::state::State::open(&config.state.db)) {
        Some(Ok(store)) => (
            crate::sync::cert_rotation::load_record(&store).ok().flatten(),
            crate::sync::cert_rotation::load_rotation(&store).ok().flatten(),
        ),
        _ => (None, None),
    };
    let in_use = InUse { thumbprint: app.thumbprint().to_owned(), not_after: app.not_after() };
    let renewal = match (&rotation, next_action(record.as_ref(), rotation.as_ref(), &in_use, now, renew_before)) {
        (Some(r), _) => format!("renewal in progress: {}", r.describe()),
        (None, Action::Blocked(why)) => format!("renewal blocked: {why}"),
        (None, _) => format!(
            "renewal: idle, automatic from {}",
            crate::entra::timefmt::utc_millis(due_at(app.not_after(), renew_before) as i64 * 1000)
        ),
    };
    let detail = format!("certificate {} expires {expires} ({days} days); {renewal}", certificate.display());
    if app.not_after() <= now {
        return fail(NAME, detail, format!("{REGISTER_AGAIN} (registers a new certificate)"));
    }
    let blocked =
        rotation.is_none() && (record.is_none() || record.as_ref().is_some_and(|r| r.thumbprint != in_use.thumbprint));
    if blocked {
        // Not due yet is no excuse: renewal will need the record, and only register-app writes it.
        return warn(NAME, detail, format!("{REGISTER_AGAIN} (records what automatic renewal needs)"));
    }
    if now >= due_at(app.not_after(), renew_before) {
        return warn(
            NAME,
            detail,
            format!(
                "the running daemon renews it by itself; `samba-entra-sync status` shows why it has not; if it keeps failing: {REGISTER_AGAIN}"
            ),
        );
    }
    pass(NAME, detail)
}

async fn check_tenant(config: &Config) -> Vec<Check> {
    const NAME: &str = "tenant reachable and compatible";
    let client = match crate::daemon::sync_client(config) {
        Ok(c) => c,
        Err(e) => return vec![fail(NAME, e.to_string(), "samba-entra-sync check-config --config FILE")],
    };
    let configuration = match client.probe().await {
        Ok(ApiCompatibility::Compatible { configuration, .. }) => configuration,
        Ok(ApiCompatibility::Incompatible { reason }) => {
            return vec![fail(
                NAME,
                format!("the sync API refuses this client: {reason}"),
                "install a newer samba-entra-sync",
            )];
        }
        Err(e) => {
            let fix = if e.needs_sign_in() {
                "samba-entra-sync login --config FILE"
            } else {
                "check the network route, [entra] proxy and sync_endpoint"
            };
            return vec![fail(NAME, e.to_string(), fix)];
        }
    };
    let mut out = vec![pass(
        NAME,
        format!(
            "{} accepts client build {}",
            configuration.display_name.as_deref().unwrap_or("the tenant"),
            config.entra.client_build
        ),
    )];
    out.push(if configuration.password_hash_sync_enabled() {
        pass("password hash sync on in the tenant", "DirSyncFeatures has PasswordHashSync")
    } else {
        fail(
            "password hash sync on in the tenant",
            "the tenant's password hash sync is off: Entra refuses every password",
            "an administrator turns it on: `samba-entra-sync login --config FILE --enable-password-hash-sync` \
             (a Global Administrator or Hybrid Identity Administrator signs in once; the token is not kept)",
        )
    });
    let ours = crate::sync::anchor::AnchorAttribute::parse(&config.sync.source_anchor);
    out.push(match configuration.anchor_attribute.as_deref().filter(|a| !a.is_empty()) {
        None => pass("anchor attribute", "the tenant has none yet"),
        Some(t) if crate::sync::anchor::AnchorAttribute::parse(t) == ours => {
            pass("anchor attribute", format!("{t}, as configured"))
        }
        Some(t) => fail(
            "anchor attribute",
            format!(
                "the tenant's source anchor is {t}, but [sync] source_anchor is {}: the daemon refuses to start \
                 if any in-scope object's anchor differs between the two",
                config.sync.source_anchor
            ),
            format!("set [sync] source_anchor = \"{t}\""),
        ),
    });
    out.push(clock_skew(config).await);
    out
}

/// The tenant's clock (its `Date` header) against ours: tokens and Kerberos tickets fail beyond
/// a few minutes.
async fn clock_skew(config: &Config) -> Check {
    const NAME: &str = "clock";
    let http = match crate::entra::http::http_client(&crate::entra::http::HttpSettings {
        ca_file: config.entra.ca_file.clone(),
        proxy: config.entra.proxy.clone(),
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(20),
    }) {
        Ok(h) => h,
        Err(e) => return fail(NAME, e.to_string(), "fix [entra] ca_file / proxy"),
    };
    let answer = match http.get(&config.entra.sync_endpoint).send().await {
        Ok(a) => a,
        Err(e) => {
            return fail(
                NAME,
                format!("no answer from {}: {e}", config.entra.sync_endpoint),
                "check the network route",
            );
        }
    };
    let Some(theirs) =
        answer.headers().get("date").and_then(|d| d.to_str().ok()).and_then(crate::entra::timefmt::parse_http_date)
    else {
        return warn(NAME, "the service sent no Date header to compare with", "check the clock with timedatectl");
    };
    let now = SystemTime::now();
    let skew = now.duration_since(theirs).unwrap_or_else(|e| e.duration());
    if skew > Duration::from_secs(300) {
        fail(
            NAME,
            format!("this machine's clock is {} s off the service's", skew.as_secs()),
            "enable time sync (timedatectl set-ntp true)",
        )
    } else {
        pass(NAME, format!("within {} s of the service's", skew.as_secs().max(1)))
    }
}

fn check_state(config: &Config) -> Check {
    const NAME: &str = "state database";
    let path = &config.state.db;
    if !path.exists() {
        return warn(
            NAME,
            format!("{} does not exist yet", path.display()),
            "the daemon creates it at its first start",
        );
    }
    match crate::sync::state::State::open(path).and_then(|s| s.quick_check()) {
        Ok(r) if r == "ok" => pass(NAME, format!("{} passes quick_check", path.display())),
        Ok(r) => fail(
            NAME,
            format!("{} is damaged: {r}", path.display()),
            "stop the daemon, move the file away and start it again (a full reconcile rebuilds it)",
        ),
        Err(e) => fail(
            NAME,
            e.to_string(),
            "stop the daemon, move the file away and start it again (a full reconcile rebuilds it)",
        ),
    }
}

/// Every check, in order. A config that does not load stops there.
pub async fn checks(config_path: &Path, smb_conf: &Path) -> Vec<Check> {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            return vec![fail(
                "config valid",
                e.to_string(),
                "samba-entra-sync check-config --config FILE names each key",
            )];
        }
    };
    let problems = super::config::deeper_checks(&config);
    let mut out = vec![if problems.is_empty() {
        pass("config valid", config_path.display().to_string())
    } else {
        fail("config valid", problems.join("; "), "fix the keys named")
    }];
    out.push(check_hook(smb_conf));
    out.extend(check_directory(&config, config_path).await);
    out.push(samba_running(smb_conf));
    out.push(check_daemon(&config).await);
    out.push(check_sign_in(&config));
    out.extend(check_tenant(&config).await);
    out.push(check_state(&config));
    out
}

pub fn run(args: &DoctorArgs) -> CliResult {
    let all = super::runtime()?.block_on(checks(&args.config, &args.smb_conf));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    } else {
        for c in &all {
            let mark = match c.verdict {
                Verdict::Pass => "ok  ",
                Verdict::Warn => "WARN",
                Verdict::Fail => "FAIL",
            };
            println!("{mark} {:<36} {}", c.check, super::local_time::localise_times(&c.detail));
            if !c.fix.is_empty() {
                println!("     {:<36} fix: {}", "", c.fix);
            }
        }
    }
    let failed = all.iter().filter(|c| c.verdict != Verdict::Pass).count();
    if failed > 0 {
        return Err(Failure::runtime(format!("{failed} of {} checks did not pass", all.len())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_parameters_are_read_as_samba_reads_them() {
        let conf = "[global]\n\tPid Directory = /run/x\n[share]\npid directory = /wrong\n";
        assert_eq!(global_parameter(conf, "pid directory").as_deref(), Some("/run/x"));
        assert_eq!(global_parameter(conf, "lock directory"), None);
    }

    #[test]
    fn the_hook_path_is_the_first_word_of_the_value() {
        assert_eq!(hook_of("/usr/libexec/x/hook --chain '/a b'"), PathBuf::from("/usr/libexec/x/hook"));
        assert_eq!(hook_of("'/opt/my dir/hook' --chain x"), PathBuf::from("/opt/my dir/hook"));
    }
}
