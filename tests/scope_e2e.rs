//! What the scope keeps out of the tenant, end to end (a real DC, the emulator, the daemon):
//! contacts follow their own base DNs and filter like the other object types, contacts that
//! leave the scope are deleted (through the deletion threshold, never held for good), and the
//! sync service accounts Entra Connect leaves behind stay on-premises unless asked for.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::samba::{DOMAIN_DN, Dc};
use common::stack::{Stack, tail};

/// A small domain: one full reconcile takes a second or two.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Lets the change poll and its delta run settle, then reconciles in full.
fn settle_and_reconcile(s: &Stack) {
    std::thread::sleep(Duration::from_secs(2));
    s.reconcile(RUN_TIMEOUT);
}

/// The common names of the contacts in the tenant, sorted.
fn contacts(s: &Stack) -> Vec<String> {
    let mut names: Vec<String> = s
        .emu
        .objects("Contact")
        .iter()
        .filter_map(|o| o["attributes"]["commonName"].as_str().map(String::from))
        .collect();
    names.sort();
    names
}

fn user_in_tenant(s: &Stack, name: &str) -> bool {
    s.emu.objects("User").iter().any(|o| o["attributes"]["onPremisesSamAccountName"] == name)
}

fn status(s: &Stack) -> Value {
    let out =
        Command::new(common::bin()).args(["status", "--json", "--bus", s.bus.address()]).output().expect("status");
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

fn held_deletes(s: &Stack) -> Option<u64> {
    let st = status(s);
    st["held_deletes"].as_u64().or(st["heldDeletes"].as_u64())
}

fn contact_ldif(cn: &str, parent: &str, description: &str) -> String {
    format!(
        "dn: CN={cn},{parent}\nobjectClass: contact\ndescription: {description}\nmail: {}@partner.example\n\n",
        cn.to_ascii_lowercase()
    )
}

fn ou_ldif(ou: &str) -> String {
    format!("dn: OU={ou},{DOMAIN_DN}\nobjectClass: organizationalUnit\n\n")
}

fn move_ldif(cn: &str, from: &str, to: &str) -> String {
    format!("dn: CN={cn},{from}\nchangetype: modrdn\nnewrdn: CN={cn}\ndeleteoldrdn: 1\nnewsuperior: {to}\n\n")
}

#[test]
fn contacts_follow_their_base_dns_and_filter_and_are_deleted_when_they_leave() {
    let partners = format!("OU=Partners,{DOMAIN_DN}");
    let elsewhere = format!("OU=Elsewhere,{DOMAIN_DN}");
    // No percentage threshold: the template domain exports few objects, so the two contact
    // deletes below are a large share of the tenant; only the count threshold (500) applies.
    let config = format!(
        "deletion_threshold_percent = 0\n[sync.scope]\ncontact_bases = [\"{partners}\"]\ncontact_filter = \"(description=export)\"\n"
    );
    let s = Stack::start(
        |dc: &Dc| {
            let mut ldif = ou_ldif("Partners") + &ou_ldif("Elsewhere");
            ldif += &contact_ldif("Inside", &partners, "export");
            ldif += &contact_ldif("Filtered", &partners, "keep-local");
            ldif += &contact_ldif("Outside", &elsewhere, "export");
            dc.ldbadd(&ldif, false);
        },
        &config,
        &[],
    );
    s.wait_full_runs(1, RUN_TIMEOUT);
    assert_eq!(contacts(&s), ["Inside"], "the full run exported contacts outside contact_bases or contact_filter");

    // Added between full runs: the delta run applies the same scope.
    s.dc.ldbadd(
        &(contact_ldif("LateInside", &partners, "export") + &contact_ldif("LateOutside", &elsewhere, "export")),
        false,
    );
    wait_until("the delta run exports the new in-scope contact", Duration::from_secs(20), || {
        contacts(&s).contains(&"LateInside".to_string())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(s.full_runs(), 1, "a full run, not the delta run, exported it");
    assert_eq!(contacts(&s), ["Inside", "LateInside"], "the delta run exported a contact outside contact_bases");

    // Every in-scope contact moves out: no contact is left in view, which is a legitimate state
    // (unlike users or groups), so the deletes go through.
    s.dc.ldbmodify(&(move_ldif("Inside", &partners, &elsewhere) + &move_ldif("LateInside", &partners, &elsewhere)));
    settle_and_reconcile(&s);
    assert_eq!(contacts(&s), Vec::<String>::new(), "contacts that left the scope are still in the tenant");
    assert_eq!(held_deletes(&s), Some(0), "{}", tail(&s.daemon.logs()));
}

#[test]
fn deletes_of_every_contact_are_held_by_the_threshold_and_released_by_approval() {
    let users = format!("CN=Users,{DOMAIN_DN}");
    let s = Stack::start(
        |dc: &Dc| dc.ldbadd(&(contact_ldif("Partner A", &users, "x") + &contact_ldif("Partner B", &users, "x")), false),
        "deletion_threshold = 1\ndeletion_threshold_percent = 0\n",
        &[],
    );
    s.wait_full_runs(1, RUN_TIMEOUT);
    assert_eq!(contacts(&s), ["Partner A", "Partner B"]);

    s.dc.ldbmodify(&format!(
        "dn: CN=Partner A,{users}\nchangetype: delete\n\ndn: CN=Partner B,{users}\nchangetype: delete\n"
    ));
    settle_and_reconcile(&s);
    // Two deletes over a threshold of one: held, and held by the threshold (which approval
    // releases), not by a guard nothing can release.
    assert_eq!(contacts(&s).len(), 2, "deletes over the threshold were not held");
    assert_eq!(held_deletes(&s), Some(2));
    let out = s.daemon.cli(&["plan", "--json"]);
    assert!(out.status.success(), "plan: {}", String::from_utf8_lossy(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let reasons: Vec<&str> =
        plan["held"].as_array().into_iter().flatten().filter_map(|h| h["reason"].as_str()).collect();
    assert_eq!(reasons, ["held: over the deletion threshold"; 2], "{plan}");

    let before = s.full_runs();
    let out =
        Command::new(common::bin()).args(["approve-deletes", "--bus", s.bus.address()]).output().expect("approve");
    assert!(out.status.success(), "approve-deletes: {}", String::from_utf8_lossy(&out.stderr));
    s.wait_full_runs(before + 1, RUN_TIMEOUT);
    assert_eq!(contacts(&s), Vec::<String>::new(), "approved contact deletes were not carried out");
    assert_eq!(held_deletes(&s), Some(0));
}

const MSOL: &str = "MSOL_0123456789ab";
const CLOUD_SYNC: &str = "Sync_DC01_0123456789ab";
const PASSWORD: &str = "Svc!Passw0rd-1";

/// Entra Connect's AD DS connector account and an on-premises namesake of its cloud sync
/// account, plus a normal user and two whose names merely start the same way.
fn service_accounts(dc: &Dc) {
    for name in [MSOL, CLOUD_SYNC, "alice", "msolveig", "Syncmaster"] {
        dc.create_user(name, PASSWORD);
    }
}

fn upn(name: &str) -> String {
    format!("{name}@lab.test")
}

#[test]
fn sync_service_accounts_stay_on_premises_by_default() {
    let s = Stack::start(service_accounts, "", &[]);
    s.wait_full_runs(1, RUN_TIMEOUT);
    assert!(
        s.emu.wait_password(&upn("alice"), PASSWORD, Duration::from_secs(30)).is_some(),
        "alice's password never arrived:\n{}",
        tail(&s.daemon.logs())
    );
    for name in ["alice", "msolveig", "Syncmaster"] {
        assert!(user_in_tenant(&s, name), "{name} is not in the tenant");
    }
    for name in [MSOL, CLOUD_SYNC] {
        assert!(!user_in_tenant(&s, name), "the sync service account {name} was exported");
    }

    // A password change of the connector account goes through the hook to the daemon, which
    // must neither push it nor export the account to push it to.
    for name in [MSOL, "alice"] {
        let out = s.dc.reset_password(name, "Svc!Passw0rd-2");
        assert!(out.status.success(), "reset {name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(
        s.emu.wait_password(&upn("alice"), "Svc!Passw0rd-2", Duration::from_secs(10)).is_some(),
        "alice's new password never arrived:\n{}",
        tail(&s.daemon.logs())
    );
    std::thread::sleep(Duration::from_secs(1));
    for name in [MSOL, CLOUD_SYNC] {
        assert!(!user_in_tenant(&s, name), "the sync service account {name} was exported");
        assert!(!s.emu.verify_password(&upn(name), "Svc!Passw0rd-2"), "{name}'s password reached Entra");
        assert!(!s.emu.verify_password(&upn(name), PASSWORD), "{name}'s password reached Entra");
    }
}

#[test]
fn include_sync_service_accounts_exports_them() {
    let s = Stack::start(service_accounts, "[sync.scope]\ninclude_sync_service_accounts = true\n", &[]);
    s.wait_full_runs(1, RUN_TIMEOUT);
    for name in [MSOL, CLOUD_SYNC, "alice"] {
        assert!(user_in_tenant(&s, name), "{name} is not in the tenant");
        assert!(
            s.emu.wait_password(&upn(name), PASSWORD, Duration::from_secs(30)).is_some(),
            "{name}'s password never arrived:\n{}",
            tail(&s.daemon.logs())
        );
    }
}
