//! The full reconcile's streaming core: what a full run keeps while the directory streams past,
//! so its memory grows by tens of bytes per object instead of kilobytes.
//!
//! A full run reads the domain twice, one object at a time: first only to learn the anchor of
//! every in-scope DN (a [`DnIndex`], so group members and managers resolve), then to map each
//! object and compare it with the state DB ([`StateView`], loaded row by row into hashes). The
//! second pass keeps, per object, a [`Change`] when something is to be sent (its objectGUID,
//! about 40 bytes) and, for the delete check and the drift repair, a 128-bit hash of its key with
//! a fingerprint of what it exports ([`Scan`]). The objects to send are read again by objectGUID,
//! a chunk at a time, when they are sent; deletes are the exported keys the scan did not see.
//! Keys are SHA-256 hashes cut to 128 bits: a collision among a few million keys has a chance
//! below 10^-25.

use std::collections::{BTreeSet, HashMap, HashSet};

use sha2::{Digest, Sha256};

use crate::samba::directory::User;
use crate::sync::anchor::Anchor;
use crate::sync::blocked::Blocked;
use crate::sync::model::{AttrValue, ExportObject, ObjectType};
use crate::sync::plan::{Action, Operation, sort_deletes};
use crate::sync::state::{Handled, State, StateError};
use crate::sync::tenant::CloudObject;

/// A 128-bit hash standing for a longer text key.
pub type Key = u128;

fn hash128(parts: &[&[u8]]) -> Key {
    let mut h = Sha256::new();
    for p in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let out = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&out[..16]);
    u128::from_le_bytes(first)
}

/// The key of an object: its type and anchor.
pub fn object_key(object_type: ObjectType, anchor: &str) -> Key {
    hash128(&[object_type.as_str().as_bytes(), anchor.as_bytes()])
}

fn anchor_key(anchor: &str) -> Key {
    hash128(&[anchor.as_bytes()])
}

/// An exported digest (64 hex characters) in 128 bits: its first half when it is hex, a hash
/// of it otherwise (digests of tests and old rows).
fn digest_key(digest: &str) -> Key {
    digest.get(..32).and_then(|h| u128::from_str_radix(h, 16).ok()).unwrap_or_else(|| hash128(&[digest.as_bytes()]))
}

/// DN → anchor of every in-scope object, the DN hashed (lower case): what turns member and
/// manager DNs into anchors. About 70 bytes per object where a map of strings takes 200.
#[derive(Clone, Debug, Default)]
pub struct DnIndex {
    anchors: HashMap<Key, Box<str>>,
}

impl DnIndex {
    pub fn insert(&mut self, dn: &str, anchor: Anchor) {
        self.anchors.insert(dn_key(dn), anchor.into_string().into_boxed_str());
    }

    pub fn get(&self, dn: &str) -> Option<&str> {
        self.anchors.get(&dn_key(dn)).map(|a| &**a)
    }
}

fn dn_key(dn: &str) -> Key {
    hash128(&[dn.to_ascii_lowercase().as_bytes()])
}

impl crate::sync::mapping::DnLookup for DnIndex {
    fn anchor_of(&self, dn: &str) -> Option<Anchor> {
        self.get(dn).map(Anchor::from)
    }
}

impl crate::sync::mapping::DnIndexMut for DnIndex {
    fn insert(&mut self, dn: &str, anchor: Anchor) {
        DnIndex::insert(self, dn, anchor);
    }
}

#[derive(Clone, Copy, Debug)]
struct ExportedDigest {
    digest: Key,
    failed: bool,
}

/// The state DB as a full run compares against it: per exported object its digest, per user
/// the key versions that need no push, the objects the tenant refused (few, kept whole) and,
/// on a new leader's first run, the anchors the tenant holds. Loaded row by row.
#[derive(Debug, Default)]
pub struct StateView {
    exported: HashMap<Key, ExportedDigest>,
    handled: HashMap<Key, Handled>,
    blocks: HashMap<Key, Blocked>,
    /// anchor → type of every object in the tenant, when it was read back (several DCs: a new
    /// leader's first run), so objects another leader exported show as matches, not creates.
    cloud: Option<HashMap<Key, ObjectType>>,
}

impl StateView {
    pub fn load(store: &State) -> Result<Self, StateError> {
        let mut view = StateView::default();
        store.each_exported(|e| {
            view.exported.insert(
                object_key(e.object_type, e.anchor),
                ExportedDigest { digest: digest_key(e.digest), failed: e.failed },
            );
        })?;
        store.each_handled(|anchor, h| {
            view.handled.insert(anchor_key(anchor), h);
        })?;
        for b in store.blocked()? {
            if let Some(t) = ObjectType::parse(&b.object_type) {
                view.blocks.insert(object_key(t, &b.anchor), b);
            }
        }
        Ok(view)
    }

    /// Adds what the tenant holds (anchor → type), read back by a new leader.
    pub fn with_cloud(mut self, cloud: Option<HashMap<Anchor, ObjectType>>) -> Self {
        self.cloud = cloud.map(|c| c.into_iter().map(|(anchor, t)| (anchor_key(&anchor), t)).collect());
        self
    }

    /// How many objects this installation has exported.
    pub fn exported_count(&self) -> usize {
        self.exported.len()
    }

    /// What a reconcile does about `o` (as the plan decides it, with the blocked objects held
    /// back as `hold_back::hold_back` does): nothing for an object the tenant refused that has not
    /// changed since, or one the tenant holds as another type (an anchor names one object).
    fn upsert(&self, o: &ExportObject, digest: &str) -> Option<Action> {
        let key = object_key(o.object_type, &o.anchor);
        let action = match self.exported.get(&key) {
            None => match self.cloud.as_ref().map(|c| c.get(&anchor_key(&o.anchor))) {
                None | Some(None) => Action::Create,
                Some(Some(t)) if *t == o.object_type => Action::Update,
                Some(Some(_)) => return None,
            },
            Some(e) if e.digest != digest_key(digest) || e.failed => Action::Update,
            Some(_) => return None,
        };
        match self.blocks.get(&key) {
            Some(b) if b.holds_for(digest) => None,
            _ => Some(action),
        }
    }

    /// Whether the user's password is newer in the directory than what Entra acknowledged (or
    /// what was skipped on purpose); `Some(no_longer_temporary)` when it is. A blocked user's
    /// password is held with it.
    pub fn pending_password(&self, u: &User, anchor: &str) -> Option<PendingPassword> {
        if self.blocks.contains_key(&object_key(ObjectType::User, anchor)) {
            return None;
        }
        let h = self.handled.get(&anchor_key(anchor)).copied().unwrap_or_default();
        let temporary = u.must_change_password();
        (h.key_version(temporary) < u.key_version)
            .then_some(PendingPassword { no_longer_temporary: h.skipped_temporary && !temporary })
    }

    /// Whether a delete of this object is held back: the cloud manages it (a blocked object
    /// that is gone on-premises is otherwise deleted).
    pub fn holds_delete(&self, object_type: ObjectType, anchor: &str) -> bool {
        self.blocks.get(&object_key(object_type, anchor)).is_some_and(|b| b.kind.permanent())
    }
}

/// A user whose password Entra has not acknowledged in its current version (its account and
/// key version are read again when its chunk is sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingPassword {
    /// Skipped before as a temporary password that has since become a normal one.
    pub no_longer_temporary: bool,
}

/// What the scan found to do about one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub object_type: ObjectType,
    /// How the object is read again when it is sent.
    pub object_guid: [u8; 16],
    /// Create or Update, when the object is to be exported.
    pub upsert: Option<Action>,
    /// An update that disables an account: urgent (an expiry or a leaver).
    pub disabling: bool,
    pub password: Option<PendingPassword>,
}

/// Per desired object: what drift repair compares the tenant with, and how to read it again.
#[derive(Clone, Copy, Debug)]
struct Kept {
    fingerprint: Key,
    object_guid: [u8; 16],
}

/// What the comparing pass keeps.
#[derive(Debug, Default)]
pub struct Scan {
    /// In the order seen, types in the order the directory was read.
    pub changes: Vec<Change>,
    desired: HashMap<Key, Kept>,
    /// The attribute names each type exports (the mapper writes every name of a type's
    /// catalogue, `Null` when empty) and whether it has members.
    names: HashMap<ObjectType, (Vec<&'static str>, bool)>,
    /// The types with at least one in-scope object.
    pub present: BTreeSet<ObjectType>,
    /// The next time (Unix seconds) an account expires.
    pub next_expiry: Option<i64>,
    pub creates: u64,
    pub updates: u64,
    pub passwords: u64,
}

impl Scan {
    /// Takes one in-scope object, mapped, with its objectGUID and, for users, whether its
    /// password is to be pushed.
    pub fn observe(
        &mut self,
        o: &ExportObject,
        object_guid: [u8; 16],
        state: &StateView,
        password: Option<PendingPassword>,
    ) {
        let digest = o.digest();
        let upsert = state.upsert(o, &digest);
        match upsert {
            Some(Action::Create) => self.creates += 1,
            Some(_) => self.updates += 1,
            None => {}
        }
        self.passwords += u64::from(password.is_some());
        if upsert.is_some() || password.is_some() {
            let disabling = upsert == Some(Action::Update) && o.get("accountEnabled") == Some(&AttrValue::Bool(false));
            self.changes.push(Change { object_type: o.object_type, object_guid, upsert, disabling, password });
        }
        let (names, _) = self
            .names
            .entry(o.object_type)
            .or_insert_with(|| (o.attributes.iter().map(|(n, _)| n).collect(), o.members.is_some()));
        let fingerprint = sent_fingerprint(o, names);
        self.desired.insert(object_key(o.object_type, &o.anchor), Kept { fingerprint, object_guid });
        self.present.insert(o.object_type);
    }

    /// Notes an account's expiry (Unix seconds) for the timer.
    pub fn expires_at(&mut self, t: i64) {
        self.next_expiry = Some(self.next_expiry.map_or(t, |n| n.min(t)));
    }

    /// The objectGUID of a desired object (to read it again).
    pub fn object_guid(&self, object_type: ObjectType, anchor: &str) -> Option<[u8; 16]> {
        self.desired.get(&object_key(object_type, anchor)).map(|k| k.object_guid)
    }

    /// Whether the tenant's copy differs from what the directory says now: `None` when the
    /// object is not desired, else the same answer as `!drift::changed_attributes(..).is_empty()`.
    pub fn drifted(&self, cloud: &CloudObject) -> Option<bool> {
        let kept = self.desired.get(&object_key(cloud.object_type, &cloud.anchor))?;
        let (names, members) = self.names.get(&cloud.object_type)?;
        Some(cloud_fingerprint(cloud, names, *members) != kept.fingerprint)
    }

    /// The exported objects the scan did not see, as deletes in the plan's order (groups first,
    /// then by name). Reads the state DB row by row; keeps only the deletes.
    pub fn deletes(&self, store: &State) -> Result<Vec<Operation>, StateError> {
        let mut out = Vec::new();
        store.each_exported(|e| {
            let t = e.object_type;
            if !self.desired.contains_key(&object_key(t, e.anchor)) {
                out.push(Operation {
                    action: Action::Delete,
                    object_type: t,
                    anchor: Anchor::from(e.anchor),
                    name: e.name.to_string(),
                    reason: "no longer in the directory or in scope".into(),
                    approvable: false,
                });
            }
        })?;
        sort_deletes(&mut out);
        Ok(out)
    }
}

/// The values as drift compares them: sorted texts, empty ones left out.
fn canonical(value: &AttrValue) -> Vec<String> {
    crate::sync::drift::canonical(value).unwrap_or_default()
}

/// Folds (name, canonical value) pairs into one hash, in the order given.
struct Fingerprint(Sha256);

impl Fingerprint {
    fn new() -> Self {
        Fingerprint(Sha256::new())
    }

    fn add(&mut self, texts: &[String]) {
        self.0.update((texts.len() as u64).to_le_bytes());
        for t in texts {
            self.0.update((t.len() as u64).to_le_bytes());
            self.0.update(t.as_bytes());
        }
    }

    fn finish(self) -> Key {
        let out = self.0.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&out[..16]);
        u128::from_le_bytes(first)
    }
}

fn sent_fingerprint(o: &ExportObject, names: &[&'static str]) -> Key {
    let mut f = Fingerprint::new();
    for name in names {
        f.add(&o.get(name).map(canonical).unwrap_or_default());
    }
    if let Some(members) = &o.members {
        f.add(&canonical(&AttrValue::StrList(members.iter().map(|m| m.to_string()).collect())));
    }
    f.finish()
}

fn cloud_fingerprint(cloud: &CloudObject, names: &[&'static str], members: bool) -> Key {
    let in_cloud = |name: &str| {
        cloud
            .attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical(v))
            .unwrap_or_default()
    };
    let mut f = Fingerprint::new();
    for name in names {
        f.add(&in_cloud(name));
    }
    if members {
        f.add(&in_cloud("member"));
    }
    f.finish()
}

/// What drift repair learns from the tenant's read-back, compared as it streams: the exported
/// keys it saw and the objects whose copy differs (kept whole: there are few).
#[derive(Debug, Default)]
pub struct DriftFindings {
    seen: HashSet<Key>,
    pub changed: Vec<CloudObject>,
}

impl DriftFindings {
    /// One object of the read-back. `exported`: the keys of this installation's successful
    /// exports (other objects in the tenant are not ours to compare).
    pub fn visit(&mut self, scan: &Scan, exported: &HashSet<Key>, cloud: CloudObject) {
        let key = object_key(cloud.object_type, &cloud.anchor);
        if !exported.contains(&key) {
            return;
        }
        self.seen.insert(key);
        if scan.drifted(&cloud) == Some(true) {
            self.changed.push(cloud);
        }
    }

    pub fn saw(&self, object_type: ObjectType, anchor: &str) -> bool {
        self.seen.contains(&object_key(object_type, anchor))
    }
}

/// The keys of the successful exports, for [`DriftFindings::visit`].
pub fn exported_keys(store: &State) -> Result<HashSet<Key>, StateError> {
    let mut out = HashSet::new();
    store.each_exported(|e| {
        if !e.failed {
            out.insert(object_key(e.object_type, e.anchor));
        }
    })?;
    Ok(out)
}

/// Logs (debug) where a full run is and the process's resident memory then and at its peak
/// (VmRSS, VmHWM): the load bench reads these to tell which phase the peak belongs to.
pub fn log_phase(phase: &str) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    tracing::debug!(phase, rss_mib = mib("VmRSS:"), peak_mib = mib("VmHWM:"), "full run memory");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::drift;
    use crate::sync::model::Attributes;
    use crate::sync::state::ExportedObject;

    fn user(anchor: &str, display: &str, enabled: bool) -> ExportObject {
        let mut attributes = Attributes::default();
        attributes.insert("displayName", AttrValue::Str(display.into()));
        attributes.insert("accountEnabled", AttrValue::Bool(enabled));
        attributes.insert("proxyAddresses", AttrValue::StrList(vec!["smtp:b@x".into(), "SMTP:a@x".into()]));
        attributes.insert("mail", AttrValue::Null);
        ExportObject {
            object_type: ObjectType::User,
            anchor: anchor.into(),
            dn: format!("CN={display}"),
            name: display.into(),
            attributes,
            members: None,
        }
    }

    fn group(anchor: &str, members: &[&str]) -> ExportObject {
        let mut attributes = Attributes::default();
        attributes.insert("displayName", AttrValue::Str(anchor.into()));
        ExportObject {
            object_type: ObjectType::Group,
            anchor: anchor.into(),
            dn: format!("CN={anchor}"),
            name: anchor.into(),
            attributes,
            members: Some(members.iter().map(|m| Anchor::from(*m)).collect()),
        }
    }

    fn store() -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = State::open(&dir.path().join("state.db")).unwrap_or_else(|e| panic!("{e}"));
        (dir, s)
    }

    fn export(store: &State, o: &ExportObject, error: Option<&str>) {
        store
            .record_export(&ExportedObject {
                object_type: o.object_type,
                anchor: o.anchor.clone(),
                dn: o.dn.clone(),
                name: o.name.clone(),
                digest: o.digest(),
                cloud_anchor: None,
                exported_at: 1,
                last_error: None,
            })
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(err) = error {
            store.record_export_error(o.object_type, &o.anchor, err).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    fn cloud_of(o: &ExportObject) -> CloudObject {
        let mut attributes: Vec<(String, AttrValue)> = o
            .attributes
            .iter()
            .filter(|(_, v)| **v != AttrValue::Null)
            // The service spells names its own way and lists values in its own order.
            .map(|(n, v)| match v {
                AttrValue::StrList(l) => (n.to_uppercase(), AttrValue::StrList(l.iter().rev().cloned().collect())),
                v => (n.to_uppercase(), v.clone()),
            })
            .collect();
        if let Some(m) = &o.members {
            attributes.push(("member".into(), AttrValue::StrList(m.iter().map(|a| a.to_string()).collect())));
        }
        CloudObject { object_type: o.object_type, anchor: o.anchor.clone(), cloud_anchor: None, attributes }
    }

    #[test]
    fn the_index_finds_dns_whatever_their_case() {
        let mut index = DnIndex::default();
        index.insert("CN=Alice,CN=Users,DC=lab,DC=test", "QQ==".into());
        assert_eq!(index.get("cn=alice,cn=users,dc=lab,dc=test"), Some("QQ=="));
        assert_eq!(index.get("CN=Bob,CN=Users,DC=lab,DC=test"), None);
        assert_eq!(
            crate::sync::mapping::DnLookup::anchor_of(&index, "CN=ALICE,CN=Users,DC=lab,DC=test"),
            Some("QQ==".into())
        );
    }

    #[test]
    fn the_scan_decides_as_the_plan_does() {
        let (_d, s) = store();
        let same = user("same=", "Same", true);
        let changed = user("changed=", "Changed", true);
        let failed = user("failed=", "Failed", true);
        let leaver = user("leaver=", "Leaver", true);
        let gone = user("gone=", "Gone", true);
        export(&s, &same, None);
        export(&s, &user("changed=", "Changed before", true), None);
        export(&s, &failed, Some("refused"));
        export(&s, &leaver, None);
        export(&s, &gone, None);
        let view = StateView::load(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(view.exported_count(), 5);
        let mut scan = Scan::default();
        let new = user("new=", "New", true);
        for (i, o) in [&same, &changed, &failed, &user("leaver=", "Leaver", false), &new].into_iter().enumerate() {
            scan.observe(o, [i as u8; 16], &view, None);
        }
        let actions: Vec<(u8, Option<Action>, bool)> =
            scan.changes.iter().map(|c| (c.object_guid[0], c.upsert, c.disabling)).collect();
        assert_eq!(
            actions,
            [
                (1, Some(Action::Update), false),
                (2, Some(Action::Update), false),
                (3, Some(Action::Update), true),
                (4, Some(Action::Create), false)
            ]
        );
        assert_eq!((scan.creates, scan.updates, scan.passwords), (1, 3, 0));
        assert!(
            scan.object_guid(ObjectType::User, "same=").is_some()
                && scan.object_guid(ObjectType::Group, "same=").is_none()
        );
        assert_eq!(scan.object_guid(ObjectType::User, "new="), Some([4; 16]));
        let deletes = scan.deletes(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            deletes.iter().map(|d| (d.action, d.anchor.as_str(), d.name.as_str())).collect::<Vec<_>>(),
            [(Action::Delete, "gone=", "Gone")]
        );
        assert_eq!(scan.present, BTreeSet::from([ObjectType::User]));
    }

    #[test]
    fn deletes_come_groups_first_then_by_name() {
        let (_d, s) = store();
        for o in [user("b=", "b", true), user("a=", "a", true), group("g=", &[])] {
            export(&s, &o, None);
        }
        let deletes = Scan::default().deletes(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(deletes.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["g=", "a", "b"]);
    }

    #[test]
    fn passwords_pending_follow_the_handled_key_versions() {
        let (_d, s) = store();
        s.enqueue_push(&Anchor::from("acked="), "acked", 3, 1).unwrap_or_else(|e| panic!("{e}"));
        s.mark_acked(&Anchor::from("acked="), 3, 1).unwrap_or_else(|e| panic!("{e}"));
        let view = StateView::load(&s).unwrap_or_else(|e| panic!("{e}"));
        let u = |kvno: u32| User {
            id: Default::default(),
            user_principal_name: None,
            user_account_control: 0x200,
            pwd_last_set: 1,
            account_expires: 0,
            key_version: kvno,
            text: Default::default(),
            nt_hash: None,
        };
        assert_eq!(view.pending_password(&u(3), "acked="), None);
        assert_eq!(view.pending_password(&u(4), "acked="), Some(PendingPassword { no_longer_temporary: false }));
        assert!(view.pending_password(&u(1), "never=").is_some());
        let mut scan = Scan::default();
        let o = user("acked=", "Acked", true);
        export(&s, &o, None);
        let view = StateView::load(&s).unwrap_or_else(|e| panic!("{e}"));
        scan.observe(&o, [9; 16], &view, view.pending_password(&u(4), "acked="));
        assert_eq!(scan.changes.len(), 1, "a password alone makes a change");
        assert_eq!((scan.changes[0].upsert, scan.passwords), (None, 1));
    }

    #[test]
    fn drift_agrees_with_the_attribute_comparison() {
        let o = user("a=", "Alice", true);
        let g = group("g=", &["m1=", "m2="]);
        let mut scan = Scan::default();
        let view = StateView::default();
        scan.observe(&o, [1; 16], &view, None);
        scan.observe(&g, [2; 16], &view, None);
        let same = cloud_of(&o);
        assert!(drift::changed_attributes(&o, &same).is_empty());
        assert_eq!(scan.drifted(&same), Some(false));
        let mut renamed = cloud_of(&o);
        renamed.attributes.retain(|(n, _)| n != "DISPLAYNAME");
        renamed.attributes.push(("displayName".into(), AttrValue::Str("Mallory".into())));
        assert!(!drift::changed_attributes(&o, &renamed).is_empty());
        assert_eq!(scan.drifted(&renamed), Some(true));
        let mut emptied = cloud_of(&o);
        emptied.attributes.retain(|(n, _)| n != "PROXYADDRESSES");
        assert_eq!(scan.drifted(&emptied), Some(true));
        assert_eq!(scan.drifted(&cloud_of(&g)), Some(false));
        let mut fewer = cloud_of(&g);
        fewer.attributes.retain(|(n, _)| n != "member");
        fewer.attributes.push(("member".into(), AttrValue::StrList(vec!["m1=".into()])));
        assert!(!drift::changed_attributes(&g, &fewer).is_empty());
        assert_eq!(scan.drifted(&fewer), Some(true));
        let stranger =
            CloudObject { object_type: ObjectType::User, anchor: "x=".into(), cloud_anchor: None, attributes: vec![] };
        assert_eq!(scan.drifted(&stranger), None);
    }

    #[test]
    fn the_read_back_is_compared_as_it_streams() {
        let (_d, s) = store();
        let kept = user("kept=", "Kept", true);
        let edited = user("edited=", "Edited", true);
        let deleted = user("deleted=", "Deleted", true);
        for o in [&kept, &edited, &deleted] {
            export(&s, o, None);
        }
        export(&s, &user("failed=", "Failed", true), Some("refused"));
        let mut scan = Scan::default();
        for (i, o) in [&kept, &edited, &deleted].into_iter().enumerate() {
            scan.observe(o, [i as u8; 16], &StateView::default(), None);
        }
        let exported = exported_keys(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(exported.len(), 3, "a failed export is not compared");
        let mut findings = DriftFindings::default();
        findings.visit(&scan, &exported, cloud_of(&kept));
        findings.visit(&scan, &exported, cloud_of(&user("edited=", "Edited in Entra", true)));
        findings.visit(&scan, &exported, cloud_of(&user("cloud-only=", "Someone", true)));
        assert!(findings.saw(ObjectType::User, "kept=") && findings.saw(ObjectType::User, "edited="));
        assert!(!findings.saw(ObjectType::User, "deleted=") && !findings.saw(ObjectType::User, "cloud-only="));
        assert_eq!(findings.changed.iter().map(|c| c.anchor.as_str()).collect::<Vec<_>>(), ["edited="]);
    }

    #[test]
    fn digests_compare_in_half_their_length() {
        let o = user("a=", "A", true);
        let d = o.digest();
        assert_eq!(digest_key(&d), digest_key(&d.clone()));
        assert_ne!(digest_key(&d), digest_key(&user("a=", "B", true).digest()));
        assert_ne!(digest_key("d1"), digest_key("d2"));
    }
}
