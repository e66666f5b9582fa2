#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const DAY: u64 = 86_400;

fn record() -> AppKeyRecord {
    AppKeyRecord {
        app_id: "a8616755-90b9-429b-831e-375cda1eb8e9".into(),
        object_id: "0d2c4d38-8a1e-4a7e-9d4b-1b2f0c3d4e5f".into(),
        key_id: "old-key".into(),
        thumbprint: "OLDx5t".into(),
    }
}

fn old_cert(not_after: u64) -> InUse {
    InUse { thumbprint: "OLDx5t".into(), not_after }
}

fn new_cert() -> InUse {
    InUse { thumbprint: "NEWx5t".into(), not_after: 1_000 * DAY }
}

/// A recorded value comes back as it was written (the state DB keeps JSON).
fn reloaded(r: &Rotation) -> Rotation {
    serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap()
}

#[test]
fn nothing_happens_until_renew_before_of_validity_is_left() {
    let now = 100 * DAY;
    let in_use = old_cert(now + 200 * DAY);
    assert_eq!(next_action(Some(&record()), None, &in_use, now, 150 * DAY), Action::WaitUntil(now + 50 * DAY));
    // Exactly renew_before left: due.
    assert_eq!(next_action(Some(&record()), None, &in_use, now + 50 * DAY, 150 * DAY), Action::Generate);
    // renew_before longer than what is left: at once.
    let short = old_cert(now + 30 * DAY);
    assert_eq!(next_action(Some(&record()), None, &short, now, 150 * DAY), Action::Generate);
}

#[test]
fn a_whole_rotation_walks_every_step_and_survives_a_restart_at_each() {
    let now = 10 * DAY;
    let in_use = old_cert(now + DAY);
    let rec = record();
    assert_eq!(next_action(Some(&rec), None, &in_use, now, 150 * DAY), Action::Generate);
    let r = Rotation::staged(&rec, "/x/app.pem.next".into(), "/x/app.key.next".into(), &new_cert(), now);
    // After a crash the recorded step says the same thing as before it.
    for r in [r.clone(), reloaded(&r)] {
        assert_eq!(next_action(Some(&rec), Some(&r), &in_use, now, 150 * DAY), Action::AddKey);
    }
    let r = r.added("new-key".into());
    for r in [r.clone(), reloaded(&r)] {
        assert_eq!(next_action(Some(&rec), Some(&r), &in_use, now, 150 * DAY), Action::Switch);
    }
    let r = r.switching();
    assert_eq!(r.new_key_id(), Some("new-key"));
    for r in [r.clone(), reloaded(&r)] {
        assert_eq!(next_action(Some(&rec), Some(&r), &in_use, now, 150 * DAY), Action::Switch);
    }
    let r = r.switched();
    // The new certificate is in use now; the rotation still removes the old key.
    for r in [r.clone(), reloaded(&r)] {
        assert_eq!(next_action(Some(&rec), Some(&r), &new_cert(), now, 150 * DAY), Action::RemoveOld);
    }
    assert_eq!(r.old_key_id, "old-key");
    let done = r.finish(&rec);
    assert_eq!(done, AppKeyRecord { key_id: "new-key".into(), thumbprint: "NEWx5t".into(), ..rec });
    // And the new certificate is not due.
    assert!(matches!(next_action(Some(&done), None, &new_cert(), now, 150 * DAY), Action::WaitUntil(_)));
}

#[test]
fn without_a_matching_record_or_with_an_expired_certificate_it_asks_for_register_app() {
    let now = 10 * DAY;
    let due = old_cert(now + DAY);
    let Action::Blocked(why) = next_action(None, None, &due, now, 150 * DAY) else { panic!() };
    assert!(why.contains("register-app") && why.contains("object id"), "{why}");
    let replaced = AppKeyRecord { thumbprint: "OTHER".into(), ..record() };
    let Action::Blocked(why) = next_action(Some(&replaced), None, &due, now, 150 * DAY) else { panic!() };
    assert!(why.contains("register-app") && why.contains("OTHER"), "{why}");
    let gone = old_cert(now - 1);
    let Action::Blocked(why) = next_action(Some(&record()), None, &gone, now, 150 * DAY) else { panic!() };
    assert!(why.contains("expired") && why.contains("register-app"), "{why}");
    // A key already added still switches: the new certificate is valid even if the old one expired.
    let r = Rotation::staged(&record(), "/a".into(), "/b".into(), &new_cert(), now).added("k".into());
    assert_eq!(next_action(Some(&record()), Some(&r), &gone, now, 150 * DAY), Action::Switch);
}

#[test]
fn what_is_recorded_names_files_and_ids_never_key_material() {
    let r = Rotation::staged(&record(), "/x/app.pem.next".into(), "/x/app.key.next".into(), &new_cert(), 5)
        .added("new-key".into());
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"step\":\"added\"") && json.contains("\"newKeyId\":\"new-key\""), "{json}");
    assert!(json.contains("\"oldKeyId\":\"old-key\"") && json.contains("app.key.next"), "{json}");
    assert!(!json.contains("PRIVATE") && !json.contains("BEGIN"), "{json}");
}

#[test]
fn a_switch_moves_both_files_and_finishes_a_half_done_one() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("app.pem"), dir.path().join("app.key"));
    let (staged_cert, staged_key) = (staged_path(&cert), staged_path(&key));
    assert_eq!(staged_key, dir.path().join("app.key.next"));
    for (p, t) in [(&cert, "old cert"), (&key, "old key"), (&staged_cert, "new cert"), (&staged_key, "new key")] {
        std::fs::write(p, t).unwrap();
    }
    // A crash after the key moved: the switch at restart moves the certificate too.
    std::fs::rename(&staged_key, &key).unwrap();
    install_staged(&staged_cert, &staged_key, &cert, &key).unwrap();
    assert_eq!(std::fs::read_to_string(&cert).unwrap(), "new cert");
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "new key");
    assert!(!staged_cert.exists() && !staged_key.exists());
    // Done twice is still done.
    install_staged(&staged_cert, &staged_key, &cert, &key).unwrap();
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "new key");
}
