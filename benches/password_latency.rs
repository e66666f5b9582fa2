//! Password propagation latency through the whole stack: a running Samba DC, a private D-Bus,
//! the emulator and the daemon. Latency = the emulator's receipt of the new credential minus
//! the moment the password-change command returned (it can be negative: the hook fires before
//! Samba commits, and the push may land before the LDAP client hears back).
//!
//! Two runs: through the hook, and through the safety net alone (no hook installed, so only
//! the 500 ms highestCommittedUSN poll notices changes).
//! Targets (issue 5): p99 ≤ 250 ms through the hook, ≤ 1.5 s through the safety net.
//! Run: `cargo bench --bench password_latency` (CHANGES=N to change the sample size).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::bus::PrivateBus;
use common::samba::Dc;
use common::stack::{Daemon, Emulator, hook_path, parse_rfc3339_ms};

const USERS: usize = 10;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn received_at(emu: &Emulator, anchor: &str) -> Option<i64> {
    let enc: String = anchor
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let obj = emu.get(&format!("/admin/objects/{enc}"));
    obj["credential"]["receivedAt"].as_str().and_then(parse_rfc3339_ms)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn run(label: &str, with_hook: bool, changes: usize) {
    let bus = PrivateBus::start().expect("bus");
    let emu = Emulator::start(&[]);
    let mut dc = Dc::new();
    for u in 0..USERS {
        dc.create_user(&format!("lat{u}"), &format!("Lat-{u}!initial"));
    }
    if with_hook {
        dc.set_global_option("check password script", &hook_path().display().to_string());
    }
    dc.start(&[("DBUS_SYSTEM_BUS_ADDRESS", bus.address())]);
    let daemon = Daemon::start(&dc, &emu, &bus, "");
    // The initial sync exports the users and their passwords.
    for u in 0..USERS {
        let upn = format!("lat{u}@lab.test");
        assert!(
            emu.wait_password(&upn, &format!("Lat-{u}!initial"), Duration::from_secs(60)).is_some(),
            "{}",
            daemon.logs()
        );
    }
    let anchors: Vec<String> = (0..USERS)
        .map(|u| {
            emu.objects("User")
                .iter()
                .find(|o| o["attributes"]["userPrincipalName"].as_str() == Some(&format!("lat{u}@lab.test")))
                .and_then(|o| o["sourceAnchor"].as_str().map(String::from))
                .expect("anchor")
        })
        .collect();

    let mut lat = Vec::with_capacity(changes);
    for i in 0..changes {
        let u = i % USERS;
        let user = format!("lat{u}");
        let pw = format!("Lat-{i}!pw#{u}");
        let before = received_at(&emu, &anchors[u]).unwrap_or(0);
        let out = dc.reset_password(&user, &pw);
        assert!(out.status.success(), "ldapmodify: {}", String::from_utf8_lossy(&out.stderr));
        let returned = now_ms();
        let t = Instant::now();
        let got = loop {
            if let Some(at) = received_at(&emu, &anchors[u]).filter(|at| *at > before) {
                break Some(at);
            }
            if t.elapsed() > Duration::from_secs(20) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let at = got.unwrap_or_else(|| panic!("change {i} of {user} never arrived:\n{}", daemon.logs()));
        assert!(emu.verify_password(&format!("{user}@lab.test"), &pw), "the credential that arrived is wrong");
        lat.push(at - returned);
    }
    lat.sort_unstable();
    println!(
        "{label}: {changes} changes; latency from the change command returning to the emulator accepting the credential: p50 {} ms, p95 {} ms, p99 {} ms, max {} ms (min {} ms)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        percentile(&lat, 0.99),
        lat[lat.len() - 1],
        lat[0]
    );
    drop(daemon);
}

fn main() {
    let changes: usize = std::env::var("CHANGES").ok().and_then(|v| v.parse().ok()).unwrap_or(120);
    run("through the hook", true, changes);
    run("through the safety net alone (change_poll 500 ms)", false, changes);
}
