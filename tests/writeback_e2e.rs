//! The consistency GUID write-back end to end: a running Samba DC, the emulator and the daemon
//! with `source_anchor = "ms-DS-ConsistencyGuid"`. What the daemon wrote is read back with
//! Samba's own ldbsearch.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use common::samba::Dc;
use common::stack::Stack;

const RUN_TIMEOUT: Duration = Duration::from_secs(180);
/// A consistency GUID of its own (as a migrated user would have), not its objectGUID.
const KEEPER_GUID: [u8; 16] = [0xC0, 0xFF, 0xEE, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

/// alice (no consistency GUID), keeper (its own), a group with both, and a computer.
fn prepare(dc: &Dc) {
    dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1", "--mail-address=alice@lab.test"]);
    dc.samba_tool(&["user", "create", "keeper", "K33per!Pass-1", "--mail-address=keeper@lab.test"]);
    dc.ldbmodify(&format!(
        "dn: CN=keeper,CN=Users,DC=lab,DC=test\nchangetype: modify\nadd: mS-DS-ConsistencyGuid\nmS-DS-ConsistencyGuid:: {}\n",
        STANDARD.encode(KEEPER_GUID)
    ));
    dc.samba_tool(&["group", "add", "staff"]);
    dc.samba_tool(&["group", "addmembers", "staff", "alice,keeper"]);
    dc.samba_tool(&["computer", "create", "PC1"]);
}

fn object_guid(dc: &Dc, name: &str) -> Vec<u8> {
    let v = dc.ldbsearch_values(&format!("(sAMAccountName={name})"), "objectGUID");
    common::guid_bytes(&String::from_utf8_lossy(v.first().unwrap_or_else(|| panic!("no objectGUID for {name}"))))
}

fn consistency_guid(dc: &Dc, name: &str) -> Vec<Vec<u8>> {
    dc.ldbsearch_values(&format!("(sAMAccountName={name})"), "mS-DS-ConsistencyGuid")
}

fn usn_changed(dc: &Dc, name: &str) -> String {
    let v = dc.ldbsearch_values(&format!("(sAMAccountName={name})"), "uSNChanged");
    String::from_utf8_lossy(v.first().unwrap_or_else(|| panic!("no uSNChanged for {name}"))).into_owned()
}

/// The emulator's objects of a type with this account name (there must be at most one).
fn in_tenant(s: &Stack, object_type: &str, name: &str) -> Vec<Value> {
    s.emu.objects(object_type).into_iter().filter(|o| o["attributes"]["onPremisesSamAccountName"] == name).collect()
}

fn anchor(s: &Stack, object_type: &str, name: &str) -> String {
    let found = in_tenant(s, object_type, name);
    assert_eq!(found.len(), 1, "{name} should be in the tenant exactly once: {found:?}");
    found[0]["sourceAnchor"].as_str().unwrap_or_default().to_string()
}

/// Lets the initial password pushes (one per user) finish, so later write counts are stable.
fn wait_passwords(s: &Stack) {
    let t0 = std::time::Instant::now();
    while s.emu.stats()["credentials"].as_u64() != Some(2) {
        assert!(t0.elapsed() < RUN_TIMEOUT, "the initial passwords did not arrive:\n{}", s.daemon.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn write_back_fills_empty_consistency_guids_of_users_only_and_keeps_the_anchor() {
    let mut keeper_usn = String::new();
    let s = Stack::start(
        |dc| {
            prepare(dc);
            keeper_usn = usn_changed(dc, "keeper");
        },
        "write_back_consistency_guid = true",
        &[],
    );
    s.wait_full_runs(1, RUN_TIMEOUT);
    let exports = s.emu.provision_calls();
    assert!(exports > 0, "nothing was exported");
    let alice_guid = object_guid(&s.dc, "alice");
    assert_eq!(consistency_guid(&s.dc, "alice"), vec![alice_guid.clone()], "alice's objectGUID was not written back");
    // The anchor Entra knows is the one it had before the write: still the objectGUID's.
    assert_eq!(anchor(&s, "User", "alice"), STANDARD.encode(&alice_guid));
    // A user with a consistency GUID of its own is not touched at all.
    assert_eq!(consistency_guid(&s.dc, "keeper"), vec![KEEPER_GUID.to_vec()]);
    assert_eq!(usn_changed(&s.dc, "keeper"), keeper_usn, "keeper was modified");
    assert_eq!(anchor(&s, "User", "keeper"), STANDARD.encode(KEEPER_GUID));
    // Groups and computers are never written, the exported group included.
    assert_eq!(in_tenant(&s, "Group", "staff").len(), 1, "the group was not exported");
    assert!(consistency_guid(&s.dc, "staff").is_empty(), "the group got a consistency GUID");
    assert!(consistency_guid(&s.dc, "PC1$").is_empty(), "the computer got a consistency GUID");

    // The write moved alice's uSNChanged, so the change poll ran a delta: it found nothing to send.
    // And a second full reconcile: nothing to write, in AD or in Entra.
    wait_passwords(&s);
    std::thread::sleep(Duration::from_secs(2));
    let (w, alice_usn) = (s.emu.writes(), usn_changed(&s.dc, "alice"));
    s.reconcile(RUN_TIMEOUT);
    assert_eq!(s.emu.writes(), w, "the reconcile after the write-back sent writes to Entra");
    assert_eq!(usn_changed(&s.dc, "alice"), alice_usn, "alice was written again");
    assert_eq!(anchor(&s, "User", "alice"), STANDARD.encode(&alice_guid));
    assert_eq!(s.emu.provision_calls(), exports, "objects were exported again after the write-back");
    assert!(!s.daemon.logs().contains("writing back mS-DS-ConsistencyGuid failed"), "{}", s.daemon.logs());
}

#[test]
fn without_write_back_nothing_is_written_to_the_directory() {
    let mut alice_usn = String::new();
    let s = Stack::start(
        |dc| {
            prepare(dc);
            alice_usn = usn_changed(dc, "alice");
        },
        "write_back_consistency_guid = false",
        &[],
    );
    s.wait_full_runs(1, RUN_TIMEOUT);
    let alice_guid = object_guid(&s.dc, "alice");
    assert_eq!(anchor(&s, "User", "alice"), STANDARD.encode(&alice_guid), "alice was not exported");
    assert!(consistency_guid(&s.dc, "alice").is_empty(), "alice got a consistency GUID");
    assert_eq!(usn_changed(&s.dc, "alice"), alice_usn, "alice was modified");
    assert!(consistency_guid(&s.dc, "staff").is_empty());
}
