//! The cost of a retry: a new user whose first pushes the service turns away (12 s of 503,
//! then 4 s in which it answers that the object is not there yet) must cost a few dozen sync
//! calls, not thousands, and its password must still arrive within seconds of the service
//! taking it.

mod common;

use std::time::{Duration, Instant};

use serde_json::json;

use common::stack::{Stack, tail};

fn alice(dc: &common::samba::Dc) {
    dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1", "--mail-address=alice@lab.test"]);
}

/// Every request to the sync endpoint: those the injected 503 turned away count too (the
/// emulator's per-operation `calls` only counts operations that ran).
fn sync_calls(s: &Stack) -> u64 {
    s.emu.stats()["requests"].as_u64().expect("the emulator counts requests")
}

fn op_calls(s: &Stack, op: &str) -> u64 {
    s.emu.stats()["calls"][op].as_u64().unwrap_or(0)
}

#[test]
fn a_user_turned_away_for_16_s_costs_a_few_dozen_calls_and_still_arrives() {
    let s = Stack::start(alice, "", &[]);
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-1", Duration::from_secs(60)).is_some());
    std::thread::sleep(Duration::from_secs(1));
    let before = sync_calls(&s);
    s.emu.fault(json!([
        {"kind": "unavailable", "seconds": 12},
        {"kind": "replicationDelay", "ms": 4000, "seconds": 60},
    ]));
    let t0 = Instant::now();
    // A new user, with a password, through LDAP: the hook fires, the push finds the user
    // missing in Entra, and the delta reconcile exports it, all while the service refuses.
    let out = s.dc.exec_ok(&[
        "samba-tool",
        "user",
        "create",
        "newbie",
        "N3wbie!Pass-1",
        "--mail-address=newbie@lab.test",
        "-s",
        &s.dc.smb_conf().to_string_lossy(),
        "-H",
        "ldap://127.0.0.1",
        "-U",
        &format!("Administrator%{}", common::samba::ADMIN_PASSWORD),
    ]);
    assert!(out.status.success());
    let writes_before = s.emu.writes();
    let exports_before = op_calls(&s, "ProvisionAzureADSyncObjects") + op_calls(&s, "ProvisionAzureADSyncObjects2");
    // Once the service answers again (12 s), another user's change goes through at once: the
    // newcomer's back-off holds up nobody else.
    std::thread::sleep(Duration::from_secs(13).saturating_sub(t0.elapsed()));
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let t_alice = Instant::now();
    let alice_took = s.emu.wait_password("alice@lab.test", "Al1ce!Pass-2", Duration::from_secs(30));
    let alice_took = alice_took.map(|_| t_alice.elapsed());
    let arrived = s.emu.wait_password("newbie@lab.test", "N3wbie!Pass-1", Duration::from_secs(90));
    let calls = sync_calls(&s) - before;
    let took = t0.elapsed();
    let writes = s.emu.writes() - writes_before;
    let exports =
        op_calls(&s, "ProvisionAzureADSyncObjects") + op_calls(&s, "ProvisionAzureADSyncObjects2") - exports_before;
    println!(
        "RETRY|new user turned away for 16 s|sync requests {calls}|exports {exports}|writes {writes}|arrived after {took:?}|another user's change meanwhile {alice_took:?}"
    );
    assert!(
        alice_took.is_some_and(|t| t <= Duration::from_secs(5)),
        "another user's change waited behind the newcomer: {alice_took:?}\n{}",
        tail(&s.daemon.logs())
    );
    // The write budget is not spent on the loop: the newcomer is exported once (or twice, if
    // the first export's answer was lost), its password stored once, alice's once.
    assert!(writes <= 4, "{writes} writes for two users");
    assert!(exports <= 10, "{exports} export calls for one new user");
    assert!(arrived.is_some(), "the password never arrived:\n{}", tail(&s.daemon.logs()));
    assert!(calls <= 40, "{calls} sync calls for one user turned away for 16 s:\n{}", tail(&s.daemon.logs()));
    // The service takes the credential from 16 s on; the back-off may add one pause of at most
    // about 16 s on top (the attempts before were 1, 2, 4 and 8 s apart).
    assert!(took <= Duration::from_secs(45), "arrived only after {took:?}");
}
