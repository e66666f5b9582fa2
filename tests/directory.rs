//! `directory dump` and the typed reads against real, throwaway Samba DCs.

mod common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::fixture::{self, Shape};
use common::samba::{Dc, nt_hash};
use serde_json::Value;

fn dump(dc: &Dc, show_hash: bool) -> Vec<Value> {
    let sam = dc.sam_ldb();
    let mut args = vec!["directory", "dump", "--json", "--sam-ldb", sam.to_str().unwrap_or_default()];
    if show_hash {
        args.push("--show-nt-hash");
    }
    let out = common::cli(&args);
    assert!(out.status.success(), "dump failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("dump prints a JSON array")
}

fn by_name(objects: &[Value]) -> HashMap<String, Value> {
    objects.iter().map(|o| (o["sAMAccountName"].as_str().unwrap_or_default().to_string(), o.clone())).collect()
}

/// objectGUID as Samba's own ldbsearch prints it.
fn ldbsearch_guid(dc: &Dc, name: &str) -> String {
    let out = Command::new("ldbsearch")
        .arg("-H")
        .arg(dc.sam_ldb())
        .arg(format!("(sAMAccountName={name})"))
        .arg("objectGUID")
        .output()
        .expect("ldbsearch");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("objectGUID: "))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("ldbsearch found no objectGUID for {name}"))
}

#[test]
fn nt_hashes_and_anchors_match_independent_computation() {
    let dc = Dc::new();
    let passwords = [
        ("accents", "Ünïcödé!Pw-1€ àéîõü"),
        ("emoji", "Emoji🔑Pass-2😀"),
        ("long127", &format!("Aa1!{}", "x".repeat(123))),
        ("spaces", "  With Spaces 3! "),
        ("plain", "Plain-Passw0rd"),
    ];
    for (name, pw) in &passwords {
        dc.create_user(name, pw);
    }
    assert_eq!(passwords[2].1.chars().count(), 127);
    let objects = by_name(&dump(&dc, true));
    for (name, pw) in &passwords {
        let u = &objects[*name];
        assert_eq!(u["objectType"], "user");
        let expected = hex::encode_upper(nt_hash(pw));
        assert_eq!(u["ntHash"].as_str(), Some(expected.as_str()), "NT hash of {name}");
        // The anchor is Base64 of the objectGUID bytes as stored, and the GUID string agrees
        // with Samba's own rendering.
        let guid = ldbsearch_guid(&dc, name);
        assert_eq!(u["objectGUID"].as_str(), Some(guid.as_str()));
        assert_eq!(u["sourceAnchor"].as_str(), Some(STANDARD.encode(common::guid_bytes(&guid)).as_str()));
        assert!(u["msDS-KeyVersionNumber"].as_u64().unwrap_or(0) >= 1);
    }
    // Without --show-nt-hash no hash appears at all.
    let plain = dump(&dc, false);
    assert!(plain.iter().all(|o| o.get("ntHash").is_none()));
}

#[test]
fn account_states_groups_and_computers() {
    let dc = Dc::new();
    dc.create_user("alice", "Al1ce!Pass-1");
    dc.create_user("bob", "B0b!Pass-1");
    dc.samba_tool(&["user", "disable", "bob"]);
    dc.samba_tool(&["user", "create", "dave", "Dav3!Pass-1", "--must-change-at-next-login"]);
    // A user without any password (added directly, no unicodePwd).
    dc.ldbadd(
        "dn: CN=nopw,CN=Users,DC=lab,DC=test\nobjectClass: user\nsAMAccountName: nopw\nuserAccountControl: 546\n\n",
        false,
    );
    dc.samba_tool(&["group", "add", "outer"]);
    dc.samba_tool(&["group", "add", "inner"]);
    dc.samba_tool(&["group", "addmembers", "inner", "alice"]);
    dc.samba_tool(&["group", "addmembers", "outer", "inner"]);
    dc.samba_tool(&["computer", "create", "PC1"]);

    let objects = by_name(&dump(&dc, true));
    let uac = |n: &str| objects[n]["userAccountControl"].as_u64().unwrap_or(0);
    assert_eq!(uac("alice") & 2, 0);
    assert_eq!(uac("bob") & 2, 2, "bob is disabled");
    assert_eq!(objects["dave"]["pwdLastSet"].as_i64(), Some(0), "must change at next logon");
    assert!(objects["alice"]["pwdLastSet"].as_i64().unwrap_or(0) > 0);
    assert!(objects["nopw"]["ntHash"].is_null(), "a user without a password has no hash");
    assert_eq!(objects["nopw"]["objectType"], "user");

    let members = |g: &str| -> Vec<String> {
        objects[g]["member"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).map(String::from).collect())
            .unwrap_or_default()
    };
    assert_eq!(objects["outer"]["objectType"], "group");
    assert_eq!(members("outer"), vec![objects["inner"]["distinguishedName"].as_str().unwrap_or_default().to_string()]);
    assert_eq!(members("inner"), vec![objects["alice"]["distinguishedName"].as_str().unwrap_or_default().to_string()]);

    let pc = &objects["PC1$"];
    assert_eq!(pc["objectType"], "computer");
    assert!(pc.get("ntHash").is_none(), "computers are not users");
    assert_eq!(uac("PC1$") & 0x1000, 0x1000, "workstation trust account");
}

#[test]
fn a_thousand_user_domain_is_read_completely() {
    let shape = Shape { users: 1000, groups: 20, computers: 10, members_per_group: 50 };
    let dc = Dc::cached("bulk1000", |dc| fixture::populate(dc, shape));
    let objects = dump(&dc, true);
    let users = by_name(&objects);
    for i in 0..shape.users {
        let name = fixture::user_name(i);
        let u = users.get(&name).unwrap_or_else(|| panic!("{name} missing from the dump"));
        assert_eq!(u["ntHash"].as_str(), Some(hex::encode_upper(nt_hash(&fixture::password_of(i))).as_str()));
        assert_eq!(u["proxyAddresses"].as_array().map(Vec::len), Some(2));
    }
    let groups =
        objects.iter().filter(|o| o["sAMAccountName"].as_str().is_some_and(|n| n.starts_with("bgroup"))).count();
    assert_eq!(groups, shape.groups);
    let pcs = objects
        .iter()
        .filter(|o| o["objectType"] == "computer" && o["sAMAccountName"].as_str().is_some_and(|n| n.starts_with("BPC")))
        .count();
    assert_eq!(pcs, shape.computers);
}

/// Bad input: exit 1, exactly one line on stderr that says what is wrong, no panic or abort.
fn assert_one_sentence(args: &[&str], needle: &str) {
    let out = common::cli(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit status for {args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one sentence expected, got: {err}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    assert!(!err.contains("panicked") && !err.contains("Abort"), "{err}");
}

#[test]
fn bad_sam_ldb_paths_fail_with_one_clear_sentence() {
    let dc = Dc::new();
    let tmp = tempfile::tempdir().expect("tempdir");

    let missing = tmp.path().join("missing/sam.ldb");
    assert_one_sentence(&["directory", "dump", "--sam-ldb", missing.to_str().unwrap_or_default()], "does not exist");

    let text = tmp.path().join("not-a-db");
    std::fs::write(&text, "hello, this is not a database\n").expect("write");
    assert_one_sentence(&["directory", "dump", "--sam-ldb", text.to_str().unwrap_or_default()], "not a tdb database");

    // A real ldb file, but not a sam.ldb.
    let secrets = dc.dir().join("private/secrets.ldb");
    assert_one_sentence(
        &["directory", "dump", "--sam-ldb", secrets.to_str().unwrap_or_default()],
        "not a Samba sam.ldb",
    );

    // A sam.ldb whose encrypted_secrets.key is gone.
    let nokey = Dc::new();
    std::fs::remove_file(nokey.dir().join("private/encrypted_secrets.key")).expect("remove key");
    let sam = nokey.sam_ldb();
    assert_one_sentence(&["directory", "dump", "--sam-ldb", sam.to_str().unwrap_or_default()], "encrypted_secrets.key");

    // An unreadable file: run the dump as an unprivileged user.
    let sam = dc.sam_ldb();
    std::fs::set_permissions(dc.dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(common::bin())
        .args(["directory", "dump", "--sam-ldb"])
        .arg(&sam)
        .output()
        .expect("setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("run this as root") || err.contains("Permission denied"), "{err}");
}

/// The harness can run samba: changes made over LDAP and through kpasswd reach sam.ldb, and the
/// reader sees them (and msDS-KeyVersionNumber counts each set) while samba runs.
#[test]
fn running_dc_password_changes_are_read() {
    let mut dc = Dc::new();
    dc.create_user("erin", "Er1n!Pass-1");
    dc.start(&[]);
    let kvno = |dc: &Dc| by_name(&dump(dc, true))["erin"]["msDS-KeyVersionNumber"].as_u64().unwrap_or(0);
    let hash = |dc: &Dc| by_name(&dump(dc, true))["erin"]["ntHash"].as_str().map(String::from);
    let before = kvno(&dc);

    let out = dc.setpassword_ldap("erin", "Er1n!Pass-2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(hash(&dc), Some(hex::encode_upper(nt_hash("Er1n!Pass-2"))));
    assert_eq!(kvno(&dc), before + 1);

    let out = dc.kpasswd("erin", "Er1n!Pass-2", "Er1n!Pass-3");
    assert!(out.status.success(), "kpasswd: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(hash(&dc), Some(hex::encode_upper(nt_hash("Er1n!Pass-3"))));
    assert_eq!(kvno(&dc), before + 2);

    dc.stop();
    assert!(!dc.is_running());
}

/// Tests that open sam.ldb in this process take turns: libldb and Samba's modules keep
/// process-wide state (the loaded schema, talloc stack frames) that two threads must not use at
/// once (seen: "Bad talloc magic value" from schema_load.c). The daemon has one sam.ldb thread.
static IN_PROCESS_LDB: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn in_process_ldb() -> std::sync::MutexGuard<'static, ()> {
    IN_PROCESS_LDB.lock().unwrap_or_else(|p| p.into_inner())
}

/// The one write the daemon can make: mS-DS-ConsistencyGuid := objectGUID, for users whose
/// consistency GUID is empty, never anything else. Read back with Samba's own ldbsearch.
#[test]
fn the_consistency_guid_write_back_only_fills_an_empty_value_of_a_user() {
    use samba_entra_sync::samba::{ConsistencyGuidWrite, LdbError, LdbWriter};
    let _turn = in_process_ldb();

    let dc = Dc::new();
    dc.create_user("fresh", "Fr3sh!Pass-1");
    dc.create_user("keeper", "K33per!Pass-1");
    dc.samba_tool(&["group", "add", "staff"]);
    dc.samba_tool(&["computer", "create", "PC7"]);
    let own = [0xC0u8; 16];
    dc.ldbmodify(&format!(
        "dn: CN=keeper,CN=Users,DC=lab,DC=test\nchangetype: modify\nadd: mS-DS-ConsistencyGuid\nmS-DS-ConsistencyGuid:: {}\n",
        STANDARD.encode(own)
    ));
    let guid = |filter: &str| -> [u8; 16] {
        let text = dc.ldbsearch_values(filter, "objectGUID");
        let s = String::from_utf8_lossy(text.first().unwrap_or_else(|| panic!("no objectGUID for {filter}")));
        common::guid_bytes(&s).try_into().expect("16 bytes")
    };
    let cg = |filter: &str| dc.ldbsearch_values(filter, "mS-DS-ConsistencyGuid");
    let fresh = guid("(sAMAccountName=fresh)");
    let fresh_dn = "CN=fresh,CN=Users,DC=lab,DC=test";
    assert!(cg("(sAMAccountName=fresh)").is_empty());

    let w = LdbWriter::open(&dc.sam_ldb()).expect("writable connection");
    // A value that is not the object's own objectGUID is refused, and nothing is written.
    let refused = w.set_consistency_guid(fresh_dn, &[0x11; 16]);
    assert!(matches!(refused, Err(LdbError::WriteRefused { .. })), "{refused:?}");
    assert!(cg("(sAMAccountName=fresh)").is_empty());

    assert_eq!(w.set_consistency_guid(fresh_dn, &fresh).expect("write"), ConsistencyGuidWrite::Written);
    assert_eq!(cg("(sAMAccountName=fresh)"), vec![fresh.to_vec()]);
    // A second write finds it set and leaves it (also through the <GUID=...> form of the DN).
    let by_guid =
        format!("<GUID={}>", String::from_utf8_lossy(&dc.ldbsearch_values("(sAMAccountName=fresh)", "objectGUID")[0]));
    assert_eq!(w.set_consistency_guid(&by_guid, &fresh).expect("rewrite"), ConsistencyGuidWrite::AlreadySet);

    // A user that had its own consistency GUID keeps it.
    let keeper = guid("(sAMAccountName=keeper)");
    let keeper_dn = "CN=keeper,CN=Users,DC=lab,DC=test";
    assert_eq!(w.set_consistency_guid(keeper_dn, &keeper).expect("keeper"), ConsistencyGuidWrite::AlreadySet);
    assert_eq!(cg("(sAMAccountName=keeper)"), vec![own.to_vec()]);

    // Groups and computers are never written.
    for (filter, dn) in [
        ("(sAMAccountName=staff)", "CN=staff,CN=Users,DC=lab,DC=test"),
        ("(sAMAccountName=PC7$)", "CN=PC7,CN=Computers,DC=lab,DC=test"),
    ] {
        let r = w.set_consistency_guid(dn, &guid(filter));
        assert!(matches!(r, Err(LdbError::WriteRefused { .. })), "{dn}: {r:?}");
        assert!(cg(filter).is_empty(), "{dn} was written");
    }
    let gone = w.set_consistency_guid("CN=nobody,CN=Users,DC=lab,DC=test", &fresh).expect("missing object");
    assert_eq!(gone, ConsistencyGuidWrite::NoSuchObject);
    drop(w);
    // With the consistency anchor, the written user's anchor is what it was (its objectGUID) and
    // the keeper's is its own value.
    let sam = dc.sam_ldb();
    let out = common::cli(&[
        "directory",
        "dump",
        "--json",
        "--source-anchor",
        "ms-DS-ConsistencyGuid",
        "--sam-ldb",
        sam.to_str().unwrap_or_default(),
    ]);
    assert!(out.status.success(), "dump failed: {}", String::from_utf8_lossy(&out.stderr));
    let objects = by_name(&serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("dump JSON"));
    assert_eq!(objects["fresh"]["sourceAnchor"].as_str(), Some(STANDARD.encode(fresh).as_str()));
    assert_eq!(objects["keeper"]["sourceAnchor"].as_str(), Some(STANDARD.encode(own).as_str()));
}

/// The daemon's way to the writer: on the sam.ldb thread, next to the read-only connection
/// (libldb shares one tdb handle per file between them), opened on first use.
#[test]
fn the_sam_ldb_thread_serves_reads_and_the_writer_alike() {
    use samba_entra_sync::samba::directory::find_user;
    use samba_entra_sync::samba::{ConsistencyGuidWrite, LdbHandle};
    let _turn = in_process_ldb();

    let dc = Dc::new();
    dc.create_user("gina", "G1na!Pass-1");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let ldb = LdbHandle::open(&dc.sam_ldb()).await.expect("open");
        let read = |ldb: &LdbHandle| {
            let ldb = ldb.clone();
            async move { ldb.call(|c| find_user(c, "gina", false)).await.expect("read").expect("gina") }
        };
        let before = read(&ldb).await;
        assert_eq!(before.id.consistency_guid, None);
        let (dn, guid) = (before.id.dn.clone(), before.id.object_guid);
        let written = ldb.call_writer(move |w| w.set_consistency_guid(&dn, &guid)).await.expect("write");
        assert_eq!(written, ConsistencyGuidWrite::Written);
        // The read-only connection sees the committed value at once.
        assert_eq!(read(&ldb).await.id.consistency_guid, Some(guid.to_vec()));
        let dn = before.id.dn.clone();
        let again = ldb.call_writer(move |w| w.set_consistency_guid(&dn, &guid)).await.expect("write again");
        assert_eq!(again, ConsistencyGuidWrite::AlreadySet);
    });
    assert_eq!(dc.ldbsearch_values("(sAMAccountName=gina)", "mS-DS-ConsistencyGuid").len(), 1);
}

/// The reads a domain with several DCs needs, on the two-DC lab: each DC's own invocation id,
/// the DC that originated a user's password change (also after it replicated), and the PDC
/// emulator role owner before and after `samba-tool fsmo transfer`.
#[test]
fn two_dcs_name_their_invocation_ids_password_origins_and_the_pdc_emulator() {
    use common::two_dcs::TwoDcs;
    use samba_entra_sync::samba::LdbHandle;
    use samba_entra_sync::samba::replication::{domain_controllers, password_origin_by_account, pdc_role, this_dc};
    use std::time::Duration;
    let _turn = in_process_ldb();

    let mut lab = TwoDcs::new();
    lab.start_both();
    // Made on DC2 over LDAP; replicated to DC1.
    TwoDcs::samba_tool_on(&lab.dc2, &["user", "create", "rita", "R1ta!Pass-1", "-H", "ldap://127.0.0.1"]);
    let want_pls = lab.dc2.ldbsearch_values("(sAMAccountName=rita)", "pwdLastSet").remove(0);
    let took =
        TwoDcs::wait_replicated(&lab.dc1, "(sAMAccountName=rita)", "pwdLastSet", &want_pls, Duration::from_secs(30));
    assert!(took.is_some(), "rita did not replicate from DC2 to DC1 within 30 s");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let ldb1 = LdbHandle::open(&lab.dc1.sam_ldb()).await.expect("open DC1");
        let ldb2 = LdbHandle::open(&lab.dc2.sam_ldb()).await.expect("open DC2");
        let me1 = ldb1.call(|c| this_dc(c)).await.expect("DC1 identity");
        let me2 = ldb2.call(|c| this_dc(c)).await.expect("DC2 identity");
        assert_eq!((me1.name.as_str(), me2.name.as_str()), ("DC1", "DC2"));
        assert_ne!(me1.invocation_id, me2.invocation_id);
        // The same ids as Samba's own ldbsearch prints them.
        for (dc, me) in [(&lab.dc1, &me1), (&lab.dc2, &me2)] {
            let out = dc.exec_ok(&[
                "ldbsearch",
                "-H",
                &dc.sam_ldb().display().to_string(),
                "-s",
                "base",
                "-b",
                &me.ntds_settings_dn,
                "invocationId",
            ]);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(text.contains(&format!("invocationId: {}", me.invocation_id)), "{text}");
        }
        let all = ldb1.call(|c| domain_controllers(c)).await.expect("DCs");
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all.contains(&me1) && all.contains(&me2), "{all:?}");

        // DC1 knows DC2 made rita's password, and both DCs carry the same pwdLastSet.
        let o1 = ldb1.call(|c| password_origin_by_account(c, "rita")).await.expect("read").expect("origin");
        let o2 = ldb2.call(|c| password_origin_by_account(c, "rita")).await.expect("read").expect("origin");
        assert_eq!(o1.invocation_id, me2.invocation_id);
        assert_eq!(o1, o2);
        assert_eq!(o1.pwd_last_set.to_string().into_bytes(), want_pls);
        let kvno = lab.dc1.ldbsearch_values("(sAMAccountName=rita)", "msDS-KeyVersionNumber").remove(0);
        assert_eq!(o1.version.to_string().into_bytes(), kvno);

        // A reset on DC1: the origin moves to DC1 on both DCs once it replicated.
        let out = lab.dc1.reset_password("rita", "R1ta!Pass-2");
        assert!(out.status.success(), "reset: {}", String::from_utf8_lossy(&out.stderr));
        let pls = lab.dc1.ldbsearch_values("(sAMAccountName=rita)", "pwdLastSet").remove(0);
        let took =
            TwoDcs::wait_replicated(&lab.dc2, "(sAMAccountName=rita)", "pwdLastSet", &pls, Duration::from_secs(30));
        assert!(took.is_some(), "the reset did not replicate from DC1 to DC2 within 30 s");
        let o2 = ldb2.call(|c| password_origin_by_account(c, "rita")).await.expect("read").expect("origin");
        assert_eq!(o2.invocation_id, me1.invocation_id);
        assert_eq!(o2.version, o1.version + 1);

        // DC1 holds the PDC emulator role (it made the domain) until it is transferred.
        let (m1, m2) = (me1.clone(), me2.clone());
        let r1 = ldb1.call(move |c| pdc_role(c, &m1)).await.expect("role").expect("owner");
        let r2 = ldb2.call(move |c| pdc_role(c, &m2)).await.expect("role").expect("owner");
        assert_eq!((r1.owner.as_str(), r1.is_this_dc, r2.owner.as_str(), r2.is_this_dc), ("DC1", true, "DC1", false));
        TwoDcs::samba_tool_on(&lab.dc2, &["fsmo", "transfer", "--role=pdc", "-H", "ldap://127.0.0.1"]);
        let (m1, m2) = (me1.clone(), me2.clone());
        let r1 = ldb1.call(move |c| pdc_role(c, &m1)).await.expect("role").expect("owner");
        let r2 = ldb2.call(move |c| pdc_role(c, &m2)).await.expect("role").expect("owner");
        assert_eq!((r1.owner.as_str(), r1.is_this_dc, r2.owner.as_str(), r2.is_this_dc), ("DC2", false, "DC2", true));
    });
}

/// What a streamed full run relies on: every typed read hands objects one at a time, the same
/// objects in the same order as the collecting read (and again on a second pass), and a chunk
/// of objects is read back by objectGUID in one search, each exactly once, nothing else.
#[test]
fn streamed_reads_and_reads_by_object_guid() {
    use samba_entra_sync::samba::directory::{self, ReadOptions};
    use samba_entra_sync::samba::ldb::LdbConnection;
    let _turn = in_process_ldb();

    let shape = Shape { users: 1000, groups: 20, computers: 10, members_per_group: 50 };
    let dc = Dc::cached("bulk1000", |dc| fixture::populate(dc, shape));
    let conn = LdbConnection::open(&dc.sam_ldb()).expect("open sam.ldb");
    let all = ReadOptions::default();
    let collected: Vec<String> =
        directory::read_users(&conn, &all).expect("read").into_iter().map(|u| u.id.dn).collect();
    let streamed = |conn: &LdbConnection| {
        let mut dns = Vec::new();
        directory::each_user(conn, &all, |u| dns.push(u.id.dn)).expect("stream");
        dns
    };
    assert!(collected.len() > shape.users, "{} users", collected.len());
    assert_eq!(streamed(&conn), collected);
    assert_eq!(streamed(&conn), collected, "a second pass sees the same order");
    let mut groups = Vec::new();
    directory::each_group(&conn, &all, |g| groups.push(g)).expect("groups");
    assert_eq!(groups.iter().filter(|g| g.id.sam_account_name.starts_with("bgroup")).count(), shape.groups);
    assert!(groups.iter().filter(|g| g.id.sam_account_name.starts_with("bgroup")).all(|g| g.members.len() >= 50));

    // Every 7th user, read again in chunks by objectGUID.
    let mut wanted = Vec::new();
    let mut i = 0;
    directory::each_user(&conn, &all, |u| {
        if i % 7 == 0 {
            wanted.push((u.id.object_guid, u.id.sam_account_name.clone()));
        }
        i += 1;
    })
    .expect("stream");
    for chunk in wanted.chunks(100) {
        let guids: Vec<[u8; 16]> = chunk.iter().map(|(g, _)| *g).collect();
        let opts = ReadOptions { extra_filter: directory::guids_filter(&guids), ..Default::default() };
        let mut got: Vec<([u8; 16], String)> = Vec::new();
        directory::each_user(&conn, &opts, |u| got.push((u.id.object_guid, u.id.sam_account_name))).expect("by GUID");
        got.sort();
        let mut expected = chunk.to_vec();
        expected.sort();
        assert_eq!(got, expected);
    }
    assert_eq!(directory::guids_filter(&[]), None);
    // A GUID of no object matches nothing (and is no error).
    let opts = ReadOptions { extra_filter: directory::guids_filter(&[[0xEE; 16]]), ..Default::default() };
    let mut none = 0;
    directory::each_user(&conn, &opts, |_| none += 1).expect("unknown GUID");
    assert_eq!(none, 0);

    // Several users by name in one search (the password path's backfill read): only users
    // come back, whatever else the names match, and the administrator's filter still holds.
    let names = ["bulk00001", "BULK00002", "bulk00003", "bgroup0001", "nobody-here", "bulk00004"];
    let mut read: Vec<String> = directory::find_users_matching(&conn, &names, None, true)
        .expect("users by name")
        .into_iter()
        .map(|u| {
            assert!(u.nt_hash.is_some(), "{} read with its hash", u.id.sam_account_name);
            u.id.sam_account_name
        })
        .collect();
    read.sort();
    assert_eq!(read, ["bulk00001", "bulk00002", "bulk00003", "bulk00004"]);
    let computer = directory::read_computers(&conn, &all).expect("computers").remove(0).id.sam_account_name;
    let got = directory::find_users_matching(&conn, &[computer.as_str(), "bulk00005"], None, false).expect("by name");
    assert_eq!(
        got.iter().map(|u| u.id.sam_account_name.as_str()).collect::<Vec<_>>(),
        ["bulk00005"],
        "never a computer"
    );
    let scoped =
        directory::find_users_matching(&conn, &names, Some("(!(sAMAccountName=bulk00003))"), false).expect("scoped");
    assert_eq!(scoped.len(), 3, "the administrator's filter leaves out bulk00003");
    assert!(directory::find_users_matching(&conn, &[], None, false).expect("no names").is_empty());
}
