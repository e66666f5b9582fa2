//! Reconcile benchmarks through the whole stack (issue 6): a Samba domain of 10,000 users and
//! 1,000 groups with memberships, the emulator and the real daemon.
//!
//! 1. Initial sync to an unthrottled emulator: every object and every password hash; then a
//!    no-change reconcile; the daemon's peak RSS (VmHWM). Targets: ≤ 60 s, ≤ 2 s, ≤ 150 MB.
//! 2. Throttled, time-scaled (the emulator allows THROTTLE_WRITES per THROTTLE_WINDOW and the
//!    daemon's budget is set to match): the emulator must never throttle, and a password
//!    changed during the bulk load must arrive within 1 s.
//!
//! Run: `cargo bench --bench reconcile`. Environment: OBJECTS_PER_CALL, PARALLEL_CALLS (the
//! daemon's defaults 1 and 4 unless set), SKIP_THROTTLED=1, THROTTLED_SECS (default 90).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::bus::PrivateBus;
use common::fixture::{self, Shape};
use common::samba::Dc;
use common::stack::{Daemon, Emulator, hook_path};

const SHAPE: Shape = Shape { users: 10_000, groups: 1_000, computers: 0, members_per_group: 10 };

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn full_runs(d: &Daemon) -> usize {
    d.logs().lines().filter(|l| l.contains("reconcile finished")).count()
}

fn wait(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    t0.elapsed()
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn stat(emu: &Emulator, key: &str) -> u64 {
    emu.stats()[key].as_u64().unwrap_or(0)
}

/// The DC (with the hook), a bus and an emulator, ready for a daemon.
fn environment(emulator_args: &[&str]) -> (PrivateBus, Emulator, Dc) {
    let bus = PrivateBus::start().expect("bus");
    let emu = Emulator::start(emulator_args);
    let mut dc = Dc::cached("bench-10k", |dc| fixture::populate(dc, SHAPE));
    dc.set_global_option("check password script", &hook_path().display().to_string());
    dc.start(&[("DBUS_SYSTEM_BUS_ADDRESS", bus.address())]);
    (bus, emu, dc)
}

fn unthrottled(per_call: &str, parallel: &str) {
    let (bus, emu, dc) = environment(&["--throttle-writes", "100000000"]);
    let extra = format!("objects_per_call = {per_call}\nparallel_calls = {parallel}\nwrite_budget = 1000000\n");
    let t0 = Instant::now();
    let daemon = Daemon::start(&dc, &emu, &bus, &extra);
    let ready = t0.elapsed();
    let objects_at = wait("the initial reconcile", Duration::from_secs(1800), || full_runs(&daemon) >= 1);
    let objects = ready + objects_at;
    let passwords = ready
        + objects_at
        + wait("every password hash", Duration::from_secs(1800), || stat(&emu, "credentials") >= SHAPE.users as u64);
    let tenant = stat(&emu, "objects");
    println!(
        "initial sync (objects_per_call={per_call}, parallel_calls={parallel}): objects {:.1} s, objects + {} password hashes {:.1} s ({} objects in the tenant; daemon ready after {:.1} s)",
        objects.as_secs_f64(),
        SHAPE.users,
        passwords.as_secs_f64(),
        tenant,
        ready.as_secs_f64()
    );
    let writes = stat(&emu, "writes");
    let mut no_change = Vec::new();
    for _ in 0..3 {
        let before = full_runs(&daemon);
        let t = Instant::now();
        let out = Command::new(common::bin()).args(["sync", "--bus", bus.address()]).output().expect("sync");
        assert!(out.status.success(), "sync: {}", String::from_utf8_lossy(&out.stderr));
        wait("the no-change reconcile", Duration::from_secs(300), || full_runs(&daemon) > before);
        no_change.push(t.elapsed().as_secs_f64());
    }
    println!(
        "no-change reconcile (request to finish, 3 runs): {:.2} s / {:.2} s / {:.2} s; writes during them: {}",
        no_change[0],
        no_change[1],
        no_change[2],
        stat(&emu, "writes") - writes
    );
    let pid = daemon.pid().expect("daemon pid");
    println!("daemon peak RSS (VmHWM): {:.1} MB", vm_hwm_kb(pid).unwrap_or(0) as f64 / 1024.0);
}

fn throttled(per_call: &str, parallel: &str) {
    let writes = env_or("THROTTLE_WRITES", "700");
    let window = env_or("THROTTLE_WINDOW", "30s");
    let secs: u64 = env_or("THROTTLED_SECS", "90").parse().unwrap_or(90);
    let (bus, emu, dc) = environment(&["--throttle-writes", &writes, "--throttle-window", &window]);
    let extra = format!(
        "objects_per_call = {per_call}\nparallel_calls = {parallel}\nwrite_budget = {writes}\nwrite_budget_window = \"{window}\"\n"
    );
    let daemon = Daemon::start(&dc, &emu, &bus, &extra);
    // Changes during the bulk load: one early user (exported by then) and one late (not yet
    // exported: the push finds it missing and exports it first).
    let mut latencies = Vec::new();
    let started = Instant::now();
    for (delay, i) in [(10u64, 0usize), (15, 9_999), (15, 1), (15, 9_998)] {
        std::thread::sleep(Duration::from_secs(delay));
        let name = fixture::user_name(i);
        let password = format!("Changed-{i}!pw");
        let out = dc.setpassword_ldap(&name, &password);
        assert!(out.status.success(), "setpassword: {}", String::from_utf8_lossy(&out.stderr));
        let took = emu.wait_password(&format!("{name}@lab.test"), &password, Duration::from_secs(60));
        let exported_then = stat(&emu, "objects");
        latencies.push((name, took.map(|d| d.as_secs_f64()), exported_then));
    }
    std::thread::sleep(Duration::from_secs(secs).saturating_sub(started.elapsed()));
    let stats = emu.stats();
    println!(
        "throttled ({writes} writes / {window}, budget matched): throttled responses {}, writes {}, objects {}",
        stats["throttled"], stats["writes"], stats["objects"]
    );
    for (name, took, exported) in latencies {
        match took {
            Some(s) => println!(
                "  password of {name} changed during the bulk load: at the emulator {s:.3} s after the change returned ({exported} objects exported by then)"
            ),
            None => println!("  password of {name}: did not arrive within 60 s"),
        }
    }
    drop(daemon);
}

fn main() {
    let per_call = env_or("OBJECTS_PER_CALL", "1");
    let parallel = env_or("PARALLEL_CALLS", "4");
    if std::env::var("SKIP_UNTHROTTLED").is_err() {
        unthrottled(&per_call, &parallel);
    }
    if std::env::var("SKIP_THROTTLED").is_err() {
        throttled(&per_call, &parallel);
    }
}
