//! Which directory objects are synced at all. The administrator's base DNs and filters narrow
//! the domain; built-in exclusions keep Tier-0 accounts on-premises whatever the config says
//! (RID below 1000, krbtgt, critical system objects, and adminCount=1 unless allowed).

use std::collections::HashSet;

use crate::config::ScopeConfig;
use crate::samba::directory::{Computer, Group, Identity, ReadOptions, User};

/// Why an object is not synced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exclusion {
    BuiltIn,
    Krbtgt,
    CriticalSystemObject,
    Protected,
    Listed,
    OutsideBases,
    NotHybridJoinReady,
}

impl Exclusion {
    pub fn reason(&self) -> &'static str {
        match self {
            Exclusion::BuiltIn => "built-in account (RID below 1000)",
            Exclusion::Krbtgt => "Kerberos service account",
            Exclusion::CriticalSystemObject => "critical system object",
            Exclusion::Protected => "protected account (adminCount=1); set include_admin_accounts to sync it",
            Exclusion::Listed => "listed in sync.scope.exclude_accounts",
            Exclusion::OutsideBases => "outside the configured base DNs",
            Exclusion::NotHybridJoinReady => "computer without a hybrid-join userCertificate",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Scope {
    user_bases: Vec<String>,
    group_bases: Vec<String>,
    computer_bases: Vec<String>,
    user_filter: Option<String>,
    group_filter: Option<String>,
    computer_filter: Option<String>,
    excluded: HashSet<String>,
    include_admin: bool,
}

impl Scope {
    pub fn from_config(c: &ScopeConfig) -> Scope {
        let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect::<Vec<_>>();
        Scope {
            user_bases: lower(&c.user_bases),
            group_bases: lower(&c.group_bases),
            computer_bases: lower(&c.computer_bases),
            user_filter: c.user_filter.clone(),
            group_filter: c.group_filter.clone(),
            computer_filter: c.computer_filter.clone(),
            excluded: c.exclude_accounts.iter().map(|s| s.to_ascii_lowercase()).collect(),
            include_admin: c.include_admin_accounts,
        }
    }

    /// Read options for users: the administrator's filter is applied by sam.ldb itself.
    pub fn user_read(&self, with_nt_hash: bool) -> ReadOptions {
        ReadOptions { with_nt_hash, extra_filter: self.user_filter.clone(), ..Default::default() }
    }

    pub fn group_read(&self) -> ReadOptions {
        ReadOptions { extra_filter: self.group_filter.clone(), ..Default::default() }
    }

    pub fn computer_read(&self) -> ReadOptions {
        ReadOptions { extra_filter: self.computer_filter.clone(), ..Default::default() }
    }

    pub fn user_filter(&self) -> Option<&str> {
        self.user_filter.as_deref()
    }

    /// The configured base DNs for users, groups and computers (empty: the whole domain).
    pub fn bases(&self) -> impl Iterator<Item = &str> {
        self.user_bases.iter().chain(&self.group_bases).chain(&self.computer_bases).map(String::as_str)
    }

    fn common(&self, id: &Identity, bases: &[String]) -> Result<(), Exclusion> {
        if id.rid().is_some_and(|r| r < 1000) {
            return Err(Exclusion::BuiltIn);
        }
        if id.sam_account_name.to_ascii_lowercase().starts_with("krbtgt") {
            return Err(Exclusion::Krbtgt);
        }
        if id.critical_system_object {
            return Err(Exclusion::CriticalSystemObject);
        }
        if id.admin_count && !self.include_admin {
            return Err(Exclusion::Protected);
        }
        if self.excluded.contains(&id.sam_account_name.to_ascii_lowercase()) {
            return Err(Exclusion::Listed);
        }
        if !bases.is_empty() {
            let dn = id.dn.to_ascii_lowercase();
            if !bases.iter().any(|b| dn == *b || dn.ends_with(&format!(",{b}"))) {
                return Err(Exclusion::OutsideBases);
            }
        }
        Ok(())
    }

    pub fn user(&self, u: &User) -> Result<(), Exclusion> {
        self.common(&u.id, &self.user_bases)
    }

    pub fn group(&self, g: &Group) -> Result<(), Exclusion> {
        self.common(&g.id, &self.group_bases)
    }

    /// Devices: only computers that carry the hybrid-join userCertificate (as Entra Connect).
    pub fn computer(&self, c: &Computer) -> Result<(), Exclusion> {
        self.common(&c.id, &self.computer_bases)?;
        if c.user_certificates.is_empty() {
            return Err(Exclusion::NotHybridJoinReady);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, rid: u32, dn: &str) -> Identity {
        let mut sid = vec![1u8, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0];
        for sub in [1u32, 2, 3, rid] {
            sid.extend_from_slice(&sub.to_le_bytes());
        }
        sid[1] = 5;
        Identity {
            dn: dn.into(),
            sam_account_name: name.into(),
            object_guid: [1; 16],
            object_sid: sid,
            ..Default::default()
        }
    }

    fn user(id: Identity) -> User {
        User {
            id,
            user_principal_name: None,
            user_account_control: 512,
            pwd_last_set: 1,
            account_expires: 0,
            key_version: 1,
            text: Default::default(),
            nt_hash: None,
        }
    }

    #[test]
    fn built_in_exclusions() {
        let s = Scope::default();
        assert_eq!(s.user(&user(id("Administrator", 500, "CN=Administrator,CN=Users,DC=x"))), Err(Exclusion::BuiltIn));
        assert_eq!(s.user(&user(id("krbtgt_123", 1500, "CN=k,DC=x"))), Err(Exclusion::Krbtgt));
        let mut admin = id("boss", 1200, "CN=boss,DC=x");
        admin.admin_count = true;
        assert_eq!(s.user(&user(admin.clone())), Err(Exclusion::Protected));
        let allow = Scope::from_config(&ScopeConfig { include_admin_accounts: true, ..Default::default() });
        assert_eq!(allow.user(&user(admin)), Ok(()));
        assert_eq!(s.user(&user(id("alice", 1105, "CN=alice,CN=Users,DC=x"))), Ok(()));
    }

    #[test]
    fn bases_and_lists() {
        let s = Scope::from_config(&ScopeConfig {
            user_bases: vec!["OU=Staff,DC=x".into()],
            exclude_accounts: vec!["SyncSvc".into()],
            ..Default::default()
        });
        assert_eq!(s.user(&user(id("alice", 1105, "CN=alice,OU=Staff,DC=x"))), Ok(()));
        assert_eq!(s.user(&user(id("bob", 1106, "CN=bob,CN=Users,DC=x"))), Err(Exclusion::OutsideBases));
        // A sibling OU whose name merely ends the same way is not inside the base.
        assert_eq!(s.user(&user(id("eve", 1107, "CN=eve,OU=NotStaff,DC=x"))), Err(Exclusion::OutsideBases));
        assert_eq!(s.user(&user(id("syncsvc", 1108, "CN=s,OU=Staff,DC=x"))), Err(Exclusion::Listed));
    }
}
