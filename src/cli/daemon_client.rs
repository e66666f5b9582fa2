//! Subcommands that ask the running daemon over D-Bus: status, user, sync, plan, approve-deletes.

use std::path::PathBuf;

use serde_json::Value as Json;

use super::local_time::{local_time, localise_leading_time};
use super::{CliResult, Failure, runtime};
use crate::bus::client::{DaemonProxy, connect, to_json};
use crate::config::BusConfig;
use crate::entra::timefmt::utc_millis;

/// How to reach the daemon: its config file (for the [dbus] bus), or the system bus.
#[derive(clap::Args, Debug, Clone)]
pub struct BusArgs {
    /// The daemon's config file; its [dbus] section says which bus to use.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A bus address (e.g. unix:path=/run/x/bus), instead of the config's or the system bus.
    #[arg(long, value_name = "ADDRESS", env = "SAMBA_ENTRA_SYNC_BUS")]
    pub bus: Option<String>,
}

impl BusArgs {
    pub(crate) fn bus_config(&self) -> Result<BusConfig, Failure> {
        self.bus()
    }

    fn bus(&self) -> Result<BusConfig, Failure> {
        if let Some(a) = &self.bus {
            return Ok(if a == "session" {
                BusConfig::Session
            } else if a == "system" {
                BusConfig::System
            } else {
                BusConfig::Address(a.clone())
            });
        }
        match &self.config {
            Some(path) => Ok(super::config::load(path)?.dbus.bus),
            None => Ok(BusConfig::System),
        }
    }
}

fn with_daemon<T>(
    args: &BusArgs,
    f: impl AsyncFnOnce(DaemonProxy<'static>) -> Result<T, zbus::Error>,
) -> Result<T, Failure> {
    let bus = args.bus()?;
    runtime()?.block_on(async {
        let proxy = connect(&bus).await.map_err(|e| Failure::runtime(format!("cannot reach the D-Bus bus: {e}")))?;
        f(proxy).await.map_err(bus_failure)
    })
}

pub(crate) fn bus_failure(e: zbus::Error) -> Failure {
    let text = e.to_string();
    if text.contains("ServiceUnknown") || text.contains("NameHasNoOwner") || text.contains("was not provided") {
        Failure::runtime(
            "the samba-entra-sync daemon is not running (nobody owns io.github.SambaEntraSync1 on this bus)",
        )
    } else if let Some((_, message)) = text.split_once("Error.Failed: ") {
        // The daemon's own sentence (e.g. why nothing was approved).
        Failure::runtime(message.to_string())
    } else if text.contains("AccessDenied") {
        Failure::runtime(format!("the daemon refused the call: {text}"))
    } else {
        Failure::runtime(format!("the D-Bus call failed: {text}"))
    }
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub bus: BusArgs,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn status(args: &StatusArgs) -> CliResult {
    let dict = with_daemon(&args.bus, async |p| p.status().await.map_err(Into::into))?;
    let json = to_json(&dict);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
        return Ok(());
    }
    let s = |k: &str| json.get(k).map(show).unwrap_or_else(|| "-".into());
    println!("state:                 {}", s("state"));
    if let Some(reasons) = json.get("degradedReasons").and_then(Json::as_array).filter(|a| !a.is_empty()) {
        for r in reasons {
            println!("  because:             {}", show(r));
        }
    }
    for w in json.get("warnings").and_then(Json::as_array).into_iter().flatten() {
        println!("warning:               {}", show(w));
    }
    if json.get("dryRun").and_then(Json::as_bool) == Some(true) {
        println!(
            "dry run:               on (sync.dry_run): nothing is sent to Entra; {} password pushes held back",
            s("dryRunPasswordsHeld")
        );
    }
    if let Some(e) = json.get("reloadError").filter(|v| !v.is_null()) {
        println!("last reload refused:   {} (the running config stays in force)", show(e));
    }
    if json.get("role").and_then(Json::as_str).is_some() {
        println!("role:                  {} (this DC: {}; leader: {})", s("role"), s("thisDc"), s("leader"));
    }
    println!("API compatibility:     {}", s("apiCompatibility"));
    if json.get("signIn").and_then(Json::as_str).is_some_and(|t| !t.is_empty()) {
        println!("sign-in:               {}", s("signIn"));
    }
    if let Some(c) = json.get("certificate").filter(|c| c.is_object()) {
        let at = |k: &str| c.get(k).and_then(Json::as_i64).map(local_time).unwrap_or_else(|| "-".into());
        println!(
            "certificate:           expires {}, renewed from {}; renewal: {}",
            at("expiresAt"),
            at("renewFrom"),
            c.get("rotation").map(show).unwrap_or_default()
        );
    }
    println!("password queue depth:  {}", s("queueDepth"));
    println!("passwords synced:      {} (failed attempts: {})", s("pushesAcknowledged"), s("pushesFailed"));
    if json.get("noticesDropped").and_then(Json::as_u64).is_some_and(|n| n > 0) {
        println!(
            "notices dropped:       {} (the hook's queue was full; the change poll delivered those changes)",
            s("noticesDropped")
        );
    }
    println!(
        "password latency (1h): p50 {} ms, p99 {} ms over {} changes",
        s("passwordLatencyP50Ms"),
        s("passwordLatencyP99Ms"),
        s("passwordLatencySamples")
    );
    println!("exported objects:      {}", s("exportedObjects"));
    if json.get("blockedObjects").and_then(Json::as_u64).is_some_and(|n| n > 0) {
        println!(
            "refused by the tenant: {} (not sent again until they change; `sync --retry-blocked`)",
            s("blockedObjects")
        );
        for b in json.get("blocked").and_then(Json::as_array).into_iter().flatten() {
            println!("  {}", show(b));
        }
    }
    match json.get("heldDeletesDigest").filter(|v| !v.is_null()) {
        Some(d) => println!(
            "held deletes:          {} (release the threshold's with `approve-deletes --digest {}`)",
            s("heldDeletes"),
            show(d)
        ),
        None => println!("held deletes:          {}", s("heldDeletes")),
    }
    match json.get("lastReconcile") {
        Some(r) => println!(
            "last reconcile:        {} ({} creates, {} updates, {} deletes, {} held, {} errors)",
            r.get("finishedAt").and_then(Json::as_i64).map(local_time).unwrap_or_default(),
            show(&r["creates"]),
            show(&r["updates"]),
            show(&r["deletes"]),
            show(&r["deletesHeld"]),
            show(&r["errors"])
        ),
        None => println!("last reconcile:        none yet"),
    }
    println!(
        "next reconcile:        {}",
        json.get("nextReconcileAt").and_then(Json::as_i64).map(local_time).unwrap_or_else(|| "-".into())
    );
    println!("last error:            {}", s("lastError"));
    if let Some(errors) = json.get("recentErrors").and_then(Json::as_array).filter(|a| !a.is_empty()) {
        println!("recent errors:");
        for e in errors {
            println!("  {}", localise_leading_time(&show(e)));
        }
    }
    print_seamless_sso(args.bus.config.as_deref());
    Ok(())
}

/// Seamless SSO's line, read from sam.ldb here (the daemon has no part in it): only with
/// --config, and only when this user may read sam.ldb.
fn print_seamless_sso(config_path: Option<&std::path::Path>) {
    let Some(path) = config_path else { return };
    let Ok(config) = crate::config::Config::load(path) else { return };
    match super::seamless_sso::LocalState::read(&config, path) {
        Ok(state) => {
            println!("seamless SSO:          {}", state.summary());
            for w in state.warnings() {
                println!("warning:               {w}");
            }
        }
        Err(e) => println!("seamless SSO:          unknown ({e})"),
    }
}

fn show(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => "-".into(),
        Json::Number(n) => {
            n.as_f64().filter(|f| f.fract() != 0.0).map(|f| format!("{f:.1}")).unwrap_or_else(|| n.to_string())
        }
        other => other.to_string(),
    }
}

#[derive(clap::Args, Debug)]
pub struct UserArgs {
    /// The user's sAMAccountName.
    pub name: String,
    #[command(flatten)]
    pub bus: BusArgs,
    #[arg(long)]
    pub json: bool,
    /// The user's password events of the last `[state] password_history` (default 7 days),
    /// newest first: change seen, pushed, acknowledged, refused, retried, skipped, resync.
    #[arg(long)]
    pub history: bool,
}

pub fn user(args: &UserArgs) -> CliResult {
    if args.history {
        return user_history(args);
    }
    let name = args.name.clone();
    let dict = with_daemon(&args.bus, async move |p| p.get_user(name).await.map_err(Into::into))?;
    let json = to_json(&dict);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
        return Ok(());
    }
    let s = |k: &str| json.get(k).map(show).unwrap_or_else(|| "-".into());
    let t = |k: &str| json.get(k).and_then(Json::as_i64).map(local_time).unwrap_or_else(|| "-".into());
    if json.get("passwordStatus").and_then(Json::as_str) == Some("SourceConnectorNotPresent") {
        return Err(Failure::runtime(format!(
            "no such account: there is no user named {} on this DC (SourceConnectorNotPresent)",
            args.name
        )));
    }
    println!("account:              {}", s("account"));
    if json.get("passwordStatus").is_some() {
        println!("password status:      {} ({})", s("passwordStatusText"), s("passwordStatus"));
    }
    println!("source anchor:        {}", s("anchor"));
    if json.get("changedOn").is_some() || json.get("pushedBy").is_some() {
        println!("last change:          made on {}, pushed by {}", s("changedOn"), s("pushedBy"));
    }
    println!("change seen:          key version {} at {}", s("seenKeyVersion"), t("seenAt"));
    println!("pushed:               key version {} at {}", s("pushedKeyVersion"), t("pushedAt"));
    println!("acknowledged:         key version {} at {}", s("acknowledgedKeyVersion"), t("acknowledgedAt"));
    println!("latency:              {} ms", s("latencyMs"));
    println!("last error or note:   {}", s("lastError"));
    Ok(())
}

fn user_history(args: &UserArgs) -> CliResult {
    let name = args.name.clone();
    let text = with_daemon(&args.bus, async move |p| p.get_password_history(name).await.map_err(Into::into))?;
    let events: Vec<Json> =
        serde_json::from_str(&text).map_err(|e| Failure::runtime(format!("the daemon's answer: {e}")))?;
    // The record in UTC, the lines for people in local time.
    let with_times = |format: fn(i64) -> String| -> Vec<Json> {
        events
            .iter()
            .cloned()
            .map(|mut e| {
                if let Some(at) = e.get("at").and_then(Json::as_i64) {
                    e["at"] = Json::String(format(at));
                }
                e
            })
            .collect()
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&with_times(utc_millis)).unwrap_or_default());
        return Ok(());
    }
    let events = with_times(local_time);
    if events.is_empty() {
        println!("no password events for {} in the kept period ([state] password_history)", args.name);
    }
    for e in &events {
        let kvno = e.get("keyVersion").and_then(Json::as_u64).map(|k| format!("key version {k}")).unwrap_or_default();
        let detail = e.get("detail").and_then(Json::as_str).unwrap_or("");
        println!("{}  {:<13} {:<15} {}", show(&e["at"]), show(&e["event"]), kvno, detail);
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct SimpleArgs {
    #[command(flatten)]
    pub bus: BusArgs,
}

#[derive(clap::Args, Debug)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub bus: BusArgs,
    /// Approve only this held set (the digest `plan` and `status` show); without it, the set
    /// held now.
    #[arg(long, value_name = "DIGEST")]
    pub digest: Option<String>,
}

pub fn approve_deletes(args: &ApproveArgs) -> CliResult {
    let digest = args.digest.clone().unwrap_or_default();
    let message = with_daemon(&args.bus, async move |p| p.approve_held_deletes(digest).await.map_err(Into::into))?;
    // The daemon words its expiry in UTC; people read local time, as everywhere else.
    println!("{}", super::local_time::localise_times(&message));
    Ok(())
}

pub(crate) fn sync_now(args: &SimpleArgs) -> CliResult {
    with_daemon(&args.bus, async |p| p.sync_now().await.map_err(Into::into))?;
    println!("Reconcile requested.");
    Ok(())
}

/// `sync --retry-blocked` through the daemon.
pub fn retry_blocked(bus: &BusArgs) -> CliResult {
    let n = with_daemon(bus, async |p| p.retry_blocked().await.map_err(Into::into))?;
    println!(
        "{n} objects the tenant refused are sent again in a reconcile now (`status` shows what is still refused)."
    );
    Ok(())
}

pub fn plan(args: &SimpleArgs) -> CliResult {
    let text = with_daemon(&args.bus, async |p| p.plan().await.map_err(Into::into))?;
    println!("{text}");
    Ok(())
}
