//! `scripts/install-deps.sh`'s Rust toolchain check, without network: a fake `cargo` on PATH
//! reports a version, and INSTALL_DEPS_DRY_RUN=1 makes the script say what it would install
//! instead of installing it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Cargo.toml's rust-version, which the script reads too.
const NEED: &str = env!("CARGO_PKG_RUST_VERSION");

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-deps.sh")
}

/// Runs the script in dry-run mode with `path` as PATH and an empty HOME (so no rustup of the
/// machine's is found); returns its stderr.
fn dry_run(path: &str) -> String {
    let home = tempfile::tempdir().expect("home");
    let out = Command::new(script())
        .env("PATH", path)
        .env("HOME", home.path())
        .env("INSTALL_DEPS_DRY_RUN", "1")
        .output()
        .expect("run install-deps.sh");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "install-deps.sh failed in dry-run mode: {stderr}");
    stderr
}

/// A directory with a `cargo` that prints `version_line`, ahead of the system's tools on PATH.
fn fake_cargo(version_line: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("fake bin");
    let cargo = dir.path().join("cargo");
    std::fs::write(&cargo, format!("#!/bin/sh\necho '{version_line}'\n")).expect("fake cargo");
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", dir.path().display());
    (dir, path)
}

/// The script's lines about the toolchain (it may also report missing Debian packages).
fn rust_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("cargo") || l.contains("Rust") || l.contains("rustup")).collect()
}

/// `NEED` ("1.89") with its minor version one lower ("1.88").
fn one_minor_below(need: &str) -> String {
    let (major, rest) = need.split_once('.').expect("major.minor");
    let minor: u32 = rest.split('.').next().and_then(|m| m.parse().ok()).expect("minor");
    format!("{major}.{}", minor - 1)
}

#[test]
fn debian_12s_cargo_is_reported_too_old_and_rustup_would_install_one() {
    let (_dir, path) = fake_cargo("cargo 1.63.0");
    let stderr = dry_run(&path);
    let lines = rust_lines(&stderr);
    assert_eq!(lines.len(), 1, "expected one line about the toolchain: {stderr}");
    let line = lines[0];
    assert!(line.contains("cargo 1.63.0 is too old"), "{line}");
    assert!(line.contains(&format!("needs Rust {NEED} or newer")), "{line}");
    assert!(line.contains("would install") && line.contains("https://sh.rustup.rs"), "{line}");
}

#[test]
fn one_minor_version_below_the_rust_version_is_too_old() {
    let (_dir, path) = fake_cargo(&format!("cargo {}.9 (0123456 2025-01-01)", one_minor_below(NEED)));
    let stderr = dry_run(&path);
    assert!(rust_lines(&stderr).iter().any(|l| l.contains("is too old") && l.contains("would install")), "{stderr}");
}

#[test]
fn a_recent_enough_cargo_says_nothing() {
    for version in
        ["cargo 1.95.0 (f2d3ce0bd 2026-03-21)", &format!("cargo {NEED}.0"), "cargo 1.97.0-nightly (abc 2026-05-01)"]
    {
        let (_dir, path) = fake_cargo(version);
        let stderr = dry_run(&path);
        assert!(rust_lines(&stderr).is_empty(), "with {version:?} the script said: {stderr}");
    }
}

#[test]
fn no_cargo_at_all_is_reported() {
    // PATH holds only the tools the script itself uses, so no cargo of the machine is found.
    let tools = tempfile::tempdir().expect("tools");
    for tool in ["bash", "dirname", "sed", "head", "sort", "awk", "grep", "dpkg-query", "id"] {
        let found = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} not found"));
        std::os::unix::fs::symlink(found, tools.path().join(tool)).expect("symlink");
    }
    let stderr = dry_run(&tools.path().display().to_string());
    let lines = rust_lines(&stderr);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("no cargo on PATH") && lines[0].contains("would install"), "{}", lines[0]);
}
