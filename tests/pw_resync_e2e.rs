//! Password sync troubleshooting as administrators know it (issue 20): a full password resync
//! on request, and by itself when the tenant's password hash sync comes back on; the daemon
//! never turns the feature on or off itself.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::stack::{Stack, tail};

fn users(dc: &common::samba::Dc) {
    dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1", "--mail-address=alice@lab.test"]);
    dc.samba_tool(&["user", "create", "bob", "B0b!Pass-1", "--mail-address=bob@lab.test"]);
}

fn calls(s: &Stack, op: &str) -> u64 {
    s.emu.stats()["calls"][op].as_u64().unwrap_or(0)
}

fn status(s: &Stack) -> Value {
    let out =
        Command::new(common::bin()).args(["status", "--json", "--bus", s.bus.address()]).output().expect("status");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn reasons(s: &Stack) -> String {
    status(s)["degradedReasons"].to_string()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool, logs: impl Fn() -> String) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < timeout, "{what} not within {timeout:?}:\n{}", tail(&logs()));
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn password_hash_sync_turned_off_then_on_syncs_the_changes_made_meanwhile_by_itself() {
    let s = Stack::start(users, "tenant_check_interval = \"2s\"", &[]);
    for (upn, pw) in [("alice@lab.test", "Al1ce!Pass-1"), ("bob@lab.test", "B0b!Pass-1")] {
        assert!(s.emu.wait_password(upn, pw, Duration::from_secs(60)).is_some(), "{}", tail(&s.daemon.logs()));
    }
    // An administrator turns password hash sync off in the portal.
    let (code, _) = s.emu.patch("/admin/company", &json!({"passwordHashSync": false}));
    assert_eq!(code, 200);
    wait_for(
        "status saying password hash sync is off",
        Duration::from_secs(15),
        || reasons(&s).contains("password hash sync is off"),
        || s.daemon.logs(),
    );
    assert_eq!(status(&s)["state"], "degraded");
    let before = calls(&s, "ProvisionCredentials");
    for (name, pw) in [("alice", "Al1ce!Pass-2"), ("bob", "B0b!Pass-2")] {
        let out = s.dc.setpassword_ldap(name, pw);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // The changes wait: nothing is sent, nothing is retried in a loop, nothing is dropped.
    std::thread::sleep(Duration::from_secs(5));
    let sent_while_off = calls(&s, "ProvisionCredentials") - before;
    assert!(sent_while_off == 0, "{sent_while_off} credential calls while the feature was off");
    assert!(!s.emu.verify_password("alice@lab.test", "Al1ce!Pass-2"));
    assert!(status(&s)["queueDepth"].as_u64().unwrap_or(0) >= 2, "{}", status(&s));
    // The administrator turns it back on; nobody does anything on our side.
    let t0 = Instant::now();
    let (code, _) = s.emu.patch("/admin/company", &json!({"passwordHashSync": true}));
    assert_eq!(code, 200);
    for (upn, pw) in [("alice@lab.test", "Al1ce!Pass-2"), ("bob@lab.test", "B0b!Pass-2")] {
        assert!(
            s.emu.wait_password(upn, pw, Duration::from_secs(20)).is_some(),
            "{upn}'s new password did not arrive after the feature came back on:\n{}",
            tail(&s.daemon.logs())
        );
    }
    println!("PHS back on → both passwords verify after {:?}", t0.elapsed());
    assert!(t0.elapsed() < Duration::from_secs(2 + 10), "took {:?}", t0.elapsed());
    wait_for(
        "the degraded reason to clear",
        Duration::from_secs(10),
        || !reasons(&s).contains("password hash sync"),
        || s.daemon.logs(),
    );
    let logs = s.daemon.logs();
    assert_eq!(logs.matches("syncing every password again").count(), 1, "logged once:\n{}", tail(&logs));
    assert!(logs.contains("full password sync started"), "{}", tail(&logs));
    assert_eq!(calls(&s, "SetCompanyDirsyncFeatures"), 0, "the daemon changed the tenant's features");
    let resync = &status(&s)["passwordResync"];
    assert!(resync["reason"].as_str().unwrap_or("").contains("turned on"), "{resync}");
}

#[test]
fn password_hash_sync_off_in_a_fresh_tenant_is_reported_and_never_turned_on_by_the_daemon() {
    let s = Stack::start(users, "tenant_check_interval = \"1s\"", &[]);
    // The harness's tenant has the feature on; turn it off and restart the daemon, as an
    // administrator who turned it off would see the next start.
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-1", Duration::from_secs(60)).is_some());
    s.emu.patch("/admin/company", &json!({"passwordHashSync": false}));
    let mut s = s;
    s.daemon.restart();
    wait_for(
        "status saying password hash sync is off",
        Duration::from_secs(15),
        || reasons(&s).contains("password hash sync is off"),
        || s.daemon.logs(),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(calls(&s, "SetCompanyDirsyncFeatures"), 0, "the daemon turned a tenant feature on");
    assert_eq!(s.emu.get("/admin/company")["passwordHashSync"], false);
}

fn with_temporary(dc: &common::samba::Dc) {
    users(dc);
    dc.samba_tool(&[
        "user",
        "create",
        "carol",
        "Car0l!Pass-1",
        "--mail-address=carol@lab.test",
        "--must-change-at-next-login",
    ]);
}

#[test]
fn all_passwords_repairs_a_tenant_whose_credentials_were_wiped() {
    let s = Stack::start(with_temporary, "", &[]);
    for (upn, pw) in [("alice@lab.test", "Al1ce!Pass-1"), ("bob@lab.test", "B0b!Pass-1")] {
        assert!(s.emu.wait_password(upn, pw, Duration::from_secs(60)).is_some(), "{}", tail(&s.daemon.logs()));
    }
    // A tenant restore behind our back: every credential is gone, the objects stay.
    assert_eq!(s.emu.delete("/admin/credentials"), 200);
    assert!(!s.emu.verify_password("alice@lab.test", "Al1ce!Pass-1"));
    let out = Command::new(common::bin())
        .args(["sync", "--all-passwords", "--json", "--bus", s.bus.address()])
        .output()
        .expect("sync --all-passwords");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), tail(&s.daemon.logs()));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    println!("summary: {summary}");
    assert_eq!(summary["pushed"], 2, "{summary}");
    assert_eq!(summary["skipped"]["temporaryPassword"], 1, "{summary}");
    assert_eq!(summary["statusCodes"]["FilteredByTarget"], 1, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    for (upn, pw) in [("alice@lab.test", "Al1ce!Pass-1"), ("bob@lab.test", "B0b!Pass-1")] {
        assert!(s.emu.verify_password(upn, pw), "{upn} does not sign in after the resync");
    }
    assert!(!s.emu.verify_password("carol@lab.test", "Car0l!Pass-1"), "a temporary password stays on-premises");
    // Without --json, for people: the summary in words, with Entra Connect's code.
    let out = Command::new(common::bin())
        .args(["sync", "--all-passwords", "--bus", s.bus.address()])
        .output()
        .expect("sync --all-passwords");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pushed:") && text.contains("FilteredByTarget"), "{text}");
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(progress.contains("done") && progress.contains("/s") && progress.contains("left"), "{progress}");
    // ResyncPasswords changes state: root only.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "dbus-send"])
        .arg(format!("--bus={}", s.bus.address()))
        .args(["--print-reply", "--dest=io.github.SambaEntraSync1", "/io/github/SambaEntraSync1"])
        .arg("io.github.SambaEntraSync1.ResyncPasswords")
        .output()
        .expect("dbus-send");
    assert!(!out.status.success(), "nobody may not start a resync");
    assert!(String::from_utf8_lossy(&out.stderr).contains("AccessDenied"), "{}", String::from_utf8_lossy(&out.stderr));
}

const MANY: usize = 2_000;

fn credentials(s: &Stack) -> u64 {
    s.emu.stats()["credentials"].as_u64().unwrap_or(0)
}

#[test]
fn a_resync_killed_midway_finishes_after_restart_and_loses_nothing() {
    use common::fixture::{password_of, user_name, users_ldif};
    let mut s = Stack::start(|dc| dc.ldbadd(&users_ldif(0..MANY), true), "", &[]);
    wait_for(
        "the initial sync's passwords",
        Duration::from_secs(600),
        || credentials(&s) >= MANY as u64,
        || s.daemon.logs(),
    );
    assert_eq!(s.emu.delete("/admin/credentials"), 200);
    assert_eq!(credentials(&s), 0);
    let calls_before = calls(&s, "ProvisionCredentials");
    let t0 = Instant::now();
    let mut cli = Command::new(common::bin())
        .args(["sync", "--all-passwords", "--json", "--bus", s.bus.address()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sync --all-passwords");
    wait_for(
        "a quarter of the resync",
        Duration::from_secs(300),
        || credentials(&s) >= (MANY / 4) as u64,
        || s.daemon.logs(),
    );
    s.daemon.kill9();
    let _ = cli.kill();
    let _ = cli.wait();
    let at_kill = credentials(&s);
    assert!(at_kill < MANY as u64, "the resync finished before the kill: nothing to resume");
    s.daemon.start_again();
    wait_for("the resumed resync", Duration::from_secs(600), || credentials(&s) >= MANY as u64, || s.daemon.logs());
    let took = t0.elapsed();
    wait_for(
        "the resync to say it finished",
        Duration::from_secs(30),
        || !status(&s)["passwordResync"]["finishedAt"].is_null(),
        || s.daemon.logs(),
    );
    let run = status(&s)["passwordResync"].clone();
    let sent = calls(&s, "ProvisionCredentials") - calls_before;
    println!("RESYNC|{MANY} users|killed at {at_kill}|credential calls {sent}|took {took:?}|{run}");
    // At most the pushes in flight at the kill are sent twice (4 in parallel by default).
    assert!(sent <= MANY as u64 + 8, "{sent} credential calls for {MANY} users");
    assert_eq!(run["remaining"], 0, "{run}");
    // Every user holds a credential again; a sample signs in with its own password.
    for i in (0..MANY).step_by(97).chain([MANY - 1]) {
        let upn = format!("{}@lab.test", user_name(i));
        assert!(s.emu.verify_password(&upn, &password_of(i)), "{upn} does not sign in after the resumed resync");
    }
}

fn user_json(s: &Stack, name: &str) -> (Value, bool) {
    let out = Command::new(common::bin())
        .args(["user", name, "--json", "--bus", s.bus.address()])
        .output()
        .expect("user --json");
    (serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), out.status.success())
}

fn password_status(s: &Stack, name: &str) -> String {
    let (v, ok) = user_json(s, name);
    assert!(ok, "user {name} --json failed: {v}");
    assert!(v["passwordStatusText"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    v["passwordStatus"].as_str().unwrap_or("").to_owned()
}

fn wait_status(s: &Stack, name: &str, code: &str) {
    wait_for(
        &format!("{name}: {code}"),
        Duration::from_secs(20),
        || password_status(s, name) == code,
        || format!("{}\n{}", user_json(s, name).0, s.daemon.logs()),
    );
}

#[test]
fn user_shows_each_password_status_in_entra_connect_words() {
    let s = Stack::start(with_temporary, "tenant_check_interval = \"1h\"", &[]);
    for (upn, pw) in [("alice@lab.test", "Al1ce!Pass-1"), ("bob@lab.test", "B0b!Pass-1")] {
        assert!(s.emu.wait_password(upn, pw, Duration::from_secs(60)).is_some(), "{}", tail(&s.daemon.logs()));
    }
    wait_status(&s, "alice", "Success");
    wait_status(&s, "carol", "FilteredByTarget");
    // The built-in Administrator stays on-premises (RID < 1000).
    assert_eq!(password_status(&s, "Administrator"), "NoTargetConnection");
    // No such account: exit 0 with --json, a clear line and a non-zero exit without.
    let (v, ok) = user_json(&s, "nosuchuser");
    assert!(ok, "{v}");
    assert_eq!(v["passwordStatus"], "SourceConnectorNotPresent", "{v}");
    let out = Command::new(common::bin()).args(["user", "nosuchuser", "--bus", s.bus.address()]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such account"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The service turns everything away: a new user is not exported, a change waits.
    s.emu.fault(json!({"kind": "unavailable", "seconds": 40}));
    s.dc.create_user("dave", "D4ve!Pass-1");
    assert_eq!(password_status(&s, "dave"), "TargetNotExportedToDirectory");
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success());
    wait_status(&s, "alice", "Pending");
    s.emu.clear_faults();
    assert!(
        s.emu.wait_password("alice@lab.test", "Al1ce!Pass-2", Duration::from_secs(90)).is_some(),
        "{}",
        tail(&s.daemon.logs())
    );
    wait_status(&s, "alice", "Success");
    // The tenant refuses the credential (password hash sync turned off, not seen by the daemon
    // yet: it reads the setting once an hour here).
    s.emu.patch("/admin/company", &json!({"passwordHashSync": false}));
    let out = s.dc.setpassword_ldap("bob", "B0b!Pass-2");
    assert!(out.status.success());
    wait_status(&s, "bob", "Refused");
    let (v, _) = user_json(&s, "bob");
    assert!(v["passwordStatusText"].as_str().unwrap_or("").contains("not enabled"), "the tenant's reason: {v}");
    // For people: a line with our sentence and the code.
    let out = Command::new(common::bin()).args(["user", "carol", "--bus", s.bus.address()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("password status:") && text.contains("(FilteredByTarget)"), "{text}");
}

fn history(s: &Stack, name: &str) -> Vec<Value> {
    let out = Command::new(common::bin())
        .args(["user", name, "--history", "--json", "--bus", s.bus.address()])
        .output()
        .expect("user --history");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("a JSON array")
}

fn has(events: &[Value], event: &str, detail: &str) -> bool {
    events.iter().any(|e| e["event"] == event && e["detail"].as_str().unwrap_or("").contains(detail))
}

#[test]
fn user_history_shows_a_week_of_password_events_and_prunes_older_ones() {
    let mut s = Stack::start(with_temporary, "tenant_check_interval = \"1h\"", &[]);
    assert!(s.emu.wait_password("bob@lab.test", "B0b!Pass-1", Duration::from_secs(60)).is_some());
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success());
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-2", Duration::from_secs(30)).is_some());
    let mut alice = Vec::new();
    wait_for(
        "alice's acknowledged change in her history",
        Duration::from_secs(10),
        || {
            alice = history(&s, "alice");
            alice.first().is_some_and(|e| e["event"] == "acknowledged")
        },
        || s.daemon.logs(),
    );
    let kvno = alice[0]["keyVersion"].as_u64().expect("a key version");
    for event in ["changeSeen", "pushed", "acknowledged"] {
        assert!(alice.iter().any(|e| e["event"] == event && e["keyVersion"] == kvno), "{event} of {kvno}: {alice:?}");
    }
    let times: Vec<i64> =
        alice.iter().map(|e| common::stack::parse_rfc3339_ms(e["at"].as_str().unwrap()).expect("RFC 3339")).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {alice:?}");
    // A skip with its reason.
    let carol = history(&s, "carol");
    assert!(has(&carol, "skipped", "temporary password"), "{carol:?}");
    // A refusal with the tenant's reason.
    s.emu.patch("/admin/company", &json!({"passwordHashSync": false}));
    assert!(s.dc.setpassword_ldap("bob", "B0b!Pass-2").status.success());
    wait_for(
        "bob's refusal in his history",
        Duration::from_secs(20),
        || has(&history(&s, "bob"), "refused", "not enabled"),
        || s.daemon.logs(),
    );
    // Never a hash: no detail carries the credential's form.
    let text =
        Command::new(common::bin()).args(["user", "bob", "--history", "--bus", s.bus.address()]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("refused") && !text.contains("PPH1_MD4"), "{text}");
    // Pruning: with a 3 s history, nothing older stays.
    let config = std::fs::read_to_string(&s.daemon.config).unwrap();
    std::fs::write(&s.daemon.config, config.replace("[state]\n", "[state]\npassword_history = \"3s\"\n")).unwrap();
    s.daemon.restart();
    std::thread::sleep(Duration::from_secs(5));
    let now = serde_json::from_slice::<Value>(
        &Command::new(common::bin()).args(["status", "--json", "--bus", s.bus.address()]).output().unwrap().stdout,
    )
    .unwrap()["now"]
        .as_i64()
        .unwrap();
    for name in ["alice", "bob", "carol"] {
        for e in history(&s, name) {
            let at = common::stack::parse_rfc3339_ms(e["at"].as_str().unwrap()).unwrap();
            assert!(now - at <= 3_000 + 1_000, "{name}: an event older than the setting after pruning: {e}");
        }
    }
    assert!(!history(&s, "alice").iter().any(|e| e["keyVersion"] == kvno && e["event"] == "changeSeen"));
}

#[test]
fn all_passwords_with_config_runs_in_process() {
    let mut s = Stack::start(with_temporary, "", &[]);
    for (upn, pw) in [("alice@lab.test", "Al1ce!Pass-1"), ("bob@lab.test", "B0b!Pass-1")] {
        assert!(s.emu.wait_password(upn, pw, Duration::from_secs(60)).is_some(), "{}", tail(&s.daemon.logs()));
    }
    s.daemon.stop();
    assert_eq!(s.emu.delete("/admin/credentials"), 200);
    let out = s.daemon.cli(&["sync", "--all-passwords", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(summary["pushed"], 2, "{summary}");
    assert_eq!(summary["skipped"]["temporaryPassword"], 1, "{summary}");
    assert!(s.emu.verify_password("alice@lab.test", "Al1ce!Pass-1"));
    assert!(s.emu.verify_password("bob@lab.test", "B0b!Pass-1"));
}
