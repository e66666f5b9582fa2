//! An in-memory [`Directory`]: users, groups, computers and contacts kept by DN, a USN that
//! every change moves, scriptable failures and a counter per call. It applies no LDAP filter
//! (the engine checks the rest of the scope itself).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::samba::ConsistencyGuidWrite;
use crate::samba::directory::{Contact, Group, Identity, NtHash, UAC_NORMAL_ACCOUNT, User};
use crate::samba::replication::{DomainController, Guid, PasswordOrigin};
use crate::sync::directory::ClusterView;
use crate::sync::directory::{CHUNK, Directory, DirectoryChunk, DirectoryError, Lookup, ReadEnd};
use crate::sync::mapping::DomainInfo;

/// The domain every fake object lives in.
pub const DOMAIN_DN: &str = "DC=lab,DC=test";

/// A user as the fake keeps it (a [`User`] is not `Clone`: its NT hash has one owner).
#[derive(Clone, Debug)]
pub struct FakeUser {
    pub id: Identity,
    pub user_account_control: u32,
    pub pwd_last_set: i64,
    pub account_expires: i64,
    pub key_version: u32,
    pub nt_hash: Option<[u8; 16]>,
    /// ntPwdHistory: newest first, the current hash at its head.
    pub history: Vec<[u8; 16]>,
    pub mail: Option<String>,
}

impl FakeUser {
    fn user(&self, with_hash: bool) -> User {
        let mut text = BTreeMap::new();
        if let Some(m) = &self.mail {
            text.insert("mail", vec![m.clone()]);
        }
        User {
            id: self.id.clone(),
            user_principal_name: Some(format!("{}@lab.test", self.id.sam_account_name)),
            user_account_control: self.user_account_control,
            pwd_last_set: self.pwd_last_set,
            account_expires: self.account_expires,
            key_version: self.key_version,
            text,
            nt_hash: if with_hash { self.nt_hash.and_then(|h| NtHash::from_bytes(&h)) } else { None },
        }
    }
}

/// Hands `items` to `visit` in chunks of at most [`CHUNK`], in order.
fn chunked<T>(items: Vec<T>, wrap: fn(Vec<T>) -> DirectoryChunk, visit: &mut (dyn FnMut(DirectoryChunk) + Send)) {
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        visit(wrap(items.by_ref().take(CHUNK).collect()));
    }
}

/// How many times each call was made.
#[derive(Default, Debug)]
pub struct DirectoryCalls {
    pub highest_usn: AtomicU64,
    pub read_objects: AtomicU64,
    pub read_users: AtomicU64,
    pub read_by_guid: AtomicU64,
    pub find_user: AtomicU64,
    pub find_users: AtomicU64,
    pub previous_nt_hash: AtomicU64,
    pub write_consistency_guid: AtomicU64,
}

#[derive(Default)]
struct Inner {
    usn: u64,
    next_rid: u32,
    users: BTreeMap<String, FakeUser>,
    groups: BTreeMap<String, Group>,
    contacts: BTreeMap<String, Contact>,
    /// Base DNs that do not exist (for the untrusted-read guard).
    missing_bases: Vec<String>,
    /// The next this many reads (of objects or users) fail as unavailable.
    failing_reads: u32,
    /// Several DCs: what `cluster_view` answers (a lone DC1 holding the role by default).
    view: Option<ClusterView>,
    /// The DC that made each user's current password (lower-cased account name); this DC's
    /// invocation id ([`FAKE_THIS_DC`]) when not set.
    origins: HashMap<String, Guid>,
}

/// The invocation id the fake gives "this DC" (DC1).
pub const FAKE_THIS_DC: Guid = Guid([1; 16]);

#[derive(Default)]
pub struct FakeDirectory {
    inner: Mutex<Inner>,
    pub calls: DirectoryCalls,
}

/// A FILETIME some days ago (a password set before now).
pub const SOME_TIME_AGO: i64 = 133_000_000_000_000_000;

fn sid(rid: u32) -> Vec<u8> {
    let mut sid = vec![1u8, 4, 0, 0, 0, 0, 0, 5];
    for sub in [21u32, 1, 2, rid] {
        sid.extend_from_slice(&sub.to_le_bytes());
    }
    sid
}

fn unavailable() -> DirectoryError {
    DirectoryError::Unavailable("the sam.ldb reader thread has stopped (scripted)".into())
}

impl FakeDirectory {
    pub fn new() -> Self {
        let d = FakeDirectory::default();
        let mut i = d.inner.lock().unwrap();
        i.usn = 1000;
        i.next_rid = 1100;
        drop(i);
        d
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn identity(i: &mut Inner, cn: &str, container: &str) -> Identity {
        i.usn += 1;
        i.next_rid += 1;
        let rid = i.next_rid;
        let mut guid = [0u8; 16];
        guid[..4].copy_from_slice(&rid.to_le_bytes());
        Identity {
            dn: format!("CN={cn},{container},{DOMAIN_DN}"),
            sam_account_name: cn.to_owned(),
            object_guid: guid,
            object_sid: sid(rid),
            usn_changed: i.usn,
            usn_created: i.usn,
            common_name: Some(cn.to_owned()),
            display_name: Some(cn.to_owned()),
            ..Default::default()
        }
    }

    /// Adds an enabled user with a password (key version 1); returns its DN.
    pub fn add_user(&self, name: &str) -> String {
        let mut i = self.lock();
        let id = Self::identity(&mut i, name, "CN=Users");
        let dn = id.dn.clone();
        let hash = [id.object_guid[0]; 16];
        i.users.insert(
            dn.to_ascii_lowercase(),
            FakeUser {
                id,
                user_account_control: UAC_NORMAL_ACCOUNT,
                pwd_last_set: SOME_TIME_AGO,
                account_expires: 0,
                key_version: 1,
                nt_hash: Some(hash),
                history: vec![hash],
                mail: None,
            },
        );
        dn
    }

    /// Changes a user (found by account name) and moves its uSNChanged.
    pub fn update_user(&self, name: &str, change: impl FnOnce(&mut FakeUser)) {
        let mut i = self.lock();
        i.usn += 1;
        let usn = i.usn;
        let u = i.users.values_mut().find(|u| u.id.sam_account_name.eq_ignore_ascii_case(name)).expect("no such user");
        change(u);
        u.id.usn_changed = usn;
    }

    /// A new password: a new hash at the head of the history, the key version up by one.
    pub fn set_password(&self, name: &str, hash: [u8; 16]) {
        self.update_user(name, |u| {
            u.nt_hash = Some(hash);
            u.history.insert(0, hash);
            u.key_version += 1;
            u.pwd_last_set += 10_000_000;
        });
    }

    /// A new password set on the DC whose invocation id is `origin` (replicated here).
    pub fn set_password_on(&self, name: &str, hash: [u8; 16], origin: Guid) {
        self.set_password(name, hash);
        self.lock().origins.insert(name.to_ascii_lowercase(), origin);
    }

    /// What `cluster_view` answers from now on.
    pub fn set_cluster_view(&self, view: ClusterView) {
        self.lock().view = Some(view);
    }

    /// Deletes an object of any type by its DN.
    pub fn remove(&self, dn: &str) {
        let mut i = self.lock();
        i.usn += 1;
        let key = dn.to_ascii_lowercase();
        i.users.remove(&key);
        i.groups.remove(&key);
        i.contacts.remove(&key);
    }

    /// Adds a security group with these member DNs; returns its DN.
    pub fn add_group(&self, name: &str, members: &[&str]) -> String {
        let mut i = self.lock();
        let id = Self::identity(&mut i, name, "CN=Users");
        let dn = id.dn.clone();
        let group = Group {
            id,
            group_type: -2_147_483_646,
            members: members.iter().map(|m| m.to_string()).collect(),
            mail: None,
            proxy_addresses: Vec::new(),
        };
        i.groups.insert(dn.to_ascii_lowercase(), group);
        dn
    }

    /// Adds a mail contact; returns its DN.
    pub fn add_contact(&self, name: &str) -> String {
        let mut i = self.lock();
        let id = Self::identity(&mut i, name, "OU=Contacts");
        let dn = id.dn.clone();
        let contact = Contact {
            id,
            given_name: None,
            surname: None,
            mail: Some(format!("{name}@example.org")),
            proxy_addresses: Vec::new(),
        };
        i.contacts.insert(dn.to_ascii_lowercase(), contact);
        dn
    }

    /// The next `n` reads (of objects or users) fail as unavailable.
    pub fn fail_reads(&self, n: u32) {
        self.lock().failing_reads = n;
    }

    /// A configured base DN that does not exist (reads of every type become untrusted).
    pub fn missing_base(&self, dn: &str) {
        self.lock().missing_bases.push(dn.to_owned());
    }

    pub fn user(&self, name: &str) -> FakeUser {
        self.lock()
            .users
            .values()
            .find(|u| u.id.sam_account_name.eq_ignore_ascii_case(name))
            .cloned()
            .expect("no such user")
    }

    fn take_failure(&self) -> Result<(), DirectoryError> {
        let mut i = self.lock();
        if i.failing_reads > 0 {
            i.failing_reads -= 1;
            return Err(unavailable());
        }
        Ok(())
    }
}

impl Directory for FakeDirectory {
    async fn domain(&self) -> Result<DomainInfo, DirectoryError> {
        Ok(DomainInfo { dns_name: "lab.test".into(), netbios_name: "LAB".into() })
    }

    async fn highest_usn(&self) -> Result<u64, DirectoryError> {
        self.calls.highest_usn.fetch_add(1, Ordering::Relaxed);
        Ok(self.lock().usn)
    }

    async fn read_objects(
        &self,
        since: Option<u64>,
        visit: &mut (dyn FnMut(DirectoryChunk) + Send),
    ) -> Result<ReadEnd, DirectoryError> {
        self.calls.read_objects.fetch_add(1, Ordering::Relaxed);
        self.take_failure()?;
        let changed = |id: &Identity| since.is_none_or(|s| id.usn_changed > s);
        let (users, groups, contacts, end) = {
            let i = self.lock();
            let users: Vec<User> = i.users.values().filter(|u| changed(&u.id)).map(|u| u.user(false)).collect();
            let groups: Vec<Group> = i.groups.values().filter(|g| changed(&g.id)).cloned().collect();
            let contacts: Vec<Contact> = i.contacts.values().filter(|c| changed(&c.id)).cloned().collect();
            let mut end = ReadEnd { usn: i.usn, ..Default::default() };
            for base in &i.missing_bases {
                for t in [
                    crate::sync::model::ObjectType::User,
                    crate::sync::model::ObjectType::Group,
                    crate::sync::model::ObjectType::Device,
                    crate::sync::model::ObjectType::Contact,
                ] {
                    end.untrusted.insert(t, format!("the base DN {base} does not exist"));
                }
            }
            (users, groups, contacts, end)
        };
        chunked(users, DirectoryChunk::Users, visit);
        chunked(groups, DirectoryChunk::Groups, visit);
        chunked(contacts, DirectoryChunk::Contacts, visit);
        Ok(end)
    }

    async fn read_users(
        &self,
        since: Option<u64>,
        visit: &mut (dyn FnMut(Vec<User>) + Send),
    ) -> Result<(), DirectoryError> {
        self.calls.read_users.fetch_add(1, Ordering::Relaxed);
        self.take_failure()?;
        let users: Vec<User> = self
            .lock()
            .users
            .values()
            .filter(|u| since.is_none_or(|s| u.id.usn_changed > s))
            .map(|u| u.user(false))
            .collect();
        let mut users = users.into_iter().peekable();
        while users.peek().is_some() {
            visit(users.by_ref().take(CHUNK).collect());
        }
        Ok(())
    }

    async fn read_by_guid(
        &self,
        object_type: crate::sync::model::ObjectType,
        guids: &[[u8; 16]],
    ) -> Result<DirectoryChunk, DirectoryError> {
        use crate::sync::model::ObjectType;
        self.calls.read_by_guid.fetch_add(1, Ordering::Relaxed);
        self.take_failure()?;
        let wanted = |id: &Identity| guids.contains(&id.object_guid);
        let i = self.lock();
        Ok(match object_type {
            ObjectType::User => {
                DirectoryChunk::Users(i.users.values().filter(|u| wanted(&u.id)).map(|u| u.user(false)).collect())
            }
            ObjectType::Group => DirectoryChunk::Groups(i.groups.values().filter(|g| wanted(&g.id)).cloned().collect()),
            ObjectType::Contact => {
                DirectoryChunk::Contacts(i.contacts.values().filter(|c| wanted(&c.id)).cloned().collect())
            }
            ObjectType::Device => DirectoryChunk::Computers(Vec::new()),
        })
    }

    async fn find_user(&self, account: &str, lookup: Lookup) -> Result<Option<User>, DirectoryError> {
        self.calls.find_user.fetch_add(1, Ordering::Relaxed);
        let i = self.lock();
        Ok(i.users
            .values()
            .find(|u| u.id.sam_account_name.eq_ignore_ascii_case(account))
            .map(|u| u.user(lookup.with_hash)))
    }

    async fn find_users(&self, accounts: &[String], lookup: Lookup) -> Result<Vec<User>, DirectoryError> {
        self.calls.find_users.fetch_add(1, Ordering::Relaxed);
        let i = self.lock();
        Ok(i.users
            .values()
            .filter(|u| accounts.iter().any(|a| u.id.sam_account_name.eq_ignore_ascii_case(a)))
            .map(|u| u.user(lookup.with_hash))
            .collect())
    }

    async fn previous_nt_hash(&self, account: &str, current: &NtHash) -> Result<Option<NtHash>, DirectoryError> {
        self.calls.previous_nt_hash.fetch_add(1, Ordering::Relaxed);
        let i = self.lock();
        let Some(u) = i.users.values().find(|u| u.id.sam_account_name.eq_ignore_ascii_case(account)) else {
            return Ok(None);
        };
        match u.history.as_slice() {
            [head, previous, ..] if head == current.as_bytes() => Ok(NtHash::from_bytes(previous)),
            _ => Ok(None),
        }
    }

    async fn cluster_view(&self) -> Result<ClusterView, DirectoryError> {
        let v = self.lock().view.clone();
        Ok(v.unwrap_or_else(|| {
            let me = DomainController {
                ntds_settings_dn: format!(
                    "CN=NTDS Settings,CN=DC1,CN=Servers,CN=S,CN=Sites,CN=Configuration,{DOMAIN_DN}"
                ),
                name: "DC1".into(),
                invocation_id: FAKE_THIS_DC,
            };
            ClusterView { me: Some(me.clone()), dcs: vec![me], pdc_owner: Some("DC1".into()), holds_pdc: true }
        }))
    }

    async fn password_origin(&self, account: &str) -> Result<Option<PasswordOrigin>, DirectoryError> {
        let i = self.lock();
        let Some(u) = i.users.values().find(|u| u.id.sam_account_name.eq_ignore_ascii_case(account)) else {
            return Ok(None);
        };
        let origin = i.origins.get(&account.to_ascii_lowercase()).copied().unwrap_or(FAKE_THIS_DC);
        Ok(Some(PasswordOrigin {
            invocation_id: origin,
            change_time: 0,
            originating_usn: i64::try_from(u.id.usn_changed).unwrap_or(0),
            version: u.key_version,
            pwd_last_set: u.pwd_last_set,
        }))
    }

    async fn write_consistency_guid(
        &self,
        dn: &str,
        object_guid: &[u8; 16],
    ) -> Result<ConsistencyGuidWrite, DirectoryError> {
        self.calls.write_consistency_guid.fetch_add(1, Ordering::Relaxed);
        let mut i = self.lock();
        i.usn += 1;
        let usn = i.usn;
        let Some(u) = i.users.get_mut(&dn.to_ascii_lowercase()) else { return Ok(ConsistencyGuidWrite::NoSuchObject) };
        if u.id.consistency_guid.is_some() {
            return Ok(ConsistencyGuidWrite::AlreadySet);
        }
        u.id.consistency_guid = Some(object_guid.to_vec());
        u.id.usn_changed = usn;
        Ok(ConsistencyGuidWrite::Written)
    }
}
