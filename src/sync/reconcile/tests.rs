//! The engine over in-memory fakes of both ports: no Samba, no HTTP.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::sync::anchor::Anchor;
use crate::sync::control::Command;
use crate::sync::model::{AttrValue, ObjectType};
use crate::sync::testing::{Rig, password_settings, settings};

fn exported_types(rig: &Rig) -> Vec<(ObjectType, String)> {
    let mut v: Vec<(ObjectType, String)> =
        rig.store.exported().unwrap().into_iter().map(|e| (e.object_type, e.name)).collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_full_run_exports_the_domain_once_and_a_second_run_sends_nothing() {
    let rig = Rig::new().await;
    let alice = rig.directory.add_user("alice");
    rig.directory.add_user("bob");
    rig.directory.add_group("staff", &[&alice]);
    rig.directory.add_contact("vendor");

    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.creates, s.updates, s.deletes, s.errors), (4, 0, 0, 0));
    assert_eq!(s.passwords, 2, "both passwords queued for the password path");
    let calls = rig.tenant.calls();
    assert_eq!(calls.upserted, 4);
    assert_eq!(calls.bulk_objects, 4, "a first export spends bulk budget");
    assert_eq!(rig.store.outbox().unwrap().len(), 2);
    // Members resolve to the member's anchor.
    let members = rig.tenant.attribute(ObjectType::Group, &group_anchor(&rig, "staff"), "member");
    assert_eq!(members, Some(AttrValue::StrList(vec![rig.anchor("alice").to_string()])));
    assert_eq!(exported_types(&rig).len(), 4);

    let again = rig.reconciler.run_full().await.unwrap();
    assert_eq!((again.creates, again.updates, again.deletes, again.errors), (0, 0, 0, 0));
    assert_eq!(rig.tenant.calls().upsert_calls, calls.upsert_calls, "nothing re-sent");
}

fn group_anchor(rig: &Rig, name: &str) -> Anchor {
    rig.store.exported().unwrap().into_iter().find(|e| e.name == name).unwrap().anchor
}

#[tokio::test]
async fn a_delta_run_sends_only_what_changed_through_the_mapper() {
    let rig = Rig::new().await;
    let alice = rig.directory.add_user("alice");
    rig.directory.add_user("bob");
    let staff = rig.directory.add_group("staff", &[&alice]);
    assert!(rig.reconciler.run_delta().await.unwrap().is_none(), "no delta before a full run");
    rig.reconciler.run_full().await.unwrap();
    let before = rig.tenant.calls();
    assert!(rig.reconciler.run_delta().await.unwrap().is_none(), "nothing changed");

    rig.directory.update_user("bob", |u| u.id.display_name = Some("Robert".into()));
    let s = rig.reconciler.run_delta().await.unwrap().expect("a delta");
    assert_eq!((s.creates, s.updates, s.deletes), (0, 1, 0));
    assert_eq!(rig.tenant.calls().upserted, before.upserted + 1, "only bob is sent");
    assert_eq!(
        rig.tenant.attribute(ObjectType::User, &rig.anchor("bob"), "displayName"),
        Some(AttrValue::Str("Robert".into()))
    );

    // A new user and a group naming it, in one delta: the member resolves.
    let carol = rig.directory.add_user("carol");
    rig.directory.remove(&staff);
    let staff = rig.directory.add_group("staff2", &[&alice, &carol]);
    let s = rig.reconciler.run_delta().await.unwrap().expect("a delta");
    assert_eq!((s.creates, s.deletes), (2, 0), "carol and the group; deletes wait for a full run");
    let members = rig.tenant.attribute(ObjectType::Group, &group_anchor(&rig, "staff2"), "member");
    let mut want = vec![rig.anchor("alice").to_string(), rig.anchor("carol").to_string()];
    want.sort();
    let Some(AttrValue::StrList(mut got)) = members else { panic!("no members") };
    got.sort();
    assert_eq!(got, want, "{staff}");
}

#[tokio::test]
async fn deletes_go_through_until_the_threshold_then_are_held() {
    let rig = Rig::with(
        crate::sync::reconcile::ReconcileSettings { deletion_threshold: 2, ..settings() },
        password_settings(),
    )
    .await;
    let dns: Vec<String> = (0..6).map(|n| rig.directory.add_user(&format!("user{n}"))).collect();
    rig.reconciler.run_full().await.unwrap();

    rig.directory.remove(&dns[0]);
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.deletes, s.deletes_held, s.errors), (1, 0, 0));
    assert_eq!(rig.tenant.anchors(ObjectType::User).len(), 5);
    assert_eq!(rig.tenant.calls().delete_calls, 1);

    for dn in &dns[1..4] {
        rig.directory.remove(dn);
    }
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.deletes, s.deletes_held), (0, 3), "three deletes over a threshold of two are held");
    assert_eq!(rig.tenant.anchors(ObjectType::User).len(), 5, "nothing deleted");
    assert_eq!(rig.tenant.calls().delete_calls, 1, "no delete call made");
    assert_eq!(rig.store.held_deletes().unwrap().len(), 3);
}

#[tokio::test]
async fn a_delete_of_an_object_already_gone_in_entra_counts_as_done() {
    let rig = Rig::new().await;
    let dn = rig.directory.add_user("leaver");
    // Not the last user: an empty read of users deletes nothing.
    rig.directory.add_user("stayer");
    rig.reconciler.run_full().await.unwrap();
    let anchor = rig.anchor("leaver");
    rig.tenant.delete_in_cloud(ObjectType::User, &anchor);
    rig.directory.remove(&dn);
    // Drift repair must not recreate it either: the directory does not want it.
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.deletes, s.errors), (1, 0));
    assert_eq!(exported_types(&rig), vec![(ObjectType::User, "stayer".into())], "the export is forgotten");
}

/// Drift repair off, so every read-back counted is the one that settles refused deletes.
async fn rig_without_drift_repair() -> Rig {
    let settings = crate::sync::reconcile::ReconcileSettings { drift_repair: false, ..settings() };
    Rig::with(settings, password_settings()).await
}

#[tokio::test]
async fn refused_deletes_are_settled_by_one_read_back_of_the_tenant_never_by_the_services_words() {
    let rig = rig_without_drift_repair().await;
    let names = ["gone1", "gone2", "gone3", "kept", "stayer"];
    let dns: Vec<String> = names.iter().map(|n| rig.directory.add_user(n)).collect();
    rig.reconciler.run_full().await.unwrap();
    // Three deleted in the portal first; one the tenant refuses to delete (its words alone
    // would not say whether it is gone).
    for n in &names[..3] {
        rig.tenant.delete_in_cloud(ObjectType::User, &rig.anchor(n));
    }
    let kept = rig.anchor("kept");
    rig.tenant.refuse(&kept);
    for dn in &dns[..4] {
        rig.directory.remove(dn);
    }
    let before = rig.tenant.calls();
    let s = rig.reconciler.run_full().await.unwrap();
    let calls = rig.tenant.calls();
    assert_eq!(s.deletes, 4);
    assert_eq!(s.errors, 1, "only the delete of the object the tenant still holds is an error");
    assert_eq!(calls.read_backs - before.read_backs, 1, "one read-back settles every refusal of the run");
    assert_eq!(
        exported_types(&rig),
        vec![(ObjectType::User, "kept".into()), (ObjectType::User, "stayer".into())],
        "the gone ones are forgotten; the refused one is kept to try again"
    );
    assert_eq!(rig.tenant.anchors(ObjectType::User).len(), 2, "the refused one is still in the tenant");

    // Next run: the refusal stands (an error again, one more read-back); once the tenant
    // takes the delete, it is done and nothing is read back.
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.deletes, s.errors), (1, 1));
    assert_eq!(rig.tenant.calls().read_backs - calls.read_backs, 1);
    rig.tenant.accept(&kept);
    let calls = rig.tenant.calls();
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.deletes, s.errors), (1, 0));
    assert_eq!(rig.tenant.calls().read_backs, calls.read_backs, "a run without refusals reads nothing back");
    assert_eq!(exported_types(&rig), vec![(ObjectType::User, "stayer".into())]);
}

#[tokio::test]
async fn a_refused_delete_whose_check_cannot_read_the_tenant_stays_an_error_and_loses_nothing() {
    let rig = rig_without_drift_repair().await;
    let dn = rig.directory.add_user("leaver");
    rig.directory.add_user("stayer");
    rig.reconciler.run_full().await.unwrap();
    rig.tenant.delete_in_cloud(ObjectType::User, &rig.anchor("leaver"));
    rig.directory.remove(&dn);
    rig.tenant.fail_read_backs(1);
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.deletes, s.errors), (1, 1), "not known to be gone: an error, not a success");
    assert_eq!(exported_types(&rig).len(), 2, "the export is kept until the tenant is read");
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.deletes, s.errors), (1, 0));
    assert_eq!(exported_types(&rig), vec![(ObjectType::User, "stayer".into())]);
}

#[tokio::test]
async fn a_missing_base_dn_never_turns_into_deletes() {
    let rig = Rig::new().await;
    let dn = rig.directory.add_user("alice");
    rig.directory.add_user("bob");
    rig.reconciler.run_full().await.unwrap();
    rig.directory.remove(&dn);
    let s = rig.reconciler.plan(false).await.unwrap();
    assert_eq!(s.count(crate::sync::plan::Action::Delete), 1, "without the guard it would be deleted");
    rig.directory.missing_base("OU=Gone,DC=lab,DC=test");
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!(s.deletes, 0);
    assert_eq!(rig.tenant.calls().delete_calls, 0);
}

#[tokio::test]
async fn drift_repair_exports_changed_and_deleted_objects_again_once() {
    let rig = Rig::new().await;
    rig.directory.add_user("alice");
    rig.directory.add_user("bob");
    rig.reconciler.run_full().await.unwrap();
    let (alice, bob) = (rig.anchor("alice"), rig.anchor("bob"));
    rig.tenant.change_in_cloud(ObjectType::User, &alice, "DisplayName", AttrValue::Str("Mallory".into()));
    rig.tenant.delete_in_cloud(ObjectType::User, &bob);
    let before = rig.tenant.calls();

    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.drift, s.errors), (2, 0));
    assert_eq!(rig.tenant.calls().upserted, before.upserted + 2, "one upsert each");
    assert_eq!(rig.tenant.attribute(ObjectType::User, &alice, "displayName"), Some(AttrValue::Str("alice".into())));
    assert!(rig.tenant.anchors(ObjectType::User).contains(&bob));
    // Bob was created again without a password: it is queued again.
    assert!(rig.store.outbox().unwrap().iter().any(|i| i.anchor == bob));

    // A value Entra keeps (a cloud rule): reported once, then left alone.
    rig.tenant.change_in_cloud(ObjectType::User, &alice, "DisplayName", AttrValue::Str("Kept".into()));
    rig.reconciler.run_full().await.unwrap();
    rig.tenant.change_in_cloud(ObjectType::User, &alice, "DisplayName", AttrValue::Str("Kept".into()));
    let upserts = rig.tenant.calls().upserted;
    rig.reconciler.run_full().await.unwrap();
    rig.reconciler.run_full().await.unwrap();
    assert_eq!(rig.tenant.calls().upserted, upserts, "no tug of war");
}

#[tokio::test]
async fn a_failed_read_back_skips_drift_repair_and_costs_one_call() {
    let rig = Rig::new().await;
    rig.directory.add_user("alice");
    rig.reconciler.run_full().await.unwrap();
    rig.tenant.fail_read_backs(1);
    let before = rig.tenant.calls();
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!(s.errors, 1);
    assert_eq!(rig.tenant.calls().read_backs, before.read_backs + 1);
    assert_eq!(rig.tenant.calls().upsert_calls, before.upsert_calls);
}

#[tokio::test]
async fn an_account_that_expires_is_disabled_urgently_at_its_expiry() {
    let rig = Rig::new().await;
    rig.directory.add_user("temp");
    let soon_unix = crate::sync::state::now_ms() / 1000 + 2;
    let filetime = (soon_unix + 11_644_473_600) * 10_000_000;
    rig.directory.update_user("temp", |u| u.account_expires = filetime);
    rig.reconciler.run_full().await.unwrap();
    assert_eq!(rig.control.next_expiry_ms(), Some(soon_unix * 1000), "the expiry timer is armed");
    let anchor = rig.anchor("temp");
    assert_eq!(rig.tenant.attribute(ObjectType::User, &anchor, "accountEnabled"), Some(AttrValue::Bool(true)));

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let urgent = rig.tenant.calls().urgent_objects;
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!(s.updates, 1);
    assert_eq!(rig.tenant.attribute(ObjectType::User, &anchor, "accountEnabled"), Some(AttrValue::Bool(false)));
    assert_eq!(rig.tenant.calls().urgent_objects, urgent + 1, "disabling goes in the urgent lane");
}

#[tokio::test]
async fn a_transient_failure_costs_one_call_and_the_next_run_sends_it() {
    let rig = Rig::new().await;
    rig.directory.add_user("alice");
    rig.tenant.fail_writes(1);
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!(s.errors, 1);
    assert_eq!(rig.tenant.calls().upsert_calls, 1, "no retry storm inside a run");
    assert!(rig.tenant.anchors(ObjectType::User).is_empty());
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.creates, s.errors), (1, 0));
    assert_eq!(rig.tenant.calls().upsert_calls, 2);
}

#[tokio::test]
async fn a_refused_object_is_held_back_until_it_changes_or_an_administrator_retries() {
    // Issue 14: a per-object refusal is recorded with its reason and not sent again every run.
    let rig = Rig::new().await;
    rig.directory.add_user("alice");
    rig.directory.add_user("bob");
    rig.tenant.refuse(&rig.anchor("bob"));
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!(s.errors, 1);
    assert!(rig.store.exported().unwrap().iter().all(|e| e.name != "bob"), "bob is not recorded as exported");
    let blocked = rig.store.blocked().unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!((blocked[0].name.as_str(), blocked[0].kind), ("bob", crate::sync::blocked::BlockKind::SoftMatch));
    assert_eq!(rig.tenant.calls().last_finalize, (2, 1), "the export run ends with FinalizeExport and its counts");
    // The next run leaves bob alone, and says so in the plan.
    let before = rig.tenant.calls().upserted;
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((rig.tenant.calls().upserted, s.errors), (before, 0), "bob was sent again unchanged");
    let plan = rig.reconciler.plan(false).await.unwrap();
    assert!(plan.blocked.iter().any(|b| b.name == "bob" && b.blocked.starts_with("soft-match: ")), "{plan:?}");
    // Changed on-premises: sent once more (and refused once more).
    rig.directory.update_user("bob", |u| u.mail = Some("bob@lab.test".into()));
    rig.reconciler.run_full().await.unwrap();
    assert_eq!(rig.tenant.calls().upserted, before + 1, "bob changed: sent again");
    // An administrator fixed it in the cloud and asks for a retry: bob goes out and is accepted.
    rig.tenant.accept(&rig.anchor("bob"));
    assert_eq!(rig.reconciler.retry_blocked().unwrap(), 1);
    rig.reconciler.run_full().await.unwrap();
    assert!(rig.tenant.anchors(ObjectType::User).contains(&rig.anchor("bob")));
    assert!(rig.store.blocked().unwrap().is_empty());
}

#[tokio::test]
async fn an_unreadable_directory_fails_the_run_and_sends_nothing() {
    let rig = Rig::new().await;
    rig.directory.add_user("alice");
    rig.directory.fail_reads(1);
    let e = rig.reconciler.run_full().await.unwrap_err();
    assert!(e.to_string().contains("reading sam.ldb"), "{e}");
    let calls = rig.tenant.calls();
    assert_eq!((calls.upsert_calls, calls.delete_calls, calls.pushes), (0, 0, 0));
}

#[tokio::test]
async fn a_dry_run_sends_nothing() {
    let rig =
        Rig::with(crate::sync::reconcile::ReconcileSettings { dry_run: true, ..settings() }, password_settings()).await;
    rig.directory.add_user("alice");
    let s = rig.reconciler.run_full().await.unwrap();
    assert!(s.dry_run);
    assert_eq!(s.creates, 1);
    assert_eq!(rig.tenant.calls().upsert_calls, 0);
    assert!(rig.store.exported().unwrap().is_empty());
}

#[tokio::test]
async fn the_loop_handles_commands_and_follows_the_usn_with_delta_runs() {
    let rig = Rig::new().await;
    rig.directory.add_user("alice");
    let mut events = rig.control.subscribe();
    let (stop, stop_watcher) = (CancellationToken::new(), CancellationToken::new());
    let watcher = tokio::spawn(crate::sync::usn_watch::run(
        rig.directory.clone(),
        rig.control.clone(),
        Duration::from_millis(20),
        stop_watcher.clone(),
    ));
    let engine = tokio::spawn(rig.reconciler.clone().run(
        rig.inbox.commands.clone(),
        rig.control.watch_directory_usn(),
        stop.clone(),
    ));
    let first = Rig::next_summary(&mut events, Duration::from_secs(5)).await.expect("the first full run");
    assert_eq!(first.creates, 1);

    // SyncNow: a full run.
    let reads = rig.directory.calls.read_objects.load(Ordering::Relaxed);
    rig.control.command(Command::SyncNow).unwrap();
    Rig::next_summary(&mut events, Duration::from_secs(5)).await.expect("a requested run");
    assert!(rig.directory.calls.read_objects.load(Ordering::Relaxed) > reads);

    // A change in the directory: a delta run, fed by the USN watcher.
    rig.directory.add_user("bob");
    let delta = Rig::next_summary(&mut events, Duration::from_secs(5)).await.expect("a delta run");
    assert_eq!(delta.creates, 1);

    // ExportUser: one user at once, in the urgent lane, and the password path woken (the
    // watcher stops first, so no delta run exports the user).
    stop_watcher.cancel();
    watcher.await.unwrap();
    let wakes = rig.wakes.load(Ordering::Relaxed);
    let urgent = rig.tenant.calls().urgent_objects;
    rig.directory.add_user("carol");
    rig.control.command(Command::ExportUser("carol".into())).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let carol = rig.anchor("carol");
    while !rig.tenant.anchors(ObjectType::User).contains(&carol) {
        assert!(tokio::time::Instant::now() < deadline, "carol was not exported");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(rig.tenant.calls().urgent_objects > urgent);
    assert!(rig.wakes.load(Ordering::Relaxed) > wakes);

    stop.cancel();
    engine.await.unwrap();
}

#[tokio::test]
async fn a_tenant_with_another_anchor_is_refused_only_when_an_anchor_would_change() {
    let rig = Rig::new().await;
    rig.directory.add_user("alice");
    rig.directory.add_user("bob");
    rig.tenant.set_anchor_attribute("mS-DS-ConsistencyGuid");
    // No consistency GUIDs: every anchor is the objectGUID's either way.
    rig.reconciler.check_tenant().await.unwrap();
    // One equal to the objectGUID (Entra Connect's write-back) changes nothing either.
    rig.directory.update_user("alice", |u| u.id.consistency_guid = Some(u.id.object_guid.to_vec()));
    rig.reconciler.check_tenant().await.unwrap();
    // One of its own: bob would get another anchor.
    rig.directory.update_user("bob", |u| u.id.consistency_guid = Some(vec![7; 16]));
    let e = rig.reconciler.check_tenant().await.unwrap_err();
    assert!(matches!(e, crate::sync::reconcile::ReconcileError::AnchorMismatch { differing: 1, .. }), "{e}");
    assert!(e.to_string().contains("mS-DS-ConsistencyGuid") && e.to_string().contains("objectGUID"), "{e}");
}

#[tokio::test]
async fn password_hash_sync_turned_on_in_the_tenant_starts_a_full_password_sync() {
    let rig = Rig::new().await;
    rig.directory.add_user("alice");
    rig.directory.add_user("bob");
    rig.tenant.set_password_sync(false);
    rig.reconciler.check_tenant().await.unwrap();
    assert!(!rig.gate.password_sync_on(), "pushes wait while it is off");
    assert!(rig.control.has_problem("password-hash-sync"));
    rig.reconciler.run_full().await.unwrap();
    // The run's own passwords are queued; the outbox is emptied as if they had been pushed.
    for item in rig.store.outbox().unwrap() {
        rig.store.mark_acked(&item.anchor, item.kvno, 0).unwrap();
    }
    let wakes = rig.wakes.load(Ordering::Relaxed);

    rig.tenant.set_password_sync(true);
    rig.reconciler.check_password_sync().await;
    assert!(rig.gate.password_sync_on());
    assert!(!rig.control.has_problem("password-hash-sync"));
    let outbox = rig.store.outbox().unwrap();
    assert_eq!(outbox.len(), 2, "every exported user's password again");
    assert!(outbox.iter().all(|i| i.resync));
    assert!(rig.wakes.load(Ordering::Relaxed) > wakes, "the password path is woken");
    // Seen once: the next check starts nothing more.
    rig.reconciler.check_password_sync().await;
    assert_eq!(rig.store.outbox().unwrap().len(), 2);
}

#[tokio::test]
async fn questions_are_answered_by_the_engine_through_control() {
    let rig = Rig::new().await;
    rig.directory.add_user("alice");
    let stop = CancellationToken::new();
    let answering = tokio::spawn(rig.reconciler.clone().answer_queries(rig.inbox.queries.clone(), stop.clone()));

    let plan = rig.control.plan().await.unwrap();
    assert_eq!(plan.count(crate::sync::plan::Action::Create), 1);
    assert_eq!(rig.tenant.calls().upsert_calls, 0, "a plan sends nothing");
    rig.reconciler.run_full().await.unwrap();

    let status = rig.control.status().await.unwrap();
    assert_eq!((status.exported_objects, status.queue_depth), (1, 1));
    let alice = rig.control.user("alice").await.unwrap();
    assert!(alice.status.exists);
    let nobody = rig.control.user("nobody").await.unwrap();
    assert_eq!((nobody.status.password_status, nobody.record), ("SourceConnectorNotPresent", None));
    let history = rig.control.password_history("alice").await.unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    let refused = rig.control.approve_deletes(None).await.unwrap_err();
    assert!(refused.to_string().contains("no deletes are held back"), "{refused}");

    stop.cancel();
    answering.await.unwrap();
}

#[tokio::test]
async fn a_full_run_reads_the_domain_twice_and_what_it_sends_again_by_guid_in_chunks() {
    // The streamed run holds no snapshot: one pass for the DN index, one to compare, and the
    // objects to send read again by objectGUID, 500 per read.
    let rig = Rig::new().await;
    let users: Vec<String> = (0..1201).map(|n| rig.directory.add_user(&format!("user{n:04}"))).collect();
    rig.directory.add_group("staff", &[&users[0], &users[1200]]);
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.creates, s.updates, s.passwords, s.errors), (1202, 0, 1201, 0));
    let calls = &rig.directory.calls;
    assert_eq!(calls.read_objects.load(Ordering::Relaxed), 2, "two directory passes");
    assert_eq!(calls.read_by_guid.load(Ordering::Relaxed), 3 + 1, "1,201 users in 3 reads, the group in 1");
    assert_eq!(rig.tenant.anchors(ObjectType::User).len(), 1201);
    assert_eq!(rig.store.outbox().unwrap().len(), 1201);
    let members = rig.tenant.attribute(ObjectType::Group, &group_anchor(&rig, "staff"), "member");
    let Some(AttrValue::StrList(mut got)) = members else { panic!("no members") };
    got.sort();
    let mut want = vec![rig.anchor("user0000").to_string(), rig.anchor("user1200").to_string()];
    want.sort();
    assert_eq!(got, want);
    // Progress counts each object read once (not once per pass) and the plan's figures.
    let f = rig.control.progress().figures();
    assert_eq!(f.read, 1202);
    assert_eq!(f.planned.map(|p| (p.objects, p.passwords)), Some((1202, 1201)));
    assert_eq!(f.sent, 1202);
    assert_eq!(rig.tenant.calls().last_finalize, (1202, 1202));

    // Nothing changed and every password acknowledged: the next run reads nothing again and
    // sends nothing.
    for n in 0..1201 {
        rig.store.mark_acked(&rig.anchor(&format!("user{n:04}")), 1, 1).unwrap();
    }
    let before = rig.tenant.calls();
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.creates, s.updates, s.deletes, s.passwords, s.errors), (0, 0, 0, 0, 0));
    assert_eq!(calls.read_objects.load(Ordering::Relaxed), 4);
    assert_eq!(calls.read_by_guid.load(Ordering::Relaxed), 4, "nothing read again");
    assert_eq!(rig.tenant.calls().upsert_calls, before.upsert_calls);
    assert_eq!(
        rig.tenant.calls().last_finalize,
        (0, 0),
        "an export run without changes still ends with FinalizeExport"
    );
}

#[tokio::test]
async fn a_blocked_users_password_waits_with_it_and_a_cloud_managed_object_is_never_deleted() {
    let rig = Rig::new().await;
    rig.directory.add_user("alice");
    rig.directory.add_user("bob");
    let carol_dn = rig.directory.add_user("carol");
    let dave_dn = rig.directory.add_user("dave");
    rig.tenant.refuse(&rig.anchor("bob"));
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.creates, s.errors), (4, 1));
    for name in ["alice", "bob", "carol", "dave"] {
        let kvno = rig.directory.user(name).key_version;
        rig.store.mark_acked(&rig.anchor(name), kvno, 1).unwrap();
    }
    assert!(rig.store.outbox().unwrap().is_empty());

    // New passwords for alice and for bob, who is still blocked: only alice's is queued.
    rig.directory.set_password("alice", [7; 16]);
    rig.directory.set_password("bob", [8; 16]);
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.creates, s.updates, s.passwords, s.errors), (0, 0, 1, 0), "{s:?}");
    let queued: Vec<String> = rig.store.outbox().unwrap().into_iter().map(|p| p.account).collect();
    assert_eq!(queued, ["alice"]);

    // Carol is cloud-managed now (the tenant's refusal said so): gone on-premises, she is left
    // alone; dave, gone too, is deleted.
    let carol = rig.anchor("carol");
    rig.store
        .record_block("User", &carol, "carol", "d", "IsCloudManaged: the source of authority is the cloud")
        .unwrap();
    let dave = rig.anchor("dave");
    rig.directory.remove(&carol_dn);
    rig.directory.remove(&dave_dn);
    let deletes = rig.tenant.calls().deleted;
    let s = rig.reconciler.run_full().await.unwrap();
    assert_eq!((s.deletes, s.deletes_held, s.errors), (1, 0, 0), "{s:?}");
    assert_eq!(rig.tenant.calls().deleted, deletes + 1);
    let left = rig.tenant.anchors(ObjectType::User);
    assert!(!left.contains(&dave) && left.contains(&carol), "{left:?}");
}
