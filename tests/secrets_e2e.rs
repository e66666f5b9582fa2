//! No secret at rest or in the logs: an end-to-end run (DC with the hook, daemon, emulator)
//! changes passwords every way Samba offers, then searches the daemon's log, the emulator's log,
//! and the bytes of the state DB (and its WAL) for every password, every NT hash (hex either
//! case, Base64) and every PHS credential the emulator received. Also: the files that could hold
//! anything sensitive are 0600, and the daemon's log still carries its structured fields.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use common::samba::{Dc, nt_hash};
use common::stack::{Daemon, Emulator, Stack};

const USERS: [(&str, &str); 3] = [("alice", "Al1ce!Secret-0"), ("bob", "B0b!Secret-0"), ("carol", "Car0l!Secret-0")];

fn upn(name: &str) -> String {
    format!("{name}@lab.test")
}

fn prepare(dc: &Dc) {
    for (name, password) in USERS {
        dc.samba_tool(&[
            "user",
            "create",
            name,
            password,
            "--userou=CN=Users",
            &format!("--mail-address={}", upn(name)),
        ]);
    }
}

/// An administrator's LDAP modify of unicodePwd (UTF-16LE of the quoted password, over ldaps).
fn ldap_modify_password(dc: &Dc, name: &str, password: &str) {
    let quoted: Vec<u8> = format!("\"{password}\"").encode_utf16().flat_map(u16::to_le_bytes).collect();
    let ldif = format!(
        "dn: CN={name},CN=Users,DC=lab,DC=test\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n",
        base64::engine::general_purpose::STANDARD.encode(quoted)
    );
    let file = dc.dir().join("pw.ldif");
    fs::write(&file, ldif).expect("ldif");
    let out = Command::new("ip")
        .args(["netns", "exec"])
        .arg(dc.netns().expect("running"))
        .args(["ldapmodify", "-H", "ldaps://127.0.0.1", "-x", "-D", "Administrator@lab.test", "-w"])
        .arg(common::samba::ADMIN_PASSWORD)
        .arg("-f")
        .arg(&file)
        .env("LDAPTLS_REQCERT", "never")
        .output()
        .expect("ldapmodify");
    let _ = fs::remove_file(&file);
    assert!(out.status.success(), "ldapmodify: {}", String::from_utf8_lossy(&out.stderr));
}

/// Every form a leaked password or hash could take in a text log or a database page.
fn needles(password: &str) -> Vec<(String, Vec<u8>)> {
    let hash = nt_hash(password);
    let b64 = base64::engine::general_purpose::STANDARD.encode(hash);
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash);
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    vec![
        ("the password".into(), password.as_bytes().to_vec()),
        ("the password in UTF-16LE".into(), utf16),
        ("the NT hash in lower-case hex".into(), hex::encode(hash).into_bytes()),
        ("the NT hash in upper-case hex".into(), hex::encode_upper(hash).into_bytes()),
        // Without the padding, so an unpadded encoding is found too.
        ("the NT hash in Base64".into(), b64.trim_end_matches('=').as_bytes().to_vec()),
        ("the NT hash in URL-safe Base64".into(), b64url.into_bytes()),
        ("the raw NT hash".into(), hash.to_vec()),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The `v1;PPH1_MD4,...;` strings in a file's bytes.
fn credentials_in(bytes: &[u8]) -> Vec<String> {
    const MARK: &[u8] = b"v1;PPH1_MD4,";
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(MARK.len()).position(|w| w == MARK) {
        let start = i + at;
        let rest = &bytes[start + MARK.len()..];
        let end = rest.iter().position(|b| *b == b';').unwrap_or(rest.len());
        out.push(String::from_utf8_lossy(&bytes[start..start + MARK.len() + end + 1]).to_string());
        i = start + MARK.len();
    }
    out
}

fn with_wal(db: &Path) -> Vec<PathBuf> {
    let mut v = vec![db.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            v.push(p);
        }
    }
    v
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

#[test]
fn no_password_hash_or_credential_in_logs_or_state() {
    // Stack::start, with the emulator logging every call: its log must stay clean too.
    let bus = common::bus::PrivateBus::start().expect("private bus");
    let emu = Emulator::start_verbose(&[]);
    let mut dc = Dc::new();
    prepare(&dc);
    dc.set_global_option("check password script", &common::stack::hook_path().display().to_string());
    dc.start(&[("DBUS_SYSTEM_BUS_ADDRESS", bus.address())]);
    let daemon = Daemon::start(&dc, &emu, &bus, "");
    let s = Stack { daemon, dc, emu, bus, extra_sync: String::new() };
    let mut passwords: Vec<String> = USERS.iter().map(|(_, p)| p.to_string()).collect();
    for (name, password) in USERS {
        assert!(
            s.emu.wait_password(&upn(name), password, Duration::from_secs(30)).is_some(),
            "the initial sync did not deliver {name}'s password:\n{}",
            s.daemon.logs()
        );
    }

    // samba-tool over LDAP, samba-tool on sam.ldb, kpasswd, and an LDAP modify of unicodePwd.
    let changes: [(&str, &str, &str); 4] = [
        ("alice", "Al1ce!Secret-1", "samba-tool over LDAP"),
        ("bob", "B0b!Secret-1", "samba-tool on sam.ldb"),
        ("carol", "Car0l!Secret-1", "kpasswd"),
        ("alice", "Al1ce!Secret-2", "LDAP modify"),
    ];
    for (name, password, how) in changes {
        match how {
            "samba-tool over LDAP" => {
                let out = s.dc.setpassword_ldap(name, password);
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            }
            "samba-tool on sam.ldb" => s.dc.set_password(name, password),
            "kpasswd" => {
                let out = s.dc.kpasswd(name, "Car0l!Secret-0", password);
                assert!(out.status.success(), "kpasswd: {}", String::from_utf8_lossy(&out.stderr));
            }
            _ => ldap_modify_password(&s.dc, name, password),
        }
        assert!(
            s.emu.wait_password(&upn(name), password, Duration::from_secs(15)).is_some(),
            "{how}: the change did not reach the emulator:\n{}",
            s.daemon.logs()
        );
        passwords.push(password.to_string());
    }

    // What the emulator stored is the ground truth for which credential strings went over the wire.
    let tenant_db = s.emu.data.path().join("tenant.db");
    let mut sent = Vec::new();
    for f in with_wal(&tenant_db) {
        sent.extend(credentials_in(&fs::read(f).expect("tenant db")));
    }
    sent.sort();
    sent.dedup();
    assert!(sent.len() >= 3, "the emulator's store should hold a credential per user, found {sent:?}");

    let logs = s.daemon.logs();
    for field in ["account=", "anchor=", "operation=", "latency_ms="] {
        assert!(logs.contains(field), "the daemon's log lost its structured field {field}:\n{logs}");
    }
    for (name, _) in USERS {
        assert!(logs.contains(&format!("account={name}")), "no log line names {name}:\n{logs}");
    }

    let emulator_log = fs::read_to_string(s.emu.data.path().join("emulator.log")).expect("emulator log");
    assert!(emulator_log.contains("ProvisionCredentials"), "the emulator logged no credential call:\n{emulator_log}");
    let mut files = vec![s.daemon.log_path(), s.emu.data.path().join("emulator.log")];
    files.extend(with_wal(&s.daemon.state_db()));
    let mut leaks = Vec::new();
    for file in &files {
        let bytes = fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for password in &passwords {
            for (what, needle) in needles(password) {
                if contains(&bytes, &needle) {
                    leaks.push(format!("{}: {what} of a test password", file.display()));
                }
            }
        }
        for credential in &sent {
            if contains(&bytes, credential.as_bytes()) {
                leaks.push(format!("{}: a PHS credential string", file.display()));
            }
            // The derived key alone (the part after the last comma).
            let key = credential.trim_end_matches(';').rsplit(',').next().unwrap_or_default();
            if key.len() >= 32 && (contains(&bytes, key.as_bytes()) || contains(&bytes, key.to_lowercase().as_bytes()))
            {
                leaks.push(format!("{}: a PHS credential's key", file.display()));
            }
        }
        if contains(&bytes, b"PPH1_MD4") {
            leaks.push(format!("{}: something shaped like a PHS credential", file.display()));
        }
    }
    assert!(leaks.is_empty(), "secrets found:\n{}", leaks.join("\n"));

    // At rest: only root may read the state and the token cache.
    let mut private = with_wal(&s.daemon.state_db());
    private.push(s.daemon.dir.path().join("token.json"));
    for p in private {
        assert_eq!(mode(&p), 0o600, "{} has mode {:o}", p.display(), mode(&p));
    }
}

#[test]
fn the_scanner_finds_planted_secrets() {
    let password = "Pl4nted!Secret";
    let hash = nt_hash(password);
    let b64 = base64::engine::general_purpose::STANDARD.encode(hash);
    for planted in [
        format!("x account=a nt={} y", hex::encode_upper(hash)),
        format!("x {} y", hex::encode(hash)),
        format!("x hash={b64} y"),
        format!("x password={password} y"),
    ] {
        assert!(needles(password).iter().any(|(_, n)| contains(planted.as_bytes(), n)), "not found in {planted:?}");
    }
    assert!(!needles(password).iter().any(|(_, n)| contains(b"account=alice latency_ms=3.2", n)));
    let found = credentials_in(b"..v1;PPH1_MD4,0a0b,1000,ABCDEF;..v1;PPH1_MD4,01,1000,12;");
    assert_eq!(found, vec!["v1;PPH1_MD4,0a0b,1000,ABCDEF;".to_string(), "v1;PPH1_MD4,01,1000,12;".to_string()]);
}
