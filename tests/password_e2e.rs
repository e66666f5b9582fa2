//! The instant password path end to end: a running Samba DC with the hook, a private D-Bus,
//! the emulator and the daemon. A change made on the DC must sign in at the emulator.

mod common;

use std::time::Duration;

use common::stack::Stack;

const UPN: &str = "alice@lab.test";

fn alice(dc: &common::samba::Dc) {
    dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1", "--userou=CN=Users", "--mail-address=alice@lab.test"]);
}

fn stack() -> Stack {
    stack_with("")
}

/// The stack with `extra_sync` added to the daemon's [sync] section.
fn stack_with(extra_sync: &str) -> Stack {
    let s = Stack::start(alice, extra_sync, &[]);
    // The initial reconcile exports alice and pushes her current password.
    assert!(
        s.emu.wait_password(UPN, "Al1ce!Pass-1", Duration::from_secs(30)).is_some(),
        "the initial sync did not deliver alice's password:\n{}",
        s.daemon.logs()
    );
    s
}

/// How long a change may take through the hook. Far below HOOK_ONLY's poll and the stack's
/// 1 h reconcile interval: whatever arrives within it came through the hook.
const THROUGH_THE_HOOK: Duration = Duration::from_secs(10);

/// The safety net (a poll of Samba's change counter) slowed to once an hour: only the hook's
/// D-Bus notice can deliver a change within THROUGH_THE_HOOK.
const HOOK_ONLY: &str = "change_poll = \"1h\"";

#[test]
fn changes_through_ldap_kpasswd_and_ldap_modify_reach_entra_through_the_hook() {
    let s = stack_with(HOOK_ONLY);

    let out = s.dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let t = s.emu.wait_password(UPN, "Al1ce!Pass-2", THROUGH_THE_HOOK);
    assert!(t.is_some(), "samba-tool setpassword did not reach Entra:\n{}", s.daemon.logs());
    assert!(!s.emu.verify_password(UPN, "Al1ce!Pass-1"), "the old password must no longer sign in");

    let out = s.dc.kpasswd("alice", "Al1ce!Pass-2", "Al1ce!Pass-3");
    assert!(out.status.success(), "kpasswd: {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        s.emu.wait_password(UPN, "Al1ce!Pass-3", THROUGH_THE_HOOK).is_some(),
        "kpasswd change:\n{}",
        s.daemon.logs()
    );

    // An administrator's LDAP modify of unicodePwd (UTF-16LE of the quoted password, over ldaps).
    let quoted: Vec<u8> = "\"Al1ce!Pass-4\"".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let ldif = format!(
        "dn: CN=alice,CN=Users,DC=lab,DC=test\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, quoted)
    );
    let file = s.dc.dir().join("pw.ldif");
    std::fs::write(&file, ldif).expect("ldif");
    let out = std::process::Command::new("ip")
        .args(["netns", "exec"])
        .arg(s.dc.netns().expect("running"))
        .args(["ldapmodify", "-H", "ldaps://127.0.0.1", "-x", "-D", "Administrator@lab.test", "-w"])
        .arg(common::samba::ADMIN_PASSWORD)
        .arg("-f")
        .arg(&file)
        .env("LDAPTLS_REQCERT", "never")
        .output()
        .expect("ldapmodify");
    assert!(out.status.success(), "ldapmodify: {}", String::from_utf8_lossy(&out.stderr));
    assert!(s.emu.wait_password(UPN, "Al1ce!Pass-4", THROUGH_THE_HOOK).is_some(), "LDAP modify:\n{}", s.daemon.logs());
}

#[test]
fn a_weak_password_is_still_rejected_by_samba() {
    let s = stack();
    let out = s.dc.setpassword_ldap("alice", "aaaaaaaa");
    assert!(!out.status.success(), "Samba accepted a password without complexity while the hook is installed");
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.emu.verify_password(UPN, "Al1ce!Pass-1"));
    assert!(!s.emu.verify_password(UPN, "aaaaaaaa"));
}

#[test]
fn a_change_while_the_daemon_is_down_is_pushed_after_it_starts() {
    let mut s = stack();
    s.daemon.stop();
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Down-2");
    assert!(out.status.success(), "the hook must not block a change while the daemon is down");
    assert!(!s.emu.verify_password(UPN, "Al1ce!Down-2"));
    s.daemon.restart();
    assert!(s.emu.wait_password(UPN, "Al1ce!Down-2", Duration::from_secs(15)).is_some(), "{}", s.daemon.logs());
}

#[test]
fn a_change_during_an_outage_is_delivered_once_entra_recovers() {
    let s = stack();
    s.emu.fault(serde_json::json!({"kind": "unavailable", "seconds": 5}));
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Outage-2");
    assert!(out.status.success());
    std::thread::sleep(Duration::from_secs(2));
    assert!(!s.emu.verify_password(UPN, "Al1ce!Outage-2"), "delivered during the outage?");
    assert!(s.emu.wait_password(UPN, "Al1ce!Outage-2", Duration::from_secs(30)).is_some(), "{}", s.daemon.logs());
}

#[test]
fn a_change_samba_rejects_pushes_nothing() {
    let s = stack();
    // With history on, going back to the current password is refused *after* the hook ran.
    s.dc.samba_tool(&["domain", "passwordsettings", "set", "--history-length=5"]);
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Hist-2");
    assert!(out.status.success());
    assert!(s.emu.wait_password(UPN, "Al1ce!Hist-2", Duration::from_secs(10)).is_some());
    let stats_before = s.emu.stats();
    let out = s.dc.kpasswd("alice", "Al1ce!Hist-2", "Al1ce!Pass-1");
    assert!(!out.status.success(), "Samba should refuse a password from history");
    std::thread::sleep(Duration::from_secs(3));
    assert!(s.emu.verify_password(UPN, "Al1ce!Hist-2"), "the current password must still sign in");
    let calls = |v: &serde_json::Value| v["calls"]["ProvisionCredentials"].as_u64().unwrap_or(0);
    assert_eq!(calls(&s.emu.stats()), calls(&stats_before), "a rejected change was pushed");
}

fn set_temporary(s: &Stack, password: &str) {
    s.dc.set_temporary_password_ldap("alice", password);
}

#[test]
fn a_temporary_password_stays_on_premises_by_default() {
    // With a password history: should the tool's second write (pwdLastSet=0) land later than
    // the settle on a loaded machine, the password pushed as a normal one is taken back to
    // exactly the previous one (tests/security_e2e.rs), so the last real password still signs in.
    let s = Stack::start(
        |dc| {
            dc.samba_tool(&["domain", "passwordsettings", "set", "--history-length=24"]);
            alice(dc);
        },
        "",
        &[],
    );
    assert!(s.emu.wait_password(UPN, "Al1ce!Pass-1", Duration::from_secs(30)).is_some(), "{}", s.daemon.logs());
    set_temporary(&s, "Al1ce!Temp-2");
    std::thread::sleep(Duration::from_secs(3));
    assert!(!s.emu.verify_password(UPN, "Al1ce!Temp-2"), "a temporary password was pushed:\n{}", s.daemon.logs());
    assert!(s.emu.verify_password(UPN, "Al1ce!Pass-1"), "the last real password must still sign in");
    let out = s.daemon.cli(&["user", "alice", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let user: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(user["lastError"].as_str().unwrap_or_default().contains("temporary"), "{user}");
    // Once the user picks a real password, it is pushed.
    let out = s.dc.kpasswd("alice", "Al1ce!Temp-2", "Al1ce!Real-3");
    assert!(out.status.success(), "kpasswd: {}", String::from_utf8_lossy(&out.stderr));
    assert!(s.emu.wait_password(UPN, "Al1ce!Real-3", Duration::from_secs(10)).is_some(), "{}", s.daemon.logs());
}

#[test]
fn a_temporary_password_is_pushed_when_configured() {
    let s = Stack::start(alice, "push_temporary_passwords = true", &[]);
    assert!(s.emu.wait_password(UPN, "Al1ce!Pass-1", Duration::from_secs(30)).is_some(), "{}", s.daemon.logs());
    set_temporary(&s, "Al1ce!Temp-2");
    assert!(s.emu.wait_password(UPN, "Al1ce!Temp-2", Duration::from_secs(10)).is_some(), "{}", s.daemon.logs());
}

#[test]
fn status_and_user_report_the_password_path() {
    let s = stack();
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Stat-2");
    assert!(out.status.success());
    assert!(s.emu.wait_password(UPN, "Al1ce!Stat-2", Duration::from_secs(10)).is_some());
    std::thread::sleep(Duration::from_millis(300));
    let out = s.daemon.cli(&["status", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["queueDepth"], 0, "{status}");
    assert!(status["passwordLatencySamples"].as_u64().unwrap_or(0) >= 2, "{status}");
    assert!(status["passwordLatencyP99Ms"].as_f64().is_some(), "{status}");
    assert!(status["apiCompatibility"].as_str().unwrap_or_default().starts_with("compatible"), "{status}");
    let out = s.daemon.cli(&["user", "alice", "--json"]);
    let user: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(user["acknowledgedKeyVersion"], user["seenKeyVersion"], "{user}");
    assert!(user["latencyMs"].as_f64().is_some(), "{user}");
}
