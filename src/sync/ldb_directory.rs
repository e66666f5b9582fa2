//! The [`Directory`] port over libldb: the engine's one production directory.
//!
//! Every call is one closure on the sam.ldb thread (see `samba::LdbHandle`), so a long read
//! never interleaves with another call half-way. Reads stream: libldb hands the entries over
//! one at a time, and each chunk of [`CHUNK`] objects crosses to the caller's visitor through a
//! channel of a few chunks while the search goes on, so a read of the whole domain holds a few
//! chunks, not the domain. The visitor only maps and compares (no I/O), so the search, which
//! holds sam.ldb's read lock, waits for it briefly at most.

use std::collections::HashMap;
use std::sync::Arc;

use super::directory::ClusterView;
use super::directory::{CHUNK, Directory, DirectoryChunk, DirectoryError, Lookup, ReadEnd};
use super::mapping::DomainInfo;
use super::model::ObjectType;
use super::scope::Scope;
use crate::samba::directory::{self, NtHash, ReadOptions, User};
use crate::samba::filter;
use crate::samba::ldb::LdbConnection;
use crate::samba::replication::{self, PasswordOrigin};
use crate::samba::{ConsistencyGuidWrite, LdbError, LdbHandle};
use tokio::sync::mpsc;

/// objectGUIDs per directory search when objects are read again by GUID: libldb matches each
/// candidate against the whole OR of GUIDs, so the cost per object grows with the search
/// (50,000 users: 0.16 ms an object in searches of 500 GUIDs, 0.10 ms in searches of 100).
const GUIDS_PER_SEARCH: usize = 100;

pub struct LdbDirectory {
    ldb: LdbHandle,
    scope: Arc<Scope>,
}

impl LdbDirectory {
    pub fn new(ldb: LdbHandle, scope: Arc<Scope>) -> Self {
        LdbDirectory { ldb, scope }
    }
}

impl From<LdbError> for DirectoryError {
    fn from(e: LdbError) -> Self {
        match e {
            LdbError::Search { .. }
            | LdbError::InvalidInput(_)
            | LdbError::Write { .. }
            | LdbError::WriteRefused { .. } => DirectoryError::Object(e.to_string()),
            _ => DirectoryError::Unavailable(e.to_string()),
        }
    }
}

/// Chunks in flight between the sam.ldb thread and the visitor.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Collects a typed read into chunks of at most [`CHUNK`] and sends each as it fills.
struct ChunkSender<T> {
    chunk: Vec<T>,
    wrap: fn(Vec<T>) -> DirectoryChunk,
    tx: mpsc::Sender<DirectoryChunk>,
}

impl<T> ChunkSender<T> {
    fn new(wrap: fn(Vec<T>) -> DirectoryChunk, tx: &mpsc::Sender<DirectoryChunk>) -> Self {
        ChunkSender { chunk: Vec::new(), wrap, tx: tx.clone() }
    }

    fn push(&mut self, item: T) {
        self.chunk.push(item);
        if self.chunk.len() >= CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.chunk.is_empty() {
            // The receiver gone means the caller stopped reading: the rest is dropped.
            let _ = self.tx.blocking_send((self.wrap)(std::mem::take(&mut self.chunk)));
        }
    }
}

/// Runs `read` on the sam.ldb thread, handing the chunks it sends to `visit` as they come.
async fn streamed<R: Send + 'static>(
    ldb: &LdbHandle,
    visit: &mut (dyn FnMut(DirectoryChunk) + Send),
    read: impl FnOnce(&LdbConnection, &mpsc::Sender<DirectoryChunk>) -> Result<R, LdbError> + Send + 'static,
) -> Result<R, DirectoryError> {
    let (tx, mut rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let reading = ldb.call(move |c| read(c, &tx));
    let visiting = async {
        while let Some(chunk) = rx.recv().await {
            visit(chunk);
        }
    };
    let (read, ()) = tokio::join!(reading, visiting);
    Ok(read?)
}

impl Directory for LdbDirectory {
    async fn domain(&self) -> Result<DomainInfo, DirectoryError> {
        Ok(self
            .ldb
            .call(|c| {
                let dn = directory::domain_dn(c)?;
                let netbios = directory::netbios_name(c)?.unwrap_or_default();
                Ok(DomainInfo { dns_name: DomainInfo::dns_from_dn(&dn), netbios_name: netbios })
            })
            .await?)
    }

    async fn highest_usn(&self) -> Result<u64, DirectoryError> {
        Ok(self.ldb.call(|c| directory::highest_committed_usn(c)).await?)
    }

    async fn read_objects(
        &self,
        since: Option<u64>,
        visit: &mut (dyn FnMut(DirectoryChunk) + Send),
    ) -> Result<ReadEnd, DirectoryError> {
        let scope = self.scope.clone();
        streamed(&self.ldb, visit, move |c, tx| {
            let usn = directory::highest_committed_usn(c)?;
            let with = |o: ReadOptions| ReadOptions { changed_since_usn: since, ..o };
            let mut users = ChunkSender::new(DirectoryChunk::Users, tx);
            directory::each_user(c, &with(scope.user_read(false)), |u| users.push(u))?;
            users.flush();
            let mut groups = ChunkSender::new(DirectoryChunk::Groups, tx);
            directory::each_group(c, &with(scope.group_read()), |g| groups.push(g))?;
            groups.flush();
            let mut computers = ChunkSender::new(DirectoryChunk::Computers, tx);
            directory::each_computer(c, &with(scope.computer_read()), |x| computers.push(x))?;
            computers.flush();
            let mut contacts = ChunkSender::new(DirectoryChunk::Contacts, tx);
            directory::each_contact(c, &with(scope.contact_read()), |x| contacts.push(x))?;
            contacts.flush();
            if since.is_none() {
                // A pass over the whole domain: what libldb needed during it is free now. Back
                // to the kernel, so what follows does not start from the pass's peak.
                crate::samba::ldb::release_free_memory();
            }
            // A configured base DN that does not exist must never turn into deletes.
            let mut untrusted = HashMap::new();
            for base in scope.bases() {
                if !directory::dn_exists(c, base)? {
                    for t in [ObjectType::User, ObjectType::Group, ObjectType::Device, ObjectType::Contact] {
                        untrusted.insert(t, format!("the base DN {base} does not exist"));
                    }
                }
            }
            Ok(ReadEnd { usn, untrusted })
        })
        .await
    }

    async fn read_users(
        &self,
        since: Option<u64>,
        visit: &mut (dyn FnMut(Vec<User>) + Send),
    ) -> Result<(), DirectoryError> {
        let opts = ReadOptions { changed_since_usn: since, ..self.scope.user_read(false) };
        let mut each = |chunk| {
            if let DirectoryChunk::Users(users) = chunk {
                visit(users);
            }
        };
        streamed(&self.ldb, &mut each, move |c, tx| {
            let mut users = ChunkSender::new(DirectoryChunk::Users, tx);
            directory::each_user(c, &opts, |u| users.push(u))?;
            users.flush();
            Ok(())
        })
        .await
    }

    async fn read_by_guid(
        &self,
        object_type: ObjectType,
        guids: &[[u8; 16]],
    ) -> Result<DirectoryChunk, DirectoryError> {
        let mut out = match object_type {
            ObjectType::User => DirectoryChunk::Users(Vec::new()),
            ObjectType::Group => DirectoryChunk::Groups(Vec::new()),
            ObjectType::Device => DirectoryChunk::Computers(Vec::new()),
            ObjectType::Contact => DirectoryChunk::Contacts(Vec::new()),
        };
        if guids.is_empty() {
            return Ok(out);
        }
        let (scope, guids) = (self.scope.clone(), guids.to_vec());
        Ok(self
            .ldb
            .call(move |c| {
                for part in guids.chunks(GUIDS_PER_SEARCH) {
                    let Some(by_guid) = directory::guids_filter(part) else { continue };
                    let narrowed = |o: ReadOptions| ReadOptions {
                        extra_filter: Some(match &o.extra_filter {
                            Some(f) => filter::and(&[f.as_str(), by_guid.as_str()]),
                            None => by_guid.clone(),
                        }),
                        ..o
                    };
                    match &mut out {
                        DirectoryChunk::Users(v) => {
                            v.extend(directory::read_users(c, &narrowed(scope.user_read(false)))?)
                        }
                        DirectoryChunk::Groups(v) => {
                            v.extend(directory::read_groups(c, &narrowed(scope.group_read()))?)
                        }
                        DirectoryChunk::Computers(v) => {
                            v.extend(directory::read_computers(c, &narrowed(scope.computer_read()))?)
                        }
                        DirectoryChunk::Contacts(v) => {
                            v.extend(directory::read_contacts(c, &narrowed(scope.contact_read()))?)
                        }
                    }
                }
                Ok(out)
            })
            .await?)
    }

    async fn find_user(&self, account: &str, lookup: Lookup) -> Result<Option<User>, DirectoryError> {
        let name = account.to_owned();
        let filter = if lookup.in_filter { self.scope.user_filter().map(String::from) } else { None };
        Ok(self.ldb.call(move |c| directory::find_user_matching(c, &name, filter.as_deref(), lookup.with_hash)).await?)
    }

    async fn find_users(&self, accounts: &[String], lookup: Lookup) -> Result<Vec<User>, DirectoryError> {
        let names = accounts.to_vec();
        let filter = if lookup.in_filter { self.scope.user_filter().map(String::from) } else { None };
        Ok(self
            .ldb
            .call(move |c| {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                directory::find_users_matching(c, &names, filter.as_deref(), lookup.with_hash)
            })
            .await?)
    }

    async fn previous_nt_hash(&self, account: &str, current: &NtHash) -> Result<Option<NtHash>, DirectoryError> {
        let (name, current) = (account.to_owned(), NtHash::from_bytes(current.as_bytes()));
        let Some(current) = current else { return Ok(None) };
        Ok(self.ldb.call(move |c| directory::previous_nt_hash(c, &name, &current)).await?)
    }

    async fn cluster_view(&self) -> Result<ClusterView, DirectoryError> {
        Ok(self
            .ldb
            .call(|c| {
                let me = replication::this_dc(c)?;
                let dcs = replication::domain_controllers(c)?;
                let role = replication::pdc_role(c, &me)?;
                Ok(ClusterView {
                    pdc_owner: role.as_ref().map(|r| r.owner.clone()),
                    holds_pdc: role.is_some_and(|r| r.is_this_dc),
                    me: Some(me),
                    dcs,
                })
            })
            .await?)
    }

    async fn password_origin(&self, account: &str) -> Result<Option<PasswordOrigin>, DirectoryError> {
        let name = account.to_owned();
        Ok(self.ldb.call(move |c| replication::password_origin_by_account(c, &name)).await?)
    }

    async fn write_consistency_guid(
        &self,
        dn: &str,
        object_guid: &[u8; 16],
    ) -> Result<ConsistencyGuidWrite, DirectoryError> {
        let (dn, guid) = (dn.to_owned(), *object_guid);
        Ok(self.ldb.call_writer(move |w| w.set_consistency_guid(&dn, &guid)).await?)
    }
}
