//! The fault suite: the whole stack (real Samba with the hook, a private dbus-daemon, the
//! emulator, the daemon) under one fault at a time. Every scenario ends with the same two
//! checks: every password changed during it signs in at the emulator (nothing lost), and the
//! tenant equals the domain: the same objects, every attribute and every group membership, as
//! a fault-free reconcile of the same domain into a second emulator makes of it (whose users
//! must be the domain's in-scope users, read with Samba's own tool).
//!
//! Each test prints one `RELIABILITY|scenario|load|faults|result|lost` line;
//! `scripts/reliability.sh` turns them into docs/reliability.md.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::fixture::{Shape, groups_and_computers_ldif, password_of, profiled_users_ldif, user_name};
use common::samba::Dc;
use common::stack::{Emulator, Stack, daemon_config};
use serde_json::{Value, json};

/// Users in every scenario's domain (bulk fixture users, all in scope).
const USERS: usize = 50;
/// How long a scenario may take to deliver everything once its fault is over.
const DELIVERY: Duration = Duration::from_secs(180);

fn upn(i: usize) -> String {
    format!("{}@lab.test", user_name(i))
}

/// A scenario's domain: `users` bulk users with every attribute the mapping exports (managers
/// among them), six groups of ten users (one of them nested in another), two computers, one
/// of them a hybrid-join device.
fn populate(dc: &Dc, users: usize) {
    dc.ldbadd(&profiled_users_ldif(0..users), true);
    dc.ldbadd(&groups_and_computers_ldif(Shape { users, groups: 6, computers: 2, members_per_group: 10 }), false);
}

fn stack_with(users: usize, extra_sync: &str) -> Stack {
    let s = Stack::start(|dc| populate(dc, users), extra_sync, &[]);
    // The first reconcile exports everyone with their current password.
    let mut initial = Changes::default();
    for i in 0..users {
        initial.0.insert(i, password_of(i));
    }
    let lost = initial.await_delivered(&s, DELIVERY);
    assert_eq!(lost, 0, "the initial sync lost {lost} passwords:\n{}", s.daemon.logs());
    s
}

/// The passwords a scenario set, newest per user: each must sign in at the end.
#[derive(Default)]
struct Changes(BTreeMap<usize, String>);

impl Changes {
    /// Resets user `i`'s password over LDAP and remembers it.
    fn change(&mut self, dc: &Dc, i: usize, round: &str) {
        let pw = format!("Chg-{round}-{i}!x");
        let out = dc.reset_password(&user_name(i), &pw);
        assert!(out.status.success(), "ldapmodify of {}: {}", user_name(i), String::from_utf8_lossy(&out.stderr));
        self.0.insert(i, pw);
    }

    fn change_all(&mut self, dc: &Dc, users: std::ops::Range<usize>, round: &str) {
        for i in users {
            self.change(dc, i, round);
        }
    }

    /// Waits until every remembered password signs in; returns how many never did.
    fn await_delivered(&self, s: &Stack, timeout: Duration) -> usize {
        let mut pending: Vec<(&usize, &String)> = self.0.iter().collect();
        let t0 = Instant::now();
        loop {
            pending.retain(|(i, pw)| !s.emu.verify_password(&upn(**i), pw));
            if pending.is_empty() || t0.elapsed() > timeout {
                return pending.len();
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// The UPNs of the domain's in-scope users, read from sam.ldb with Samba's own tool: users
/// (not computers) with a RID of 1000 or more and no adminCount (the built-in exclusions).
fn domain_users(dc: &Dc) -> BTreeSet<String> {
    let out = Command::new("ldbsearch")
        .arg("-H")
        .arg(dc.sam_ldb())
        .args(["(&(objectClass=user)(!(objectClass=computer)))", "userPrincipalName", "objectSid", "adminCount"])
        .output()
        .expect("ldbsearch");
    assert!(out.status.success(), "ldbsearch: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut users = BTreeSet::new();
    for record in text.split("\n\n") {
        let field = |name: &str| {
            record.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")).map(|v| v.trim().to_string()))
        };
        let rid: u32 = field("objectSid").and_then(|s| s.rsplit('-').next()?.parse().ok()).unwrap_or(0);
        if rid < 1000 || field("adminCount").as_deref() == Some("1") {
            continue;
        }
        if let Some(u) = field("userPrincipalName") {
            users.insert(u.to_lowercase());
        }
    }
    users
}

/// One object of a tenant as the client sent it: its attributes (empty values left out, as
/// Entra's read-back leaves them out) and its members' source anchors. Left out: the cloud
/// anchor (the tenant's own id) and the credential's times, which differ from run to run.
#[derive(Debug, PartialEq)]
struct Object {
    attributes: BTreeMap<String, Value>,
    members: BTreeSet<String>,
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// (object type, source anchor) → object.
type Tenant = BTreeMap<(String, String), Object>;

fn tenant(emu: &Emulator) -> Tenant {
    let mut out = Tenant::new();
    for kind in ["User", "Group", "Contact", "Device"] {
        for o in emu.objects(kind) {
            let attributes = o["attributes"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, v)| !is_empty(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let members =
                o["members"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
            let anchor = o["sourceAnchor"].as_str().unwrap_or_default().to_string();
            out.insert((kind.to_string(), anchor), Object { attributes, members });
        }
    }
    out
}

/// What a fault-free reconcile makes of the domain as it is now: a second emulator, a fresh
/// state DB and token cache, the same [sync] settings, and `samba-entra-sync sync --config`
/// (the daemon's whole reconcile, in one process).
fn reference_tenant(s: &Stack) -> Tenant {
    let emu = Emulator::start(&[]);
    let dir = tempfile::Builder::new().prefix("ses-reference-").tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, daemon_config(dir.path(), &s.dc, &emu, &s.bus, &s.extra_sync)).expect("config");
    for command in ["login", "sync"] {
        let out = Command::new(common::bin()).args([command, "--config"]).arg(&config).output().expect(command);
        assert!(
            out.status.success(),
            "the reference {command} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    tenant(&emu)
}

/// How `got` differs from `want`, one line per difference (at most `limit` lines, then a count).
fn differences(want: &Tenant, got: &Tenant, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (key, w) in want {
        let Some(g) = got.get(key) else {
            out.push(format!("{key:?} missing"));
            continue;
        };
        let names: BTreeSet<&String> = w.attributes.keys().chain(g.attributes.keys()).collect();
        for name in names {
            let (wv, gv) = (w.attributes.get(name), g.attributes.get(name));
            if wv != gv {
                out.push(format!("{key:?} {name}: reference {wv:?}, tenant {gv:?}"));
            }
        }
        for m in w.members.difference(&g.members) {
            out.push(format!("{key:?} member {m} missing"));
        }
        for m in g.members.difference(&w.members) {
            out.push(format!("{key:?} member {m} unexpected"));
        }
    }
    for key in got.keys().filter(|k| !want.contains_key(*k)) {
        out.push(format!("{key:?} unexpected"));
    }
    let n = out.len();
    if n > limit {
        out.truncate(limit);
        out.push(format!("... {} more", n - limit));
    }
    out
}

/// Waits (a reconcile may still be running) until the tenant equals what a fault-free
/// reconcile makes of the domain: every object, attribute and membership.
fn tenant_matches_domain(s: &Stack, timeout: Duration) -> bool {
    let want = reference_tenant(s);
    // The reference itself must hold the domain: its users are the in-scope users Samba's
    // own tool lists, and the groups and device are there.
    let reference_users: BTreeSet<String> = want
        .iter()
        .filter(|((kind, _), _)| kind == "User")
        .filter_map(|(_, o)| o.attributes.get("userPrincipalName")?.as_str().map(str::to_lowercase))
        .collect();
    assert_eq!(reference_users, domain_users(&s.dc), "the fault-free reference's users are not the domain's");
    for kind in ["Group", "Device"] {
        assert!(want.keys().any(|(k, _)| k == kind), "no {kind} in the fault-free reference");
    }
    let t0 = Instant::now();
    loop {
        let got = tenant(&s.emu);
        if got == want {
            return true;
        }
        if t0.elapsed() > timeout {
            eprintln!("tenant differs from the fault-free reference:\n{}", differences(&want, &got, 20).join("\n"));
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The end of every scenario: delivery, tenant = domain, the report line, the assertions.
fn finish(s: &Stack, changes: &Changes, scenario: &str, load: &str, faults: &str, started: Instant) {
    let lost = changes.await_delivered(s, DELIVERY);
    let equal = tenant_matches_domain(s, Duration::from_secs(60));
    let result = if lost == 0 && equal {
        format!("pass: all {} delivered, tenant = domain ({:.0} s)", changes.0.len(), started.elapsed().as_secs_f64())
    } else {
        format!("FAIL (tenant = domain: {equal})")
    };
    println!("RELIABILITY|{scenario}|{load}|{faults}|{result}|{lost}");
    assert_eq!(lost, 0, "{lost} of {} password changes never arrived:\n{}", changes.0.len(), s.daemon.logs());
    assert!(equal, "the tenant differs from a fault-free reconcile of the domain (above):\n{}", s.daemon.logs());
}

fn provision_credential_calls(s: &Stack) -> u64 {
    s.emu.stats()["calls"]["ProvisionCredentials"].as_u64().unwrap_or(0)
}

#[test]
fn entra_answering_503_for_30_s_while_50_passwords_change() {
    let s = stack_with(USERS, "");
    let t0 = Instant::now();
    s.emu.fault(json!({"kind": "unavailable", "seconds": 30}));
    let mut changes = Changes::default();
    changes.change_all(&s.dc, 0..USERS, "outage");
    // Still inside the outage (the changes take a few seconds): nothing can have arrived.
    if t0.elapsed() < Duration::from_secs(25) {
        assert!(!s.emu.verify_password(&upn(0), &changes.0[&0]), "delivered while Entra answered 503?");
    }
    finish(&s, &changes, "Entra answers 503 for 30 s", "50 password changes", "unavailable 30 s", t0);
}

#[test]
fn entra_throttling_while_passwords_change() {
    let s = stack_with(USERS, "");
    let t0 = Instant::now();
    s.emu.fault(json!({"kind": "throttle", "seconds": 15}));
    let mut changes = Changes::default();
    changes.change_all(&s.dc, 0..USERS / 2, "throttle");
    finish(
        &s,
        &changes,
        "Entra throttles writes",
        "25 password changes",
        "throttle fault 15 s (503 + Retry-After)",
        t0,
    );
    assert!(s.emu.stats()["faultsInjected"].as_u64().unwrap_or(0) > 0, "the throttle fault never applied");
}

#[test]
fn two_seconds_of_latency_on_every_call() {
    let s = stack_with(USERS, "");
    let t0 = Instant::now();
    s.emu.fault(json!({"kind": "latency", "ms": 2000}));
    let mut changes = Changes::default();
    changes.change_all(&s.dc, 0..20, "slow");
    let lost = changes.await_delivered(&s, DELIVERY);
    s.emu.clear_faults();
    assert_eq!(lost, 0, "slow calls lost changes:\n{}", s.daemon.logs());
    finish(&s, &changes, "Entra answers every call 2 s late", "20 password changes", "latency 2,000 ms per call", t0);
}

#[test]
fn kill_9_during_a_bulk_reconcile() {
    const BULK: usize = 600;
    // Every call slowed down: the first reconcile of 600 users takes long enough to be cut.
    let mut s = Stack::start(|dc| populate(dc, BULK), "", &[]);
    let t0 = Instant::now();
    s.emu.fault(json!({"kind": "latency", "ms": 100}));
    let mut changes = Changes::default();
    for i in 0..BULK {
        changes.0.insert(i, password_of(i));
    }
    // Cut it mid-way: some objects exported, not all.
    let deadline = Instant::now() + Duration::from_secs(120);
    while s.emu.stats()["objects"].as_u64().unwrap_or(0) < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    changes.change_all(&s.dc, 0..10, "bulk");
    let exported = s.emu.stats()["objects"].as_u64().unwrap_or(0);
    s.daemon.kill9();
    assert!(
        (1..BULK as u64).contains(&exported),
        "the kill did not land mid-reconcile ({exported} objects exported):\n{}",
        s.daemon.logs()
    );
    s.emu.clear_faults();
    s.daemon.restart();
    finish(
        &s,
        &changes,
        "daemon killed (SIGKILL) during a bulk reconcile",
        &format!("{BULK} users initial export + 10 changes"),
        &format!("kill -9 after {exported} objects"),
        t0,
    );
}

#[test]
fn kill_9_with_pushes_pending() {
    let mut s = stack_with(USERS, "");
    let t0 = Instant::now();
    s.emu.fault(json!({"kind": "unavailable"}));
    let mut changes = Changes::default();
    changes.change_all(&s.dc, 0..10, "pending");
    // The daemon has seen them (outbox written) but cannot deliver.
    std::thread::sleep(Duration::from_secs(3));
    s.daemon.kill9();
    s.emu.clear_faults();
    s.daemon.restart();
    finish(&s, &changes, "daemon killed (SIGKILL) with pushes pending", "10 password changes", "503 + kill -9", t0);
}

#[test]
fn samba_restarted_under_a_running_daemon() {
    let mut s = stack_with(USERS, "");
    let t0 = Instant::now();
    let mut changes = Changes::default();
    changes.change_all(&s.dc, 0..5, "before");
    s.dc.stop();
    std::thread::sleep(Duration::from_secs(2));
    let bus = s.bus.address().to_string();
    s.dc.start(&[("DBUS_SYSTEM_BUS_ADDRESS", &bus)]);
    changes.change_all(&s.dc, 5..15, "after");
    finish(&s, &changes, "samba restarted under the daemon", "15 password changes", "samba stop/start", t0);
    assert!(s.daemon.cli(&["status"]).status.success(), "status after the samba restart:\n{}", s.daemon.logs());
}

#[test]
fn dbus_daemon_restarted() {
    let mut s = stack_with(USERS, "");
    let t0 = Instant::now();
    s.bus.kill();
    let mut changes = Changes::default();
    // The hook cannot reach the bus: the change still succeeds, the safety net delivers it.
    changes.change_all(&s.dc, 0..5, "nobus");
    assert_eq!(changes.await_delivered(&s, Duration::from_secs(60)), 0, "{}", s.daemon.logs());
    s.bus.revive().expect("dbus-daemon restarts");
    // The daemon takes its name back on the new bus.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !s.daemon.cli(&["status"]).status.success() {
        assert!(Instant::now() < deadline, "the daemon never came back on the new bus:\n{}", s.daemon.logs());
        std::thread::sleep(Duration::from_millis(500));
    }
    changes.change_all(&s.dc, 5..15, "newbus");
    finish(&s, &changes, "dbus-daemon restarted", "15 password changes", "dbus-daemon SIGKILL, then restarted", t0);
}

#[test]
fn access_token_expires_mid_run() {
    let s = stack_with(USERS, "");
    let t0 = Instant::now();
    let mut changes = Changes::default();
    changes.change_all(&s.dc, 0..5, "before");
    // Every token issued so far is now expired: the daemon must get a new one and carry on.
    s.emu.fault(json!({"kind": "tokenExpiry"}));
    changes.change_all(&s.dc, 5..15, "expired");
    finish(&s, &changes, "access token expires mid-run", "15 password changes", "tokenExpiry", t0);
}

fn integrity_check(db: &Path) -> String {
    let out = Command::new("sqlite3").arg(db).arg("PRAGMA integrity_check;").output().expect("sqlite3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Fills a filesystem: writes zeros into `file` until the write fails.
fn fill(file: &Path) {
    let _ = Command::new("dd").arg("if=/dev/zero").arg(format!("of={}", file.display())).arg("bs=4k").output();
}

#[test]
fn state_filesystem_full() {
    let mut s = stack_with(USERS, "");
    // The state DB moves to a small tmpfs of its own.
    s.daemon.stop();
    let mount = s.daemon.dir.path().join("statefs");
    std::fs::create_dir_all(&mount).expect("mount point");
    let ok = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(&mount).status();
    assert!(ok.map(|s| s.success()).unwrap_or(false), "cannot mount a tmpfs (needs root)");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mount);
    let db = mount.join("state.db");
    let cp = Command::new("sqlite3").arg(s.daemon.state_db()).arg(format!(".backup '{}'", db.display())).status();
    assert!(cp.map(|s| s.success()).unwrap_or(false), "copy of the state DB");
    let config = std::fs::read_to_string(&s.daemon.config).expect("config");
    let old = s.daemon.state_db();
    std::fs::write(&s.daemon.config, config.replace(&old.display().to_string(), &db.display().to_string()))
        .expect("config");
    s.daemon.restart();

    let t0 = Instant::now();
    let filler = mount.join("filler");
    fill(&filler);
    let mut changes = Changes::default();
    changes.change_all(&s.dc, 0..10, "full");
    std::thread::sleep(Duration::from_secs(5));
    let status = String::from_utf8_lossy(&s.daemon.cli(&["status"]).stdout).to_string();
    let logs = s.daemon.logs();
    let clear = ["full", "No space", "disk"].iter().any(|w| status.contains(w) || logs.contains(w));
    let running = s.daemon.cli(&["status"]).status.success();
    std::fs::remove_file(&filler).expect("space returns");
    changes.change_all(&s.dc, 10..15, "space");
    let integrity = integrity_check(&db);
    let faults = "state DB filesystem full (4 MiB tmpfs), then space returns";
    finish(&s, &changes, "state DB's filesystem fills up", "15 password changes", faults, t0);
    assert!(running, "the daemon stopped answering while the disk was full:\n{logs}");
    assert!(clear, "no clear 'disk full' error in status or logs:\n{status}\n{logs}");
    assert_eq!(integrity, "ok", "the state DB is corrupt after the disk filled up");
    s.daemon.stop();
    assert_eq!(integrity_check(&db), "ok");
}

#[test]
fn sam_ldb_unreadable_for_a_while() {
    let mut s = stack_with(USERS, "");
    let t0 = Instant::now();
    let private = s.dc.sam_ldb().parent().expect("private dir").to_path_buf();
    let away = private.with_file_name("private.away");
    let mut changes = Changes::default();
    // sam.ldb gone from its path for 5 s (samba cannot take changes meanwhile): the running
    // daemon keeps its open handle and keeps answering.
    std::fs::rename(s.dc.sam_ldb(), private.join("sam.ldb.away")).expect("move sam.ldb");
    std::thread::sleep(Duration::from_secs(5));
    let answered = s.daemon.cli(&["status"]).status.success();
    std::fs::rename(private.join("sam.ldb.away"), s.dc.sam_ldb()).expect("restore sam.ldb");
    assert!(answered, "the daemon stopped answering while sam.ldb was away:\n{}", s.daemon.logs());
    changes.change_all(&s.dc, 0..5, "back");
    // Changes made while the daemon is down; then it starts while the whole private dir (sam.ldb,
    // its partitions and the secrets key) is away: it waits for sam.ldb, then delivers them.
    s.daemon.stop();
    changes.change_all(&s.dc, 5..10, "down");
    std::fs::rename(&private, &away).expect("move private");
    let restore = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(6));
        std::fs::rename(&away, &private).expect("restore private");
    });
    s.daemon.restart();
    restore.join().expect("restore");
    assert!(s.daemon.logs().contains("cannot open sam.ldb yet"), "the daemon never saw sam.ldb missing");
    changes.change_all(&s.dc, 10..15, "after");
    finish(
        &s,
        &changes,
        "sam.ldb unreadable for a while",
        "15 password changes",
        "sam.ldb moved away 5 s under the daemon; daemon started with it away 6 s",
        t0,
    );
    assert!(provision_credential_calls(&s) > 0);
}

#[test]
fn refresh_token_revoked_mid_run() {
    let s = stack_with(USERS, "");
    let t0 = Instant::now();
    // Revoked at the tenant, and the current access token expired: no way to get a new one.
    let revoked = Command::new("sqlite3")
        .arg(s.emu.data.path().join("tenant.db"))
        .arg("DELETE FROM refresh_tokens;")
        .status()
        .expect("sqlite3");
    assert!(revoked.success());
    s.emu.fault(json!({"kind": "tokenExpiry"}));
    let mut changes = Changes::default();
    changes.change_all(&s.dc, 0..5, "revoked");
    // A clear error state: status names the cause and the way out (sign in again).
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let out = String::from_utf8_lossy(&s.daemon.cli(&["status"]).stdout).to_string();
        if out.contains("login") || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(status.contains("login"), "status does not say to sign in again:\n{status}\n{}", s.daemon.logs());
    // The administrator signs in again and reloads: everything queued meanwhile is delivered.
    let out = s.daemon.cli(&["login"]);
    assert!(out.status.success(), "login: {}", String::from_utf8_lossy(&out.stderr));
    let pid = s.daemon.pid().expect("daemon runs").to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    changes.change_all(&s.dc, 5..10, "relogged");
    finish(
        &s,
        &changes,
        "refresh token revoked mid-run",
        "10 password changes",
        "refresh token revoked + access token expired; clear error in status; login + SIGHUP",
        t0,
    );
}
