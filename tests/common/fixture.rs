//! Bulk directory fixtures: LDIF for many users (with NT hashes), groups (some nested) and
//! computers (some hybrid-join ready), added through Samba's own module stack in one `ldbadd`.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::samba::{DOMAIN_DN, Dc, nt_hash};

/// The deterministic password of bulk user `i` (meets Samba's complexity rule).
pub fn password_of(i: usize) -> String {
    format!("Bulk-{i}!pw")
}

pub fn user_name(i: usize) -> String {
    format!("bulk{i:05}")
}

pub fn group_name(i: usize) -> String {
    format!("bgroup{i:04}")
}

pub fn computer_name(i: usize) -> String {
    format!("BPC{i:04}")
}

/// How big a domain to build.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub users: usize,
    pub groups: usize,
    pub computers: usize,
    /// Members per group (users, taken round-robin).
    pub members_per_group: usize,
}

pub fn user_dn(i: usize) -> String {
    format!("CN={},CN=Users,{DOMAIN_DN}", user_name(i))
}

pub fn group_dn(i: usize) -> String {
    format!("CN={},CN=Users,{DOMAIN_DN}", group_name(i))
}

/// LDIF for the users only (unicodePwd as the NT hash: needs the hash-values control).
pub fn users_ldif(range: std::ops::Range<usize>) -> String {
    users_ldif_with(range, |_| String::new())
}

/// Like [`users_ldif`], each user also with the rest of what the mapping exports: office,
/// address, phones, company, employee data, country, manager ([`profile`]). Every value
/// differs from attribute to attribute, so an attribute exported under the wrong name shows.
pub fn profiled_users_ldif(range: std::ops::Range<usize>) -> String {
    users_ldif_with(range, profile)
}

/// The extra attributes of bulk user `i` as LDIF lines (ending in a newline), or nothing.
/// Every tenth user (`i % 10 == 9`) has none, so empty values are exported too. The manager of
/// user `i` is the first user of its ten (added before it, as the link needs); the first user of
/// every twenty has the Administrator, who is out of scope: the mapping must drop that reference.
pub fn profile(i: usize) -> String {
    if i % 10 == 9 {
        return String::new();
    }
    let (c, co) = [("DE", "Germany"), ("FR", "France"), ("NL", "Netherlands")][i % 3];
    // A three-letter `c` ("DEU"): not an ISO 3166 alpha-2 code, so no usageLocation.
    let c = if i % 10 == 8 { "DEU" } else { c };
    let mut s = format!(
        "physicalDeliveryOfficeName: Office {i}\nemployeeID: E{i:05}\nemployeeType: {kind}\n\
         streetAddress: {i} Main Street\nl: City {city}\nst: State {state}\npostalCode: {postal}\n\
         c: {c}\nco: {co}\nfacsimileTelephoneNumber: +1 556 {i:04}\nmobile: +1 557 {i:04}\n\
         company: Company {company}\n",
        kind = if i.is_multiple_of(2) { "Employee" } else { "Contractor" },
        city = i % 13,
        state = i % 11,
        postal = 10_000 + i,
        company = i % 5,
    );
    if !i.is_multiple_of(10) {
        s.push_str(&format!("manager: {}\n", user_dn(i - i % 10)));
    } else if i.is_multiple_of(20) {
        s.push_str(&format!("manager: CN=Administrator,CN=Users,{DOMAIN_DN}\n"));
    }
    s
}

fn users_ldif_with(range: std::ops::Range<usize>, extra: impl Fn(usize) -> String) -> String {
    let mut s = String::new();
    for i in range {
        let name = user_name(i);
        let hash = STANDARD.encode(nt_hash(&password_of(i)));
        s.push_str(&format!(
            "dn: {dn}\nobjectClass: user\nsAMAccountName: {name}\nuserPrincipalName: {name}@lab.test\n\
             givenName: Bulk\nsn: User {i}\ndisplayName: Bulk User {i}\nmail: {name}@lab.test\n\
             proxyAddresses: SMTP:{name}@lab.test\nproxyAddresses: smtp:alias.{name}@lab.test\n\
             department: Dept {d}\ntitle: Tester\ntelephoneNumber: +1 555 {i:04}\nuserAccountControl: 512\n\
             unicodePwd:: {hash}\n{extra}\n",
            dn = user_dn(i),
            d = i % 10,
            extra = extra(i)
        ));
    }
    s
}

/// LDIF for groups and computers. Group `g` has users round-robin; every fifth group also
/// contains the next group (nesting).
pub fn groups_and_computers_ldif(shape: Shape) -> String {
    let mut s = String::new();
    // Create groups in reverse so that a nested group exists before the group that contains it.
    for g in (0..shape.groups).rev() {
        s.push_str(&format!(
            "dn: {}\nobjectClass: group\nsAMAccountName: {}\ndescription: bulk group {g}\n",
            group_dn(g),
            group_name(g)
        ));
        if g % 3 == 0 {
            s.push_str("groupType: -2147483646\n");
        } else if g % 3 == 1 {
            s.push_str(&format!(
                "groupType: 2\nmail: {0}@lab.test\nproxyAddresses: SMTP:{0}@lab.test\n",
                group_name(g)
            ));
        }
        if shape.users > 0 {
            for k in 0..shape.members_per_group {
                let u = (g * shape.members_per_group + k) % shape.users;
                s.push_str(&format!("member: {}\n", user_dn(u)));
            }
        }
        if g % 5 == 0 && g + 1 < shape.groups {
            s.push_str(&format!("member: {}\n", group_dn(g + 1)));
        }
        s.push('\n');
    }
    for c in 0..shape.computers {
        let name = computer_name(c);
        s.push_str(&format!(
            "dn: CN={name},CN=Computers,{DOMAIN_DN}\nobjectClass: computer\nsAMAccountName: {name}$\n\
             userAccountControl: 4096\noperatingSystem: Windows 11 Enterprise\noperatingSystemVersion: 10.0 (22631)\n\
             dNSHostName: {lower}.lab.test\n",
            lower = name.to_lowercase()
        ));
        if c % 2 == 0 {
            // Hybrid-join ready: carries a userCertificate (content is opaque to the sync).
            let der: Vec<u8> = (0..64u8).map(|b| b ^ (c as u8)).collect();
            s.push_str(&format!("userCertificate:: {}\n", STANDARD.encode(der)));
        }
        s.push('\n');
    }
    s
}

/// Adds a whole bulk domain to `dc` (on 2 cores: 10,000 users in about 15 s, 50,000 in 65-80 s).
pub fn populate(dc: &Dc, shape: Shape) {
    populate_with(dc, shape, users_ldif);
}

/// [`populate`] with users from `users` (e.g. [`profiled_users_ldif`]).
pub fn populate_with(dc: &Dc, shape: Shape, users: fn(std::ops::Range<usize>) -> String) {
    // Chunks keep each ldbadd transaction's memory moderate (about 0.3-0.7 GB for 10,000 users;
    // one transaction of 50,000 takes 1.4 GB and is no faster).
    let mut start = 0;
    while start < shape.users {
        let end = (start + 10_000).min(shape.users);
        dc.ldbadd(&users(start..end), true);
        start = end;
    }
    if shape.groups > 0 || shape.computers > 0 {
        dc.ldbadd(&groups_and_computers_ldif(shape), false);
    }
}
