//! A service's computer account in sam.ldb (what `seamless-sso` keeps for `AZUREADSSOACC$`):
//! find it, create it with its SPNs, encryption types and password, give it a new password,
//! delete it. The directory side knows nothing of what the account is for.

use zeroize::Zeroizing;

use super::ldb::{AccountWriter, Base, Entry, LdbConnection, LdbError, Scope};
use super::values::{filetime_to_unix, parse_i64};

/// msDS-SupportedEncryptionTypes bits (MS-KILE §2.2.7).
pub const ENCTYPE_RC4_HMAC: u32 = 0x4;
pub const ENCTYPE_AES128: u32 = 0x8;
pub const ENCTYPE_AES256: u32 = 0x10;
/// userAccountControl WORKSTATION_TRUST_ACCOUNT: what Entra Connect creates AZUREADSSOACC as.
const UF_WORKSTATION_TRUST_ACCOUNT: u32 = 0x1000;

const ATTRIBUTES: [&str; 6] = [
    "servicePrincipalName",
    "msDS-SupportedEncryptionTypes",
    "pwdLastSet",
    "msDS-KeyVersionNumber",
    "userAccountControl",
    "whenCreated",
];

/// What sam.ldb says about the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComputerAccount {
    pub dn: String,
    pub spns: Vec<String>,
    /// msDS-SupportedEncryptionTypes; `None` when unset (the KDC then assumes RC4).
    pub encryption_types: Option<u32>,
    /// When the password (the key) was last set, Unix seconds.
    pub password_set_at: Option<i64>,
    pub key_version: Option<i64>,
}

fn text(entry: &Entry, name: &str) -> Option<String> {
    entry.first(name).map(|v| String::from_utf8_lossy(v).into_owned())
}

impl ComputerAccount {
    fn from_entry(entry: &Entry) -> ComputerAccount {
        ComputerAccount {
            dn: entry.dn.clone(),
            spns: entry.values("servicePrincipalName").map(|v| String::from_utf8_lossy(v).into_owned()).collect(),
            encryption_types: text(entry, "msDS-SupportedEncryptionTypes")
                .and_then(|t| t.trim().parse::<i64>().ok())
                .map(|v| v as u32),
            password_set_at: entry
                .first("pwdLastSet")
                .and_then(parse_i64)
                .filter(|v| *v > 0)
                .and_then(filetime_to_unix),
            key_version: entry.first("msDS-KeyVersionNumber").and_then(parse_i64),
        }
    }
}

/// `sAMAccountName` of a computer: the name with `$`.
fn account_name(name: &str) -> String {
    format!("{}$", name.trim_end_matches('$'))
}

fn filter(name: &str) -> String {
    format!("(&(objectClass=computer)(sAMAccountName={}))", super::filter::escape(&account_name(name)))
}

/// The computer account `name` (with or without `$`), wherever it is in the domain.
pub fn find(conn: &LdbConnection, name: &str) -> Result<Option<ComputerAccount>, LdbError> {
    let found = conn.search(&Base::Domain, Scope::Subtree, &filter(name), &ATTRIBUTES)?;
    Ok(found.first().map(ComputerAccount::from_entry))
}

/// The same through the writer's connection (after a write).
pub fn find_with(writer: &AccountWriter, name: &str) -> Result<Option<ComputerAccount>, LdbError> {
    let found = writer.search(&Base::Domain, Scope::Subtree, &filter(name), &ATTRIBUTES)?;
    Ok(found.first().map(ComputerAccount::from_entry))
}

/// `DC=lab,DC=test` → `lab.test`: the DNS name of the domain, whose upper case is the realm.
pub fn dns_domain_of(domain_dn: &str) -> String {
    domain_dn
        .split(',')
        .filter_map(|rdn| {
            let (k, v) = rdn.trim().split_once('=')?;
            k.trim().eq_ignore_ascii_case("DC").then(|| v.trim().to_ascii_lowercase())
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// unicodePwd's value: the password in double quotes, UTF-16LE.
fn unicode_pwd(password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(2 * password.len() + 4));
    for unit in "\"".encode_utf16().chain(password.encode_utf16()).chain("\"".encode_utf16()) {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// What a new account gets.
pub struct NewAccount<'a> {
    pub name: &'a str,
    /// The DN of the container it goes into.
    pub container: &'a str,
    pub spns: &'a [&'a str],
    pub encryption_types: u32,
    pub password: &'a str,
    pub description: &'a str,
}

/// Creates the account in one add (attributes and password together, so it never exists
/// without its key). Returns its DN.
pub fn create(writer: &AccountWriter, new: &NewAccount<'_>) -> Result<String, LdbError> {
    let cn = new.name.trim_end_matches('$');
    let dn = format!("CN={cn},{}", new.container);
    let sam = account_name(new.name);
    let uac = UF_WORKSTATION_TRUST_ACCOUNT.to_string();
    let enc = new.encryption_types.to_string();
    let pwd = unicode_pwd(new.password);
    let spns: Vec<&[u8]> = new.spns.iter().map(|s| s.as_bytes()).collect();
    writer.add(
        &dn,
        &[
            ("objectClass", &[b"computer"]),
            ("sAMAccountName", &[sam.as_bytes()]),
            ("userAccountControl", &[uac.as_bytes()]),
            ("servicePrincipalName", &spns),
            ("msDS-SupportedEncryptionTypes", &[enc.as_bytes()]),
            ("description", &[new.description.as_bytes()]),
            ("unicodePwd", &[&pwd]),
        ],
    )?;
    Ok(dn)
}

/// Gives the account at `dn` a new password (Samba derives and stores its new keys and bumps
/// msDS-KeyVersionNumber and pwdLastSet).
pub fn set_password(writer: &AccountWriter, dn: &str, password: &str) -> Result<(), LdbError> {
    let pwd = unicode_pwd(password);
    writer.replace(dn, &[("unicodePwd", &[&pwd])])
}

/// Deletes the account at `dn`.
pub fn delete(writer: &AccountWriter, dn: &str) -> Result<(), LdbError> {
    writer.delete(dn)
}

/// The names of the encryption types in `bits` (msDS-SupportedEncryptionTypes).
pub fn encryption_type_names(bits: Option<u32>) -> Vec<&'static str> {
    let Some(bits) = bits else {
        return vec!["unset (the KDC assumes RC4-HMAC)"];
    };
    let mut out = Vec::new();
    if bits & ENCTYPE_AES256 != 0 {
        out.push("AES256-CTS-HMAC-SHA1-96");
    }
    if bits & ENCTYPE_AES128 != 0 {
        out.push("AES128-CTS-HMAC-SHA1-96");
    }
    if bits & ENCTYPE_RC4_HMAC != 0 {
        out.push("RC4-HMAC");
    }
    if bits & 0x3 != 0 {
        out.push("DES");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dns_domain_comes_from_the_dc_components() {
        assert_eq!(dns_domain_of("DC=Lab,DC=Test"), "lab.test");
        assert_eq!(dns_domain_of("DC=corp, DC=example,DC=com"), "corp.example.com");
    }

    #[test]
    fn unicode_pwd_is_the_quoted_password_in_utf16le() {
        assert_eq!(&unicode_pwd("ab")[..], &[b'"', 0, b'a', 0, b'b', 0, b'"', 0]);
    }

    #[test]
    fn encryption_types_are_named() {
        assert_eq!(encryption_type_names(Some(ENCTYPE_AES256)), vec!["AES256-CTS-HMAC-SHA1-96"]);
        assert_eq!(encryption_type_names(Some(0x1c)).len(), 3);
        assert_eq!(encryption_type_names(None).len(), 1);
    }
}
