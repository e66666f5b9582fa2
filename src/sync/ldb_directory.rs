//! The [`Directory`] port over libldb: the engine's one production directory.
//!
//! Every call is one closure on the sam.ldb thread (see `samba::LdbHandle`), so a long read
//! never interleaves with another call half-way. Reads are still taken whole and handed out in
//! chunks afterwards.

use std::collections::HashMap;
use std::sync::Arc;

use super::cluster::View;
use super::directory::{CHUNK, Directory, DirectoryChunk, DirectoryError, Lookup, ReadEnd, chunked};
use super::mapping::DomainInfo;
use super::model::ObjectType;
use super::scope::Scope;
use crate::samba::directory::{self, NtHash, ReadOptions, User};
use crate::samba::replication::{self, PasswordOrigin};
use crate::samba::{ConsistencyGuidWrite, LdbError, LdbHandle};

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
        let (users, groups, computers, contacts, end) = self
            .ldb
            .call(move |c| {
                let usn = directory::highest_committed_usn(c)?;
                let with = |o: ReadOptions| ReadOptions { changed_since_usn: since, ..o };
                let users = directory::read_users(c, &with(scope.user_read(false)))?;
                let groups = directory::read_groups(c, &with(scope.group_read()))?;
                let computers = directory::read_computers(c, &with(scope.computer_read()))?;
                let contacts = directory::read_contacts(c, &with(scope.contact_read()))?;
                // A configured base DN that does not exist must never turn into deletes.
                let mut untrusted = HashMap::new();
                for base in scope.bases() {
                    if !directory::dn_exists(c, base)? {
                        for t in [ObjectType::User, ObjectType::Group, ObjectType::Device, ObjectType::Contact] {
                            untrusted.insert(t, format!("the base DN {base} does not exist"));
                        }
                    }
                }
                Ok((users, groups, computers, contacts, ReadEnd { usn, untrusted }))
            })
            .await?;
        chunked(users, DirectoryChunk::Users, visit);
        chunked(groups, DirectoryChunk::Groups, visit);
        chunked(computers, DirectoryChunk::Computers, visit);
        chunked(contacts, DirectoryChunk::Contacts, visit);
        Ok(end)
    }

    async fn read_users(
        &self,
        since: Option<u64>,
        visit: &mut (dyn FnMut(Vec<User>) + Send),
    ) -> Result<(), DirectoryError> {
        let opts = ReadOptions { changed_since_usn: since, ..self.scope.user_read(false) };
        let users = self.ldb.call(move |c| directory::read_users(c, &opts)).await?;
        let mut users = users.into_iter().peekable();
        while users.peek().is_some() {
            visit(users.by_ref().take(CHUNK).collect());
        }
        Ok(())
    }

    async fn find_user(&self, account: &str, lookup: Lookup) -> Result<Option<User>, DirectoryError> {
        let name = account.to_owned();
        let filter = if lookup.in_filter { self.scope.user_filter().map(String::from) } else { None };
        Ok(self.ldb.call(move |c| directory::find_user_matching(c, &name, filter.as_deref(), lookup.with_hash)).await?)
    }

    async fn previous_nt_hash(&self, account: &str, current: &NtHash) -> Result<Option<NtHash>, DirectoryError> {
        let (name, current) = (account.to_owned(), NtHash::from_bytes(current.as_bytes()));
        let Some(current) = current else { return Ok(None) };
        Ok(self.ldb.call(move |c| directory::previous_nt_hash(c, &name, &current)).await?)
    }

    async fn cluster_view(&self) -> Result<View, DirectoryError> {
        Ok(self
            .ldb
            .call(|c| {
                let me = replication::this_dc(c)?;
                let dcs = replication::domain_controllers(c)?;
                let role = replication::pdc_role(c, &me)?;
                Ok(View {
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
