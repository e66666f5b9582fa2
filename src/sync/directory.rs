//! The engine's port to the directory: everything the engine reads from or writes to sam.ldb,
//! in the engine's own terms. `ldb_directory.rs` implements it over libldb; unit tests use
//! `testing::FakeDirectory`.
//!
//! Reads that can be as large as the domain hand their objects to a visitor in chunks, never as
//! one value, so an implementation can stream them (the visitor may keep or drop each chunk).

use std::collections::HashMap;
use std::future::Future;

use super::mapping::DomainInfo;
use super::model::ObjectType;
use crate::samba::ConsistencyGuidWrite;
use crate::samba::directory::{Computer, Contact, Group, NtHash, User};
use crate::samba::replication::{DomainController, PasswordOrigin};

/// The most objects in one chunk of a read.
pub const CHUNK: usize = 1_000;

/// Why a directory call failed, by what the caller does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// About one object (its search or write failed or was refused): report it and go on with
    /// the others.
    #[error("{0}")]
    Object(String),
    /// The directory cannot be used now (sam.ldb unreadable, its reader gone): retry later;
    /// every other call would fail alike.
    #[error("{0}")]
    Unavailable(String),
}

/// A slice of a read, one object type at a time.
#[derive(Debug)]
pub enum DirectoryChunk {
    Users(Vec<User>),
    Groups(Vec<Group>),
    Computers(Vec<Computer>),
    Contacts(Vec<Contact>),
}

impl DirectoryChunk {
    /// How many objects the chunk holds.
    pub fn len(&self) -> usize {
        match self {
            DirectoryChunk::Users(v) => v.len(),
            DirectoryChunk::Groups(v) => v.len(),
            DirectoryChunk::Computers(v) => v.len(),
            DirectoryChunk::Contacts(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a read of the objects found besides the objects.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadEnd {
    /// highestCommittedUSN before the read: every change up to it is in the read.
    pub usn: u64,
    /// Object types whose read cannot be trusted to be complete (a configured base DN that does
    /// not exist), with the reason: their absence must never turn into deletes.
    pub untrusted: HashMap<ObjectType, String>,
}

/// How one user is looked up by its account name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// Only a user that also matches the scope's `user_filter`.
    pub in_filter: bool,
    /// With its current NT hash (secret: only the password path asks).
    pub with_hash: bool,
}

impl Lookup {
    /// In the filter, without the hash.
    pub const SCOPED: Lookup = Lookup { in_filter: true, with_hash: false };
    /// In the filter, with the hash.
    pub const SCOPED_WITH_HASH: Lookup = Lookup { in_filter: true, with_hash: true };
    /// Any user of that name, without the hash.
    pub const ANY: Lookup = Lookup { in_filter: false, with_hash: false };
}

/// The domain controllers as sam.ldb lists them: this DC, every DC of the domain and the
/// PDC emulator (for `cluster.rs`, which decides who leads).
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    pub me: Option<DomainController>,
    pub dcs: Vec<DomainController>,
    /// The PDC emulator's server name.
    pub pdc_owner: Option<String>,
    pub holds_pdc: bool,
}

/// The engine's view of the directory. Reads apply the scope's LDAP filters (the engine checks
/// the rest of the scope itself); nothing but [`Directory::write_consistency_guid`] writes.
pub trait Directory: Send + Sync + 'static {
    /// The domain's DNS and NetBIOS names.
    fn domain(&self) -> impl Future<Output = Result<DomainInfo, DirectoryError>> + Send;

    /// highestCommittedUSN: cheap, polled to notice any committed change.
    fn highest_usn(&self) -> impl Future<Output = Result<u64, DirectoryError>> + Send;

    /// Every user, group, computer and contact the scope's filters select (with `since`: only
    /// those changed after that USN), in chunks of at most [`CHUNK`]: users, then groups,
    /// computers and contacts, each type in the same order at every read of an unchanged
    /// directory. Without hashes.
    fn read_objects(
        &self,
        since: Option<u64>,
        visit: &mut (dyn FnMut(DirectoryChunk) + Send),
    ) -> impl Future<Output = Result<ReadEnd, DirectoryError>> + Send;

    /// The users the scope's filter selects (with `since`: changed after that USN), in chunks
    /// of at most [`CHUNK`], without hashes.
    fn read_users(
        &self,
        since: Option<u64>,
        visit: &mut (dyn FnMut(Vec<User>) + Send),
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;

    /// The objects of `object_type` among `guids` (objectGUIDs) that the scope's filters
    /// select, in one chunk (the caller bounds it): how a streamed full run reads again, a chunk
    /// at a time, the objects it is about to send. Without hashes.
    fn read_by_guid(
        &self,
        object_type: ObjectType,
        guids: &[[u8; 16]],
    ) -> impl Future<Output = Result<DirectoryChunk, DirectoryError>> + Send;

    /// One user by sAMAccountName.
    fn find_user(
        &self,
        account: &str,
        lookup: Lookup,
    ) -> impl Future<Output = Result<Option<User>, DirectoryError>> + Send;

    /// Several users by sAMAccountName in one read: those found, in no particular order. The
    /// password path reads its backfill this way (about half the cost per user of
    /// [`Directory::find_user`] on a large domain).
    fn find_users(
        &self,
        accounts: &[String],
        lookup: Lookup,
    ) -> impl Future<Output = Result<Vec<User>, DirectoryError>> + Send;

    /// The NT hash the user had before `current` (ntPwdHistory), when the domain keeps one.
    fn previous_nt_hash(
        &self,
        account: &str,
        current: &NtHash,
    ) -> impl Future<Output = Result<Option<NtHash>, DirectoryError>> + Send;

    /// Several DCs: this DC (its invocation id), every DC of the forest, and who holds the PDC
    /// emulator role.
    fn cluster_view(&self) -> impl Future<Output = Result<ClusterView, DirectoryError>> + Send;

    /// Which DC made the user's current password (the originating DSA of unicodePwd), `None`
    /// when the user has never had one or does not exist.
    fn password_origin(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Option<PasswordOrigin>, DirectoryError>> + Send;

    /// Sets an empty mS-DS-ConsistencyGuid of `dn` to `object_guid` (the only write to AD).
    fn write_consistency_guid(
        &self,
        dn: &str,
        object_guid: &[u8; 16],
    ) -> impl Future<Output = Result<ConsistencyGuidWrite, DirectoryError>> + Send;
}

/// Collects a whole read of the objects (what the mapping takes today).
pub(crate) async fn snapshot<D: Directory>(
    directory: &D,
    since: Option<u64>,
) -> Result<(super::mapping::DirectorySnapshot, ReadEnd), DirectoryError> {
    let mut snap = super::mapping::DirectorySnapshot::default();
    let end = directory
        .read_objects(since, &mut |chunk| match chunk {
            DirectoryChunk::Users(v) => snap.users.extend(v),
            DirectoryChunk::Groups(v) => snap.groups.extend(v),
            DirectoryChunk::Computers(v) => snap.computers.extend(v),
            DirectoryChunk::Contacts(v) => snap.contacts.extend(v),
        })
        .await?;
    Ok((snap, end))
}
