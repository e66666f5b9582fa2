//! Long work as a person sees it (issue 17): `plan --config` and `sync --config` redraw a
//! progress line on stderr when it is a terminal (a pseudo-terminal made by `script`, from
//! bsdutils) and print none when it is piped; the human summaries of `sync` and `status` show
//! local times in the zone `TZ` names. A throwaway DC, the emulator over HTTP, a private D-Bus
//! and the real daemon.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::bus::PrivateBus;
use common::samba::Dc;
use common::stack::{Daemon, Emulator, daemon_config, tail};
use common::wait_until;
use samba_entra_sync::entra::timefmt::days_from_civil;

/// A zone no machine is set to by accident: UTC+05:45, abbreviated XST (a POSIX TZ rule, so no
/// tz database is needed).
const TZ: &str = "XST-5:45";
const TZ_OFFSET_SECS: i64 = 5 * 3600 + 45 * 60;

fn users(dc: &Dc) {
    for i in 0..12 {
        dc.samba_tool(&["user", "create", &format!("prog{i}"), "Pr0gress!Pass-1"]);
    }
}

/// A signed-in config for the in-process commands (the daemon is not running).
fn config(dir: &Path, dc: &Dc, emu: &Emulator, bus: &PrivateBus) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, daemon_config(dir, dc, emu, bus, "")).expect("config");
    let out = Command::new(common::bin()).args(["login", "--config"]).arg(&path).output().expect("login");
    assert!(out.status.success(), "login: {}", String::from_utf8_lossy(&out.stderr));
    path
}

/// Runs the binary with its stdout and stderr on a pseudo-terminal; returns what the terminal
/// showed (both streams, as written, with their carriage returns).
fn on_terminal(args: &[&str], config: &Path) -> (bool, String) {
    let quote = |text: String| format!("'{}'", text.replace('\'', "'\\''"));
    let command = format!(
        "{} {} --config {}",
        quote(common::bin().display().to_string()),
        args.join(" "),
        quote(config.display().to_string())
    );
    let out = Command::new("script")
        .args(["--quiet", "--return", "--flush", "--command", &command, "/dev/null"])
        .env("TZ", TZ)
        .stdin(Stdio::null())
        .output()
        .expect("script (bsdutils)");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs the binary with stdout and stderr piped.
fn piped(args: &[&str], config: &Path) -> Output {
    Command::new(common::bin()).args(args).arg("--config").arg(config).env("TZ", TZ).output().expect("cli")
}

/// The progress line's frames: each starts with a carriage return and ends with the seconds
/// the work has taken (`…, 12 s`).
fn frames(shown: &str) -> Vec<&str> {
    shown
        .split('\r')
        .map(str::trim_end)
        .filter(|f| {
            f.rsplit_once(", ")
                .is_some_and(|(_, last)| last.strip_suffix(" s").is_some_and(|n| n.parse::<u64>().is_ok()))
        })
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS` as seconds since the epoch, read as if it were UTC.
fn wall_clock_secs(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(' ')?;
    let d: Vec<i64> = date.split('-').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let t: Vec<i64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let days = days_from_civil(d[0], u32::try_from(d[1]).ok()?, u32::try_from(d[2]).ok()?);
    Some(days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2])
}

/// The local time printed after `label` ("… at 2026-12-05 22:33:03 XST"), checked against now:
/// it must be this zone's wall clock (not UTC's), at most `within` seconds from now.
fn assert_local_time_after(label: &str, text: &str, within: i64) {
    let at = text.find(label).map(|i| &text[i + label.len()..]).unwrap_or_else(|| panic!("no {label:?} in {text}"));
    let stamp = at.get(..23).unwrap_or_default();
    assert!(stamp.ends_with(" XST"), "not a local time in {TZ}: {stamp:?} in {text}");
    let shown = wall_clock_secs(&stamp[..19]).unwrap_or_else(|| panic!("not a time: {stamp:?}"));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let skew = (shown - TZ_OFFSET_SECS - now).abs();
    assert!(skew <= within, "{stamp:?} is {skew} s away from now in {TZ}: {text}");
}

#[test]
fn progress_on_a_terminal_none_in_a_pipe_and_local_times() {
    let dc = Dc::new();
    users(&dc);
    let emu = Emulator::start(&[]);
    let bus = PrivateBus::start().expect("private bus");
    let dir = tempfile::Builder::new().prefix("ses-progress-").tempdir().expect("tempdir");
    let config = config(dir.path(), &dc, &emu, &bus);

    // plan: on a terminal, frames that count what was read and planned...
    let (ok, shown) = on_terminal(&["plan"], &config);
    assert!(ok, "plan on a terminal failed: {shown}");
    let drawn = frames(&shown);
    assert!(drawn.iter().any(|f| f.contains(" planned")), "no progress frame with the plan's figures: {shown:?}");
    assert!(shown.contains(" creates, "), "the plan's summary is missing: {shown}");
    // ...and none when piped.
    let out = piped(&["plan"], &config);
    assert!(out.status.success(), "plan: {}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains('\r') && !stderr.contains(" planned"), "progress in a pipe: {stderr:?}");

    // sync: on a terminal the frames go on to what was sent and the passwords pushed; the
    // summary says when it finished, in local time.
    let (ok, shown) = on_terminal(&["sync"], &config);
    assert!(ok, "sync on a terminal failed: {shown}");
    let drawn = frames(&shown);
    assert!(drawn.iter().any(|f| f.contains(" sent")), "no progress frame with what was sent: {shown:?}");
    let pushed = |f: &str| -> Option<(u64, u64)> {
        let figure = f.split(", ").find(|p| p.ends_with(" passwords pushed"))?.trim_end_matches(" passwords pushed");
        let (done, of) = figure.split_once('/')?;
        Some((done.parse().ok()?, of.parse().ok()?))
    };
    assert!(
        drawn.iter().filter_map(|f| pushed(f)).any(|(done, of)| done > 0 && done <= of),
        "no frame with the passwords pushed: {shown:?}"
    );
    assert!(emu.objects("User").len() >= 12, "the sync did not reach the tenant");
    assert_local_time_after("Reconcile finished at ", &shown, 300);

    // Piped: the summary alone, line by line.
    let out = piped(&["sync"], &config);
    assert!(out.status.success(), "sync: {}", String::from_utf8_lossy(&out.stderr));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!stderr.contains('\r') && !stderr.contains(" sent"), "progress in a pipe: {stderr:?}");
    assert!(!stdout.contains('\r'), "a redrawn line on stdout: {stdout:?}");
    assert_local_time_after("Reconcile finished at ", &stdout, 300);

    // status: the daemon's last and next reconcile in local time.
    let daemon = Daemon::start_configured(dir, config);
    let status = || {
        let out = Command::new(common::bin())
            .args(["status", "--bus", bus.address()])
            .env("TZ", TZ)
            .output()
            .expect("status");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ran = wait_until(Duration::from_secs(120), || !status().contains("last reconcile:        none"));
    assert!(ran, "no reconcile reported by status:\n{}", tail(&daemon.logs()));
    let text = status();
    assert_local_time_after("last reconcile:        ", &text, 300);
    // The next one is [sync] interval (1h) away.
    assert_local_time_after("next reconcile:        ", &text, 3600 + 300);
}
