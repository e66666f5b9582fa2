//! `[metrics] textfile`: the daemon keeps a Prometheus text file up to date, valid by
//! `promtool check metrics` (Debian's prometheus package), with the figures an administrator
//! monitors: state, queue depth, pushes, the latency histogram, the last reconcile, held deletes
//! and the write budget.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::stack::{Stack, tail};

fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next().and_then(|v| v.parse().ok()))
}

#[test]
fn the_metrics_file_follows_the_daemon_and_passes_promtool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("samba-entra-sync.prom");
    let s = Stack::start(
        |dc| {
            dc.samba_tool(&["user", "create", "alice", "Al1ce!Pass-1", "--mail-address=alice@lab.test"]);
        },
        &format!("[metrics]\ntextfile = \"{}\"\n", file.display()),
        &[],
    );
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-1", Duration::from_secs(60)).is_some());
    let out = s.dc.setpassword_ldap("alice", "Al1ce!Pass-2");
    assert!(out.status.success());
    assert!(s.emu.wait_password("alice@lab.test", "Al1ce!Pass-2", Duration::from_secs(10)).is_some());
    // The file is rewritten every 5 s: wait for one that counts both pushes.
    let t0 = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if value(&text, "samba_entra_sync_password_pushes_total").is_some_and(|v| v >= 2.0) {
            break text;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the metrics file did not follow:\n{text}\n{}",
            tail(&s.daemon.logs())
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(value(&text, "samba_entra_sync_password_queue_depth"), Some(0.0), "{text}");
    assert!(text.contains("samba_entra_sync_state{state=\"running\"} 1"), "{text}");
    assert!(value(&text, "samba_entra_sync_password_latency_seconds_count").is_some_and(|v| v >= 2.0), "{text}");
    assert!(value(&text, "samba_entra_sync_last_reconcile_timestamp_seconds").is_some_and(|v| v > 1.7e9), "{text}");
    assert!(value(&text, "samba_entra_sync_write_budget_used").is_some_and(|v| v >= 2.0), "{text}");
    assert_eq!(value(&text, "samba_entra_sync_held_deletes"), Some(0.0), "{text}");
    // Valid for Prometheus, names by its conventions (promtool's lint).
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package)");
    promtool.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = promtool.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // No secret in it.
    assert!(!text.contains("Al1ce"), "a password in the metrics file");
}
