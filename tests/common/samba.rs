//! Throwaway Samba AD DCs for tests.
//!
//! One domain is provisioned per machine and Samba version (about 5-10 s) and cached under the
//! cargo target dir; every [`Dc`] is a copy of it in its own temp dir, so tests never share
//! state. A running DC gets its own network namespace (LDAP's ports are fixed in Samba, so two
//! DCs cannot share one), and is started with `samba -i`, which exits as soon as our end of its
//! stdin closes: a crashed test never leaves a DC behind. `Drop` stops samba, removes the
//! namespace and deletes the directory.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const REALM: &str = "LAB.TEST";
pub const DOMAIN: &str = "LAB";
pub const DOMAIN_DN: &str = "DC=lab,DC=test";
pub const ADMIN_PASSWORD: &str = "Adm1n!Passw0rd";
/// Bump when the template's provisioning options change.
const TEMPLATE_VERSION: &str = "v2";

pub(crate) fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

pub(crate) fn target_tmp() -> PathBuf {
    let dir = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("tmp"));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

pub(crate) fn samba_version() -> String {
    let out = run(Command::new("samba").arg("-V"));
    String::from_utf8_lossy(&out.stdout).trim().replace(' ', "_")
}

/// The provisioned template, made once per machine (guarded by a file lock, so parallel test
/// binaries wait for each other instead of provisioning twice).
pub(crate) fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let root = target_tmp();
        let dir = root.join(format!("samba-template-{TEMPLATE_VERSION}-{}", samba_version()));
        let lock = fs::File::create(root.join("samba-template.lock")).expect("template lock file");
        lock.lock().expect("template lock");
        if !dir.join("ready").exists() {
            let _ = fs::remove_dir_all(&dir);
            provision(&dir);
            fs::write(dir.join("ready"), b"").expect("template marker");
        }
        dir
    })
}

fn provision(dir: &Path) {
    fs::create_dir_all(dir.join("run")).expect("template dir");
    fs::create_dir_all(dir.join("etc")).expect("template etc");
    let empty = dir.join("empty.conf");
    fs::write(&empty, b"").expect("empty.conf");
    let d = dir.display();
    run(Command::new("samba-tool").args([
        "domain",
        "provision",
        "-s",
        &empty.to_string_lossy(),
        &format!("--targetdir={d}"),
        &format!("--realm={REALM}"),
        &format!("--domain={DOMAIN}"),
        &format!("--adminpass={ADMIN_PASSWORD}"),
        "--server-role=dc",
        "--dns-backend=NONE",
        "--use-rfc2307",
        "--host-name=dc1",
        "--host-ip=127.0.0.1",
        "--option=interfaces=lo",
        "--option=bind interfaces only=yes",
        "--option=server services=rpc, ldap, cldap, kdc, drepl, kcc, winbindd",
        "--option=disable netbios=yes",
        &format!("--option=log file={d}/log.samba"),
        &format!("--option=pid directory={d}/run"),
        &format!("--option=ncalrpc dir={d}/run/ncalrpc"),
        &format!("--option=ntp signd socket directory={d}/run/ntp_signd"),
        &format!("--option=winbindd socket directory={d}/run/winbindd"),
    ]));
    let lower = REALM.to_lowercase();
    fs::write(
        dir.join("etc/krb5.conf"),
        format!(
            "[libdefaults]\n\tdefault_realm = {REALM}\n\tdns_lookup_realm = false\n\tdns_lookup_kdc = false\n\trdns = false\n\
             [realms]\n\t{REALM} = {{\n\t\tkdc = 127.0.0.1\n\t\tkpasswd_server = 127.0.0.1\n\t\tadmin_server = 127.0.0.1\n\t}}\n\
             [domain_realm]\n\t.{lower} = {REALM}\n\t{lower} = {REALM}\n"
        ),
    )
    .expect("krb5.conf");
    // Tests change passwords right after resets. Complexity stays on: without it Samba never
    // runs the check password script.
    run(Command::new("samba-tool").args([
        "domain",
        "passwordsettings",
        "set",
        "-H",
        &dir.join("private/sam.ldb").to_string_lossy(),
        "-s",
        &dir.join("etc/smb.conf").to_string_lossy(),
        "--min-pwd-age=0",
        "--history-length=0",
    ]));
}

/// Copies a DC directory and points its smb.conf at the new place.
pub(crate) fn copy_dc_dir(src: &Path, dst: &Path) {
    run(Command::new("cp").arg("-a").arg(format!("{}/.", src.display())).arg(dst));
    let conf = dst.join("etc/smb.conf");
    let text = fs::read_to_string(&conf).expect("smb.conf");
    // The directory a DC was made in is its "lock directory".
    let old = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("lock directory = "))
        .expect("smb.conf has a lock directory")
        .to_string();
    fs::write(&conf, text.replace(&old, &dst.display().to_string())).expect("rewrite smb.conf");
    let _ = fs::remove_file(dst.join("ready"));
}

static NEXT_NS: AtomicU32 = AtomicU32::new(0);

/// A running samba in its own network namespace.
struct Running {
    child: Child,
    netns: String,
    /// Made by `start` (deleted at stop), or lent by a lab that links several DCs.
    owns_netns: bool,
}

/// A throwaway DC: a copy of the template in a temp dir.
pub struct Dc {
    dir: tempfile::TempDir,
    running: Option<Running>,
}

impl Dc {
    /// A fresh copy of the provisioned template (about 0.1 s).
    pub fn new() -> Dc {
        Dc::copy_of(template())
    }

    /// An empty directory for a DC made by other means (`samba-tool domain join`).
    pub fn empty() -> Dc {
        let dir = tempfile::Builder::new().prefix("ses-dc-").tempdir().expect("tempdir");
        Dc { dir, running: None }
    }

    /// A fresh copy of a DC directory (the template, or a cached populated domain).
    pub fn copy_of(src: &Path) -> Dc {
        let dir = tempfile::Builder::new().prefix("ses-dc-").tempdir().expect("tempdir");
        copy_dc_dir(src, dir.path());
        Dc { dir, running: None }
    }

    /// A populated domain, built once by `build` and cached under the target dir by `key`.
    pub fn cached(key: &str, build: impl FnOnce(&Dc)) -> Dc {
        let root = target_tmp();
        let cache = root.join(format!("samba-{key}-{TEMPLATE_VERSION}-{}", samba_version()));
        let lock = fs::File::create(root.join(format!("samba-{key}.lock"))).expect("cache lock file");
        lock.lock().expect("cache lock");
        if !cache.join("ready").exists() {
            let _ = fs::remove_dir_all(&cache);
            let dc = Dc::new();
            build(&dc);
            fs::create_dir_all(&cache).expect("cache dir");
            copy_dc_dir(dc.dir(), &cache);
            fs::write(cache.join("ready"), b"").expect("cache marker");
        }
        Dc::copy_of(&cache)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn sam_ldb(&self) -> PathBuf {
        self.dir.path().join("private/sam.ldb")
    }

    pub fn smb_conf(&self) -> PathBuf {
        self.dir.path().join("etc/smb.conf")
    }

    /// Sets a [global] smb.conf option (before `start`; samba reads it at start).
    pub fn set_global_option(&self, name: &str, value: &str) {
        let conf = self.smb_conf();
        let text = fs::read_to_string(&conf).expect("smb.conf");
        let mut out = String::new();
        for line in text.lines() {
            if line.trim_start().starts_with(&format!("{name} =")) {
                continue;
            }
            out.push_str(line);
            out.push('\n');
            if line.trim() == "[global]" {
                out.push_str(&format!("\t{name} = {value}\n"));
            }
        }
        fs::write(&conf, out).expect("write smb.conf");
    }

    /// `samba-tool ARGS -H sam.ldb -s smb.conf`, offline (works whether samba runs or not, and
    /// runs the check password script because the DC's smb.conf is given).
    pub fn samba_tool(&self, args: &[&str]) -> Output {
        run(Command::new("samba-tool").args(args).arg("-H").arg(self.sam_ldb()).arg("-s").arg(self.smb_conf()))
    }

    pub fn create_user(&self, name: &str, password: &str) {
        self.samba_tool(&["user", "create", name, password]);
    }

    pub fn set_password(&self, name: &str, password: &str) {
        self.samba_tool(&["user", "setpassword", name, &format!("--newpassword={password}")]);
    }

    /// Adds LDIF records through Samba's module stack, all or nothing. With `hash_values`,
    /// unicodePwd may be given as the 16-byte NT hash (DSDB_CONTROL_PASSWORD_HASH_VALUES_OID),
    /// which skips the Kerberos key derivation and makes bulk fixtures fast.
    pub fn ldbadd(&self, ldif: &str, hash_values: bool) {
        let file = self.dir.path().join("add.ldif");
        fs::write(&file, ldif).expect("ldif");
        let records = ldif.matches("\ndn: ").count() + 1;
        let mut cmd = Command::new("ldbadd");
        cmd.arg("-H").arg(self.sam_ldb());
        // Without batch mode, ldb wraps every add in a sub-transaction that copies each index
        // list it touches, entry by entry; objectClass=user, objectCategory=person and the like
        // list every user, so each add cost O(domain size): 2,000 users took 4 s on an empty
        // domain and 52 s of CPU at 22,000 users. Batch mode drops the sub-transactions (one
        // failed add then rolls back the whole ldbadd, which the harness treats as fatal
        // anyway); the records stored are the same. The index cache of the transaction is a
        // hash table: sized to the ~10 indexed values of each record, it keeps its chains short.
        cmd.arg("-o").arg("batch_mode:1");
        cmd.arg("-o").arg(format!("transaction_index_cache_size:{}", 10 * records + 1000));
        if hash_values {
            cmd.arg("--controls=local_oid:1.3.6.1.4.1.7165.4.3.9:0");
        }
        run(cmd.arg(&file));
        let _ = fs::remove_file(file);
    }

    /// The values of `attr` (base64 ones decoded) of the objects matching `filter`, read by
    /// Samba's own ldbsearch: an independent check of what our code wrote or read.
    pub fn ldbsearch_values(&self, filter: &str, attr: &str) -> Vec<Vec<u8>> {
        use base64::Engine;
        let out = run(Command::new("ldbsearch").arg("-H").arg(self.sam_ldb()).args([filter, attr]));
        let (plain, encoded) = (format!("{attr}: "), format!("{attr}:: "));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                if let Some(v) = l.strip_prefix(&encoded) {
                    Some(base64::engine::general_purpose::STANDARD.decode(v.trim()).expect("base64 value"))
                } else {
                    l.strip_prefix(&plain).map(|v| v.as_bytes().to_vec())
                }
            })
            .collect()
    }

    pub fn ldbmodify(&self, ldif: &str) {
        let file = self.dir.path().join("modify.ldif");
        fs::write(&file, ldif).expect("ldif");
        run(Command::new("ldbmodify")
            .arg("-H")
            .arg(self.sam_ldb())
            .arg("--configfile")
            .arg(self.smb_conf())
            .arg(&file));
        let _ = fs::remove_file(file);
    }

    /// Starts samba in a new network namespace and waits until LDAP answers. `env` is added to
    /// samba's environment (and so to the check password script's), e.g. DBUS_SYSTEM_BUS_ADDRESS.
    pub fn start(&mut self, env: &[(&str, &str)]) {
        assert!(self.running.is_none(), "samba already runs");
        let netns = format!("ses-{}-{}", std::process::id(), NEXT_NS.fetch_add(1, Ordering::SeqCst));
        run(Command::new("ip").args(["netns", "add", &netns]));
        run(Command::new("ip").args(["netns", "exec", &netns, "ip", "link", "set", "lo", "up"]));
        self.spawn_samba(netns, true, env);
    }

    /// Starts samba in an existing network namespace (one of a linked lab's), which stays when
    /// samba stops.
    pub fn start_in(&mut self, netns: &str, env: &[(&str, &str)]) {
        assert!(self.running.is_none(), "samba already runs");
        self.spawn_samba(netns.to_string(), false, env);
    }

    fn spawn_samba(&mut self, netns: String, owns_netns: bool, env: &[(&str, &str)]) {
        let log = fs::File::create(self.dir.path().join("samba.out")).expect("samba log");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &netns, "samba", "-i", "--maximum-runtime=3600", "-s"])
            .arg(self.smb_conf())
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn samba");
        self.running = Some(Running { child, netns, owns_netns });
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let ready = self
                .exec(&["ldbsearch", "-H", "ldap://127.0.0.1", "-s", "base", "-b", "", "dnsHostName"])
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("dnsHostName"))
                .unwrap_or(false);
            if ready {
                return;
            }
            if let Some(r) = self.running.as_mut()
                && let Ok(Some(status)) = r.child.try_wait()
            {
                panic!("samba exited during start-up ({status}); see {}/log.samba", self.dir.path().display());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("samba did not answer LDAP within 60 s; see {}/log.samba", self.dir.path().display());
    }

    /// The network namespace samba runs in.
    pub fn netns(&self) -> Option<&str> {
        self.running.as_ref().map(|r| r.netns.as_str())
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Runs a command inside the DC's network namespace (or plainly when samba is not running).
    pub fn exec(&self, argv: &[&str]) -> std::io::Result<Output> {
        let mut cmd = match &self.running {
            Some(r) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &r.netns]).args(argv);
                c
            }
            None => {
                let mut c = Command::new(argv[0]);
                c.args(&argv[1..]);
                c
            }
        };
        cmd.env("KRB5_CONFIG", self.dir.path().join("etc/krb5.conf")).output()
    }

    /// Like `exec`, but panics with the command's output when it fails.
    pub fn exec_ok(&self, argv: &[&str]) -> Output {
        let out = self.exec(argv).unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
        assert!(
            out.status.success(),
            "{argv:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Password reset over LDAP through the running DC (as an administrator would do it).
    pub fn setpassword_ldap(&self, name: &str, password: &str) -> Output {
        self.samba_tool_setpassword(name, password, &[])
    }

    /// A temporary password ("must change at next logon") set over LDAP: samba-tool writes
    /// the password and then pwdLastSet=0, in two modifies, as administrators' tools do.
    pub fn set_temporary_password_ldap(&self, name: &str, password: &str) -> Output {
        let out = self.samba_tool_setpassword(name, password, &["--must-change-at-next-login"]);
        assert!(out.status.success(), "samba-tool setpassword: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn samba_tool_setpassword(&self, name: &str, password: &str, extra: &[&str]) -> Output {
        let conf = self.smb_conf();
        let new_password = format!("--newpassword={password}");
        let admin = format!("Administrator%{ADMIN_PASSWORD}");
        let conf = conf.to_string_lossy();
        let mut argv = vec!["samba-tool", "user", "setpassword", name, &new_password];
        argv.extend_from_slice(extra);
        argv.extend_from_slice(&["-s", &conf, "-H", "ldap://127.0.0.1", "-U", &admin]);
        self.exec(&argv).expect("samba-tool")
    }

    /// An administrator's reset over ldaps with `ldapmodify` inside the DC's namespace: no Python
    /// start-up like samba-tool, so many changes per second (safe to call from several threads).
    pub fn reset_password(&self, name: &str, password: &str) -> Output {
        use base64::Engine;
        static NEXT_LDIF: AtomicU32 = AtomicU32::new(0);
        let quoted: Vec<u8> = format!("\"{password}\"").encode_utf16().flat_map(u16::to_le_bytes).collect();
        let ldif = format!(
            "dn: CN={name},CN=Users,{DOMAIN_DN}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n",
            base64::engine::general_purpose::STANDARD.encode(quoted)
        );
        let file = self.dir.path().join(format!("reset-{}.ldif", NEXT_LDIF.fetch_add(1, Ordering::SeqCst)));
        fs::write(&file, ldif).expect("ldif");
        let out = self.ldapmodify_file(&file);
        let _ = fs::remove_file(&file);
        out
    }

    /// Applies an LDIF file as Administrator over ldaps, inside the DC's namespace.
    pub fn ldapmodify_file(&self, file: &Path) -> Output {
        let r = self.running.as_ref().expect("samba must run for ldapmodify");
        Command::new("ip")
            .args(["netns", "exec", &r.netns, "ldapmodify", "-H", "ldaps://127.0.0.1", "-x", "-D"])
            .arg(format!("Administrator@{}", REALM.to_lowercase()))
            .arg("-w")
            .arg(ADMIN_PASSWORD)
            .arg("-f")
            .arg(file)
            .env("LDAPTLS_REQCERT", "never")
            .output()
            .expect("ldapmodify")
    }

    /// User-initiated change through kpasswd (Kerberos change-password protocol).
    pub fn kpasswd(&self, name: &str, old: &str, new: &str) -> Output {
        let r = self.running.as_ref().expect("samba must run for kpasswd");
        let ccache = format!("FILE:{}/run/krb5cc.kpasswd", self.dir.path().display());
        let mut child = Command::new("ip")
            .args(["netns", "exec", &r.netns, "kpasswd", &format!("{name}@{REALM}")])
            .env("KRB5_CONFIG", self.dir.path().join("etc/krb5.conf"))
            .env("KRB5CCNAME", ccache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kpasswd");
        if let Some(mut stdin) = child.stdin.take() {
            let _ = write!(stdin, "{old}\n{new}\n{new}\n");
        }
        child.wait_with_output().expect("kpasswd output")
    }

    /// Stops samba (closing its stdin makes `samba -i` terminate its process group).
    pub fn stop(&mut self) {
        if let Some(mut r) = self.running.take() {
            drop(r.child.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = r.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !matches!(r.child.try_wait(), Ok(Some(_))) {
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
            // Anything still in the namespace (samba's workers) dies with a KILL to its pids.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &r.netns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).stderr(Stdio::null()).status();
                }
            }
            if r.owns_netns {
                let _ = Command::new("ip").args(["netns", "del", &r.netns]).status();
            }
        }
    }
}

impl Drop for Dc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// MD4(UTF-16LE(password)) computed independently of Samba.
pub fn nt_hash(password: &str) -> [u8; 16] {
    use md4::{Digest, Md4};
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    Md4::digest(&utf16).into()
}
