//! What the README, the example config and `--help` promise, each held to it end to end (a
//! throwaway DC with the hook, a private D-Bus, the emulator and the real daemon): a dry run
//! sends nothing, an approval releases exactly the held set once, a reload keeps password sync,
//! tenant checks are retried until they pass, `status` follows what happens, `plan` on a fresh
//! install reads the tenant, and a temporary password that becomes a normal one arrives.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::bus::PrivateBus;
use common::samba::{DOMAIN_DN, Dc};
use common::stack::{Daemon, Emulator, Stack, tail};
use common::wait_until;

const UPN: &str = "alice@lab.test";
const RUN: Duration = Duration::from_secs(120);

fn users(dc: &Dc) {
    dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1", "--mail-address=alice@lab.test"]);
    for i in 0..5 {
        dc.samba_tool(&["user", "create", &format!("user{i}"), "Us3r!Pass-1"]);
    }
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn status(s: &Stack) -> Value {
    json_of(&s.daemon.cli(&["status", "--json"]))
}

fn calls(s: &Stack, op: &str) -> u64 {
    s.emu.stats()["calls"][op].as_u64().unwrap_or(0)
}

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().expect("sqlite3");
    assert!(out.status.success(), "sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn delete_users(s: &Stack, names: &[&str]) {
    let ldif: String =
        names.iter().map(|n| format!("dn: CN={n},CN=Users,{DOMAIN_DN}\nchangetype: delete\n\n")).collect();
    s.dc.ldbmodify(&ldif);
}

fn emulator_has_user(s: &Stack, name: &str) -> bool {
    s.emu.objects("User").iter().any(|o| {
        o["attributes"]["onPremisesSamAccountName"].as_str().or(o["attributes"]["SAMAccountName"].as_str())
            == Some(name)
            || o["attributes"]["userPrincipalName"]
                .as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(&format!("{name}@lab.test")))
    })
}

// ---- 1. a dry run sends nothing ----

#[test]
fn a_dry_run_daemon_sends_nothing_and_reports_what_it_would_send() {
    let s = Stack::start(users, "dry_run = true", &[]);
    s.wait_full_runs(1, RUN);
    let st = status(&s);
    assert_eq!(st["dryRun"], true, "{st}");
    assert!(st["lastReconcile"]["creates"].as_u64().unwrap_or(0) >= 6, "the dry run reports its creates: {st}");
    assert_eq!(st["lastReconcile"]["dryRun"], true, "{st}");
    // A change through the hook, and one the password path would find missing in Entra.
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        wait_until(Duration::from_secs(10), || status(&s)["dryRunPasswordsHeld"].as_u64().unwrap_or(0) >= 1),
        "the dry run did not report the password it held back:\n{}",
        tail(&s.daemon.logs())
    );
    std::thread::sleep(Duration::from_secs(2));
    let stats = s.emu.stats();
    assert_eq!(stats["writes"], 0, "a dry run changed the tenant: {stats}");
    for op in [
        "ProvisionAzureADSyncObjects",
        "ProvisionAzureADSyncObjects2",
        "ProvisionCredentials",
        "SetCompanyDirsyncFeatures",
    ] {
        assert_eq!(calls(&s, op), 0, "a dry run called {op}: {stats}\n{}", tail(&s.daemon.logs()));
    }
    assert!(s.daemon.logs().contains("dry run"), "the log says what was held back");
    // "the state DB records no export or held delete" (the example config's promise).
    let db = s.daemon.state_db();
    assert_eq!(sqlite(&db, "SELECT COUNT(*) FROM objects"), "0", "a dry run recorded exports");
    assert_eq!(sqlite(&db, "SELECT COUNT(*) FROM outbox"), "0", "a dry run queued password pushes");
    // `plan` (through the daemon) lists what would be sent.
    let plan: Value = {
        let out = Command::new(common::bin()).args(["plan", "--json", "--config"]).arg(&s.daemon.config).output();
        json_of(&out.expect("plan"))
    };
    assert!(plan["operations"].as_array().is_some_and(|o| o.len() >= 6), "{plan}");
}

#[test]
fn an_in_process_dry_run_writes_no_held_deletes() {
    let mut s = Stack::start(users, "deletion_threshold = 2", &[]);
    s.wait_full_runs(1, RUN);
    s.daemon.stop();
    delete_users(&s, &["user0", "user1", "user2"]);
    let writes = s.emu.writes();
    let out = Command::new(common::bin())
        .args(["sync", "--dry-run", "--json", "--config"])
        .arg(&s.daemon.config)
        .output()
        .expect("sync --dry-run");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(summary["deletesHeld"], 3, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(sqlite(&s.daemon.state_db(), "SELECT COUNT(*) FROM held_deletes"), "0", "a dry run wrote held deletes");
    assert_eq!(s.emu.writes(), writes, "a dry run changed the tenant");
    // For people by default: counts in words and what to do next.
    let out = Command::new(common::bin()).args(["sync", "--dry-run", "--config"]).arg(&s.daemon.config).output();
    let text = String::from_utf8_lossy(&out.expect("sync --dry-run").stdout).to_string();
    assert!(text.contains("would have sent") && text.contains("Dry run: nothing was sent"), "{text}");
    assert!(text.contains("3 deletes are held back") && text.contains("approve-deletes"), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "JSON only with --json: {text}");
}

// ---- 2. an approval releases exactly its held set, once ----

fn approve(s: &Stack, digest: Option<&str>) -> Output {
    let mut cmd = Command::new(common::bin());
    cmd.args(["approve-deletes", "--bus", s.bus.address()]);
    if let Some(d) = digest {
        cmd.args(["--digest", d]);
    }
    cmd.output().expect("approve-deletes")
}

#[test]
fn an_approval_with_nothing_held_arms_nothing() {
    let s = Stack::start(users, "deletion_threshold = 2", &[]);
    s.wait_full_runs(1, RUN);
    let out = approve(&s, None);
    assert!(!out.status.success(), "approve-deletes with nothing held must fail");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("no deletes are held"), "{said}");
    // A mass delete after it is still held.
    delete_users(&s, &["user0", "user1", "user2"]);
    std::thread::sleep(Duration::from_secs(2));
    s.reconcile(RUN);
    assert!(emulator_has_user(&s, "user0"), "an approval given with nothing held let a later mass delete through");
    assert_eq!(status(&s)["heldDeletes"], 3);
}

#[test]
fn an_approval_releases_only_the_set_it_was_given_for() {
    let s = Stack::start(users, "deletion_threshold = 2", &[]);
    s.wait_full_runs(1, RUN);
    delete_users(&s, &["user0", "user1", "user2"]);
    std::thread::sleep(Duration::from_secs(2));
    s.reconcile(RUN);
    let first = status(&s)["heldDeletesDigest"].as_str().map(String::from).expect("a digest for the held set");
    // The set grows before the administrator approves what they saw.
    delete_users(&s, &["user3"]);
    std::thread::sleep(Duration::from_secs(2));
    s.reconcile(RUN);
    let second = status(&s)["heldDeletesDigest"].as_str().map(String::from).expect("a digest");
    assert_ne!(first, second);
    let out = approve(&s, Some(&first));
    assert!(!out.status.success(), "an approval of a set that changed must be refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&second), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_secs(1));
    assert!(emulator_has_user(&s, "user0"), "a refused approval released deletes");
    let before = s.full_runs();
    let out = approve(&s, Some(&second));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("released 4"), "{}", String::from_utf8_lossy(&out.stdout));
    s.wait_full_runs(before + 1, RUN);
    for n in ["user0", "user1", "user2", "user3"] {
        assert!(!emulator_has_user(&s, n), "{n} was approved but not deleted");
    }
    // Used once: nothing stays armed for a later mass delete.
    assert_eq!(sqlite(&s.daemon.state_db(), "SELECT COUNT(*) FROM delete_approvals"), "0", "the approval stays armed");
}

#[test]
fn holds_of_the_scope_guards_cannot_be_approved() {
    let mut s = Stack::start(users, "", &[]);
    s.wait_full_runs(1, RUN);
    let config = std::fs::read_to_string(&s.daemon.config).expect("config");
    let config = config.replace("[state]", &format!("[sync.scope]\nuser_bases = [\"OU=Gone,{DOMAIN_DN}\"]\n[state]"));
    std::fs::write(&s.daemon.config, config).expect("config");
    s.daemon.restart();
    s.wait_full_runs(2, RUN);
    assert!(status(&s)["heldDeletes"].as_u64().unwrap_or(0) >= 6);
    let out = approve(&s, None);
    assert!(!out.status.success(), "approve-deletes claimed to release a scope guard's hold");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("scope guard") && said.contains("does not exist"), "{said}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(emulator_has_user(&s, "alice"), "a scope guard's hold was released");
}

// ---- 3. a reload that cannot build the engine keeps the old one ----

#[test]
fn a_reload_that_cannot_start_keeps_password_sync_and_check_config_finds_it() {
    let s = Stack::start(users, "", &[]);
    assert!(s.emu.wait_password(UPN, "Al1ce!Pass-1", RUN).is_some(), "{}", tail(&s.daemon.logs()));
    let good = std::fs::read_to_string(&s.daemon.config).expect("config");
    let bad = good.replace("[entra.auth]", "ca_file = \"/nonexistent/private-ca.pem\"\n[entra.auth]");
    std::fs::write(&s.daemon.config, &bad).expect("config");
    // check-config finds it before a reload would.
    let out = s.daemon.cli(&["check-config"]);
    assert_eq!(out.status.code(), Some(2), "check-config accepted a missing ca_file");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ca_file"), "{}", String::from_utf8_lossy(&out.stderr));
    s.daemon.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(10), || !status(&s)["reloadError"].is_null()),
        "status does not show the refused reload:\n{}",
        tail(&s.daemon.logs())
    );
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        s.emu.wait_password(UPN, "Al1ce!Pass-2", Duration::from_secs(10)).is_some(),
        "password sync stopped after a refused reload:\n{}",
        tail(&s.daemon.logs())
    );
    assert_eq!(status(&s)["state"], "running");
}

// ---- 4. tenant checks are retried until they pass ----

#[test]
fn tenant_checks_that_fail_at_start_are_retried_before_anything_is_written() {
    let bus = PrivateBus::start().expect("bus");
    let emu = Emulator::start(&[]);
    let mut dc = Dc::new();
    users(&dc);
    dc.set_global_option("check password script", &common::stack::hook_path().display().to_string());
    dc.start(&[("DBUS_SYSTEM_BUS_ADDRESS", bus.address())]);
    // Entra answers nothing for the first 40 s: the start-up checks fail.
    emu.fault(json!({"kind": "unavailable", "seconds": 40}));
    let t0 = Instant::now();
    let daemon = Daemon::start(&dc, &emu, &bus, "");
    let st = json_of(&daemon.cli(&["status", "--json"]));
    assert_eq!(st["state"], "degraded", "{st}");
    assert!(st["degradedReasons"].to_string().contains("tenant"), "{st}");
    // Password hash sync is off in a fresh emulator tenant: only the tenant check turns it on,
    // and every password must verify once the service is back.
    assert!(
        emu.wait_password(UPN, "Al1ce!Pass-1", Duration::from_secs(150)).is_some(),
        "the tenant checks were not retried (after {:?}):\n{}",
        t0.elapsed(),
        tail(&daemon.logs())
    );
    assert!(t0.elapsed() >= Duration::from_secs(35), "written before the service was back");
    let st = json_of(&daemon.cli(&["status", "--json"]));
    assert_eq!(st["state"], "running", "{st}");
}

// ---- 5. status follows what happens ----

#[test]
fn status_is_degraded_while_pushes_fail_for_a_sign_in_and_running_after_the_next_success() {
    let s = Stack::start(users, "", &[]);
    assert!(s.emu.wait_password(UPN, "Al1ce!Pass-1", RUN).is_some(), "{}", tail(&s.daemon.logs()));
    assert_eq!(status(&s)["state"], "running");
    // The sign-in is lost: no refresh token any more, and the current access token refused.
    std::fs::remove_file(s.daemon.dir.path().join("token.json")).expect("token cache");
    s.emu.fault(json!({"kind": "tokenExpiry", "seconds": 600}));
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        wait_until(Duration::from_secs(20), || status(&s)["state"] == "degraded"),
        "status stayed {} while every push failed:\n{}",
        status(&s)["state"],
        tail(&s.daemon.logs())
    );
    let st = status(&s);
    assert!(st["degradedReasons"].to_string().contains("samba-entra-sync login"), "no fixing command: {st}");
    // The administrator signs in again: the queued change arrives and the state clears.
    let out = s.daemon.cli(&["login"]);
    assert!(out.status.success(), "login: {}", String::from_utf8_lossy(&out.stderr));
    assert!(s.emu.wait_password(UPN, "Al1ce!Pass-2", Duration::from_secs(90)).is_some(), "{}", tail(&s.daemon.logs()));
    assert!(wait_until(Duration::from_secs(5), || status(&s)["state"] == "running"), "{}", status(&s));
}

// ---- 7. plan on a fresh install reads the tenant ----

#[test]
fn plan_on_a_fresh_install_shows_objects_entra_already_has_as_matches() {
    let mut s = Stack::start(users, "", &[]);
    s.wait_full_runs(1, RUN);
    s.daemon.stop();
    s.dc.samba_tool(&["user", "create", "newbie", "N3wbie!Pass-1"]);
    // The same domain and tenant, a new installation (an empty state DB).
    let config = std::fs::read_to_string(&s.daemon.config).expect("config");
    let fresh = s.daemon.dir.path().join("fresh.toml");
    std::fs::write(&fresh, config.replace("state.db", "fresh-state.db")).expect("config");
    let out = Command::new(common::bin()).args(["plan", "--json", "--config"]).arg(&fresh).output().expect("plan");
    let plan = json_of(&out);
    assert_eq!(plan["readBack"], true, "{plan}");
    let op = |name: &str| {
        plan["operations"]
            .as_array()
            .and_then(|ops| ops.iter().find(|o| o["name"] == name && o["action"] != "password").cloned())
            .unwrap_or_else(|| panic!("no operation for {name}: {plan}"))
    };
    let alice = op("alice");
    assert_eq!(alice["action"], "update", "{alice}");
    assert!(alice["reason"].as_str().unwrap_or_default().contains("matches an existing object"), "{alice}");
    assert_eq!(op("newbie")["action"], "create");
    assert!(plan["operations"].as_array().is_some_and(|o| o.iter().filter(|o| o["action"] == "create").count() == 1));
}

// ---- 8. a temporary password that becomes a normal one arrives ----

#[test]
fn a_temporary_password_that_becomes_normal_is_pushed() {
    let s = Stack::start(users, "", &[]);
    assert!(s.emu.wait_password(UPN, "Al1ce!Pass-1", RUN).is_some(), "{}", tail(&s.daemon.logs()));
    s.dc.set_temporary_password_ldap("alice", "Al1ce!Temp-2");
    std::thread::sleep(Duration::from_secs(3));
    assert!(!s.emu.verify_password(UPN, "Al1ce!Temp-2"), "a temporary password was pushed");
    // The administrator clears "must change at next logon" without a new password.
    s.dc.ldbmodify(&format!(
        "dn: CN=alice,CN=Users,{DOMAIN_DN}\nchangetype: modify\nreplace: pwdLastSet\npwdLastSet: -1\n"
    ));
    assert!(
        s.emu.wait_password(UPN, "Al1ce!Temp-2", Duration::from_secs(15)).is_some(),
        "the password that became a normal one never arrived:\n{}",
        tail(&s.daemon.logs())
    );
}
