//! `samba-entra-sync directory dump`: what the daemon reads from sam.ldb.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::{CliResult, Failure, runtime};
use crate::samba::directory::{self, Computer, DirectoryObject, Group, Identity, ReadOptions, User};
use crate::samba::values::{guid_string, sid_string};
use crate::samba::{LdbError, LdbHandle};
use crate::sync::anchor::{AnchorAttribute, source_anchor};

#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    /// Path of the DC's sam.ldb (read-only; needs root).
    #[arg(long, value_name = "PATH", default_value = "/var/lib/samba/private/sam.ldb")]
    pub sam_ldb: PathBuf,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also print each user's NT hash. These are password equivalents: handle the output
    /// like the passwords themselves.
    #[arg(long)]
    pub show_nt_hash: bool,
    /// Attribute the `sourceAnchor` column is computed from.
    #[arg(long, value_name = "ATTR", default_value = "objectGUID", value_parser = parse_anchor)]
    pub source_anchor: AnchorAttribute,
}

fn parse_anchor(s: &str) -> Result<AnchorAttribute, String> {
    AnchorAttribute::parse(s).ok_or_else(|| "expected objectGUID or ms-DS-ConsistencyGuid".to_string())
}

pub fn dump(args: &DumpArgs) -> CliResult {
    if args.show_nt_hash {
        eprintln!(
            "warning: --show-nt-hash prints NT hashes, which are password equivalents; do not store or share this output."
        );
    }
    let rt = runtime()?;
    let opts = ReadOptions { with_nt_hash: args.show_nt_hash, ..Default::default() };
    let objects = rt
        .block_on(async {
            let ldb = LdbHandle::open(&args.sam_ldb).await?;
            ldb.call(move |conn| directory::read_all(conn, &opts)).await
        })
        .map_err(|e: LdbError| Failure::runtime(e))?;

    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let list: Vec<Value> = objects.iter().map(|o| to_json(o, args)).collect();
        serde_json::to_writer_pretty(&mut out, &list).map_err(std::io::Error::from).and_then(|()| writeln!(out))
    } else {
        write_table(&mut out, &objects, args)
    };
    written.map_err(|e| Failure::runtime(format!("cannot write the dump: {e}")))
}

fn identity_json(
    kind: &str,
    id: &Identity,
    uac: Option<u32>,
    anchor: AnchorAttribute,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("objectType".into(), json!(kind));
    m.insert("distinguishedName".into(), json!(id.dn));
    m.insert("sAMAccountName".into(), json!(id.sam_account_name));
    m.insert("objectGUID".into(), json!(guid_string(&id.object_guid)));
    m.insert("objectSid".into(), json!(sid_string(&id.object_sid)));
    m.insert("sourceAnchor".into(), json!(source_anchor(id, anchor)));
    m.insert("userAccountControl".into(), json!(uac));
    m.insert("uSNChanged".into(), json!(id.usn_changed));
    m.insert("displayName".into(), json!(id.display_name));
    m.insert("description".into(), json!(id.description));
    m.insert("adminCount".into(), json!(id.admin_count));
    m
}

fn to_json(o: &DirectoryObject, args: &DumpArgs) -> Value {
    match o {
        DirectoryObject::User(u) => user_json(u, args),
        DirectoryObject::Group(g) => group_json(g, args.source_anchor),
        DirectoryObject::Computer(c) => computer_json(c, args.source_anchor),
    }
}

fn user_json(u: &User, args: &DumpArgs) -> Value {
    let mut m = identity_json("user", &u.id, Some(u.user_account_control), args.source_anchor);
    m.insert("userPrincipalName".into(), json!(u.user_principal_name));
    m.insert("pwdLastSet".into(), json!(u.pwd_last_set));
    m.insert("accountExpires".into(), json!(u.account_expires));
    m.insert("msDS-KeyVersionNumber".into(), json!(u.key_version));
    for (name, values) in &u.text {
        m.insert(
            (*name).into(),
            if values.len() == 1 && *name != "proxyAddresses" { json!(values[0]) } else { json!(values) },
        );
    }
    if args.show_nt_hash {
        m.insert("ntHash".into(), json!(u.nt_hash.as_ref().map(|h| h.to_upper_hex().to_string())));
    }
    Value::Object(m)
}

fn group_json(g: &Group, anchor: AnchorAttribute) -> Value {
    let mut m = identity_json("group", &g.id, None, anchor);
    m.insert("groupType".into(), json!(g.group_type));
    m.insert("member".into(), json!(g.members));
    m.insert("mail".into(), json!(g.mail));
    m.insert("proxyAddresses".into(), json!(g.proxy_addresses));
    Value::Object(m)
}

fn computer_json(c: &Computer, anchor: AnchorAttribute) -> Value {
    use base64::Engine;
    let mut m = identity_json("computer", &c.id, Some(c.user_account_control), anchor);
    m.insert("operatingSystem".into(), json!(c.operating_system));
    m.insert("operatingSystemVersion".into(), json!(c.operating_system_version));
    m.insert("dNSHostName".into(), json!(c.dns_host_name));
    let certs: Vec<String> =
        c.user_certificates.iter().map(|b| base64::engine::general_purpose::STANDARD.encode(b)).collect();
    m.insert("userCertificate".into(), json!(certs));
    Value::Object(m)
}

fn write_table(out: &mut impl Write, objects: &[DirectoryObject], args: &DumpArgs) -> std::io::Result<()> {
    writeln!(out, "{:<9} {:<24} {:<26} {:<38} {:<6} detail", "TYPE", "NAME", "SOURCE ANCHOR", "OBJECT GUID", "UAC")?;
    for o in objects {
        let (kind, id, uac, detail) = match o {
            DirectoryObject::User(u) => {
                let mut d = format!("upn={} kvno={}", u.user_principal_name.as_deref().unwrap_or("-"), u.key_version);
                if u.disabled() {
                    d.push_str(" disabled");
                }
                if u.must_change_password() {
                    d.push_str(" must-change-password");
                }
                if args.show_nt_hash {
                    let h = u.nt_hash.as_ref().map(|h| h.to_upper_hex().to_string()).unwrap_or_else(|| "-".into());
                    d.push_str(&format!(" nt={h}"));
                }
                ("user", &u.id, u.user_account_control.to_string(), d)
            }
            DirectoryObject::Group(g) => ("group", &g.id, "-".into(), format!("members={}", g.members.len())),
            DirectoryObject::Computer(c) => (
                "computer",
                &c.id,
                c.user_account_control.to_string(),
                format!("os={} certs={}", c.operating_system.as_deref().unwrap_or("-"), c.user_certificates.len()),
            ),
        };
        writeln!(
            out,
            "{:<9} {:<24} {:<26} {:<38} {:<6} {}",
            kind,
            id.sam_account_name,
            source_anchor(id, args.source_anchor),
            guid_string(&id.object_guid),
            uac,
            detail
        )?;
    }
    Ok(())
}
