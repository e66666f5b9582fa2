//! `register-app` end to end (issue 12 item 2): from a fresh config and a fresh emulator tenant
//! (which approves the administrator's device code itself), register-app makes the application,
//! its certificate on the DC, its service principal and its sync role through the emulator's
//! Graph, rewrites the config to method = "certificate" (comments and a backup kept), and proves
//! it; check-config passes, the daemon signs in as the application and a password change reaches
//! the emulator through the hook; a second run creates nothing new.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use common::bus::PrivateBus;
use common::samba::Dc;
use common::stack::{Daemon, Emulator, daemon_config, hook_path, tail};

const UPN: &str = "alice@lab.test";
const SYNC_APP: &str = "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016";
const SYNC_ROLE_ID: &str = "ab43b826-2c7a-4aff-9ecd-d0629d0ca6a9";

fn register_app(config: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(common::bin()).arg("register-app").arg("--config").arg(config).args(extra).output().expect("run")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn graph(emu: &Emulator, token: &str, path: &str) -> Value {
    common::stack::curl_json(&[
        "-g",
        "-H",
        &format!("Authorization: Bearer {token}"),
        &format!("{}{path}", emu.base_url),
    ])
}

#[test]
fn register_app_switches_a_fresh_install_to_a_certificate_and_a_second_run_makes_nothing() {
    let bus = PrivateBus::start().expect("private bus");
    let emu = Emulator::start(&[]);
    let mut dc = Dc::new();
    dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1", "--mail-address=alice@lab.test"]);
    dc.set_global_option("check password script", &hook_path().display().to_string());
    dc.start(&[("DBUS_SYSTEM_BUS_ADDRESS", bus.address())]);
    let dir = tempfile::Builder::new().prefix("ses-daemon-").tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    let original = daemon_config(dir.path(), &dc, &emu, &bus, "");
    std::fs::write(&config, &original).expect("config");

    // --dry-run shows the Graph calls and changes nothing.
    let dry = register_app(&config, &["--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    let said = text(&dry);
    assert!(
        said.contains("POST") && said.contains("/v1.0/applications") && said.contains("appRoleAssignedTo"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&config).expect("config"), original);
    assert!(!dir.path().join("app.key").exists());

    let first = register_app(&config, &[]);
    assert!(first.status.success(), "register-app failed:\n{}", text(&first));
    let said = text(&first);
    for step in [
        "signed in the administrator",
        "created the application",
        "created the application's service principal",
        "granted the application",
        "proof: GetCompanyConfiguration",
    ] {
        assert!(said.contains(step), "no step {step:?}:\n{said}");
    }
    let key = dir.path().join("app.key");
    assert_eq!(std::fs::metadata(&key).expect("key").permissions().mode() & 0o777, 0o600);
    let rewritten = std::fs::read_to_string(&config).expect("config");
    assert!(rewritten.contains("method = \"certificate\""), "{rewritten}");
    assert!(rewritten.contains(&format!("private_key = \"{}\"", key.display())), "{rewritten}");
    assert!(rewritten.contains("# Entra Connect's default, and what the emulator's tenant reports."), "comment lost");
    let backups: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("config.toml.bak-"))
        .collect();
    assert_eq!(backups.len(), 1, "one backup");
    assert_eq!(std::fs::read_to_string(backups[0].path()).expect("backup"), original);
    // The administrator's token is not kept anywhere.
    assert!(!dir.path().join("token.json").exists(), "the admin's token was stored");
    assert!(!rewritten.contains("eyJ") && !said.contains("eyJ"), "a token was written or printed");

    let check = Command::new(common::bin()).arg("check-config").arg("--config").arg(&config).output().expect("run");
    assert!(check.status.success(), "{}", text(&check));

    let checked = text(&check);
    assert!(!checked.contains("7 April 2027"), "a certificate set-up needs no warning: {checked}");

    let daemon = Daemon::start_configured(dir, config.clone());
    let status = daemon.cli(&["status", "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert!(status["signIn"].as_str().unwrap_or_default().starts_with("application"), "{status}");
    let out = dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        emu.wait_password(UPN, "Al1ce!Pass-2", Duration::from_secs(120)).is_some(),
        "the change did not arrive:\n{}",
        tail(&daemon.logs())
    );

    // A second run reuses everything.
    let second = register_app(&config, &[]);
    assert!(second.status.success(), "second register-app failed:\n{}", text(&second));
    let said = text(&second);
    assert!(!said.contains("created") && !said.contains("granted") && !said.contains("made an RSA"), "{said}");
    assert!(said.contains("found the application") && said.contains("already holds"), "{said}");
    let token = emu.admin_graph_token();
    let apps = graph(&emu, &token, "/v1.0/applications");
    let apps = apps["value"].as_array().expect("applications").clone();
    assert_eq!(apps.len(), 1, "{apps:?}");
    assert_eq!(apps[0]["keyCredentials"].as_array().map(Vec::len), Some(1), "{apps:?}");
    let sync =
        graph(&emu, &token, &format!("/v1.0/servicePrincipals?$filter=appId eq '{SYNC_APP}'").replace(' ', "%20"));
    let sync_id = sync["value"][0]["id"].as_str().expect("sync app's service principal").to_owned();
    let assigned = graph(&emu, &token, &format!("/v1.0/servicePrincipals/{sync_id}/appRoleAssignedTo"));
    let assigned = assigned["value"].as_array().expect("assignments").clone();
    assert_eq!(assigned.len(), 1, "{assigned:?}");
    assert_eq!(assigned[0]["appRoleId"], SYNC_ROLE_ID);
    drop(daemon);
}

#[test]
fn a_refused_step_names_the_missing_role_and_changes_nothing() {
    // The administrator who signs in holds no role that may create applications.
    let emu = Emulator::start(&["--signin-role", "Directory Synchronization Accounts"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    let original = format!(
        "version = 1\n[entra]\ntenant_id = \"{t}\"\nauthority = \"{u}\"\nsync_endpoint = \"{u}/provisioningservice.svc\"\n\
         [entra.auth]\n# the daemon's sign-in\nmethod = \"refresh_token\"\ntoken_cache = \"{d}/token.json\"\n\
         [state]\ndb = \"{d}/state.db\"\n[dbus]\nadmin_group = \"root\"\n",
        t = emu.tenant_id,
        u = emu.base_url,
        d = dir.path().display()
    );
    std::fs::write(&config, &original).expect("config");
    let out = register_app(&config, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("cannot create the application"), "{said}");
    assert!(said.contains("Application.ReadWrite.All") && said.contains("Hybrid Identity Administrator"), "{said}");
    assert_eq!(std::fs::read_to_string(&config).expect("config"), original, "the config changed");
    let token = emu.admin_graph_token();
    assert_eq!(graph(&emu, &token, "/v1.0/applications")["value"].as_array().map(Vec::len), Some(0));
}
