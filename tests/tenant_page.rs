//! The emulator's tenant page (`GET /`) as a browser renders it: headless Chromium (Debian's
//! `chromium`) loads it after a sync of a few users and a group, and the rendered DOM must show
//! each synced object with its name, UPN, anchor, member count and password-arrival time, as the
//! emulator's admin API reports them.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::samba::Dc;
use common::stack::Stack;
use serde_json::Value;

const USERS: [(&str, &str, &str, &str); 3] = [
    ("alice", "Alice", "Liddell", "Al1ce!Page-1"),
    ("bob", "Bob", "Marley", "B0b!Page-1"),
    ("carol", "Carol", "Danvers", "Car0l!Page-1"),
];

fn prepare(dc: &Dc) {
    for (name, given, surname, password) in USERS {
        dc.samba_tool(&[
            "user",
            "create",
            name,
            password,
            "--userou=CN=Users",
            &format!("--mail-address={name}@lab.test"),
            &format!("--given-name={given}"),
            &format!("--surname={surname}"),
        ]);
    }
    dc.samba_tool(&["group", "add", "Page Staff"]);
    dc.samba_tool(&["group", "addmembers", "Page Staff", "alice,bob"]);
}

/// The DOM after Chromium loaded and rendered `url`.
fn rendered_dom(url: &str) -> String {
    let profile = tempfile::Builder::new().prefix("ses-chromium-").tempdir().expect("tempdir");
    let out = Command::new("timeout")
        .arg("120")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        // Keep Chromium's caches and crash reports in the throwaway profile.
        .env("HOME", profile.path())
        .env("XDG_CONFIG_HOME", profile.path())
        .env("XDG_CACHE_HOME", profile.path())
        .output()
        .expect("run chromium (scripts/install-deps.sh installs Debian's chromium package)");
    assert!(out.status.success(), "chromium failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

/// The table rows of the rendered page, each as its cells' text.
fn rows(dom: &str) -> Vec<Vec<String>> {
    dom.split("<tr>")
        .skip(1)
        .map(|row| {
            let row = row.split("</tr>").next().unwrap_or_default();
            row.split("<td>")
                .skip(1)
                .map(|cell| {
                    let cell = cell.split("</td>").next().unwrap_or_default();
                    cell.replace("<code>", "").replace("</code>", "")
                })
                .collect()
        })
        .filter(|cells: &Vec<String>| !cells.is_empty())
        .collect()
}

fn wait_for_group(s: &Stack, name: &str, members: usize) -> Value {
    let t0 = Instant::now();
    loop {
        let found = s.emu.objects("Group").into_iter().find(|g| g["attributes"]["displayName"] == name);
        if let Some(g) = found
            && g["members"].as_array().map_or(0, Vec::len) == members
        {
            return g;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "group {name} did not sync:\n{}", s.daemon.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_tenant_page_shows_the_synced_objects_in_chromium() {
    let s = Stack::start(prepare, "", &[]);
    for (name, _, _, password) in USERS {
        assert!(
            s.emu.wait_password(&format!("{name}@lab.test"), password, Duration::from_secs(30)).is_some(),
            "{name}'s password did not sync:\n{}",
            s.daemon.logs()
        );
    }
    let group = wait_for_group(&s, "Page Staff", 2);

    let dom = rendered_dom(&format!("{}/", s.emu.base_url));
    assert!(dom.contains("<title>Entra sync emulator</title>"), "not the tenant page:\n{dom}");
    assert!(dom.contains(&s.emu.tenant_id), "the tenant id is missing:\n{dom}");
    let rows = rows(&dom);

    for (name, given, surname, _) in USERS {
        let upn = format!("{name}@lab.test");
        let user = s
            .emu
            .objects("User")
            .into_iter()
            .find(|u| u["attributes"]["userPrincipalName"] == upn.as_str())
            .unwrap_or_else(|| panic!("{upn} is not in the tenant"));
        let received = user["credential"]["receivedAt"].as_str().expect("a password arrival time").to_string();
        let anchor = user["sourceAnchor"].as_str().expect("anchor").to_string();
        let row = rows
            .iter()
            .find(|r| r.get(3).map(String::as_str) == Some(upn.as_str()))
            .unwrap_or_else(|| panic!("no row for {upn} in the rendered page:\n{dom}"));
        assert_eq!(row[0], "User");
        assert_eq!(row[1], anchor, "{upn}'s anchor");
        assert_eq!(row[2], format!("{given} {surname}"), "{upn}'s display name");
        assert_eq!(row[6], received, "{upn}'s password arrival time");
        assert!(!row[5].is_empty(), "{upn}'s password change date is missing");
    }

    let row = rows
        .iter()
        .find(|r| r.get(2).map(String::as_str) == Some("Page Staff"))
        .unwrap_or_else(|| panic!("no row for the group in the rendered page:\n{dom}"));
    assert_eq!(row[0], "Group");
    assert_eq!(row[1], group["sourceAnchor"].as_str().unwrap_or_default());
    assert_eq!(row[4], "2", "the group's member count");
    let total: usize = ["User", "Group", "Contact", "Device"].iter().map(|t| s.emu.objects(t).len()).sum();
    assert_eq!(rows.len(), total, "one row per object in the tenant");
    assert!(dom.contains(&format!("<h2>{total} synced objects</h2>")), "{dom}");
}
