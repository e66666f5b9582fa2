//! Domains with several DCs (issue 15), on the two-DC lab: DC2 joined to DC1, each DC in its
//! own network namespace, replicating both ways, each with the real hook and (mostly) its own
//! daemon, one emulator for both.

mod common;

use std::time::{Duration, Instant};

use common::samba::Dc;
use common::two_dcs::{ClusterStack, TwoDcs, cluster_section};

/// The lab itself: a user made on either DC reaches the other, and a password reset too.
#[test]
fn the_two_dc_lab_replicates_both_ways() {
    let mut lab = TwoDcs::new();
    lab.start_both();
    for (from, to, name) in [(&lab.dc2, &lab.dc1, "fromdc2"), (&lab.dc1, &lab.dc2, "fromdc1")] {
        TwoDcs::samba_tool_on(from, &["user", "create", name, "Repl!Pass-1", "-H", "ldap://127.0.0.1"]);
        let pls = from.ldbsearch_values(&format!("(sAMAccountName={name})"), "pwdLastSet").remove(0);
        let took = TwoDcs::wait_replicated(
            to,
            &format!("(sAMAccountName={name})"),
            "pwdLastSet",
            &pls,
            Duration::from_secs(30),
        );
        eprintln!("{name}: new user replicated in {took:?}");
        assert!(took.is_some(), "{name} did not replicate within 30 s");
        let out = from.reset_password(name, "Repl!Pass-2");
        assert!(out.status.success(), "reset: {}", String::from_utf8_lossy(&out.stderr));
        let pls = from.ldbsearch_values(&format!("(sAMAccountName={name})"), "pwdLastSet").remove(0);
        let took = TwoDcs::wait_replicated(
            to,
            &format!("(sAMAccountName={name})"),
            "pwdLastSet",
            &pls,
            Duration::from_secs(30),
        );
        eprintln!("{name}: password reset replicated in {took:?}");
        assert!(took.is_some(), "{name}'s reset did not replicate within 30 s");
    }
}

const PEERS_BOTH: (&str, &str) = ("dc2", "dc1");

fn users(n: usize) -> Vec<(String, String)> {
    (0..n).map(|i| (format!("cl{i}"), format!("Cl-{i}!initial"))).collect()
}

fn refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// 50 password changes made on DC2 over LDAP: each reaches the emulator pushed by DC2's
/// daemon, exactly once (DC1 pushes none of them), quickly.
#[test]
fn changes_made_on_dc2_are_pushed_once_each_by_dc2() {
    let us = users(10);
    let s = ClusterStack::start(
        &refs(&us),
        Some(&cluster_section(&[PEERS_BOTH.0], "pdc-emulator")),
        Some(&cluster_section(&[PEERS_BOTH.1], "pdc-emulator")),
        "",
    );
    assert_eq!(s.wait_role(1, "leader", Duration::from_secs(10))["leader"], "DC1");
    assert_eq!(s.wait_role(2, "follower", Duration::from_secs(10))["leader"], "DC1");
    let before1: Vec<usize> = us.iter().map(|(n, _)| s.synced_by(1, n)).collect();
    let mut latencies = Vec::new();
    for i in 0..50 {
        let (name, _) = &us[i % us.len()];
        // The initial sync pushed one credential each; then one per change.
        let pushes = 2 + (i / us.len()) as u64;
        latencies.push(s.change_and_wait(2, name, &format!("Cl-{i}!changed"), pushes, Duration::from_secs(20)));
    }
    // Anything pushed twice would show up late: give replication and DC1's poll time.
    std::thread::sleep(Duration::from_secs(3));
    for (i, (name, _)) in us.iter().enumerate() {
        assert_eq!(s.credential_pushes(name), 6, "{name}: one initial credential and five changes");
        assert_eq!(s.synced_by(1, name), before1[i], "DC1 pushed a change made on DC2 ({name})");
        assert_eq!(s.synced_by(2, name), 5, "DC2 did not push each of {name}'s changes");
        let upn = format!("{name}@lab.test");
        let last = 40 + i;
        assert!(s.emu.verify_password(&upn, &format!("Cl-{last}!changed")), "{name}'s last password");
    }
    latencies.sort_unstable();
    let p = |q| common::two_dcs::percentile(&latencies, q);
    eprintln!("50 changes on DC2, pushed by DC2: p50 {} ms, p99 {} ms, max {} ms", p(0.5), p(0.99), p(1.0));
    // The figure to meet is p99 ≤ 250 ms (the bench prints it); a loaded CI machine gets slack.
    assert!(p(0.99) <= 1_000, "p99 {} ms", p(0.99));
    // `user NAME` on DC1 names DC2 as the DC that made the change and pushes it.
    let u = s.user(1, "cl0");
    assert_eq!((u["changedOn"].as_str(), u["pushedBy"].as_str()), (Some("DC2"), Some("DC2")), "{u}");
    let u = s.user(2, "cl0");
    assert_eq!((u["changedOn"].as_str(), u["pushedBy"].as_str()), (Some("DC2"), Some("DC2")), "{u}");
}

/// DC2 runs no daemon (`peers` names only DC1): changes made on DC2 reach the emulator from
/// DC1, the leader, within the replication delay plus 2 s, once each.
#[test]
fn changes_on_a_dc_without_the_daemon_are_pushed_by_the_leader_as_they_replicate() {
    let us = users(5);
    let s = ClusterStack::start(&refs(&us), Some(&cluster_section(&["dc1"], "pdc-emulator")), None, "");
    assert_eq!(s.wait_role(1, "leader", Duration::from_secs(10))["role"], "leader");
    let mut worst_margin = i64::MIN;
    for i in 0..10 {
        let (name, _) = &us[i % us.len()];
        let password = format!("Cl-{i}!norepl");
        let out = s.lab.dc2.reset_password(name, &password);
        assert!(out.status.success(), "reset: {}", String::from_utf8_lossy(&out.stderr));
        let returned = common::two_dcs::now_ms();
        let filter = format!("(sAMAccountName={name})");
        let pls = s.lab.dc2.ldbsearch_values(&filter, "pwdLastSet").remove(0);
        TwoDcs::wait_replicated(&s.lab.dc1, &filter, "pwdLastSet", &pls, Duration::from_secs(30))
            .expect("the change replicates to DC1");
        // When DC1's sam.ldb had it (seen by polling with ldbsearch: up to ~150 ms late).
        let replicated = common::two_dcs::now_ms() - returned;
        let pushed = s.wait_pushes(name, 2 + (i / us.len()) as u64, Duration::from_secs(30)) - returned;
        assert!(s.emu.verify_password(&format!("{name}@lab.test"), &password), "{name}: not the new password");
        let margin = pushed - replicated;
        eprintln!("change {i}: replicated to DC1 within {replicated} ms, in the emulator after {pushed} ms");
        worst_margin = worst_margin.max(margin);
    }
    eprintln!("DC1 pushed DC2's changes at most {worst_margin} ms after they replicated");
    assert!(worst_margin <= 2_000, "{worst_margin} ms after replication");
    std::thread::sleep(Duration::from_secs(2));
    for (name, _) in &us {
        assert_eq!(s.credential_pushes(name), 3, "{name}: the initial credential and two changes");
    }
}

/// DC2's daemon is killed (kill -9) while 10 changes are made on DC2: after it restarts all 10
/// arrive, once each, pushed by DC2.
#[test]
fn changes_made_while_dc2s_daemon_was_killed_arrive_once_after_it_restarts() {
    let us = users(10);
    let mut s = ClusterStack::start(
        &refs(&us),
        Some(&cluster_section(&[PEERS_BOTH.0], "pdc-emulator")),
        Some(&cluster_section(&[PEERS_BOTH.1], "pdc-emulator")),
        "",
    );
    s.wait_role(2, "follower", Duration::from_secs(10));
    s.daemon_mut(2).kill9();
    for (i, (name, _)) in us.iter().enumerate() {
        let out = s.lab.dc2.reset_password(name, &format!("Cl-{i}!whiledown"));
        assert!(out.status.success(), "reset: {}", String::from_utf8_lossy(&out.stderr));
    }
    // DC1 sees them replicate and leaves them to DC2.
    std::thread::sleep(Duration::from_secs(3));
    for (name, _) in &us {
        assert_eq!(s.credential_pushes(name), 1, "{name}'s change was pushed while DC2's daemon was down");
    }
    s.daemon_mut(2).start_again();
    for (i, (name, _)) in us.iter().enumerate() {
        let upn = format!("{name}@lab.test");
        let ok = s.emu.wait_password(&upn, &format!("Cl-{i}!whiledown"), Duration::from_secs(30));
        assert!(
            ok.is_some(),
            "{name}'s change did not arrive after the restart:\n{}",
            common::stack::tail(&s.daemon(2).logs())
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    for (name, _) in &us {
        assert_eq!(s.credential_pushes(name), 2, "{name}: the initial credential and the one change, once");
        assert_eq!(s.synced_by(2, name), 1, "{name}: DC2 pushes its own change");
    }
}

/// A count once it has not moved for 2 s (at most 60 s).
fn quiet_count(count: impl Fn() -> usize) -> usize {
    let t0 = Instant::now();
    let mut last = count();
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let now = count();
        if now == last || t0.elapsed() > Duration::from_secs(60) {
            return now;
        }
        last = now;
    }
}

/// Creates and deletes are exported by the leader only, and leadership follows the PDC
/// emulator role: `fsmo transfer` to DC2, then DC2 stopped and the role seized on DC1.
#[test]
fn the_leader_alone_exports_and_leadership_follows_the_pdc_emulator() {
    let us = users(2);
    let mut s = ClusterStack::start(
        &refs(&us),
        Some(&cluster_section(&[PEERS_BOTH.0], "pdc-emulator")),
        Some(&cluster_section(&[PEERS_BOTH.1], "pdc-emulator")),
        "",
    );
    s.wait_role(2, "follower", Duration::from_secs(10));
    // 20 users created on DC2: DC1 exports each once, DC2 exports nothing.
    let names: Vec<String> = (0..20).map(|i| format!("new{i}")).collect();
    s.add_users_over_ldap(2, &names, "N3w!Pass-1");
    let t0 = Instant::now();
    let all_there = common::wait_until(Duration::from_secs(60), || names.iter().all(|n| s.cloud_user(n).is_some()));
    assert!(all_there, "not every user created on DC2 was exported:\n{}", common::stack::tail(&s.daemon(1).logs()));
    eprintln!("20 users created on DC2 exported by DC1 within {:?}", t0.elapsed());
    for n in &names {
        assert_eq!(count_users(&s, n), 1, "{n}");
    }
    assert!(s.reconcile_lines(2).is_empty(), "a follower reconciled: {:?}", s.reconcile_lines(2));
    let provisions_before = s.emu.provision_calls();

    // The role moves to DC2: DC2 leads and starts with a full reconcile that creates and
    // deletes nothing; DC1 follows.
    TwoDcs::samba_tool_on(&s.lab.dc2, &["fsmo", "transfer", "--role=pdc", "-H", "ldap://127.0.0.1"]);
    let st2 = s.wait_role(2, "leader", Duration::from_secs(10));
    let st1 = s.wait_role(1, "follower", Duration::from_secs(10));
    assert_eq!((st1["leader"].as_str(), st2["leader"].as_str()), (Some("DC2"), Some("DC2")));
    s.wait_reconciles(2, 1, Duration::from_secs(60));
    // It read the tenant back first: what DC1 created is updated in place, not created again.
    let first = &s.reconcile_lines(2)[0];
    assert!(first.contains("creates=0") && first.contains("deletes=0"), "{first}");
    assert!(s.emu.provision_calls() >= provisions_before);

    // A delete made on DC1 is exported by DC2, the leader, at its next full run (deletes wait
    // for full runs), once.
    // A run DC1 started while it still led may still be finishing on a slow machine (its
    // upserts are harmless; a delete batch checks the role first): count from when it is quiet.
    let runs1 = quiet_count(|| s.reconcile_lines(1).len());
    TwoDcs::samba_tool_on(&s.lab.dc1, &["user", "delete", "new0", "-H", "ldap://127.0.0.1"]);
    let gone = |dc: &Dc| dc.ldbsearch_values("(sAMAccountName=new0)", "sAMAccountName").is_empty();
    assert!(common::wait_until(Duration::from_secs(30), || gone(&s.lab.dc2)), "the delete did not replicate to DC2");
    let out =
        std::process::Command::new(common::bin()).args(["sync", "--bus", s.bus(2).address()]).output().expect("sync");
    assert!(out.status.success(), "sync on DC2: {}", String::from_utf8_lossy(&out.stderr));
    assert!(common::wait_until(Duration::from_secs(30), || s.cloud_user("new0").is_none()), "new0 not deleted");
    let deleting = s.reconcile_lines(2).last().cloned().unwrap_or_default();
    assert!(deleting.contains("deletes=1"), "{deleting}");
    assert_eq!(s.reconcile_lines(1).len(), runs1, "DC1 reconciled while following");

    // DC2 dies (daemon and DC); the role is seized on DC1, which leads again.
    s.daemon_mut(2).stop();
    s.lab.dc2.stop();
    TwoDcs::samba_tool_on(&s.lab.dc1, &["fsmo", "seize", "--role=pdc", "--force", "-H", "ldap://127.0.0.1"]);
    let st1 = s.wait_role(1, "leader", Duration::from_secs(10));
    assert_eq!(st1["leader"], "DC1");
    s.wait_reconciles(1, runs1 + 1, Duration::from_secs(60));
    let last = s.reconcile_lines(1).last().cloned().unwrap_or_default();
    assert!(last.contains("creates=0") && last.contains("deletes=0"), "{last}");
    // Nothing was created twice or deleted twice along the way.
    for n in &names[1..] {
        assert_eq!(count_users(&s, n), 1, "{n}");
    }
    assert!(s.cloud_user("new0").is_none());
}

/// How many user objects the emulator holds with this account's UPN.
fn count_users(s: &ClusterStack, name: &str) -> usize {
    let upn = format!("{name}@lab.test");
    s.emu.objects("User").iter().filter(|o| o["attributes"]["userPrincipalName"].as_str() == Some(upn.as_str())).count()
}
