//! Bad input against a running daemon: hostile account names over D-Bus from root and from an
//! unprivileged uid (`nobody`), strings D-Bus cannot carry (NUL, invalid UTF-8) sent as raw
//! bytes, and garbage configs. Each is refused or handled; the daemon never crashes, never
//! searches wider than the one account, and pushes nothing it should not. A garbage config is
//! refused with exit 2: one sentence, then one line per error naming its key.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Output};
use std::time::Duration;

use common::fixture::{password_of, user_name, users_ldif};
use common::stack::Stack;

const USERS: usize = 3;
const DEST: &str = "io.github.SambaEntraSync1";
const PATH: &str = "/io/github/SambaEntraSync1";

fn stack() -> Stack {
    let s = Stack::start(|dc| dc.ldbadd(&users_ldif(0..USERS), true), "", &[]);
    for i in 0..USERS {
        let upn = format!("{}@lab.test", user_name(i));
        assert!(s.emu.wait_password(&upn, &password_of(i), Duration::from_secs(60)).is_some(), "{}", s.daemon.logs());
    }
    s
}

/// `dbus-send` of `method` with one string argument (if any), as root or as `nobody`.
fn call(s: &Stack, as_nobody: bool, method: &str, arg: Option<&str>) -> Output {
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "dbus-send"]);
        c
    } else {
        Command::new("dbus-send")
    };
    cmd.arg(format!("--bus={}", s.bus.address()))
        .args(["--print-reply", "--reply-timeout=20000", &format!("--dest={DEST}"), PATH])
        .arg(format!("{DEST}.{method}"));
    if let Some(a) = arg {
        cmd.arg(format!("string:{a}"));
    }
    cmd.output().expect("dbus-send")
}

fn credential_calls(s: &Stack) -> u64 {
    s.emu.stats()["calls"]["ProvisionCredentials"].as_u64().unwrap_or(0)
}

/// The daemon still runs and answers a root Status call.
fn assert_alive(s: &Stack) {
    let out = call(s, false, "Status", None);
    assert!(
        out.status.success(),
        "Status after bad input: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.daemon.logs()
    );
}

fn hostile_names() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("10 KB", "a".repeat(10 * 1024)),
        ("LDAP filter injection", "*)(objectClass=*".to_string()),
        ("wildcard", "bulk*".to_string()),
        ("escape sequence", "bulk00000\\2a".to_string()),
    ]
}

#[test]
fn hostile_account_names_from_root_are_refused_or_handled() {
    let s = stack();
    let before = credential_calls(&s);
    for (what, name) in hostile_names() {
        let out = call(&s, false, "PasswordChanged", Some(&name));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        // Either refused with a D-Bus error, or accepted as a notice for a name that matches nobody.
        if !out.status.success() {
            assert!(err.contains("Error"), "{what}: not a D-Bus error: {err}");
        }
        // Refused, or answered as what it is: no such account (never another user's record).
        let out = call(&s, false, "GetUser", Some(&name));
        let reply = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success() || (reply.contains("SourceConnectorNotPresent") && !reply.contains("anchor")),
            "{what}: GetUser answered as if a user had that name: {reply}"
        );
        assert_alive(&s);
    }
    // The safety net and the notices had time to act: nothing may have been pushed, since no
    // password changed. A filter that matched every user would push every user's password.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(credential_calls(&s), before, "a hostile name made the daemon push passwords:\n{}", s.daemon.logs());
    let logs = s.daemon.logs();
    assert!(!logs.contains("panicked"), "the daemon panicked:\n{logs}");
    println!(
        "RELIABILITY|bad D-Bus input from root|5 hostile names (empty, 10 KB, filter injection, wildcard, escape)|PasswordChanged + GetUser|pass: refused or matched nobody; no push|0"
    );
}

#[test]
fn unprivileged_callers_are_refused() {
    let s = stack();
    // nobody must reach the socket to be refused by the daemon (the bus policy here allows all).
    Command::new("chmod").arg("0755").arg(s.bus.dir()).status().expect("chmod");
    let before = credential_calls(&s);
    for (what, name) in hostile_names().into_iter().chain([("a real user", user_name(0))]) {
        let out = call(&s, true, "PasswordChanged", Some(&name));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{what}: nobody's PasswordChanged was accepted");
        assert!(err.contains("AccessDenied") || err.contains("only root"), "{what}: {err}");
    }
    for method in ["SyncNow", "ApproveDeletes", "Status"] {
        let out = call(&s, true, method, None);
        assert!(!out.status.success(), "nobody may not call {method}");
    }
    assert_alive(&s);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(credential_calls(&s), before, "an unprivileged call caused a push");
    let refused = s.daemon.logs().matches("refused a D-Bus call").count();
    assert!(refused >= 6, "the daemon logged {refused} refusals");
    println!(
        "RELIABILITY|bad D-Bus input from an unprivileged uid (nobody)|6 names + SyncNow, ApproveDeletes, Status|every call|pass: all refused (AccessDenied); no push|0"
    );
}

// --- a raw D-Bus client: strings dbus-send cannot express ---

fn pad(buf: &mut Vec<u8>, to: usize) {
    while !buf.len().is_multiple_of(to) {
        buf.push(0);
    }
}

fn put_string(buf: &mut Vec<u8>, bytes: &[u8]) {
    pad(buf, 4);
    buf.extend((bytes.len() as u32).to_le_bytes());
    buf.extend(bytes);
    buf.push(0);
}

fn put_signature(buf: &mut Vec<u8>, sig: &[u8]) {
    buf.push(sig.len() as u8);
    buf.extend(sig);
    buf.push(0);
}

/// A little-endian METHOD_CALL with raw header strings and an optional raw string argument.
fn method_call(serial: u32, dest: &str, path: &str, iface: &str, member: &str, arg: Option<&[u8]>) -> Vec<u8> {
    let mut fields = Vec::new();
    for (code, sig, value) in [(1u8, b'o', path), (2, b's', iface), (3, b's', member), (6, b's', dest)] {
        pad(&mut fields, 8);
        fields.push(code);
        put_signature(&mut fields, &[sig]);
        put_string(&mut fields, value.as_bytes());
    }
    let mut body = Vec::new();
    if let Some(a) = arg {
        pad(&mut fields, 8);
        fields.push(8);
        put_signature(&mut fields, b"g");
        put_signature(&mut fields, b"s");
        put_string(&mut body, a);
    }
    let mut msg = vec![b'l', 1, 0, 1];
    msg.extend((body.len() as u32).to_le_bytes());
    msg.extend(serial.to_le_bytes());
    msg.extend((fields.len() as u32).to_le_bytes());
    msg.extend(fields);
    pad(&mut msg, 8);
    msg.extend(body);
    msg
}

/// Sends PasswordChanged with `name` as raw bytes; returns whether a method return for it came
/// back (the daemon accepted it as a string) before the bus closed the connection or 10 s passed.
fn raw_password_changed(s: &Stack, name: &[u8]) -> bool {
    let mut sock = UnixStream::connect(s.bus.socket_path()).expect("connect to the bus");
    sock.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let uid_hex: String = "0".bytes().map(|b| format!("{b:02x}")).collect();
    sock.write_all(format!("\0AUTH EXTERNAL {uid_hex}\r\n").as_bytes()).expect("auth");
    let mut line = [0u8; 256];
    let n = sock.read(&mut line).expect("auth answer");
    assert!(line[..n].starts_with(b"OK "), "auth refused: {:?}", String::from_utf8_lossy(&line[..n]));
    sock.write_all(b"BEGIN\r\n").expect("begin");
    let bus = "org.freedesktop.DBus";
    sock.write_all(&method_call(1, bus, "/org/freedesktop/DBus", bus, "Hello", None)).expect("hello");
    sock.write_all(&method_call(2, DEST, PATH, DEST, "PasswordChanged", Some(name))).expect("call");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend(&buf[..n]),
        }
    }
    replied_ok_to(&got, 2)
}

/// Whether `stream` holds a METHOD_RETURN whose REPLY_SERIAL is `serial`.
fn replied_ok_to(stream: &[u8], serial: u32) -> bool {
    let u32_at = |at: usize| stream.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let mut at = 0;
    while let (Some(body_len), Some(fields_len)) = (u32_at(at + 4), u32_at(at + 12)) {
        let fields_end = at + 16 + fields_len as usize;
        // REPLY_SERIAL (5) is a fixed-size 'u' field: code, signature "u", padding, value.
        let mut f = at + 16;
        while f + 8 <= fields_end {
            if stream[f] == 5 && stream.get(f + 1..f + 3) == Some(&[1, b'u'][..]) {
                if stream[at + 1] == 2 && u32_at(f + 4) == Some(serial) {
                    return true;
                }
                break;
            }
            f += 8;
        }
        let header_end = at + 16 + (fields_len as usize).div_ceil(8) * 8;
        at = header_end + body_len as usize;
    }
    false
}

#[test]
fn nul_and_non_utf8_names_never_reach_the_daemon() {
    let s = stack();
    let before = credential_calls(&s);
    let nul = format!("{}\0{}", user_name(0), user_name(1)).into_bytes();
    let invalid = [user_name(0).as_bytes(), &[0xff, 0xfe, 0xc3]].concat();
    for (what, name) in [("NUL", nul), ("non-UTF-8", invalid)] {
        assert!(!raw_password_changed(&s, &name), "a {what} name was accepted as a string");
        assert_alive(&s);
    }
    // The control: the same raw client with a valid name gets an answer (so the refusals above
    // come from the invalid strings, not from a broken client).
    assert!(raw_password_changed(&s, user_name(2).as_bytes()), "the raw client itself does not work");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(credential_calls(&s), before, "nothing changed, nothing may be pushed");
    println!(
        "RELIABILITY|raw D-Bus strings with NUL / invalid UTF-8|2 raw messages|PasswordChanged|pass: refused by the bus; daemon answers|0"
    );
}

/// `check-config` and `daemon` on a config file: (exit code, stderr).
fn run_config(args: &[&str], config: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(common::bin()).args(args).arg("--config").arg(config).output().expect("run");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).trim().to_string())
}

#[test]
fn garbage_configs_are_refused_with_exit_2_and_named_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random bytes", random),
        ("TOML of the wrong shape", b"version = \"one\"\nsamba = 5\n[entra]\ntenant_id = [1, 2]\n".to_vec()),
        ("an empty file", Vec::new()),
        ("a NUL in a value", b"version = 1\n[samba]\nsam_ldb = \"/x\0y\"\n".to_vec()),
    ];
    for (what, bytes) in cases {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, bytes).expect("write");
        for args in [&["check-config"][..], &["daemon"][..]] {
            let (code, err) = run_config(args, &path);
            assert_eq!(code, Some(2), "{args:?} on {what}: exit {code:?}, {err}");
            assert!(!err.contains("panicked"), "{args:?} on {what}: {err}");
            // The config checker's format: one sentence saying how many errors, then one line
            // per error naming its key (or "(file)").
            let mut lines = err.lines();
            let head = lines.next().unwrap_or_default();
            let count: usize = head.rsplit(" has ").next().and_then(|t| t.split(' ').next()?.parse().ok()).unwrap_or(0);
            assert!(count >= 1 && head.contains("error"), "{args:?} on {what}: {err}");
            let rest: Vec<&str> = lines.collect();
            assert_eq!(rest.len(), count, "{args:?} on {what}: {err}");
            assert!(rest.iter().all(|l| l.starts_with("  ") && l.contains(": ")), "{args:?} on {what}: {err}");
        }
    }
    println!(
        "RELIABILITY|garbage config|random bytes, wrong-shape TOML, empty, NUL|check-config and daemon|pass: exit 2, one sentence + one line per error|0"
    );
}

/// A token cache owned by another user, or in a directory others can write, is refused by
/// check-config and the daemon alike (exit 2, the fault named), not only one with a loose mode.
#[test]
fn secret_files_owned_by_others_or_in_writable_directories_are_refused() {
    use std::os::unix::fs::{PermissionsExt, chown};
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).expect("mkdir");
    let cache = secrets.join("token.json");
    std::fs::write(&cache, b"{}").expect("write");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\n[samba]\nsam_ldb = \"{d}/sam.ldb\"\n[entra]\ntenant_id = \"6b1f3c2e-0d4a-4c5e-9f7a-2b8c1d3e4f50\"\n[entra.auth]\nmethod = \"refresh_token\"\ntoken_cache = \"{c}\"\n[state]\ndb = \"{d}/state.db\"\n",
            d = dir.path().display(),
            c = cache.display()
        ),
    )
    .expect("config");
    let mut refused = 0;
    for (what, expect) in
        [("owned by nobody", "belongs to uid 65534"), ("in a directory others can write", "chmod go-w")]
    {
        if what == "owned by nobody" {
            chown(&cache, Some(65534), None).expect("chown");
        } else {
            chown(&cache, Some(0), None).expect("chown");
            std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
        }
        for args in [&["check-config"][..], &["daemon"][..]] {
            let (code, err) = run_config(args, &config);
            assert_eq!(code, Some(2), "{args:?} with the cache {what}: exit {code:?}, {err}");
            assert!(err.contains(expect), "{args:?} with the cache {what}: {err}");
            refused += 1;
        }
    }
    println!(
        "RELIABILITY|secret file owned by another user or in a writable directory|token cache owned by nobody; in a 1777 directory|check-config and daemon|pass: {refused} refused, exit 2, fault named|0"
    );
}
