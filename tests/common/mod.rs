//! Shared test harness: throwaway Samba DCs, bulk fixtures, a private D-Bus.
#![allow(dead_code)] // each test binary uses a part of the support

pub mod bus;
pub mod fixture;
pub mod samba;
pub mod stack;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The project's binary, built by cargo for integration tests.
pub fn bin() -> PathBuf {
    // SAMBA_ENTRA_SYNC_BIN runs the harness against another build of the binary: CI runs the
    // load bench's harness from its debug test build against the release binary it packages.
    if let Some(path) = std::env::var_os("SAMBA_ENTRA_SYNC_BIN") {
        return PathBuf::from(path);
    }
    // Set by cargo for integration tests; benches fall back to the build directory.
    option_env!("CARGO_BIN_EXE_samba-entra-sync")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/samba-entra-sync"))
}

/// The 16 bytes of a GUID in its text form (`8-4-4-4-12`, as ldbsearch and `directory dump`
/// print it): the first three groups little-endian, as AD stores objectGUID.
pub fn guid_bytes(text: &str) -> Vec<u8> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let raw: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex GUID")).collect();
    let mut out = Vec::with_capacity(16);
    out.extend(raw[0..4].iter().rev());
    out.extend(raw[4..6].iter().rev());
    out.extend(raw[6..8].iter().rev());
    out.extend(&raw[8..16]);
    out
}

/// Waits until `f` holds, checking every 200 ms; whether it did within `timeout`.
pub fn wait_until(timeout: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    false
}

/// Runs the binary with `args` and returns its output.
pub fn cli(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run samba-entra-sync")
}
