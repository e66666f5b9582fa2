//! The reconcile engine end to end: a populated Samba domain (1,000 users, 100 groups, some
//! nested, 50 computers, half of them hybrid-join ready), the emulator and the real daemon.
//!
//! The expected tenant is computed here from `directory dump --json`, by the rules of the
//! protocol doc (not by the crate's mapping code), and compared with the emulator's
//! `/admin/objects` attribute by attribute.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use common::fixture::{self, Shape};
use common::samba::{DOMAIN_DN, Dc};
use common::stack::{Stack, tail};

/// How long one full reconcile of the test domain may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

const SHAPE: Shape = Shape { users: 1000, groups: 100, computers: 50, members_per_group: 20 };

fn domain() -> Dc {
    // Users with every attribute the mapping exports (a cache of its own: the plain bulk
    // domain lacks most of them).
    Dc::cached("recon-1000-profiled", |dc| fixture::populate_with(dc, SHAPE, fixture::profiled_users_ldif))
}

fn stack(extra_sync: &str) -> Stack {
    let s = Stack::start_on(domain(), extra_sync, &[]);
    s.wait_full_runs(1, RUN_TIMEOUT);
    s
}

/// Lets the daemon's change poll and delta run settle, then reconciles in full.
fn settle_and_reconcile(s: &Stack) {
    std::thread::sleep(Duration::from_secs(2));
    s.reconcile(RUN_TIMEOUT);
}

fn dump(dc: &Dc) -> Vec<Value> {
    let path = dc.sam_ldb();
    let out = common::cli(&["directory", "dump", "--json", "--sam-ldb", &path.to_string_lossy()]);
    assert!(out.status.success(), "dump: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("dump JSON")
}

/// DNs (lower case) of isCriticalSystemObject=TRUE objects, asked of sam.ldb by ldbsearch.
fn critical_objects(dc: &Dc) -> BTreeSet<String> {
    let out = Command::new("ldbsearch")
        .arg("-H")
        .arg(dc.sam_ldb())
        .args(["(isCriticalSystemObject=TRUE)", "dn"])
        .output()
        .expect("ldbsearch");
    assert!(out.status.success(), "ldbsearch: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("dn: "))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The binary form of a SID given as `S-1-5-21-...` (as AD stores objectSid): revision,
/// sub-authority count, the 48-bit authority big-endian, the sub-authorities little-endian.
fn sid_bytes(text: &str) -> Vec<u8> {
    let parts: Vec<u64> = text.trim_start_matches("S-").split('-').map(|p| p.parse().expect("SID part")).collect();
    let (revision, authority, subs) = (parts[0], parts[1], &parts[2..]);
    let mut out = vec![revision as u8, subs.len() as u8];
    out.extend(&authority.to_be_bytes()[2..]);
    for sub in subs {
        out.extend((*sub as u32).to_le_bytes());
    }
    out
}

/// The value of the first RDN of a DN (`CN=bulk00001,CN=Users,...` -> `bulk00001`): the cn.
fn rdn_value(dn: &str) -> String {
    dn.split(',').next().and_then(|rdn| rdn.split_once('=')).map(|(_, v)| v.to_string()).unwrap_or_default()
}

fn anchor_of(o: &Value) -> String {
    STANDARD.encode(common::guid_bytes(o["objectGUID"].as_str().expect("objectGUID")))
}

fn rid(o: &Value) -> u64 {
    o["objectSid"].as_str().and_then(|s| s.rsplit('-').next()).and_then(|r| r.parse().ok()).unwrap_or(0)
}

fn text(o: &Value, key: &str) -> Option<String> {
    match &o[key] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Array(a) => a.first().and_then(Value::as_str).map(String::from),
        _ => None,
    }
}

fn strings(o: &Value, key: &str) -> Vec<String> {
    match &o[key] {
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(String::from).collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn filetime(unix: i64) -> i64 {
    (unix + 11_644_473_600) * 10_000_000
}

/// An attribute value normalised for comparison: text, or a sorted list of texts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    One(String),
    Many(Vec<String>),
}

fn one(s: impl Into<String>) -> Option<V> {
    Some(V::One(s.into()))
}

fn many(mut v: Vec<String>) -> Option<V> {
    if v.is_empty() {
        return None;
    }
    v.sort();
    Some(V::Many(v))
}

fn normalise(v: &Value) -> Option<V> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => one(s.clone()),
        Value::Bool(b) => one(b.to_string()),
        Value::Number(n) => one(n.to_string()),
        Value::Array(a) => many(
            a.iter()
                .filter_map(|v| match normalise(v) {
                    Some(V::One(s)) => Some(s),
                    other => other.map(|o| format!("{o:?}")),
                })
                .collect(),
        ),
        Value::Object(_) => one(v.to_string()),
    }
}

/// (type, anchor) → expected attributes (lower-cased names; `member` for group members).
type Tenant = BTreeMap<(String, String), BTreeMap<String, Option<V>>>;

/// What the tenant must hold for the directory dumped in `objects`: in scope are users, groups
/// and computers with a RID of 1000 or more, not krbtgt, not adminCount=1, not critical system
/// objects (e.g. Samba's dns-<host> account); computers only with
/// a hybrid-join userCertificate.
fn expected(objects: &[Value], critical: &BTreeSet<String>) -> Tenant {
    let in_scope = |o: &Value| {
        rid(o) >= 1000
            && !critical.contains(&o["distinguishedName"].as_str().unwrap_or("").to_ascii_lowercase())
            && !o["sAMAccountName"].as_str().unwrap_or("").to_ascii_lowercase().starts_with("krbtgt")
            && !o["adminCount"].as_bool().unwrap_or(false)
            && (o["objectType"] != "computer" || !strings(o, "userCertificate").is_empty())
    };
    let scoped: Vec<&Value> = objects.iter().filter(|o| in_scope(o)).collect();
    let by_dn: BTreeMap<String, String> = scoped
        .iter()
        .map(|o| (o["distinguishedName"].as_str().unwrap_or("").to_ascii_lowercase(), anchor_of(o)))
        .collect();
    let now = now_unix();
    let mut out = Tenant::new();
    for o in scoped {
        let anchor = anchor_of(o);
        let sam = o["sAMAccountName"].as_str().unwrap_or("").to_string();
        let mut a: BTreeMap<String, Option<V>> = BTreeMap::new();
        a.insert("sourceanchor".into(), one(anchor.clone()));
        a.insert("onpremisessamaccountname".into(), one(sam.clone()));
        a.insert("onpremisesdistinguishedname".into(), one(o["distinguishedName"].as_str().unwrap_or("")));
        a.insert("dnsdomainname".into(), one("lab.test"));
        a.insert(
            "onpremisesecurityidentifier".into(),
            one(STANDARD.encode(sid_bytes(o["objectSid"].as_str().expect("objectSid")))),
        );
        let uac = o["userAccountControl"].as_u64().unwrap_or(0);
        let kind = match o["objectType"].as_str() {
            Some("user") => {
                let expires = o["accountExpires"].as_i64().unwrap_or(0);
                let expired = expires > 0 && expires != i64::MAX && expires <= filetime(now);
                a.insert("accountenabled".into(), one((uac & 2 == 0 && !expired).to_string()));
                a.insert("userprincipalname".into(), text(o, "userPrincipalName").map(V::One));
                a.insert("displayname".into(), text(o, "displayName").map(V::One));
                a.insert("commonname".into(), one(rdn_value(o["distinguishedName"].as_str().unwrap_or(""))));
                a.insert("netbiosname".into(), one("LAB"));
                // The AD attribute → the Entra attribute (the sync API's names).
                for (ad, entra) in [
                    ("givenName", "givenname"),
                    ("sn", "surname"),
                    ("mail", "mail"),
                    ("physicalDeliveryOfficeName", "physicaldeliveryofficename"),
                    ("department", "department"),
                    ("employeeID", "employeeid"),
                    ("employeeType", "employeetype"),
                    ("streetAddress", "streetaddress"),
                    ("l", "city"),
                    ("st", "state"),
                    ("postalCode", "postalcode"),
                    ("co", "country"),
                    ("telephoneNumber", "telephonenumber"),
                    ("facsimileTelephoneNumber", "facsimiletelephonenumber"),
                    ("mobile", "mobile"),
                    ("company", "company"),
                    ("title", "title"),
                ] {
                    a.insert(entra.into(), text(o, ad).map(V::One));
                }
                a.insert("proxyaddresses".into(), many(strings(o, "proxyAddresses")));
                // usageLocation takes an ISO 3166 alpha-2 code: AD's `c` when it is one.
                a.insert("usagelocation".into(), text(o, "c").filter(|c| c.len() == 2).map(V::One));
                // The manager as the anchor of an in-scope object; any other reference is dropped.
                let manager = text(o, "manager").and_then(|dn| by_dn.get(&dn.to_ascii_lowercase()).cloned());
                a.insert("manager".into(), manager.map(V::One));
                "User"
            }
            Some("group") => {
                let security = o["groupType"].as_i64().unwrap_or(0) & 0x8000_0000 != 0;
                a.insert("securityenabled".into(), one(security.to_string()));
                a.insert("displayname".into(), one(text(o, "displayName").unwrap_or(sam.clone())));
                a.insert("mail".into(), text(o, "mail").map(V::One));
                a.insert("proxyaddresses".into(), many(strings(o, "proxyAddresses")));
                a.insert("description".into(), text(o, "description").map(V::One));
                let members: Vec<String> =
                    strings(o, "member").iter().filter_map(|dn| by_dn.get(&dn.to_ascii_lowercase()).cloned()).collect();
                a.insert("member".into(), many(members));
                "Group"
            }
            Some("computer") => {
                a.insert("displayname".into(), one(sam.trim_end_matches('$')));
                let guid = common::guid_bytes(o["objectGUID"].as_str().unwrap_or(""));
                a.insert("deviceid".into(), one(STANDARD.encode(guid)));
                a.insert("accountenabled".into(), one((uac & 2 == 0).to_string()));
                a.insert("deviceostype".into(), text(o, "operatingSystem").map(V::One));
                a.insert("deviceosversion".into(), text(o, "operatingSystemVersion").map(V::One));
                a.insert("usercertificate".into(), many(strings(o, "userCertificate")));
                // Hybrid-joined through this DC, as Entra Connect reports such devices.
                a.insert("devicetrusttype".into(), one("ServerAd"));
                "Device"
            }
            _ => continue,
        };
        out.insert((kind.to_string(), anchor), a);
    }
    out
}

/// The emulator's tenant, in the same shape (all attributes it holds).
fn actual(s: &Stack) -> Tenant {
    let mut out = Tenant::new();
    for kind in ["User", "Group", "Device", "Contact"] {
        for o in s.emu.objects(kind) {
            let anchor = o["sourceAnchor"].as_str().unwrap_or("").to_string();
            let mut a: BTreeMap<String, Option<V>> = BTreeMap::new();
            if let Some(attrs) = o["attributes"].as_object() {
                for (k, v) in attrs {
                    a.insert(k.to_ascii_lowercase(), normalise(v));
                }
            }
            a.insert("sourceanchor".into(), one(anchor.clone()));
            if kind == "Group" {
                let members: Vec<String> =
                    o["members"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
                a.insert("member".into(), many(members));
            }
            let key = (kind.to_string(), anchor);
            assert!(out.insert(key.clone(), a).is_none(), "duplicate object in the tenant: {key:?}");
        }
    }
    out
}

/// Every expected object exists with every expected attribute and no other (empty values
/// aside), and nothing else is there.
fn assert_tenant_matches(s: &Stack) {
    let want = expected(&dump(&s.dc), &critical_objects(&s.dc));
    let got = actual(s);
    let want_keys: BTreeSet<_> = want.keys().collect();
    let got_keys: BTreeSet<_> = got.keys().collect();
    let missing: Vec<_> = want_keys.difference(&got_keys).take(5).collect();
    let extra: Vec<_> = got_keys.difference(&want_keys).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "tenant objects differ: {} expected, {} present; missing e.g. {missing:?}; unexpected e.g. {extra:?}",
        want.len(),
        got.len()
    );
    let mut wrong = Vec::new();
    // (type, attribute) → how many objects have it wrong, and the first such object.
    let mut by_attribute: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    let mut note = |key: &(String, String), name: &str, line: String| {
        let entry = by_attribute.entry((key.0.clone(), name.to_string())).or_insert((0, line.clone()));
        entry.0 += 1;
        wrong.push(line);
    };
    for (key, attrs) in &want {
        let have = &got[key];
        for (name, value) in attrs {
            let h = have.get(name).cloned().flatten();
            if &h != value {
                note(key, name, format!("{key:?} {name}: expected {value:?}, tenant has {h:?}"));
            }
        }
        // An attribute the mapping exports that this test does not know: it must learn it.
        for (name, value) in have {
            if value.is_some() && !attrs.contains_key(name) {
                note(key, name, format!("{key:?} {name}: not expected, tenant has {value:?}"));
            }
        }
    }
    let summary: Vec<String> = by_attribute
        .iter()
        .map(|((kind, name), (n, first))| format!("{kind} {name}: {n} objects, e.g. {first}"))
        .collect();
    assert!(wrong.is_empty(), "{} attribute mismatches:\n{}", wrong.len(), summary.join("\n"));
}

fn user_by_name(s: &Stack, name: &str) -> Option<Value> {
    s.emu.objects("User").into_iter().find(|o| o["attributes"]["onPremisesSamAccountName"] == name)
}

fn group_by_name(s: &Stack, name: &str) -> Option<Value> {
    s.emu.objects("Group").into_iter().find(|o| o["attributes"]["onPremisesSamAccountName"] == name)
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_tenant_equals_the_directory_and_a_second_reconcile_writes_nothing() {
    let s = stack("");
    assert_tenant_matches(&s);
    // Nested groups arrived as group members.
    let outer = group_by_name(&s, &fixture::group_name(0)).expect("group 0");
    let inner = group_by_name(&s, &fixture::group_name(1)).expect("group 1");
    let members: Vec<&str> = outer["members"].as_array().expect("members").iter().filter_map(Value::as_str).collect();
    assert!(members.contains(&inner["sourceAnchor"].as_str().expect("anchor")), "nesting lost: {members:?}");

    // The initial passwords drain from the outbox after the run: let them all arrive first.
    wait_until("every password pushed", Duration::from_secs(120), || {
        s.emu.stats()["credentials"].as_u64() == Some(SHAPE.users as u64)
    });
    std::thread::sleep(Duration::from_secs(1));
    let (w, calls) = (s.emu.writes(), s.emu.provision_calls());
    s.reconcile(RUN_TIMEOUT);
    assert_eq!(s.emu.writes(), w, "a no-change reconcile changed the tenant");
    assert_eq!(s.emu.provision_calls(), calls, "a no-change reconcile sent provisioning calls");
    assert_tenant_matches(&s);
}

#[test]
fn renames_disables_expiry_memberships_and_deletes_propagate() {
    let s = stack("");
    let u = |i: usize| fixture::user_dn(i);
    // User 5 is deleted in the portal first, then in the directory: the emulator refuses its
    // delete ("object not found"), and the daemon must find it gone by the tenant's listing.
    let cloud5 = user_by_name(&s, &fixture::user_name(5)).expect("user 5")["cloudAnchor"].as_str().unwrap().to_owned();
    assert_eq!(s.emu.delete(&format!("/admin/objects/{cloud5}")), 204);
    let read_backs = || {
        let calls = &s.emu.stats()["calls"];
        calls["ReadBackAzureADSyncObjects"].as_u64().unwrap_or(0)
            + calls["ReadBackAzureADSyncObjects2"].as_u64().unwrap_or(0)
    };
    let read_backs_before = read_backs();
    // A rename (new CN and display name), a disable, an expiry in the past, a membership change, deletes.
    s.dc.ldbmodify(&format!(
        "dn: {}\nchangetype: modrdn\nnewrdn: CN=renamed00001\ndeleteoldrdn: 1\n\n\
         dn: CN=renamed00001,CN=Users,{DOMAIN_DN}\nchangetype: modify\nreplace: displayName\ndisplayName: Renamed One\n\n\
         dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n\n\
         dn: {}\nchangetype: modify\nreplace: accountExpires\naccountExpires: {}\n\n\
         dn: {}\nchangetype: modify\ndelete: member\nmember: {}\n-\nadd: member\nmember: {}\n\n\
         dn: {}\nchangetype: delete\n\n\
         dn: {}\nchangetype: delete\n",
        u(1),
        u(2),
        u(3),
        filetime(now_unix() - 3600),
        fixture::group_dn(0),
        u(0),
        u(999),
        u(4),
        u(5),
    ));
    settle_and_reconcile(&s);
    let logs = s.daemon.logs();
    assert!(!logs.contains("delete refused"), "{}", tail(&logs));
    let gone = format!("object={} ", fixture::user_name(5));
    assert!(
        logs.lines().any(|l| l.contains("already gone") && l.contains(&gone)),
        "user 5 not settled by the listing: {}",
        tail(&logs)
    );
    assert_eq!(read_backs() - read_backs_before, 1, "one read-back settles the refused delete");
    // Forgotten, not retried: the next reconcile sends nothing and reads nothing back.
    let (calls, read_backs_after) = (s.emu.provision_calls(), read_backs());
    s.reconcile(RUN_TIMEOUT);
    assert_eq!((s.emu.provision_calls(), read_backs()), (calls, read_backs_after), "{}", tail(&s.daemon.logs()));
    let renamed = user_by_name(&s, &fixture::user_name(1)).expect("renamed user");
    assert_eq!(renamed["attributes"]["displayName"], "Renamed One");
    assert_eq!(renamed["attributes"]["onPremisesDistinguishedName"], format!("CN=renamed00001,CN=Users,{DOMAIN_DN}"));
    assert_eq!(user_by_name(&s, &fixture::user_name(2)).expect("u2")["attributes"]["accountEnabled"], false);
    assert_eq!(user_by_name(&s, &fixture::user_name(3)).expect("u3")["attributes"]["accountEnabled"], false);
    assert!(user_by_name(&s, &fixture::user_name(4)).is_none(), "a deleted user is still in the tenant");
    let g0 = group_by_name(&s, &fixture::group_name(0)).expect("g0");
    let anchor = |n: usize| user_by_name(&s, &fixture::user_name(n)).expect("user")["sourceAnchor"].clone();
    let members = g0["members"].as_array().cloned().unwrap_or_default();
    assert!(!members.contains(&anchor(0)), "a removed member is still in the group");
    assert!(members.contains(&anchor(999)), "an added member is missing");
    assert_tenant_matches(&s);
}

#[test]
fn a_move_out_of_the_scope_deletes_the_object_from_the_tenant() {
    let s = stack(&format!("[sync.scope]\nuser_bases = [\"CN=Users,{DOMAIN_DN}\"]\n"));
    assert!(user_by_name(&s, &fixture::user_name(7)).is_some());
    s.dc.ldbadd(&format!("dn: OU=Elsewhere,{DOMAIN_DN}\nobjectClass: organizationalUnit\n\n"), false);
    s.dc.ldbmodify(&format!(
        "dn: {}\nchangetype: modrdn\nnewrdn: CN={}\ndeleteoldrdn: 1\nnewsuperior: OU=Elsewhere,{DOMAIN_DN}\n",
        fixture::user_dn(7),
        fixture::user_name(7)
    ));
    settle_and_reconcile(&s);
    assert!(user_by_name(&s, &fixture::user_name(7)).is_none(), "a user moved out of scope is still in the tenant");
    assert!(user_by_name(&s, &fixture::user_name(8)).is_some());
}

#[test]
fn deleting_600_users_is_held_until_approved() {
    let s = stack("");
    let ldif: String = (100..700).map(|i| format!("dn: {}\nchangetype: delete\n\n", fixture::user_dn(i))).collect();
    s.dc.ldbmodify(&ldif);
    settle_and_reconcile(&s);
    assert_eq!(s.emu.objects("User").len(), 1000, "deletes over the threshold were not held");
    let status =
        Command::new(common::bin()).args(["status", "--json", "--bus", s.bus.address()]).output().expect("status");
    let status: Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert_eq!(status["held_deletes"].as_u64().or(status["heldDeletes"].as_u64()), Some(600), "{status}");
    // Another reconcile still holds them.
    s.reconcile(RUN_TIMEOUT);
    assert_eq!(s.emu.objects("User").len(), 1000);
    let before = s.full_runs();
    // A POSIX zone (no tz database needed): the expiry is shown in it, not in UTC.
    let out = Command::new(common::bin())
        .args(["approve-deletes", "--bus", s.bus.address()])
        .env("TZ", "XST-5:45")
        .output()
        .expect("approve");
    assert!(out.status.success(), "approve-deletes: {}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("lapses unused at ") && said.contains("XST") && !said.contains("Z;"), "{said}");
    s.wait_full_runs(before + 1, RUN_TIMEOUT);
    assert_eq!(s.emu.objects("User").len(), 400, "approved deletes were not carried out");
    assert_tenant_matches(&s);
}

#[test]
fn an_emptied_scope_deletes_nothing() {
    // No deletion threshold at all: only the empty-scope guard stands between this and 1,000 deletes.
    let mut s = stack("deletion_threshold = 0\ndeletion_threshold_percent = 0\n");
    let config = std::fs::read_to_string(&s.daemon.config).expect("config");
    let config = config.replace("[state]", "[sync.scope]\nuser_filter = \"(description=matches-nobody)\"\n[state]");
    std::fs::write(&s.daemon.config, config).expect("config");
    s.daemon.restart();
    s.wait_full_runs(2, RUN_TIMEOUT);
    assert_eq!(s.emu.objects("User").len(), 1000, "an empty scope deleted users");
    assert!(
        s.emu.objects("Group").len() >= SHAPE.groups,
        "groups must stay (they were not affected by the user filter)"
    );
}

#[test]
fn an_account_expires_at_its_exact_time_without_a_sync() {
    let s = stack("");
    let name = fixture::user_name(5);
    let at = now_unix() + 10;
    s.dc.ldbmodify(&format!(
        "dn: {}\nchangetype: modify\nreplace: accountExpires\naccountExpires: {}\n",
        fixture::user_dn(5),
        filetime(at)
    ));
    // Before the time passes the account stays enabled (the delta run saw the change).
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(user_by_name(&s, &name).expect("user")["attributes"]["accountEnabled"], true);
    let runs = s.full_runs();
    wait_until("the expired account is disabled", Duration::from_secs(60), || {
        user_by_name(&s, &name).expect("user")["attributes"]["accountEnabled"] == false
    });
    let late = now_unix() - at;
    assert!(late <= 4, "disabled {late} s after the expiry time (expected about 1 s)");
    // No reconcile loop afterwards: one timer run, then quiet.
    std::thread::sleep(Duration::from_secs(5));
    assert!(s.full_runs() <= runs + 1, "full reconciles keep running after the expiry: {} more", s.full_runs() - runs);
}

#[test]
fn drift_in_the_tenant_is_repaired_and_a_value_entra_keeps_is_reported_not_fought() {
    let s = stack("drift_check_interval = \"1s\"\n");
    wait_until("every password pushed", Duration::from_secs(120), || {
        s.emu.stats()["credentials"].as_u64() == Some(SHAPE.users as u64)
    });
    let cloud_anchor = |o: &Value| o["cloudAnchor"].as_str().expect("cloud anchor").to_string();
    let gone_user = user_by_name(&s, &fixture::user_name(3)).expect("user 3");
    let gone_group = group_by_name(&s, &fixture::group_name(2)).expect("group 2");
    let edited = user_by_name(&s, &fixture::user_name(4)).expect("user 4");
    // Changes made in the cloud, behind the sync's back.
    for o in [&gone_user, &gone_group] {
        assert_eq!(s.emu.delete(&format!("/admin/objects/{}", cloud_anchor(o))), 204);
    }
    let edit = serde_json::json!({"attributes": {"displayName": "Changed in the cloud", "department": null}});
    let (code, body) = s.emu.patch(&format!("/admin/objects/{}", cloud_anchor(&edited)), &edit);
    assert_eq!(code, 200, "{body}");
    assert!(user_by_name(&s, &fixture::user_name(3)).is_none());

    std::thread::sleep(Duration::from_millis(1100));
    s.reconcile(RUN_TIMEOUT);
    // Deleted objects are back (with new object ids), the user with its password hash; the
    // edited user has its directory values again.
    let back = user_by_name(&s, &fixture::user_name(3)).expect("user 3 created again");
    assert_ne!(cloud_anchor(&back), cloud_anchor(&gone_user));
    let upn = format!("{}@lab.test", fixture::user_name(3));
    wait_until("user 3's password in Entra again", Duration::from_secs(30), || {
        s.emu.verify_password(&upn, &fixture::password_of(3))
    });
    assert_tenant_matches(&s);
    // Exactly what was touched in the cloud was found (the check at start-up found nothing):
    // the two deleted objects, the edited user, and the groups that lost them as members.
    let logs = s.daemon.logs();
    assert_eq!(logs.matches("deleted in Entra outside this sync").count(), 2, "{}", tail(&logs));
    let changed: Vec<&str> = logs.lines().filter(|l| l.contains("changed in Entra outside this sync")).collect();
    let edited_line = format!("object={} attributes=department, displayName", fixture::user_name(4));
    assert!(changed.iter().any(|l| l.ends_with(&edited_line)), "{changed:#?}");
    assert!(changed.iter().all(|l| l.ends_with(&edited_line) || l.ends_with("attributes=member")), "{changed:#?}");

    // The same change made again: Entra "keeps" its value. Reported once, not fought over.
    let (code, _) = s.emu.patch(&format!("/admin/objects/{}", cloud_anchor(&edited)), &edit);
    assert_eq!(code, 200);
    std::thread::sleep(Duration::from_millis(1100));
    let w = s.emu.writes();
    s.reconcile(RUN_TIMEOUT);
    assert_eq!(s.emu.writes(), w, "the value Entra keeps was exported again");
    let logs = s.daemon.logs();
    assert_eq!(logs.matches("Entra keeps a value different from the directory").count(), 1, "{}", tail(&logs));
    assert_eq!(
        user_by_name(&s, &fixture::user_name(4)).expect("user 4")["attributes"]["displayName"],
        "Changed in the cloud"
    );
}

#[test]
fn kill_9_during_a_reconcile_then_a_restart_leaves_no_duplicates_and_nothing_missing() {
    // Slow the emulator down so the kill lands in the middle of the initial export.
    let mut s = Stack::start_on(domain(), "", &[]);
    s.emu.fault(serde_json::json!({"kind": "latency", "ms": 20}));
    wait_until("some users exported", Duration::from_secs(120), || s.emu.objects("User").len() >= 200);
    s.daemon.kill9();
    let partial = s.emu.objects("User").len();
    assert!(partial < 1000, "the whole export finished before the kill ({partial} users)");
    s.emu.clear_faults();
    s.daemon.restart();
    s.wait_full_runs(1, RUN_TIMEOUT);
    assert_tenant_matches(&s);
    // Every password arrived too.
    for i in [0, 499, 999] {
        let upn = format!("{}@lab.test", fixture::user_name(i));
        assert!(
            s.emu.wait_password(&upn, &fixture::password_of(i), Duration::from_secs(60)).is_some(),
            "password of {upn} never arrived"
        );
    }
}
