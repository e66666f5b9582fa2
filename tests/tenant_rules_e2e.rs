//! The tenant's 2026 rules end to end (issue 14): password hash sync that only an administrator
//! turns on, soft and hard match onto cloud-only users and the tenant's blocks, role holders,
//! users whose source of authority moved to the cloud, and the tenant's anchor attribute. Each
//! test runs a throwaway Samba DC, the emulator over HTTP, a private D-Bus and the daemon.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use common::bus::PrivateBus;
use common::samba::Dc;
use common::stack::{Daemon, Emulator, Stack, hook_path, tail};

const RUN: Duration = Duration::from_secs(120);

/// The stack of `Stack::start`, with the tenant set up (`tenant`) before the daemon first
/// looks at it.
fn stack(prepare: impl FnOnce(&Dc), emulator_args: &[&str], tenant: impl FnOnce(&Emulator), extra_sync: &str) -> Stack {
    let mut dc = Dc::new();
    prepare(&dc);
    let bus = PrivateBus::start().expect("private bus");
    let emu = Emulator::start(emulator_args);
    tenant(&emu);
    dc.set_global_option("check password script", &hook_path().display().to_string());
    dc.start(&[("DBUS_SYSTEM_BUS_ADDRESS", bus.address())]);
    let daemon = Daemon::start(&dc, &emu, &bus, extra_sync);
    Stack { daemon, dc, emu, bus, extra_sync: extra_sync.to_string() }
}

fn cli(s: &Stack, args: &[&str]) -> std::process::Output {
    Command::new(common::bin()).args(args).args(["--bus", s.bus.address()]).output().expect("cli")
}

fn status(s: &Stack) -> Value {
    serde_json::from_slice(&cli(s, &["status", "--json"]).stdout).unwrap_or(Value::Null)
}

fn user(s: &Stack, name: &str) -> Value {
    serde_json::from_slice(&cli(s, &["user", name, "--json"]).stdout).unwrap_or(Value::Null)
}

fn calls(s: &Stack, op: &str) -> u64 {
    s.emu.stats()["calls"][op].as_u64().unwrap_or(0)
}

fn wait_for(what: &str, s: &Stack, timeout: Duration, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < timeout, "{what} not within {timeout:?}:\n{}", tail(&s.daemon.logs()));
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The source anchor of an account whose mS-DS-ConsistencyGuid is empty: its objectGUID.
fn anchor_of(dc: &Dc, name: &str) -> String {
    let guid = dc.ldbsearch_values(&format!("(sAMAccountName={name})"), "objectGUID");
    let text = String::from_utf8_lossy(guid.first().expect("objectGUID")).to_string();
    STANDARD.encode(common::guid_bytes(&text))
}

/// The emulator's object with this UPN.
fn by_upn(s: &Stack, upn: &str) -> Option<Value> {
    s.emu
        .objects("User")
        .into_iter()
        .find(|o| o["attributes"]["userPrincipalName"].as_str().is_some_and(|u| u.eq_ignore_ascii_case(upn)))
}

fn users(dc: &Dc) {
    for (name, pw) in
        [("alice", "Al1ce!Pass-1"), ("bob", "B0b!Pass-1"), ("carol", "Car0l!Pass-1"), ("erin", "Er1n!Pass-1")]
    {
        dc.samba_tool(&["user", "create", name, pw, &format!("--mail-address={name}@lab.test")]);
    }
}

#[test]
fn password_hash_sync_off_in_a_fresh_tenant_names_the_admin_command_and_the_daemon_never_turns_it_on() {
    let s = stack(
        users,
        &[],
        |emu| {
            // A fresh tenant whose administrator has not turned password hash sync on.
            let (code, _) = emu.patch("/admin/company", &json!({"passwordHashSync": false}));
            assert_eq!(code, 200);
        },
        "tenant_check_interval = \"1s\"",
    );
    wait_for("status naming the administrator's command", &s, RUN, || {
        status(&s)["degradedReasons"]
            .to_string()
            .contains("samba-entra-sync login --config FILE --enable-password-hash-sync")
    });
    assert_eq!(calls(&s, "SetCompanyDirsyncFeatures"), 0, "the daemon changed the tenant's features");
    // The command: an administrator signs in once (the emulator approves as its Global
    // Administrator) and turns it on; the daemon then syncs the passwords.
    // The administrator's token is used for the one call and kept nowhere: the daemon's token
    // cache and the set of files next to it are as they were.
    let files = || {
        let mut names: Vec<String> = std::fs::read_dir(s.daemon.dir.path())
            .expect("daemon dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| !n.contains(".db"))
            .collect();
        names.sort();
        names
    };
    let cache = s.daemon.dir.path().join("token.json");
    let (cache_before, files_before) = (std::fs::read(&cache).ok(), files());
    let out = s.daemon.cli(&["login", "--enable-password-hash-sync"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&cache).ok(), cache_before, "the token cache changed");
    assert_eq!(files(), files_before, "a file appeared next to the config");
    assert_eq!(s.emu.get("/admin/company")["passwordHashSync"], true);
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-1", RUN).is_some(), "{}", tail(&s.daemon.logs()));
}

#[test]
fn soft_and_hard_match_follow_the_tenants_blocks_and_never_take_a_role_holder() {
    let carol_anchor = std::cell::RefCell::new(String::new());
    let cloud_ids = std::cell::RefCell::new(Vec::new());
    let s = stack(
        |dc| {
            users(dc);
            *carol_anchor.borrow_mut() = anchor_of(dc, "carol");
        },
        &[],
        |emu| {
            let (code, _) = emu.patch(
                "/admin/company",
                &json!({"blockSoftMatch": true, "blockCloudObjectTakeoverThroughHardMatch": true}),
            );
            assert_eq!(code, 200);
            // Cloud-only users, there before the daemon's first run.
            for body in [
                json!({"userPrincipalName": "bob@lab.test", "displayName": "Bob (cloud)"}),
                json!({"userPrincipalName": "carol.cloud@lab.test", "onPremisesImmutableId": carol_anchor.borrow().clone()}),
                json!({"userPrincipalName": "erin@lab.test", "roles": ["Global Administrator"]}),
            ] {
                let (code, o) = emu.post("/admin/objects", &body);
                assert_eq!(code, 201, "{o}");
                cloud_ids.borrow_mut().push(o["cloudAnchor"].as_str().expect("cloudAnchor").to_string());
            }
        },
        "tenant_check_interval = \"1s\"",
    );
    let carol_anchor = carol_anchor.into_inner();
    let [bob, carol, erin] = <[String; 3]>::try_from(cloud_ids.into_inner()).expect("three cloud users");
    // Refused one by one; alice, who matches nothing, syncs.
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-1", RUN).is_some(), "{}", tail(&s.daemon.logs()));
    wait_for("three refusals", &s, RUN, || status(&s)["blockedObjects"] == 3);
    let st = status(&s);
    let blocked = st["blocked"].to_string();
    assert_eq!(st["blockedObjects"], 3, "{st}");
    assert!(blocked.contains("User bob is not synced") && blocked.contains("BlockSoftMatch"), "{blocked}");
    assert!(
        blocked.contains("User carol is not synced") && blocked.contains("BlockCloudObjectTakeoverThroughHardMatch")
    );
    assert!(blocked.contains("User erin is not synced") && blocked.contains("administrative role"), "{blocked}");
    // Issue 20's Blocked password status, with the reason.
    let u = user(&s, "bob");
    assert_eq!(u["passwordStatus"], "Blocked", "{u}");
    assert!(u["passwordStatusText"].as_str().unwrap_or("").contains("BlockSoftMatch"), "{u}");
    let plan: Value = serde_json::from_slice(&s.daemon.cli(&["plan", "--json"]).stdout).unwrap_or(Value::Null);
    let held: Vec<&str> = plan["blocked"].as_array().into_iter().flatten().filter_map(|b| b["name"].as_str()).collect();
    assert!(held.contains(&"bob") && held.contains(&"carol") && held.contains(&"erin"), "{plan}");
    assert!(plan["blocked"].to_string().contains("\"blocked\":\"soft-match: "), "{plan}");
    // The administrator lifts both blocks and asks for the refused objects again: bob soft-matches,
    // carol hard-matches, each keeping its cloud object id; erin holds a role and stays refused.
    let (code, _) = s
        .emu
        .patch("/admin/company", &json!({"blockSoftMatch": false, "blockCloudObjectTakeoverThroughHardMatch": false}));
    assert_eq!(code, 200);
    let out = cli(&s, &["sync", "--retry-blocked"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for("bob and carol matched", &s, RUN, || {
        status(&s)["blockedObjects"] == 1
            && s.emu.get(&format!("/admin/objects/{bob}"))["sourceAnchor"].is_string()
            && s.emu.get(&format!("/admin/objects/{carol}"))["sourceAnchor"] == carol_anchor.as_str()
    });
    assert_eq!(by_upn(&s, "bob@lab.test").expect("bob")["cloudAnchor"], bob.as_str(), "soft match keeps the object id");
    assert!(s.emu.wait_password("bob@lab.test", "B0b!Pass-1", RUN).is_some(), "{}", tail(&s.daemon.logs()));
    assert!(s.emu.wait_password("carol@lab.test", "Car0l!Pass-1", RUN).is_some(), "{}", tail(&s.daemon.logs()));
    let e = s.emu.get(&format!("/admin/objects/{erin}"));
    assert!(e["sourceAnchor"].is_null(), "a role holder was taken over: {e}");
    assert!(status(&s)["blocked"].to_string().contains("User erin is not synced"));
    assert_eq!(user(&s, "erin")["passwordStatus"], "Blocked");
}

#[test]
fn a_refused_object_is_not_sent_again_until_it_changes_on_premises() {
    let s = stack(
        users,
        &[],
        |emu| {
            let (code, o) = emu.post(
                "/admin/objects",
                &json!({"userPrincipalName": "erin@lab.test", "roles": ["Global Administrator"]}),
            );
            assert_eq!(code, 201, "{o}");
        },
        "",
    );
    let refusals = |s: &Stack| s.daemon.logs().matches("User erin is not synced, the tenant refused it").count();
    wait_for("erin refused", &s, RUN, || refusals(&s) == 1);
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-1", RUN).is_some(), "{}", tail(&s.daemon.logs()));
    // The next full reconcile leaves erin alone: no second refusal, nothing sent for her.
    s.reconcile(RUN);
    s.reconcile(RUN);
    let logs = s.daemon.logs();
    assert_eq!(refusals(&s), 1, "erin was sent again:\n{}", tail(&logs));
    assert!(!logs.contains("refused again"), "erin was sent again:\n{}", tail(&logs));
    // She changes on-premises: sent once more (the delta run), refused once more.
    s.dc.ldbmodify(&format!(
        "dn: CN=erin,CN=Users,{}\nchangetype: modify\nreplace: title\ntitle: Engineer\n",
        common::samba::DOMAIN_DN
    ));
    wait_for("erin sent again after her change", &s, RUN, || refusals(&s) == 2);
}

#[test]
fn a_user_made_cloud_managed_gets_no_writes_and_no_passwords_while_everyone_else_syncs() {
    let s = stack(users, &[], |_| {}, "");
    for (upn, pw) in [("alice@lab.test", "Al1ce!Pass-1"), ("bob@lab.test", "B0b!Pass-1")] {
        assert!(s.emu.wait_password(upn, pw, RUN).is_some(), "{}", tail(&s.daemon.logs()));
    }
    // An administrator moves bob's source of authority to the cloud (Microsoft Graph).
    let bob = by_upn(&s, "bob@lab.test").expect("bob");
    let id = bob["cloudAnchor"].as_str().and_then(|c| c.strip_prefix("User_")).expect("object id").to_string();
    let token = graph_token(&s.emu);
    let (code, body) = graph(
        &s.emu,
        "PATCH",
        &format!("/v1.0/users/{id}/onPremisesSyncBehavior"),
        &token,
        &json!({"isCloudManaged": true}),
    );
    assert_eq!(code, 204, "{body}");
    // On-premises, both change password and bob's title changes.
    for (name, pw) in [("alice", "Al1ce!Pass-2"), ("bob", "B0b!Pass-2")] {
        let out = s.dc.setpassword_ldap(name, pw);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    s.dc.ldbmodify(&format!(
        "dn: CN=bob,CN=Users,{}\nchangetype: modify\nreplace: title\ntitle: Cloud Engineer\n",
        common::samba::DOMAIN_DN
    ));
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-2", RUN).is_some(), "{}", tail(&s.daemon.logs()));
    wait_for("bob's password status saying why", &s, RUN, || user(&s, "bob")["passwordStatus"] == "Blocked");
    s.reconcile(RUN);
    let u = user(&s, "bob");
    assert!(u["passwordStatusText"].as_str().unwrap_or("").contains("moved to the cloud"), "{u}");
    assert!(s.emu.verify_password("bob@lab.test", "B0b!Pass-1"), "bob's cloud password was overwritten");
    assert!(!s.emu.verify_password("bob@lab.test", "B0b!Pass-2"));
    let after = by_upn(&s, "bob@lab.test").expect("bob");
    assert!(after["attributes"]["title"].is_null(), "bob was written: {after}");
    assert!(status(&s)["blocked"].to_string().contains("left alone for good"));
    // Everyone else keeps syncing.
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Pass-3");
    assert!(out.status.success());
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-3", RUN).is_some(), "{}", tail(&s.daemon.logs()));
}

#[test]
fn the_anchor_check_passes_for_a_tenant_with_the_other_attribute_when_no_anchor_would_change() {
    // The harness's daemon uses mS-DS-ConsistencyGuid; this tenant synced with objectGUID, and no
    // user has a consistency GUID of its own: every anchor is the same either way.
    let s = stack(users, &["--anchor-attribute", "objectGUID"], |_| {}, "");
    assert_eq!(s.emu.get("/admin/company")["anchorAttribute"], "objectGUID");
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-1", RUN).is_some(), "{}", tail(&s.daemon.logs()));
    assert!(s.daemon.logs().contains("no in-scope object's anchor differs"), "{}", tail(&s.daemon.logs()));
    // FinalizeExport ends the export run: the tenant's last sync time is set.
    wait_for("LastDirSyncTime", &s, RUN, || s.emu.get("/admin/company")["lastDirSyncTime"].is_string());
}

#[test]
fn the_anchor_check_passes_for_a_new_tenant_without_an_anchor_attribute() {
    // A daemon set to objectGUID (unlike the harness's) against a tenant that never synced: the
    // tenant names no anchor attribute, so there is nothing to disagree with.
    let mut dc = Dc::new();
    users(&dc);
    let bus = PrivateBus::start().expect("private bus");
    let emu = Emulator::start(&[]);
    dc.set_global_option("check password script", &hook_path().display().to_string());
    dc.start(&[("DBUS_SYSTEM_BUS_ADDRESS", bus.address())]);
    let dir = tempfile::Builder::new().prefix("ses-daemon-").tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    let text = common::stack::daemon_config(dir.path(), &dc, &emu, &bus, "");
    let text = text.replace("source_anchor = \"ms-DS-ConsistencyGuid\"", "source_anchor = \"objectGUID\"");
    std::fs::write(&config, text).expect("config");
    let out = Command::new(common::bin()).args(["login", "--config"]).arg(&config).output().expect("login");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let daemon = Daemon::start_configured(dir, config);
    assert!(emu.get("/admin/company")["anchorAttribute"].is_null());
    assert!(emu.wait_password("alice@lab.test", "Al1ce!Pass-1", RUN).is_some(), "{}", tail(&daemon.logs()));
}

/// A delegated Microsoft Graph token from the emulator's device-code flow (it approves itself).
fn graph_token(emu: &Emulator) -> String {
    let client = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
    let form = |path: &str, fields: &[(&str, &str)]| -> Value {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-X", "POST"]).arg(format!("{}/{}/oauth2/v2.0/{path}", emu.base_url, emu.tenant_id));
        for (k, v) in fields {
            cmd.args(["--data-urlencode", &format!("{k}={v}")]);
        }
        serde_json::from_slice(&cmd.output().expect("curl").stdout).unwrap_or(Value::Null)
    };
    let code = form("devicecode", &[("client_id", client), ("scope", "https://graph.microsoft.com/.default")]);
    let device_code = code["device_code"].as_str().expect("device_code").to_string();
    for _ in 0..30 {
        let answer = form(
            "token",
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", client),
                ("device_code", &device_code),
            ],
        );
        if let Some(token) = answer["access_token"].as_str() {
            return token.to_string();
        }
        std::thread::sleep(Duration::from_millis(1100));
    }
    panic!("no Graph token from the emulator");
}

fn graph(emu: &Emulator, method: &str, path: &str, token: &str, body: &Value) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method])
        .arg(format!("{}{path}", emu.base_url))
        .args(["-H", &format!("Authorization: Bearer {token}"), "-H", "Content-Type: application/json"])
        .args(["--data-binary", &body.to_string()])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}
