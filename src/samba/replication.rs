//! What a domain with several DCs needs to know about itself: which DC this sam.ldb belongs to
//! (its invocation id), which DC made a user's last password change (the originating DSA of
//! `unicodePwd` in `replPropertyMetaData`), and which DC holds the PDC emulator role
//! (`fSMORoleOwner` of the domain head).
//!
//! A DC names itself by its NTDS Settings object (rootDSE `dsServiceName`); the object's
//! `invocationId` is the id it stamps on every change it originates, and replication carries
//! that stamp to every other DC unchanged (MS-ADTS 3.1.1.1.9, MS-DRSR 5.166).

use std::fmt;

use super::ldb::{Base, Entry, LdbConnection, LdbError, Scope};
use super::values::{guid_string, parse_i64};

/// attributeID of unicodePwd (1.2.840.113556.1.4.90) as an ATTRTYP of the base schema prefix
/// table: prefix 1.2.840.113556.1.4 is index 9, so the ATTRTYP is 0x0009_0000 + 90.
pub const ATTID_UNICODE_PWD: u32 = 0x0009_005A;
/// attributeID of pwdLastSet (1.2.840.113556.1.4.96).
pub const ATTID_PWD_LAST_SET: u32 = 0x0009_0060;

/// A GUID as AD stores it (the first three groups little-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    pub fn from_bytes(b: &[u8]) -> Option<Guid> {
        Some(Guid(b.try_into().ok()?))
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&guid_string(&self.0))
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

/// One DC of the domain, as its NTDS Settings object describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainController {
    /// `CN=NTDS Settings,CN=DC1,CN=Servers,CN=<site>,CN=Sites,CN=Configuration,...`
    pub ntds_settings_dn: String,
    /// The server object's name (`DC1`): the RDN of the NTDS Settings object's parent.
    pub name: String,
    pub invocation_id: Guid,
}

/// One entry of a `replPropertyMetaData` blob: who last changed one attribute, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyMeta {
    pub attid: u32,
    /// How many originating writes the attribute has had.
    pub version: u32,
    /// Seconds since 1601-01-01 (DSTIME, one-second resolution).
    pub originating_change_time: u64,
    pub originating_invocation_id: Guid,
    pub originating_usn: i64,
    /// The USN of the local write (a replicated write gets a local USN too).
    pub local_usn: i64,
}

/// Why a `replPropertyMetaData` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("replPropertyMetaData is {0} bytes, shorter than its 16-byte header")]
    TooShort(usize),
    #[error("replPropertyMetaData has version {0}; only version 1 exists")]
    UnknownVersion(u32),
    #[error("replPropertyMetaData says {count} entries but holds {bytes} bytes of them")]
    Truncated { count: u32, bytes: usize },
}

/// Size of one `replPropertyMetaData1` (attid, version, DSTIME, GUID, two USNs).
const META_ENTRY_LEN: usize = 4 + 4 + 8 + 16 + 8 + 8;
const META_HEADER_LEN: usize = 16;

/// Parses the NDR `replPropertyMetaDataBlob` (librpc/idl/drsblobs.idl): u32 version (1),
/// u32 reserved, then `replPropertyMetaDataCtr1` = u32 count, u32 reserved, `count` entries.
pub fn parse_repl_property_metadata(blob: &[u8]) -> Result<Vec<PropertyMeta>, MetadataError> {
    if blob.len() < META_HEADER_LEN {
        return Err(MetadataError::TooShort(blob.len()));
    }
    let u32_at = |o: usize| u32::from_le_bytes([blob[o], blob[o + 1], blob[o + 2], blob[o + 3]]);
    let u64_at = |o: usize| u64::from_le_bytes(blob[o..o + 8].try_into().unwrap_or([0; 8]));
    let version = u32_at(0);
    if version != 1 {
        return Err(MetadataError::UnknownVersion(version));
    }
    let count = u32_at(8);
    let body = blob.len() - META_HEADER_LEN;
    if (count as usize).checked_mul(META_ENTRY_LEN).is_none_or(|need| need > body) {
        return Err(MetadataError::Truncated { count, bytes: body });
    }
    Ok((0..count as usize)
        .map(|i| {
            let o = META_HEADER_LEN + i * META_ENTRY_LEN;
            let mut guid = [0u8; 16];
            guid.copy_from_slice(&blob[o + 16..o + 32]);
            PropertyMeta {
                attid: u32_at(o),
                version: u32_at(o + 4),
                originating_change_time: u64_at(o + 8),
                originating_invocation_id: Guid(guid),
                originating_usn: u64_at(o + 32) as i64,
                local_usn: u64_at(o + 40) as i64,
            }
        })
        .collect())
}

/// Where a user's current password was set: the DC that made the change (not the one that
/// replicated it here), and the replicated pwdLastSet (the same on every DC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordOrigin {
    pub invocation_id: Guid,
    /// Seconds since 1601-01-01 of the originating write.
    pub change_time: u64,
    pub originating_usn: i64,
    /// unicodePwd's metadata version: the number of password sets (= msDS-KeyVersionNumber).
    pub version: u32,
    /// FILETIME of the change as replicated (0: must change at next logon).
    pub pwd_last_set: i64,
}

/// The password origin in a user entry read with `replPropertyMetaData` and `pwdLastSet`;
/// `None` when the user never had a password.
pub fn password_origin_of(e: &Entry) -> Result<Option<PasswordOrigin>, MetadataError> {
    let Some(blob) = e.first("replPropertyMetaData") else { return Ok(None) };
    let metas = parse_repl_property_metadata(blob)?;
    let Some(m) = metas.iter().find(|m| m.attid == ATTID_UNICODE_PWD) else { return Ok(None) };
    Ok(Some(PasswordOrigin {
        invocation_id: m.originating_invocation_id,
        change_time: m.originating_change_time,
        originating_usn: m.originating_usn,
        version: m.version,
        pwd_last_set: e.first("pwdLastSet").and_then(parse_i64).unwrap_or(0),
    }))
}

fn bad_metadata(dn: &str, e: MetadataError) -> LdbError {
    LdbError::Search { code: -1, message: format!("{dn}: {e}") }
}

/// The password origin of the object at `dn` (`<GUID=...>` works too).
pub fn password_origin(conn: &LdbConnection, dn: &str) -> Result<Option<PasswordOrigin>, LdbError> {
    let entries = conn.search(
        &Base::Dn(dn.to_string()),
        Scope::Base,
        "(objectClass=*)",
        &["replPropertyMetaData", "pwdLastSet"],
    )?;
    match entries.first() {
        None => Ok(None),
        Some(e) => password_origin_of(e).map_err(|err| bad_metadata(&e.dn, err)),
    }
}

/// The password origin of the user with this sAMAccountName.
pub fn password_origin_by_account(
    conn: &LdbConnection,
    account_name: &str,
) -> Result<Option<PasswordOrigin>, LdbError> {
    let f = super::directory::user_by_name_filter(account_name, None);
    let entries = conn.search(&Base::Domain, Scope::Subtree, &f, &["replPropertyMetaData", "pwdLastSet"])?;
    match entries.first() {
        None => Ok(None),
        Some(e) => password_origin_of(e).map_err(|err| bad_metadata(&e.dn, err)),
    }
}

/// The server name in an NTDS Settings DN: `CN=NTDS Settings,CN=DC1,CN=Servers,...` → `DC1`.
/// Samba keeps the DN of a deleted DC as `CN=NTDS Settings\0ADEL:...`: still its parent's name.
pub fn server_name(ntds_settings_dn: &str) -> Option<String> {
    let mut rdns = split_dn(ntds_settings_dn).into_iter();
    rdns.next()?;
    let parent = rdns.next()?;
    let (attr, value) = parent.split_once('=')?;
    attr.trim().eq_ignore_ascii_case("CN").then(|| value.trim().to_string())
}

/// The RDNs of a DN, honouring `\,` escapes.
fn split_dn(dn: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in dn.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            cur.push(c);
            escaped = true;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

fn text(e: &Entry, name: &str) -> Option<String> {
    e.first(name).map(|v| String::from_utf8_lossy(v).into_owned())
}

fn dc_from_entry(e: &Entry) -> Option<DomainController> {
    Some(DomainController {
        ntds_settings_dn: e.dn.clone(),
        name: server_name(&e.dn)?,
        invocation_id: Guid::from_bytes(e.first("invocationId")?)?,
    })
}

/// This DC: the NTDS Settings object the rootDSE's `dsServiceName` names.
pub fn this_dc(conn: &LdbConnection) -> Result<DomainController, LdbError> {
    let root = conn.search(&Base::RootDse, Scope::Base, "(objectClass=*)", &["dsServiceName"])?;
    let dn = root
        .first()
        .and_then(|e| text(e, "dsServiceName"))
        .ok_or_else(|| LdbError::Search { code: -1, message: "the rootDSE has no dsServiceName".into() })?;
    let entries = conn.search(&Base::Dn(dn.clone()), Scope::Base, "(objectClass=*)", &["invocationId"])?;
    entries
        .first()
        .and_then(dc_from_entry)
        .ok_or_else(|| LdbError::Search { code: -1, message: format!("{dn} has no invocationId") })
}

/// Every DC of the forest's configuration (each nTDSDSA object under CN=Sites).
pub fn domain_controllers(conn: &LdbConnection) -> Result<Vec<DomainController>, LdbError> {
    let root = conn.search(&Base::RootDse, Scope::Base, "(objectClass=*)", &["configurationNamingContext"])?;
    let config = root.first().and_then(|e| text(e, "configurationNamingContext")).ok_or_else(|| LdbError::Search {
        code: -1,
        message: "the rootDSE has no configurationNamingContext".into(),
    })?;
    let entries = conn.search(
        &Base::Dn(format!("CN=Sites,{config}")),
        Scope::Subtree,
        "(objectClass=nTDSDSA)",
        &["invocationId"],
    )?;
    Ok(entries.iter().filter_map(dc_from_entry).collect())
}

/// The PDC emulator role owner: the NTDS Settings DN in the domain head's `fSMORoleOwner`.
pub fn pdc_emulator(conn: &LdbConnection) -> Result<Option<String>, LdbError> {
    let entries = conn.search(&Base::Domain, Scope::Base, "(objectClass=*)", &["fSMORoleOwner"])?;
    Ok(entries.first().and_then(|e| text(e, "fSMORoleOwner")))
}

/// Who holds the PDC emulator role, as seen from this DC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdcRole {
    /// The owner's server name (`DC1`), or its DN when that cannot be parsed.
    pub owner: String,
    pub is_this_dc: bool,
}

/// Reads the PDC emulator role and compares its owner with this DC.
pub fn pdc_role(conn: &LdbConnection, me: &DomainController) -> Result<Option<PdcRole>, LdbError> {
    Ok(pdc_emulator(conn)?.map(|dn| PdcRole {
        owner: server_name(&dn).unwrap_or_else(|| dn.clone()),
        is_this_dc: dn.eq_ignore_ascii_case(&me.ntds_settings_dn),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replPropertyMetaData value shaped like the one DC1 of the two-DC lab stored for a user
    /// DC2 created (time, invocation id and USNs copied from ldbsearch; two of its 23 entries,
    /// the second relabelled as unicodePwd).
    fn lab_blob() -> Vec<u8> {
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
        for (attid, version, usn) in [(0u32, 1u32, 3773u64), (ATTID_UNICODE_PWD, 2, 3774)] {
            b.extend(attid.to_le_bytes());
            b.extend(version.to_le_bytes());
            b.extend([0xce, 0xd1, 0x24, 0x21, 0x03, 0, 0, 0]);
            b.extend([0x70, 0x7a, 0x18, 0x4e, 0x44, 0x8f, 0xa5, 0x4b, 0x91, 0x8c, 0xaf, 0x21, 0x8e, 0xc4, 0xd0, 0xbe]);
            b.extend(usn.to_le_bytes());
            b.extend(4008u64.to_le_bytes());
        }
        b
    }

    #[test]
    fn parses_the_metadata_blob() {
        let metas = parse_repl_property_metadata(&lab_blob()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(metas.len(), 2);
        let pwd = &metas[1];
        assert_eq!(pwd.attid, ATTID_UNICODE_PWD);
        assert_eq!(pwd.version, 2);
        assert_eq!(pwd.originating_change_time, 0x0003_2124_d1ce);
        assert_eq!(pwd.originating_invocation_id.to_string(), "4e187a70-8f44-4ba5-918c-af218ec4d0be");
        assert_eq!(pwd.originating_usn, 3774);
        assert_eq!(pwd.local_usn, 4008);
    }

    #[test]
    fn refuses_broken_blobs() {
        assert_eq!(parse_repl_property_metadata(&[1, 0, 0]), Err(MetadataError::TooShort(3)));
        let mut b = lab_blob();
        b[0] = 2;
        assert_eq!(parse_repl_property_metadata(&b), Err(MetadataError::UnknownVersion(2)));
        let b = lab_blob();
        assert!(matches!(parse_repl_property_metadata(&b[..b.len() - 1]), Err(MetadataError::Truncated { .. })));
        let mut b = lab_blob();
        b[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(parse_repl_property_metadata(&b), Err(MetadataError::Truncated { .. })));
    }

    #[test]
    fn password_origin_comes_from_unicode_pwd() {
        let e =
            Entry::default().with("replPropertyMetaData", &[&lab_blob()]).with("pwdLastSet", &[b"134000000000000000"]);
        let o = password_origin_of(&e).unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no origin"));
        assert_eq!(o.version, 2);
        assert_eq!(o.originating_usn, 3774);
        assert_eq!(o.pwd_last_set, 134_000_000_000_000_000);
        // No unicodePwd entry: never had a password.
        let mut b = lab_blob();
        b[8] = 1;
        let e = Entry::default().with("replPropertyMetaData", &[&b[..16 + META_ENTRY_LEN]]);
        assert_eq!(password_origin_of(&e), Ok(None));
        assert_eq!(password_origin_of(&Entry::default()), Ok(None));
    }

    #[test]
    fn server_name_is_the_parent_rdn() {
        let dn =
            "CN=NTDS Settings,CN=DC2,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=lab,DC=test";
        assert_eq!(server_name(dn).as_deref(), Some("DC2"));
        assert_eq!(server_name(r"CN=NTDS Settings,CN=dc\,x,CN=Servers").as_deref(), Some(r"dc\,x"));
        assert_eq!(server_name("CN=NTDS Settings"), None);
        assert_eq!(server_name("CN=NTDS Settings,OU=x"), None);
    }
}
