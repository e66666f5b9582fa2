//! Sign-in that keeps working in 2027 (issue 12), end to end with a real DC, the hook, the
//! emulator binary and the daemon: staying on a user token is visible (status, start log,
//! login), and once the service (the emulator's `--service-date`) refuses user tokens the daemon
//! is `degraded` with the sentence that says what switches, and an application sign-in recovers
//! it without losing the change queued meanwhile.

mod common;

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use common::samba::Dc;
use common::stack::{Stack, tail};
use common::wait_until;

const UPN: &str = "alice@lab.test";
const RUN: Duration = Duration::from_secs(120);
const APP: &str = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e";
const ENDS: &str = "stops working on 7 April 2027";

fn users(dc: &Dc) {
    dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1", "--mail-address=alice@lab.test"]);
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

fn status(s: &Stack) -> Value {
    json_of(&s.daemon.cli(&["status", "--json"]))
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/emulator/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_user_token_says_when_user_sign_in_ends_in_status_log_and_login() {
    let s = Stack::start(users, "", &[]);
    assert!(s.emu.wait_password(UPN, "Al1ce!Pass-1", RUN).is_some(), "{}", tail(&s.daemon.logs()));
    let st = status(&s);
    assert_eq!(st["state"], "running", "{st}");
    let sign_in = st["signIn"].as_str().unwrap_or_default();
    assert!(sign_in.contains(ENDS) && sign_in.contains("register-app"), "{st}");
    let logs = s.daemon.logs();
    assert!(logs.contains(ENDS) && logs.contains("register-app"), "the start log does not say it:\n{}", tail(&logs));
    let login = s.daemon.cli(&["login"]);
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));
    let said = String::from_utf8_lossy(&login.stderr);
    assert!(said.contains(ENDS) && said.contains("register-app"), "login does not say it: {said}");
    let text = String::from_utf8_lossy(&s.daemon.cli(&["status"]).stdout).to_string();
    assert!(text.contains(ENDS), "{text}");
}

#[test]
fn after_7_april_2027_a_refused_user_token_is_degraded_and_an_app_sign_in_recovers() {
    let cert = format!("{APP}={}", fixture("app.pem"));
    let mut s = Stack::start(users, "", &["--service-date", "2027-04-08", "--client-cert", &cert]);
    // The daemon signed in as a user (the token endpoint still answers), but the sync endpoint
    // refuses that token: degraded, with the sentence, not "sign in again".
    assert!(
        wait_until(Duration::from_secs(30), || status(&s)["state"] == "degraded"),
        "state {}:\n{}",
        status(&s)["state"],
        tail(&s.daemon.logs())
    );
    let st = status(&s);
    let reasons = st["degradedReasons"].to_string();
    assert!(reasons.contains(ENDS) && reasons.contains("register-app"), "{st}");
    assert!(!reasons.contains("login --config"), "a new login cannot fix this: {st}");
    assert!(s.emu.objects("User").is_empty(), "written on a refused token");

    // A change while degraded waits in the queue.
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The administrator switches to an application sign-in (what register-app writes).
    let dir = s.daemon.dir.path().to_owned();
    std::fs::copy(fixture("app.pem"), dir.join("app.pem")).expect("cert");
    std::fs::copy(fixture("app.key"), dir.join("app.key")).expect("key");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.join("app.key"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let config = std::fs::read_to_string(&s.daemon.config).expect("config");
    let switched = config.replace(
        "method = \"refresh_token\"",
        &format!(
            "method = \"certificate\"\nclient_id = \"{APP}\"\ncertificate = \"{}\"\nprivate_key = \"{}\"",
            dir.join("app.pem").display(),
            dir.join("app.key").display()
        ),
    );
    assert_ne!(config, switched);
    std::fs::write(&s.daemon.config, switched).expect("config");
    s.daemon.restart();
    assert!(
        s.emu.wait_password(UPN, "Al1ce!Pass-2", RUN).is_some(),
        "the queued change did not arrive:\n{}",
        tail(&s.daemon.logs())
    );
    assert!(wait_until(Duration::from_secs(10), || status(&s)["state"] == "running"), "{}", status(&s));
    assert!(status(&s)["signIn"].as_str().unwrap_or_default().starts_with("application"), "{}", status(&s));
}

#[test]
fn check_config_explains_a_graph_windows_net_scope_and_a_user_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    let base = format!(
        "version = 1\n[entra]\ntenant_id = \"00000000-0000-0000-0000-000000000001\"\n[state]\ndb = \"{}/state.db\"\n\
         [dbus]\nadmin_group = \"root\"\n[entra.auth]\n",
        dir.path().display()
    );
    let run = |auth: &str| {
        std::fs::write(&config, format!("{base}{auth}")).expect("config");
        let out = common::cli(&["check-config", "--config", config.to_str().expect("path")]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let legacy = run("scope = \"https://graph.windows.net/.default\"\n");
    assert!(legacy.contains("retired by the service on 30 Sep 2026"), "{legacy}");
    assert!(legacy.contains("6bf85cfa-ac8a-4be5-b5de-425a0d0dc016/.default"), "{legacy}");
    assert!(legacy.contains(ENDS), "{legacy}");
    let defaults = run("");
    assert!(!defaults.contains("graph.windows.net"), "{defaults}");
    assert!(defaults.contains(ENDS) && defaults.contains("register-app"), "{defaults}");
}
