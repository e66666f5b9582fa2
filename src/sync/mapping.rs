//! From directory objects to the objects Entra should hold, under the attribute names of the sync API.
//!
//! Users, groups (security and distribution, mail-enabled), contacts and devices (computers
//! carrying a hybrid-join userCertificate). Group members and managers are expressed as the
//! anchors of in-scope objects; references to anything out of scope are dropped.

use std::collections::HashMap;

use super::anchor::{Anchor, AnchorAttribute, source_anchor};
use super::model::{AttrValue, Attributes, ExportObject, ObjectType};
use super::scope::Scope;
use crate::samba::directory::{Computer, Contact, Group, Identity, User};
use crate::samba::values::filetime_to_unix;

/// What the domain is called, for `dnsDomainName` and `netBiosName`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainInfo {
    pub dns_name: String,
    pub netbios_name: String,
}

impl DomainInfo {
    /// `DC=lab,DC=test` → `lab.test`.
    pub fn dns_from_dn(dn: &str) -> String {
        dn.split(',')
            .filter_map(|rdn| {
                let (k, v) = rdn.split_once('=')?;
                k.trim().eq_ignore_ascii_case("DC").then(|| v.trim().to_ascii_lowercase())
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Everything the directory holds, as read.
#[derive(Debug, Default)]
pub struct DirectorySnapshot {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub computers: Vec<Computer>,
    pub contacts: Vec<Contact>,
}

impl DirectorySnapshot {
    /// How many objects were read.
    pub fn object_count(&self) -> usize {
        self.users.len() + self.groups.len() + self.computers.len() + self.contacts.len()
    }
}

/// The desired tenant, and why the rest is left out.
#[derive(Debug, Default)]
pub struct Desired {
    pub objects: Vec<ExportObject>,
    pub excluded: Vec<(String, &'static str)>,
    /// The next time (Unix seconds) an account expires: the reconciler sets a timer for it.
    pub next_expiry: Option<i64>,
}

pub struct Mapper<'a> {
    pub anchor: AnchorAttribute,
    pub domain: &'a DomainInfo,
    pub scope: &'a Scope,
    /// "Now", in Unix seconds (a parameter, so expiry is testable).
    pub now: i64,
}

fn s(v: &Option<String>) -> AttrValue {
    match v {
        Some(x) if !x.is_empty() => AttrValue::Str(x.clone()),
        _ => AttrValue::Null,
    }
}

/// A multi-valued attribute: an empty list stays an empty list, which goes out as an empty
/// typed array (`<c:Value i:type="c:ArrayOfstring"/>`), the form the Python port always sends
/// and the one known to work; never as `i:nil`.
fn list(v: &[String]) -> AttrValue {
    AttrValue::StrList(v.to_vec())
}

/// The user's text attribute → the Entra key, in catalogue order.
const USER_TEXT_MAP: &[(&str, &str)] = &[
    ("givenName", "givenName"),
    ("sn", "surname"),
    ("mail", "mail"),
    ("physicalDeliveryOfficeName", "physicalDeliveryOfficeName"),
    ("department", "department"),
    ("employeeID", "employeeId"),
    ("employeeType", "employeeType"),
    ("streetAddress", "streetAddress"),
    ("l", "city"),
    ("st", "state"),
    ("postalCode", "postalCode"),
    ("co", "country"),
    ("telephoneNumber", "telephoneNumber"),
    ("facsimileTelephoneNumber", "facsimileTelephoneNumber"),
    ("mobile", "mobile"),
    ("company", "company"),
    ("title", "title"),
];

impl Mapper<'_> {
    fn common(&self, id: &Identity, attrs: &mut Attributes) {
        attrs.insert("SourceAnchor", AttrValue::Str(source_anchor(id, self.anchor).into_string()));
        attrs.insert("onPremisesSamAccountName", AttrValue::Str(id.sam_account_name.clone()));
        attrs.insert("onPremisesDistinguishedName", AttrValue::Str(id.dn.clone()));
        attrs.insert(
            "onPremiseSecurityIdentifier",
            if id.object_sid.is_empty() { AttrValue::Null } else { AttrValue::Bytes(id.object_sid.clone()) },
        );
        attrs.insert("dnsDomainName", AttrValue::Str(self.domain.dns_name.clone()));
    }

    fn expired(&self, account_expires: i64) -> bool {
        filetime_to_unix(account_expires).is_some_and(|t| t <= self.now)
    }

    pub fn user(&self, u: &User, index: &HashMap<String, Anchor>) -> ExportObject {
        let mut a = Attributes::default();
        self.common(&u.id, &mut a);
        a.insert("netBiosName", AttrValue::Str(self.domain.netbios_name.clone()));
        a.insert("accountEnabled", AttrValue::Bool(!u.disabled() && !self.expired(u.account_expires)));
        a.insert("userPrincipalName", s(&u.user_principal_name));
        a.insert("displayName", s(&u.id.display_name));
        a.insert("commonName", s(&u.id.common_name));
        for (ad, entra) in USER_TEXT_MAP {
            a.insert(entra, s(&u.text(ad).map(String::from)));
        }
        a.insert("proxyAddresses", list(u.text.get("proxyAddresses").map(Vec::as_slice).unwrap_or(&[])));
        // AD's numeric ISO 3166 code; 0 (AD's default) means none.
        let country_code = u.text("countryCode").and_then(|c| c.trim().parse::<i64>().ok()).filter(|c| *c != 0);
        a.insert("countryCode", country_code.map_or(AttrValue::Null, AttrValue::Long));
        // usageLocation wants an ISO 3166 alpha-2 code: AD's `c`.
        a.insert("usageLocation", s(&u.text("c").filter(|c| c.len() == 2).map(String::from)));
        let manager = u.text("manager").and_then(|dn| index.get(&dn.to_ascii_lowercase())).map(|a| a.to_string());
        a.insert("manager", s(&manager));
        ExportObject {
            object_type: ObjectType::User,
            anchor: source_anchor(&u.id, self.anchor),
            dn: u.id.dn.clone(),
            name: u.id.sam_account_name.clone(),
            attributes: a,
            members: None,
        }
    }

    pub fn group(&self, g: &Group, index: &HashMap<String, Anchor>) -> ExportObject {
        let mut a = Attributes::default();
        self.common(&g.id, &mut a);
        let display = g.id.display_name.clone().unwrap_or_else(|| g.id.sam_account_name.clone());
        a.insert("displayName", AttrValue::Str(display));
        // camelCase, like every other key we send and Entra Connect's own connector schema
        // ("Attributes synchronized to Microsoft Entra ID" lists `securityEnabled`); the service
        // compares keys case-insensitively (the read-back answers PascalCase for every key), so
        // the Python port's `SecurityEnabled` works too: the spelling is ours to choose.
        a.insert("securityEnabled", AttrValue::Bool(g.security_enabled()));
        a.insert("mail", s(&g.mail));
        a.insert("proxyAddresses", list(&g.proxy_addresses));
        a.insert("Description", s(&g.id.description));
        let mut members: Vec<Anchor> =
            g.members.iter().filter_map(|dn| index.get(&dn.to_ascii_lowercase()).cloned()).collect();
        members.sort();
        members.dedup();
        ExportObject {
            object_type: ObjectType::Group,
            anchor: source_anchor(&g.id, self.anchor),
            dn: g.id.dn.clone(),
            name: g.id.sam_account_name.clone(),
            attributes: a,
            members: Some(members),
        }
    }

    pub fn device(&self, c: &Computer) -> ExportObject {
        let mut a = Attributes::default();
        self.common(&c.id, &mut a);
        let name = c.id.sam_account_name.trim_end_matches('$').to_string();
        a.insert("deviceId", AttrValue::Bytes(c.id.object_guid.to_vec()));
        a.insert("displayName", AttrValue::Str(name.clone()));
        a.insert("accountEnabled", AttrValue::Bool(c.user_account_control & 0x2 == 0));
        a.insert("deviceOSType", s(&c.operating_system));
        a.insert("deviceOSVersion", s(&c.operating_system_version));
        a.insert("deviceTrustType", AttrValue::Str("ServerAd".into()));
        a.insert("userCertificate", AttrValue::BytesList(c.user_certificates.clone()));
        ExportObject {
            object_type: ObjectType::Device,
            anchor: source_anchor(&c.id, self.anchor),
            dn: c.id.dn.clone(),
            name,
            attributes: a,
            members: None,
        }
    }

    pub fn contact(&self, c: &Contact) -> ExportObject {
        let mut a = Attributes::default();
        a.insert("SourceAnchor", AttrValue::Str(source_anchor(&c.id, self.anchor).into_string()));
        a.insert("onPremisesDistinguishedName", AttrValue::Str(c.id.dn.clone()));
        a.insert("dnsDomainName", AttrValue::Str(self.domain.dns_name.clone()));
        a.insert("displayName", s(&c.id.display_name.clone().or_else(|| c.id.common_name.clone())));
        a.insert("commonName", s(&c.id.common_name));
        a.insert("givenName", s(&c.given_name));
        a.insert("surname", s(&c.surname));
        a.insert("mail", s(&c.mail));
        a.insert("proxyAddresses", list(&c.proxy_addresses));
        ExportObject {
            object_type: ObjectType::Contact,
            anchor: source_anchor(&c.id, self.anchor),
            dn: c.id.dn.clone(),
            name: c.id.common_name.clone().unwrap_or_default(),
            attributes: a,
            members: None,
        }
    }

    /// The whole desired tenant from a directory snapshot.
    pub fn map(&self, dir: &DirectorySnapshot) -> Desired {
        self.map_with_index(dir, &mut HashMap::new())
    }

    /// The desired objects of `dir`, resolving member DNs through `index` (DN, lower-cased →
    /// anchor): every in-scope object of `dir` joins the index first, so a group naming a
    /// new member resolves it. A delta run passes the index of the last full run.
    pub fn map_with_index(&self, dir: &DirectorySnapshot, index: &mut HashMap<String, Anchor>) -> Desired {
        let mut out = Desired::default();
        let mut excluded = |name: &str, why: &'static str| out.excluded.push((name.to_string(), why));
        let users: Vec<&User> = dir
            .users
            .iter()
            .filter(|u| self.scope.user(u).map_err(|e| excluded(&u.id.sam_account_name, e.reason())).is_ok())
            .collect();
        let groups: Vec<&Group> = dir
            .groups
            .iter()
            .filter(|g| self.scope.group(g).map_err(|e| excluded(&g.id.sam_account_name, e.reason())).is_ok())
            .collect();
        let devices: Vec<&Computer> = dir
            .computers
            .iter()
            .filter(|c| self.scope.computer(c).map_err(|e| excluded(&c.id.sam_account_name, e.reason())).is_ok())
            .collect();
        let contacts: Vec<&Contact> = dir
            .contacts
            .iter()
            .filter(|c| self.scope.contact(c).map_err(|e| excluded(&c.id.sam_account_name, e.reason())).is_ok())
            .collect();
        index.extend(
            users
                .iter()
                .map(|u| &u.id)
                .chain(groups.iter().map(|g| &g.id))
                .chain(devices.iter().map(|c| &c.id))
                .chain(contacts.iter().map(|c| &c.id))
                .map(|id| (id.dn.to_ascii_lowercase(), source_anchor(id, self.anchor))),
        );
        for u in &users {
            if let Some(t) = filetime_to_unix(u.account_expires).filter(|t| *t > self.now) {
                out.next_expiry = Some(out.next_expiry.map_or(t, |n| n.min(t)));
            }
            out.objects.push(self.user(u, index));
        }
        out.objects.extend(contacts.iter().map(|c| self.contact(c)));
        out.objects.extend(devices.iter().map(|c| self.device(c)));
        out.objects.extend(groups.iter().map(|g| self.group(g, index)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, rid: u32, guid: u8) -> Identity {
        let mut sid = vec![1u8, 4, 0, 0, 0, 0, 0, 5];
        for sub in [21u32, 1, 2, rid] {
            sid.extend_from_slice(&sub.to_le_bytes());
        }
        Identity {
            dn: format!("CN={name},CN=Users,DC=lab,DC=test"),
            sam_account_name: name.into(),
            object_guid: [guid; 16],
            object_sid: sid,
            common_name: Some(name.into()),
            ..Default::default()
        }
    }

    fn user(name: &str, rid: u32, guid: u8) -> User {
        User {
            id: id(name, rid, guid),
            user_principal_name: Some(format!("{name}@lab.test")),
            user_account_control: 512,
            pwd_last_set: 1,
            account_expires: 0,
            key_version: 1,
            text: Default::default(),
            nt_hash: None,
        }
    }

    fn group(name: &str, rid: u32, guid: u8, members: &[&Identity]) -> Group {
        Group {
            id: id(name, rid, guid),
            group_type: -2147483646,
            members: members.iter().map(|m| m.dn.clone()).collect(),
            mail: None,
            proxy_addresses: vec![],
        }
    }

    #[test]
    fn members_are_in_scope_anchors_and_nesting_works() {
        let domain = DomainInfo { dns_name: "lab.test".into(), netbios_name: "LAB".into() };
        let scope = Scope::default();
        let m = Mapper { anchor: AnchorAttribute::ObjectGuid, domain: &domain, scope: &scope, now: 1_000 };
        let alice = user("alice", 1101, 1);
        let admin = user("Administrator", 500, 2);
        let inner = group("inner", 1200, 3, &[&alice.id, &admin.id]);
        let outer = group("outer", 1201, 4, &[&inner.id]);
        let dir = DirectorySnapshot { users: vec![alice, admin], groups: vec![inner, outer], ..Default::default() };
        let d = m.map(&dir);
        assert_eq!(d.objects.len(), 3, "Administrator (RID 500) stays out");
        assert_eq!(d.excluded, vec![("Administrator".to_string(), "built-in account (RID below 1000)")]);
        let find = |n: &str| d.objects.iter().find(|o| o.name == n).cloned().unwrap_or_else(|| panic!("{n}"));
        let alice_anchor = find("alice").anchor;
        assert_eq!(find("inner").members, Some(vec![alice_anchor]));
        assert_eq!(find("outer").members, Some(vec![find("inner").anchor]));
        assert_eq!(find("alice").get("surname"), Some(&AttrValue::Null));
        assert_eq!(find("alice").get("dnsDomainName"), Some(&AttrValue::Str("lab.test".into())));
    }

    #[test]
    fn country_code_goes_out_when_set_and_empty_lists_stay_lists() {
        let domain = DomainInfo::default();
        let scope = Scope::default();
        let m = Mapper { anchor: AnchorAttribute::ObjectGuid, domain: &domain, scope: &scope, now: 1_000 };
        let mut de = user("de", 1101, 1);
        de.text.insert("countryCode", vec!["276".into()]);
        let mut none = user("none", 1102, 2);
        none.text.insert("countryCode", vec!["0".into()]);
        let index = HashMap::new();
        assert_eq!(m.user(&de, &index).get("countryCode"), Some(&AttrValue::Long(276)));
        assert_eq!(m.user(&none, &index).get("countryCode"), Some(&AttrValue::Null), "0 is AD's none");
        assert_eq!(m.user(&none, &index).get("proxyAddresses"), Some(&AttrValue::StrList(Vec::new())));
    }

    #[test]
    fn disabled_and_expired_accounts_export_disabled() {
        let domain = DomainInfo::default();
        let scope = Scope::default();
        // now = 2026-01-01; FILETIME of 2025-01-01 and 2027-01-01.
        let now = 1_767_225_600;
        let ft = |unix: i64| (unix + 11_644_473_600) * 10_000_000;
        let m = Mapper { anchor: AnchorAttribute::ObjectGuid, domain: &domain, scope: &scope, now };
        let mut expired = user("old", 1101, 1);
        expired.account_expires = ft(1_735_689_600);
        let mut later = user("later", 1102, 2);
        later.account_expires = ft(1_798_761_600);
        let mut disabled = user("off", 1103, 3);
        disabled.user_account_control |= 2;
        let d = m.map(&DirectorySnapshot { users: vec![expired, later, disabled], ..Default::default() });
        let enabled = |n: &str| d.objects.iter().find(|o| o.name == n).and_then(|o| o.get("accountEnabled").cloned());
        assert_eq!(enabled("old"), Some(AttrValue::Bool(false)));
        assert_eq!(enabled("later"), Some(AttrValue::Bool(true)));
        assert_eq!(enabled("off"), Some(AttrValue::Bool(false)));
        assert_eq!(d.next_expiry, Some(1_798_761_600));
    }

    #[test]
    fn contacts_outside_their_bases_are_left_out_and_dropped_from_groups() {
        let domain = DomainInfo::default();
        let scope = Scope::from_config(&crate::config::ScopeConfig {
            contact_bases: vec!["OU=Partners,DC=lab,DC=test".into()],
            ..Default::default()
        });
        let m = Mapper { anchor: AnchorAttribute::ObjectGuid, domain: &domain, scope: &scope, now: 1_000 };
        let contact = |cn: &str, parent: &str, guid: u8| Contact {
            id: Identity {
                dn: format!("CN={cn},{parent}"),
                sam_account_name: cn.into(),
                object_guid: [guid; 16],
                common_name: Some(cn.into()),
                ..Default::default()
            },
            given_name: None,
            surname: None,
            mail: None,
            proxy_addresses: vec![],
        };
        let inside = contact("inside", "OU=Partners,DC=lab,DC=test", 1);
        let outside = contact("outside", "OU=Elsewhere,DC=lab,DC=test", 2);
        let g = group("partners", 1200, 3, &[&inside.id, &outside.id]);
        let d = m.map(&DirectorySnapshot { contacts: vec![inside, outside], groups: vec![g], ..Default::default() });
        let names: Vec<&str> = d.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["inside", "partners"]);
        assert_eq!(d.excluded, vec![("outside".to_string(), "outside the configured base DNs")]);
        let find = |n: &str| d.objects.iter().find(|o| o.name == n).cloned().unwrap_or_else(|| panic!("{n}"));
        assert_eq!(find("partners").members, Some(vec![find("inside").anchor]));
    }

    #[test]
    fn dns_name_from_dn() {
        assert_eq!(DomainInfo::dns_from_dn("DC=Lab,DC=Test"), "lab.test");
    }
}
