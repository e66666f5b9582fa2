//! Which directory objects are synced at all. The administrator's base DNs and filters narrow
//! the domain, per object type (users, groups, computers, contacts); built-in exclusions keep
//! Tier-0 accounts on-premises whatever the config says (RID below 1000, krbtgt, critical system
//! objects, and adminCount=1 unless allowed), and Entra Connect's own service accounts unless
//! allowed (a domain migrated from Entra Connect still holds its connector account, which has
//! replication rights: exporting it would put a password hash that can read every other one into
//! the cloud).

use std::collections::HashSet;

use crate::config::ScopeConfig;
use crate::samba::directory::{Computer, Contact, Group, Identity, ReadOptions, UAC_NORMAL_ACCOUNT, User};

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
    SyncServiceAccount,
    NotNormalAccount,
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
            Exclusion::NotNormalAccount => {
                "not a normal user account (an inter-domain, workstation or server trust account: userAccountControl without 0x200)"
            }
            Exclusion::SyncServiceAccount => {
                "Entra Connect service account (MSOL_/Sync_ pattern); set sync.scope.include_sync_service_accounts to sync it"
            }
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Scope {
    user_bases: Vec<String>,
    group_bases: Vec<String>,
    computer_bases: Vec<String>,
    contact_bases: Vec<String>,
    user_filter: Option<String>,
    group_filter: Option<String>,
    computer_filter: Option<String>,
    contact_filter: Option<String>,
    excluded: HashSet<String>,
    include_admin: bool,
    include_sync_service: bool,
}

impl Scope {
    pub fn from_config(c: &ScopeConfig) -> Scope {
        let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect::<Vec<_>>();
        Scope {
            user_bases: lower(&c.user_bases),
            group_bases: lower(&c.group_bases),
            computer_bases: lower(&c.computer_bases),
            contact_bases: lower(&c.contact_bases),
            user_filter: c.user_filter.clone(),
            group_filter: c.group_filter.clone(),
            computer_filter: c.computer_filter.clone(),
            contact_filter: c.contact_filter.clone(),
            excluded: c.exclude_accounts.iter().map(|s| s.to_ascii_lowercase()).collect(),
            include_admin: c.include_admin_accounts,
            include_sync_service: c.include_sync_service_accounts,
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

    pub fn contact_read(&self) -> ReadOptions {
        ReadOptions { extra_filter: self.contact_filter.clone(), ..Default::default() }
    }

    pub fn user_filter(&self) -> Option<&str> {
        self.user_filter.as_deref()
    }

    /// The configured base DNs of every object type (empty: the whole domain).
    pub fn bases(&self) -> impl Iterator<Item = &str> {
        self.user_bases
            .iter()
            .chain(&self.group_bases)
            .chain(&self.computer_bases)
            .chain(&self.contact_bases)
            .map(String::as_str)
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
        within(id, bases)
    }

    pub fn user(&self, u: &User) -> Result<(), Exclusion> {
        // Samba stores inter-domain trust accounts (0x800) as objectClass=user; their password is
        // derived from the trust key. Only normal accounts are users; workstation (0x1000) and
        // server (0x2000) trust accounts go the device way.
        if u.user_account_control & UAC_NORMAL_ACCOUNT == 0 {
            return Err(Exclusion::NotNormalAccount);
        }
        // First, so an excluded service account is reported as one (with the setting that
        // would let it through), not as outside a base DN.
        if !self.include_sync_service && is_sync_service_account(u) {
            return Err(Exclusion::SyncServiceAccount);
        }
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

    /// Contacts: only the base DNs (the filter is applied by the read). They have no account,
    /// so the account exclusions (RIDs, adminCount, exclude_accounts) do not apply.
    pub fn contact(&self, c: &Contact) -> Result<(), Exclusion> {
        within(&c.id, &self.contact_bases)
    }
}

fn within(id: &Identity, bases: &[String]) -> Result<(), Exclusion> {
    if bases.is_empty() {
        return Ok(());
    }
    let dn = id.dn.to_ascii_lowercase();
    if bases.iter().any(|b| dn == *b || dn.ends_with(&format!(",{b}"))) { Ok(()) } else { Err(Exclusion::OutsideBases) }
}

/// A user named like one of Entra Connect's service accounts, by sAMAccountName or by the name
/// part of the UPN (a sAMAccountName longer than 20 characters is often cut short when the
/// account is made by hand, the UPN keeps the whole name).
fn is_sync_service_account(u: &User) -> bool {
    let upn_name = u.user_principal_name.as_deref().and_then(|upn| upn.split('@').next());
    is_sync_service_account_name(&u.id.sam_account_name) || upn_name.is_some_and(is_sync_service_account_name)
}

/// Entra Connect's account names: the AD DS connector account `MSOL_<hex>` it creates in the
/// domain, and `Sync_<server>_<hex>`, its account in the cloud, which an on-premises namesake
/// imitates. Entra Connect uses 12 hex digits; 8 to 16 are accepted, so a name cut short or a
/// variant still matches, while a person's name that merely starts alike (`msolveig`,
/// `Syncmaster`, `MSOL_admin`) does not.
fn is_sync_service_account_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let hex = |s: &str| (8..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(rest) = name.strip_prefix("msol_") {
        return hex(rest);
    }
    // The server part is a computer name: up to 15 characters, no dots.
    let server =
        |s: &str| (1..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    name.strip_prefix("sync_")
        .and_then(|rest| rest.rsplit_once('_'))
        .is_some_and(|(srv, suffix)| server(srv) && hex(suffix))
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

    #[test]
    fn sync_service_account_names() {
        for name in [
            "MSOL_8d2f0c1e5a7b",
            "msol_8D2F0C1E5A7B",
            "MSOL_deadbeef",
            "MSOL_0123456789abcdef",
            "Sync_DC01_1a2b3c4d5e6f",
            "SYNC_dc01_1A2B3C4D5E6F",
            "Sync_AAD-CONNECT01_1a2b3c4d5e6f",
            "Sync_DC01_0123456789",
        ] {
            assert!(is_sync_service_account_name(name), "{name} not matched");
        }
        for name in [
            "msolveig",
            "Syncmaster",
            "MSOL_",
            "MSOL_admin",
            "MSOL_1234567",
            "MSOL_0123456789abcdef0",
            "MSOL_8d2f0c1e5a7b_old",
            "xMSOL_8d2f0c1e5a7b",
            "Sync_1a2b3c4d5e6f",
            "Sync__1a2b3c4d5e6f",
            "Sync_DC01_team",
            "Sync_Team_Calendar",
            "Sync_a.b_1a2b3c4d5e6f",
            "Sync_ServerNameTooLong_1a2b3c4d5e6f",
            "alice",
        ] {
            assert!(!is_sync_service_account_name(name), "{name} matched");
        }
    }

    #[test]
    fn sync_service_accounts_are_excluded_unless_included() {
        let s = Scope::default();
        let msol = user(id("MSOL_8d2f0c1e5a7b", 1110, "CN=MSOL_8d2f0c1e5a7b,CN=Users,DC=x"));
        assert_eq!(s.user(&msol), Err(Exclusion::SyncServiceAccount));
        assert!(Exclusion::SyncServiceAccount.reason().contains("include_sync_service_accounts"));
        // A sAMAccountName cut to 20 characters: the UPN still names the account.
        let mut cut = user(id("Sync_AADCONNECT01_1a", 1111, "CN=Sync,CN=Users,DC=x"));
        cut.user_principal_name = Some("Sync_AADCONNECT01_1a2b3c4d5e6f@x.test".into());
        assert_eq!(s.user(&cut), Err(Exclusion::SyncServiceAccount));
        assert_eq!(s.user(&user(id("msolveig", 1112, "CN=msolveig,CN=Users,DC=x"))), Ok(()));
        let allow = Scope::from_config(&ScopeConfig { include_sync_service_accounts: true, ..Default::default() });
        assert_eq!(allow.user(&msol), Ok(()));
        assert_eq!(allow.user(&cut), Ok(()));
    }

    #[test]
    fn contacts_follow_their_own_bases_only() {
        let contact = |cn: &str, dn: &str| Contact {
            id: Identity { dn: dn.into(), sam_account_name: cn.into(), ..Default::default() },
            given_name: None,
            surname: None,
            mail: None,
            proxy_addresses: vec![],
        };
        let s = Scope::from_config(&ScopeConfig {
            contact_bases: vec!["OU=Partners,DC=x".into()],
            user_bases: vec!["OU=Staff,DC=x".into()],
            // exclude_accounts lists account names; a contact has none, whatever its cn.
            exclude_accounts: vec!["p".into()],
            ..Default::default()
        });
        assert_eq!(s.contact(&contact("p", "CN=p,OU=Partners,DC=x")), Ok(()));
        assert_eq!(s.contact(&contact("q", "CN=q,OU=Staff,DC=x")), Err(Exclusion::OutsideBases));
        assert_eq!(s.contact(&contact("r", "CN=r,OU=NotPartners,DC=x")), Err(Exclusion::OutsideBases));
        // No contact_bases: the whole domain, whatever the other types' bases are.
        let all = Scope::from_config(&ScopeConfig { user_bases: vec!["OU=Staff,DC=x".into()], ..Default::default() });
        assert_eq!(all.contact(&contact("q", "CN=q,CN=Users,DC=x")), Ok(()));
        assert!(s.bases().any(|b| b == "ou=partners,dc=x"), "the base-DN guard must see contact_bases");
        assert_eq!(s.contact_read().extra_filter, None);
        let f = Scope::from_config(&ScopeConfig { contact_filter: Some("(mail=*)".into()), ..Default::default() });
        assert_eq!(f.contact_read().extra_filter.as_deref(), Some("(mail=*)"));
    }
}
