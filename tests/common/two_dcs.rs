//! Two DCs of one domain, replicating both ways: DC2 joined to DC1 with `samba-tool domain
//! join … DC`, each DC in its own network namespace, the two namespaces linked by a veth pair
//! on private addresses (10.231.0.1 and 10.231.0.2; every lab has its own pair of namespaces,
//! so labs running side by side reuse the same addresses without meeting).
//!
//! What it takes (measured, see /work/shared/docs/samba-notes.md, "Two DCs of one domain"):
//! names without DNS come from `/etc/netns/<ns>/hosts` (which `ip netns exec` bind-mounts over
//! /etc/hosts), including each DC's `<NTDS Settings GUID>._msdcs.<realm>`; DRS needs Kerberos,
//! so every samba and client process gets a `krb5.conf` naming both KDCs; the DRS and LDAP SPNs
//! that `dnsupdate` would add with a DNS backend are added by hand; and replication is primed
//! once (`drs kcc` on both, then `drs replicate` of the three partitions each way), or DC2's
//! changes wait for DC1's 300 s periodic pull.
//!
//! Joining takes 30-90 s on a loaded 2-core machine, so the joined pair is built once per
//! machine and Samba version and cached under the target dir, like the single-DC template;
//! every [`TwoDcs`] is a copy of it (about 0.3 s) with its own namespaces.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::samba::{ADMIN_PASSWORD, DOMAIN_DN, Dc, REALM, copy_dc_dir, run, samba_version, target_tmp, template};

pub const DC1_ADDR: &str = "10.231.0.1";
pub const DC2_ADDR: &str = "10.231.0.2";
/// Bump when the pair's making changes.
const PAIR_VERSION: &str = "v1";
/// The DRS replication service's SPN class (MS-DRSR 2.2.3.2).
const DRS_SPN_CLASS: &str = "E3514235-4B06-11D1-AB04-00C04FC2DCD2";
const PARTITIONS: [&str; 3] =
    [DOMAIN_DN, "CN=Configuration,DC=lab,DC=test", "CN=Schema,CN=Configuration,DC=lab,DC=test"];

static NEXT_LINK: AtomicU32 = AtomicU32::new(0);

/// The NTDS Settings DN of a DC of the lab ("DC1", "DC2").
pub fn ntds_settings_dn(server: &str) -> String {
    format!("CN=NTDS Settings,CN={server},CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,{DOMAIN_DN}")
}

/// Two network namespaces joined by a veth pair, with hosts files naming both DCs.
pub struct Link {
    pub ns1: String,
    pub ns2: String,
}

impl Link {
    pub fn new() -> Link {
        let n = NEXT_LINK.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let (ns1, ns2) = (format!("ses2-{pid}-{n}-a"), format!("ses2-{pid}-{n}-b"));
        // Interface names are at most 15 characters and live in the root namespace until moved.
        let (if1, if2) = (format!("sv{}x{n}a", pid % 100_000), format!("sv{}x{n}b", pid % 100_000));
        for ns in [&ns1, &ns2] {
            run(Command::new("ip").args(["netns", "add", ns]));
            run(Command::new("ip").args(["netns", "exec", ns, "ip", "link", "set", "lo", "up"]));
        }
        run(Command::new("ip").args(["link", "add", &if1, "type", "veth", "peer", "name", &if2]));
        for (ns, iface, addr) in [(&ns1, &if1, DC1_ADDR), (&ns2, &if2, DC2_ADDR)] {
            run(Command::new("ip").args(["link", "set", iface, "netns", ns]));
            run(Command::new("ip").args([
                "netns",
                "exec",
                ns,
                "ip",
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                iface,
            ]));
            run(Command::new("ip").args(["netns", "exec", ns, "ip", "link", "set", iface, "up"]));
        }
        let link = Link { ns1, ns2 };
        link.write_hosts(&[]);
        link
    }

    /// Writes both namespaces' hosts and resolv.conf; `msdcs` adds `<NTDS GUID>._msdcs` names.
    /// Written in place (same inode), so namespaces already entered see the new names too.
    pub fn write_hosts(&self, msdcs: &[(&str, &str)]) {
        let lower = REALM.to_lowercase();
        let mut hosts =
            format!("127.0.0.1 localhost\n{DC1_ADDR} dc1.{lower} dc1 {lower}\n{DC2_ADDR} dc2.{lower} dc2\n");
        for (addr, guid) in msdcs {
            hosts.push_str(&format!("{addr} {guid}._msdcs.{lower}\n"));
        }
        for ns in [&self.ns1, &self.ns2] {
            let dir = Path::new("/etc/netns").join(ns);
            fs::create_dir_all(&dir).expect("/etc/netns dir");
            fs::write(dir.join("hosts"), &hosts).expect("netns hosts");
            // No lookup leaves the namespace.
            fs::write(dir.join("resolv.conf"), "nameserver 127.0.0.1\n").expect("netns resolv.conf");
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for ns in [&self.ns1, &self.ns2] {
            // Deleting a namespace deletes its end of the veth pair, and so the pair.
            let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
            let _ = fs::remove_dir_all(Path::new("/etc/netns").join(ns));
        }
    }
}

/// The krb5.conf every process of the lab uses: both KDCs, no DNS.
fn krb5_conf() -> String {
    let lower = REALM.to_lowercase();
    format!(
        "[libdefaults]\n\tdefault_realm = {REALM}\n\tdns_lookup_realm = false\n\tdns_lookup_kdc = false\n\trdns = false\n\
         [realms]\n\t{REALM} = {{\n\t\tkdc = {DC1_ADDR}\n\t\tkdc = {DC2_ADDR}\n\t\tkpasswd_server = {DC1_ADDR}\n\t}}\n\
         [domain_realm]\n\t.{lower} = {REALM}\n\t{lower} = {REALM}\n"
    )
}

/// The objectGUID of a DC's NTDS Settings object, read offline.
fn ntds_guid(dc: &Dc, server: &str) -> String {
    let out = run(Command::new("ldbsearch").arg("-H").arg(dc.sam_ldb()).args([
        "-s",
        "base",
        "-b",
        &ntds_settings_dn(server),
        "objectGUID",
    ]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("objectGUID: "))
        .map(|g| g.trim().to_string())
        .unwrap_or_else(|| panic!("{server} has no NTDS Settings objectGUID"))
}

/// A running pair: DC1 (the PDC emulator at first) and DC2, replicating both ways.
pub struct TwoDcs {
    pub dc1: Dc,
    pub dc2: Dc,
    guids: (String, String),
    // Dropped last: the DCs stop before their namespaces go.
    link: Link,
}

impl TwoDcs {
    /// A copy of the cached pair with its own namespaces; nothing runs yet.
    pub fn new() -> TwoDcs {
        let cache = cached_pair();
        let dc1 = Dc::copy_of(&cache.join("dc1"));
        let dc2 = Dc::copy_of(&cache.join("dc2"));
        let guids = fs::read_to_string(cache.join("ntds-guids")).expect("ntds-guids");
        let mut it = guids.lines().map(String::from);
        let guids = (it.next().expect("DC1 guid"), it.next().expect("DC2 guid"));
        let link = Link::new();
        link.write_hosts(&[(DC1_ADDR, &guids.0), (DC2_ADDR, &guids.1)]);
        TwoDcs { dc1, dc2, guids, link }
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Starts DC1 with `env` added to samba's environment (e.g. DBUS_SYSTEM_BUS_ADDRESS).
    pub fn start_dc1(&mut self, env: &[(&str, &str)]) {
        let krb5 = self.dc1.dir().join("etc/krb5.conf").display().to_string();
        let mut env = env.to_vec();
        env.push(("KRB5_CONFIG", &krb5));
        let ns = self.link.ns1.clone();
        self.dc1.start_in(&ns, &env);
    }

    pub fn start_dc2(&mut self, env: &[(&str, &str)]) {
        let krb5 = self.dc2.dir().join("etc/krb5.conf").display().to_string();
        let mut env = env.to_vec();
        env.push(("KRB5_CONFIG", &krb5));
        let ns = self.link.ns2.clone();
        self.dc2.start_in(&ns, &env);
    }

    pub fn start_both(&mut self) {
        self.start_dc1(&[]);
        self.start_dc2(&[]);
    }

    /// `samba-tool ARGS -U Administrator` run inside `dc`'s namespace against its own LDAP
    /// (fsmo, drs): the change is made on that DC.
    pub fn samba_tool_on(dc: &Dc, args: &[&str]) -> Output {
        let conf = dc.smb_conf().display().to_string();
        let admin = format!("Administrator%{ADMIN_PASSWORD}");
        let mut argv = vec!["samba-tool"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["-s", &conf, "-U", &admin]);
        dc.exec_ok(&argv)
    }

    /// Waits until `filter` matches an object in `dc`'s sam.ldb; how long that took.
    pub fn wait_replicated(dc: &Dc, filter: &str, attr: &str, want: &[u8], timeout: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if dc.ldbsearch_values(filter, attr).iter().any(|v| v == want) {
                return Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// The joined, primed pair, made once per machine (file-locked, like the template).
fn cached_pair() -> PathBuf {
    let root = target_tmp();
    let dir = root.join(format!("samba-two-dcs-{PAIR_VERSION}-{}", samba_version()));
    let lock = fs::File::create(root.join("samba-two-dcs.lock")).expect("pair lock file");
    lock.lock().expect("pair lock");
    if !dir.join("ready").exists() {
        let _ = fs::remove_dir_all(&dir);
        let t0 = Instant::now();
        let (dc1, dc2, guids) = build_pair();
        fs::create_dir_all(dir.join("dc1")).expect("pair dir");
        fs::create_dir_all(dir.join("dc2")).expect("pair dir");
        copy_dc_dir(dc1.dir(), &dir.join("dc1"));
        copy_dc_dir(dc2.dir(), &dir.join("dc2"));
        fs::write(dir.join("ntds-guids"), format!("{}\n{}\n", guids.0, guids.1)).expect("ntds-guids");
        fs::write(dir.join("ready"), b"").expect("pair marker");
        eprintln!("two-DC lab: joined and primed in {:.1} s (cached for later runs)", t0.elapsed().as_secs_f64());
    }
    dir
}

/// Joins DC2 to a copy of the single-DC template and primes replication both ways.
fn build_pair() -> (Dc, Dc, (String, String)) {
    let lower = REALM.to_lowercase();
    let mut dc1 = Dc::copy_of(template());
    dc1.set_global_option("interfaces", &format!("127.0.0.1/8 {DC1_ADDR}/24"));
    // DC2's changes reach DC1 within a second (default: 5 s between notifications).
    dc1.set_global_option("dreplsrv:notify_interval", "1");
    fs::write(dc1.dir().join("etc/krb5.conf"), krb5_conf()).expect("krb5.conf");
    let g1 = ntds_guid(&dc1, "DC1");
    // With --dns-backend=NONE nothing registers these SPNs; without them no DC gets a ticket
    // for the other's DRS service.
    dc1.samba_tool(&["spn", "add", &format!("{DRS_SPN_CLASS}/{g1}/{lower}"), "DC1$"]);
    dc1.samba_tool(&["spn", "add", &format!("ldap/dc1.{lower}"), "DC1$"]);
    let link = Link::new();
    link.write_hosts(&[(DC1_ADDR, &g1)]);
    let krb5 = dc1.dir().join("etc/krb5.conf").display().to_string();
    dc1.start_in(&link.ns1, &[("KRB5_CONFIG", &krb5)]);

    let mut dc2 = Dc::empty();
    let d = dc2.dir().display().to_string();
    fs::create_dir_all(dc2.dir().join("run")).expect("dc2 run dir");
    fs::create_dir_all(dc2.dir().join("etc")).expect("dc2 etc dir");
    fs::write(dc2.dir().join("etc/krb5.conf"), krb5_conf()).expect("krb5.conf");
    let empty = dc2.dir().join("empty.conf");
    fs::write(&empty, b"").expect("empty.conf");
    let krb5_2 = dc2.dir().join("etc/krb5.conf");
    run(Command::new("ip")
        .args(["netns", "exec", &link.ns2, "samba-tool", "domain", "join", &lower, "DC"])
        .arg(format!("-UAdministrator%{ADMIN_PASSWORD}"))
        .arg(format!("--server={DC1_ADDR}"))
        .arg("--dns-backend=NONE")
        .arg("-s")
        .arg(&empty)
        .arg(format!("--targetdir={d}"))
        .args([
            "--option=netbios name=DC2",
            &format!("--option=interfaces=127.0.0.1/8 {DC2_ADDR}/24"),
            "--option=bind interfaces only=yes",
            "--option=server services=rpc, ldap, cldap, kdc, drepl, kcc, winbindd",
            "--option=disable netbios=yes",
            "--option=dreplsrv:notify_interval=1",
            &format!("--option=log file={d}/log.samba"),
            &format!("--option=pid directory={d}/run"),
            &format!("--option=ncalrpc dir={d}/run/ncalrpc"),
            &format!("--option=ntp signd socket directory={d}/run/ntp_signd"),
            &format!("--option=winbindd socket directory={d}/run/winbindd"),
        ])
        .env("KRB5_CONFIG", &krb5_2));
    let g2 = ntds_guid(&dc2, "DC2");
    // The join registered DC2's DRS SPN on DC1; the LDAP one is added here and replicates.
    dc2.samba_tool(&["spn", "add", &format!("ldap/dc2.{lower}"), "DC2$"]);
    link.write_hosts(&[(DC1_ADDR, &g1), (DC2_ADDR, &g2)]);
    let krb5_2 = krb5_2.display().to_string();
    dc2.start_in(&link.ns2, &[("KRB5_CONFIG", &krb5_2)]);

    // Prime replication: each DC learns its partner (kcc) and pulls once from it, after which
    // changes are notified both ways.
    TwoDcs::samba_tool_on(&dc1, &["drs", "kcc", &format!("dc1.{lower}")]);
    TwoDcs::samba_tool_on(&dc2, &["drs", "kcc", &format!("dc2.{lower}")]);
    for p in PARTITIONS {
        TwoDcs::samba_tool_on(&dc1, &["drs", "replicate", &format!("dc1.{lower}"), &format!("dc2.{lower}"), p]);
        TwoDcs::samba_tool_on(&dc2, &["drs", "replicate", &format!("dc2.{lower}"), &format!("dc1.{lower}"), p]);
    }
    dc2.stop();
    dc1.stop();
    drop(link);
    (dc1, dc2, (g1, g2))
}

/// The whole stack on two DCs: one emulator; per DC a private bus, the real hook and
/// (optionally) a daemon with its own config, state DB and sign-in.
pub struct ClusterStack {
    pub d1: Option<super::stack::Daemon>,
    pub d2: Option<super::stack::Daemon>,
    pub lab: TwoDcs,
    pub emu: super::stack::Emulator,
    pub bus1: super::bus::PrivateBus,
    pub bus2: super::bus::PrivateBus,
}

/// A daemon's `[cluster]` section (appended after `[sync]` lines: TOML sections may come in
/// any order).
pub fn cluster_section(peers: &[&str], leader: &str) -> String {
    let peers: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
    format!("[cluster]\npeers = [{}]\nleader = \"{leader}\"\n", peers.join(", "))
}

impl ClusterStack {
    /// Both DCs with the hook, the emulator, and the daemons whose `[cluster]` sections are
    /// given (`None`: that DC runs no daemon). `users` (name, password) are made on DC1 before
    /// it starts and pulled to DC2 at once. `extra_sync` goes into both `[sync]` sections.
    /// DC1's daemon starts first and finishes its first full reconcile (it leads, exporting the
    /// users and their passwords) before DC2's starts.
    pub fn start(
        users: &[(&str, &str)],
        cluster1: Option<&str>,
        cluster2: Option<&str>,
        extra_sync: &str,
    ) -> ClusterStack {
        let mut lab = TwoDcs::new();
        for (name, password) in users {
            lab.dc1.create_user(name, password);
        }
        let bus1 = super::bus::PrivateBus::start().expect("bus 1");
        let bus2 = super::bus::PrivateBus::start().expect("bus 2");
        let emu = super::stack::Emulator::start(&[]);
        let hook = super::stack::hook_path().display().to_string();
        lab.dc1.set_global_option("check password script", &hook);
        lab.dc2.set_global_option("check password script", &hook);
        lab.start_dc1(&[("DBUS_SYSTEM_BUS_ADDRESS", bus1.address())]);
        lab.start_dc2(&[("DBUS_SYSTEM_BUS_ADDRESS", bus2.address())]);
        if !users.is_empty() {
            // DC2 pulls what DC1 got while it was stopped, now rather than at the next notify.
            TwoDcs::samba_tool_on(&lab.dc2, &["drs", "replicate", "dc2.lab.test", "dc1.lab.test", DOMAIN_DN]);
        }
        let mut s = ClusterStack { d1: None, d2: None, lab, emu, bus1, bus2 };
        if let Some(c) = cluster1 {
            s.start_daemon(1, c, extra_sync);
            s.wait_reconciles(1, 1, Duration::from_secs(120));
            for (name, password) in users {
                let upn = format!("{name}@{}", REALM.to_lowercase());
                assert!(
                    s.emu.wait_password(&upn, password, Duration::from_secs(60)).is_some(),
                    "the initial sync did not push {name}'s password:\n{}",
                    super::stack::tail(&s.daemon(1).logs())
                );
            }
        }
        if let Some(c) = cluster2 {
            s.start_daemon(2, c, extra_sync);
        }
        s
    }

    pub fn start_daemon(&mut self, which: u8, cluster: &str, extra_sync: &str) {
        let extra = format!("{extra_sync}\n{cluster}");
        let (dc, bus) = if which == 1 { (&self.lab.dc1, &self.bus1) } else { (&self.lab.dc2, &self.bus2) };
        let d = super::stack::Daemon::start(dc, &self.emu, bus, &extra);
        if which == 1 { self.d1 = Some(d) } else { self.d2 = Some(d) }
    }

    pub fn daemon(&self, which: u8) -> &super::stack::Daemon {
        let d = if which == 1 { &self.d1 } else { &self.d2 };
        d.as_ref().unwrap_or_else(|| panic!("DC{which} runs no daemon"))
    }

    pub fn daemon_mut(&mut self, which: u8) -> &mut super::stack::Daemon {
        let d = if which == 1 { &mut self.d1 } else { &mut self.d2 };
        d.as_mut().unwrap_or_else(|| panic!("DC{which} runs no daemon"))
    }

    pub fn bus(&self, which: u8) -> &super::bus::PrivateBus {
        if which == 1 { &self.bus1 } else { &self.bus2 }
    }

    /// Full reconciles DC`which`'s daemon has finished.
    pub fn full_runs(&self, which: u8) -> usize {
        self.daemon(which).logs().lines().filter(|l| l.contains("reconcile finished")).count()
    }

    pub fn wait_reconciles(&self, which: u8, n: usize, timeout: Duration) {
        let t0 = Instant::now();
        while self.full_runs(which) < n {
            assert!(
                t0.elapsed() < timeout,
                "DC{which}: no full reconcile #{n} within {timeout:?}:\n{}",
                super::stack::tail(&self.daemon(which).logs())
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `status --json` of DC`which`'s daemon.
    pub fn status(&self, which: u8) -> serde_json::Value {
        let out = Command::new(super::bin())
            .args(["status", "--json", "--bus", self.bus(which).address()])
            .output()
            .expect("status");
        assert!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("status JSON")
    }

    /// `user NAME --json` of DC`which`'s daemon.
    pub fn user(&self, which: u8, name: &str) -> serde_json::Value {
        let out = Command::new(super::bin())
            .args(["user", name, "--json", "--bus", self.bus(which).address()])
            .output()
            .expect("user");
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    /// Waits until DC`which`'s status reports `role`.
    pub fn wait_role(&self, which: u8, role: &str, timeout: Duration) -> serde_json::Value {
        let t0 = Instant::now();
        loop {
            let s = self.status(which);
            if s["role"] == role {
                return s;
            }
            assert!(t0.elapsed() < timeout, "DC{which} is not {role} within {timeout:?}: {s}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The emulator's user object by UPN (`name@lab.test`).
    pub fn cloud_user(&self, name: &str) -> Option<serde_json::Value> {
        let upn = format!("{name}@{}", REALM.to_lowercase());
        self.emu
            .objects("User")
            .into_iter()
            .find(|o| o["attributes"]["userPrincipalName"].as_str().is_some_and(|u| u.eq_ignore_ascii_case(&upn)))
    }

    /// Credentials the emulator accepted for the user.
    pub fn credential_pushes(&self, name: &str) -> u64 {
        self.cloud_user(name).and_then(|o| o["credentialPushes"].as_u64()).unwrap_or(0)
    }

    /// `"password synced"` lines about `account` in DC`which`'s daemon log.
    pub fn synced_by(&self, which: u8, account: &str) -> usize {
        let needle = format!("account={account} ");
        let d = if which == 1 { &self.d1 } else { &self.d2 };
        d.as_ref()
            .map_or(0, |d| d.logs().lines().filter(|l| l.contains("password synced") && l.contains(&needle)).count())
    }
}

/// Milliseconds since the epoch (the emulator's clock runs on the same machine).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl ClusterStack {
    /// Resets `name`'s password over ldaps on DC`on`, then waits until the emulator has accepted
    /// `pushes` credentials for the user in all; returns the latency (the emulator's receipt
    /// minus the moment the reset returned: negative when the push beat the LDAP reply).
    pub fn change_and_wait(&self, on: u8, name: &str, password: &str, pushes: u64, timeout: Duration) -> i64 {
        let dc = if on == 1 { &self.lab.dc1 } else { &self.lab.dc2 };
        let out = dc.reset_password(name, password);
        assert!(out.status.success(), "reset of {name} on DC{on}: {}", String::from_utf8_lossy(&out.stderr));
        let returned = now_ms();
        self.wait_pushes(name, pushes, timeout) - returned
    }

    /// Waits until the emulator has accepted `pushes` credentials for `name` in all; returns
    /// when it stored the last one (ms since the epoch, its clock).
    pub fn wait_pushes(&self, name: &str, pushes: u64, timeout: Duration) -> i64 {
        let t0 = Instant::now();
        loop {
            if let Some(u) = self.cloud_user(name)
                && u["credentialPushes"].as_u64().unwrap_or(0) >= pushes
            {
                let at = u["credential"]["receivedAt"].as_str().and_then(super::stack::parse_rfc3339_ms);
                return at.unwrap_or(i64::MAX);
            }
            assert!(
                t0.elapsed() < timeout,
                "{name} did not reach {pushes} pushes in the emulator within {timeout:?}\nDC1:\n{}\nDC2:\n{}",
                self.d1.as_ref().map(|d| super::stack::tail(&d.logs())).unwrap_or_default(),
                self.d2.as_ref().map(|d| super::stack::tail(&d.logs())).unwrap_or_default(),
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Adds users on DC`on` over ldaps in one ldapmodify (LDAP adds with a password).
    pub fn add_users_over_ldap(&self, on: u8, names: &[String], password: &str) {
        use base64::Engine;
        let dc = if on == 1 { &self.lab.dc1 } else { &self.lab.dc2 };
        let quoted: Vec<u8> = format!("\"{password}\"").encode_utf16().flat_map(u16::to_le_bytes).collect();
        let pwd = base64::engine::general_purpose::STANDARD.encode(quoted);
        let lower = REALM.to_lowercase();
        let ldif: String = names
            .iter()
            .map(|n| {
                format!(
                    "dn: CN={n},CN=Users,{DOMAIN_DN}\nchangetype: add\nobjectClass: user\nsAMAccountName: {n}\n\
                     userPrincipalName: {n}@{lower}\nunicodePwd:: {pwd}\nuserAccountControl: 512\n\n"
                )
            })
            .collect();
        let file = dc.dir().join("add-users.ldif");
        fs::write(&file, ldif).expect("ldif");
        let out = dc.ldapmodify_file(&file);
        assert!(out.status.success(), "ldap adds on DC{on}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `reconcile finished` lines of DC`which`'s daemon log (its full runs' summaries).
    pub fn reconcile_lines(&self, which: u8) -> Vec<String> {
        let d = if which == 1 { &self.d1 } else { &self.d2 };
        d.as_ref().map_or_else(Vec::new, |d| {
            d.logs().lines().filter(|l| l.contains("reconcile finished")).map(String::from).collect()
        })
    }
}

/// The p-th percentile of sorted samples.
pub fn percentile(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
