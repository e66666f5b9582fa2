//! Automatic certificate renewal end to end (issue 12 item 3): `register-app` sets up a short-lived
//! certificate, the daemon with `renew_before` longer than what is left renews it at once through
//! the emulator's Graph (addKey with a proof from the current key, switch, removeKey of the old
//! key), and password pushes before, during and after go through. A daemon killed between addKey
//! and removeKey (the emulator's `graphUnavailable` fault holds removeKey) finishes the renewal
//! after a restart, and a password changed meanwhile still arrives. Nothing of the private key
//! shows in the log, `status` or the state DB.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use common::bus::PrivateBus;
use common::samba::Dc;
use common::stack::{Daemon, Emulator, daemon_config, hook_path, tail};
use common::wait_until;

const UPN: &str = "alice@lab.test";
const DAY_MS: i64 = 86_400_000;

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn curl(args: &[&str]) -> Value {
    let out = Command::new("curl").arg("-s").args(args).output().expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// A delegated Graph token of the tenant's administrator (the emulator approves device codes).
fn admin_graph_token(emu: &Emulator) -> String {
    let base = format!("{}/{}/oauth2/v2.0", emu.base_url, emu.tenant_id);
    let client = "client_id=14d82eec-204b-4c2f-b7e8-296a70dab67e";
    let code = curl(&[
        "-d",
        client,
        "-d",
        "scope=https://graph.microsoft.com/Application.Read.All",
        &format!("{base}/devicecode"),
    ]);
    let device_code = code["device_code"].as_str().expect("device code").to_owned();
    for _ in 0..20 {
        let answer = curl(&[
            "-d",
            client,
            "-d",
            "grant_type=urn:ietf:params:oauth:grant-type:device_code",
            "-d",
            &format!("device_code={device_code}"),
            &format!("{base}/token"),
        ]);
        if let Some(token) = answer["access_token"].as_str() {
            return token.to_owned();
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("no Graph token");
}

/// The key ids the application holds, as Graph lists them.
fn key_ids(emu: &Emulator) -> Vec<String> {
    let token = admin_graph_token(emu);
    let apps =
        curl(&["-g", "-H", &format!("Authorization: Bearer {token}"), &format!("{}/v1.0/applications", emu.base_url)]);
    let apps = apps["value"].as_array().expect("applications").clone();
    assert_eq!(apps.len(), 1, "{apps:?}");
    apps[0]["keyCredentials"]
        .as_array()
        .expect("keyCredentials")
        .iter()
        .map(|k| k["keyId"].as_str().expect("keyId").to_owned())
        .collect()
}

fn status(daemon: &Daemon) -> Value {
    let out = daemon.cli(&["status", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Sets `key = "value"` lines of [entra.auth] in the config.
fn set_auth(config: &Path, values: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(config).expect("config");
    for (key, value) in values {
        let line = format!("{key} = \"{value}\"");
        match text.lines().find(|l| l.starts_with(&format!("{key} = "))).map(str::to_owned) {
            Some(old) => text = text.replace(&old, &line),
            None => text = text.replace("[entra.auth]\n", &format!("[entra.auth]\n{line}\n")),
        }
    }
    std::fs::write(config, text).expect("config");
}

/// The Base64 lines of a PEM file's body (to look for in places they must never be).
fn pem_body_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("pem")
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 40)
        .map(str::to_owned)
        .collect()
}

fn files_text(paths: &[std::path::PathBuf]) -> String {
    paths.iter().filter_map(|p| std::fs::read(p).ok()).map(|b| String::from_utf8_lossy(&b).into_owned()).collect()
}

fn change_password(dc: &Dc, daemon: &Daemon, emu: &Emulator, password: &str) {
    let out = dc.setpassword_ldap("alice", password);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        emu.wait_password(UPN, password, Duration::from_secs(120)).is_some(),
        "the password change to {password} did not arrive:\n{}",
        tail(&daemon.logs())
    );
}

#[test]
fn a_due_certificate_is_renewed_at_once_and_an_interrupted_renewal_finishes_after_a_restart() {
    let bus = PrivateBus::start().expect("private bus");
    let emu = Emulator::start(&[]);
    let mut dc = Dc::new();
    dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1", "--mail-address=alice@lab.test"]);
    dc.set_global_option("check password script", &hook_path().display().to_string());
    dc.start(&[("DBUS_SYSTEM_BUS_ADDRESS", bus.address())]);
    let dir = tempfile::Builder::new().prefix("ses-daemon-").tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, daemon_config(dir.path(), &dc, &emu, &bus, "")).expect("config");
    let (cert, key) = (dir.path().join("app.pem"), dir.path().join("app.key"));

    // A certificate valid 30 days, not due with renew_before = 10d.
    set_auth(&config, &[("certificate_validity", "30d"), ("renew_before", "10d")]);
    let out = Command::new(common::bin()).arg("register-app").arg("--config").arg(&config).output().expect("run");
    assert!(out.status.success(), "register-app failed:\n{}", text(&out));
    assert!(text(&out).contains("recorded the application's object id"), "{}", text(&out));
    let first_keys = key_ids(&emu);
    assert_eq!(first_keys.len(), 1);
    let first_cert = std::fs::read(&cert).expect("cert");

    let mut daemon = Daemon::start_configured(dir, config.clone());
    let s = status(&daemon);
    let expires = s["certificate"]["expiresAt"].as_i64().expect("status shows the certificate's expiry");
    let now = s["now"].as_i64().expect("now");
    assert!((expires - now - 30 * DAY_MS).abs() < DAY_MS, "expires {expires}, now {now}: {s}");
    assert_eq!(s["certificate"]["rotation"], "idle", "{s}");
    change_password(&dc, &daemon, &emu, "Al1ce!Pass-2");
    assert_eq!(key_ids(&emu), first_keys, "nothing was due");

    // renew_before longer than the 30 days left: the daemon renews at once. removeKey is held by
    // the emulator, so the renewal stops after the switch with both keys on the application.
    emu.fault(json!({"kind": "graphUnavailable", "operation": "removeKey"}));
    daemon.stop();
    set_auth(&config, &[("certificate_validity", "180d"), ("renew_before", "60d")]);
    daemon.start_again();
    assert!(
        wait_until(Duration::from_secs(60), || status(&daemon)["certificate"]["rotation"]
            .as_str()
            .is_some_and(|r| r.contains("removing the old one"))),
        "the renewal did not reach removeKey: {}\n{}",
        status(&daemon),
        tail(&daemon.logs())
    );
    let both = key_ids(&emu);
    assert_eq!(both.len(), 2, "addKey added the new key and the old one stays: {both:?}");
    assert_ne!(std::fs::read(&cert).expect("cert"), first_cert, "the daemon switched to the new certificate");
    assert_eq!(std::fs::metadata(&key).expect("key").permissions().mode() & 0o777, 0o600);
    let s = status(&daemon);
    let expires = s["certificate"]["expiresAt"].as_i64().expect("expiry");
    assert!(expires - now > 170 * DAY_MS, "the new certificate is valid 180 days: {s}");
    // Pushes go on in the middle of the renewal.
    change_password(&dc, &daemon, &emu, "Al1ce!Pass-3");

    // Killed between addKey and removeKey; a password changes while it is down.
    let mut daemon = daemon;
    daemon.kill9();
    let out = dc.setpassword_ldap("alice", "Al1ce!Pass-4");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    emu.clear_faults();
    daemon.start_again();
    assert!(
        wait_until(Duration::from_secs(60), || key_ids(&emu).len() == 1),
        "the renewal did not finish after the restart:\n{}",
        tail(&daemon.logs())
    );
    let last = key_ids(&emu);
    assert!(!first_keys.contains(&last[0]), "the one key left is the new one: {last:?} vs {first_keys:?}");
    assert!(
        emu.wait_password(UPN, "Al1ce!Pass-4", Duration::from_secs(120)).is_some(),
        "the change made while the daemon was down did not arrive:\n{}",
        tail(&daemon.logs())
    );
    assert!(
        wait_until(Duration::from_secs(30), || status(&daemon)["certificate"]["rotation"] == "idle"),
        "{}",
        status(&daemon)
    );
    // And after it, with the new key only.
    change_password(&dc, &daemon, &emu, "Al1ce!Pass-5");
    let s = status(&daemon);
    assert_eq!(s["state"], "running", "{s}");

    // Nothing of either private key in the log, status or the state DB.
    let mut secrets = pem_body_lines(&key);
    assert!(!secrets.is_empty());
    secrets.push("PRIVATE KEY".to_owned());
    let db = daemon.state_db();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let stored = files_text(&[db, wal.into()]);
    let shown = format!("{}{}", daemon.logs(), s);
    for secret in &secrets {
        assert!(!stored.contains(secret.as_str()), "the state DB holds key material");
        assert!(!shown.contains(secret.as_str()), "the log or status shows key material");
    }
    let doctor = daemon.cli(&["doctor", "--json"]);
    let checks: Value = serde_json::from_slice(&doctor.stdout).unwrap_or(Value::Null);
    let sign_in =
        checks.as_array().into_iter().flatten().find(|c| c["check"] == "sign-in").cloned().unwrap_or_default();
    assert!(
        sign_in["detail"].as_str().is_some_and(|d| d.contains("expires") && d.contains("renewal: idle")),
        "{sign_in}"
    );
}

#[test]
fn an_expired_certificate_makes_the_daemon_degraded_until_register_app_registers_a_new_one() {
    let bus = PrivateBus::start().expect("private bus");
    let emu = Emulator::start(&[]);
    let mut dc = Dc::new();
    dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1", "--mail-address=alice@lab.test"]);
    dc.set_global_option("check password script", &hook_path().display().to_string());
    dc.start(&[("DBUS_SYSTEM_BUS_ADDRESS", bus.address())]);
    let dir = tempfile::Builder::new().prefix("ses-daemon-").tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, daemon_config(dir.path(), &dc, &emu, &bus, "")).expect("config");
    let register =
        || Command::new(common::bin()).arg("register-app").arg("--config").arg(&config).output().expect("run");
    let out = register();
    assert!(out.status.success(), "register-app failed:\n{}", text(&out));

    // The DC's certificate expired yesterday (made with the same code, dated back).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    let old = samba_entra_sync::entra::auth::generate_credential(
        "SambaEntraSync_old",
        Duration::from_secs(86_400),
        now - 2 * 86_400,
    )
    .expect("credential");
    let (cert, key) = (dir.path().join("app.pem"), dir.path().join("app.key"));
    samba_entra_sync::entra::auth::write_new_file(&key, old.private_key_pem.as_bytes(), 0o600).expect("key");
    samba_entra_sync::entra::auth::write_new_file(&cert, old.certificate_pem.as_bytes(), 0o644).expect("cert");

    // The daemon starts anyway, degraded, saying what fixes it; a change waits meanwhile.
    let mut daemon = Daemon::start_configured(dir, config.clone());
    assert!(
        wait_until(Duration::from_secs(30), || {
            let s = status(&daemon);
            s["state"] == "degraded"
                && s["degradedReasons"].as_array().into_iter().flatten().any(|r| {
                    r.as_str().is_some_and(|r| {
                        r.starts_with("certificate: ") && r.contains("expired") && r.contains("register-app")
                    })
                })
        }),
        "{}\n{}",
        status(&daemon),
        tail(&daemon.logs())
    );
    let out = dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // register-app makes a new certificate and replaces the application's expired key with it.
    let out = register();
    assert!(out.status.success(), "register-app failed:\n{}", text(&out));
    let said = text(&out);
    assert!(said.contains("has expired: making a new one") && said.contains("replaced the key credentials"), "{said}");
    assert_eq!(key_ids(&emu).len(), 1);
    daemon.restart();
    assert!(
        wait_until(Duration::from_secs(60), || status(&daemon)["state"] == "running"),
        "{}\n{}",
        status(&daemon),
        tail(&daemon.logs())
    );
    assert!(
        emu.wait_password(UPN, "Al1ce!Pass-2", Duration::from_secs(120)).is_some(),
        "the change made while degraded did not arrive:\n{}",
        tail(&daemon.logs())
    );
}
