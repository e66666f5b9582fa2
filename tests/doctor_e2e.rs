//! `doctor` against a running lab DC, the emulator and the daemon: every check passes on the
//! healthy stack, and each failure provoked in turn is named by its own check, with a fix.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::stack::{Stack, tail};

fn alice(dc: &common::samba::Dc) {
    dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1"]);
}

fn doctor(config: &Path, smb_conf: &Path) -> (Option<i32>, Vec<Value>) {
    let out = Command::new(common::bin())
        .args(["doctor", "--json", "--config"])
        .arg(config)
        .arg("--smb-conf")
        .arg(smb_conf)
        .output()
        .expect("doctor");
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code(), checks)
}

/// The verdict of the check whose name contains `name`, with its text.
fn verdict<'a>(checks: &'a [Value], name: &str) -> (&'a str, String) {
    let c = checks
        .iter()
        .find(|c| c["check"].as_str().is_some_and(|n| n.contains(name)))
        .unwrap_or_else(|| panic!("no check named {name}: {checks:?}"));
    (c["verdict"].as_str().unwrap_or(""), format!("{} / fix: {}", c["detail"], c["fix"]))
}

fn failing(checks: &[Value]) -> Vec<String> {
    checks.iter().filter(|c| c["verdict"] != "pass").map(|c| format!("{}: {}", c["check"], c["detail"])).collect()
}

/// A copy of the daemon's config with `from` replaced by `to`.
fn config_with(s: &Stack, name: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(&s.daemon.config).expect("config");
    assert!(text.contains(from), "{from} not in the config");
    let path = s.daemon.dir.path().join(name);
    std::fs::write(&path, text.replace(from, to)).expect("config");
    path
}

#[test]
fn doctor_passes_on_a_healthy_lab_and_names_each_provoked_failure() {
    let mut s = Stack::start(alice, "", &[]);
    s.wait_full_runs(1, Duration::from_secs(60));
    let smb = s.dc.smb_conf();
    let (code, checks) = doctor(&s.daemon.config, &smb);
    assert!(failing(&checks).is_empty(), "a healthy lab fails: {:?}\n{}", failing(&checks), tail(&s.daemon.logs()));
    assert_eq!(code, Some(0));
    assert!(checks.len() >= 10, "{checks:?}");

    // The hook missing from smb.conf.
    let text = std::fs::read_to_string(&smb).expect("smb.conf");
    let without: String = text
        .lines()
        .filter(|l| !l.to_ascii_lowercase().contains("check password script"))
        .collect::<Vec<_>>()
        .join("\n");
    let bare = s.daemon.dir.path().join("smb-without-hook.conf");
    std::fs::write(&bare, without + "\n").expect("smb.conf");
    let (code, checks) = doctor(&s.daemon.config, &bare);
    assert_eq!(code, Some(1));
    let (v, text) = verdict(&checks, "hook registered");
    assert_eq!(v, "fail", "{text}");
    assert!(text.contains("install-hook --apply"), "{text}");
    assert_eq!(failing(&checks).len(), 1, "only the hook fails: {:?}", failing(&checks));

    // Password complexity off: Samba would never run the hook.
    s.dc.samba_tool(&["domain", "passwordsettings", "set", "--complexity=off"]);
    let (_, checks) = doctor(&s.daemon.config, &smb);
    let (v, text) = verdict(&checks, "complexity");
    assert_eq!(v, "fail", "{text}");
    assert!(text.contains("--complexity=on"), "{text}");
    s.dc.samba_tool(&["domain", "passwordsettings", "set", "--complexity=on"]);

    // No sign-in.
    let no_token = config_with(&s, "no-token.toml", "token.json", "missing-token.json");
    let (_, checks) = doctor(&no_token, &smb);
    let (v, text) = verdict(&checks, "sign-in");
    assert_eq!(v, "fail", "{text}");
    assert!(text.contains("login"), "{text}");

    // A damaged state DB.
    let junk = s.daemon.dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x5a; 8192]).expect("junk");
    let damaged =
        config_with(&s, "damaged.toml", &s.daemon.state_db().display().to_string(), &junk.display().to_string());
    let (_, checks) = doctor(&damaged, &smb);
    assert_eq!(verdict(&checks, "state database").0, "fail", "{:?}", verdict(&checks, "state database"));

    // Entra unreachable.
    let nowhere = config_with(&s, "nowhere.toml", &s.emu.base_url, "http://127.0.0.1:9");
    let (_, checks) = doctor(&nowhere, &smb);
    assert_eq!(verdict(&checks, "tenant reachable").0, "fail", "{:?}", verdict(&checks, "tenant reachable"));

    // The tenant's administrator turned password hash sync off.
    let (code, _) = s.emu.patch("/admin/company", &serde_json::json!({"passwordHashSync": false}));
    assert_eq!(code, 200);
    let (_, checks) = doctor(&s.daemon.config, &smb);
    let (v, text) = verdict(&checks, "password hash sync");
    assert_eq!(v, "fail", "{text}");
    let (code, _) = s.emu.patch("/admin/company", &serde_json::json!({"passwordHashSync": true}));
    assert_eq!(code, 200);

    // The daemon stopped, then Samba.
    s.daemon.stop();
    let (_, checks) = doctor(&s.daemon.config, &smb);
    let (v, text) = verdict(&checks, "daemon running");
    assert_eq!(v, "fail", "{text}");
    assert!(text.contains("systemctl enable --now samba-entra-sync"), "{text}");
    s.dc.stop();
    let (_, checks) = doctor(&s.daemon.config, &smb);
    assert_eq!(verdict(&checks, "Samba running").0, "fail");
}
