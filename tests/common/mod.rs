//! Shared test harness: throwaway Samba DCs, bulk fixtures, a private D-Bus.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test support: failing fast is the point

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

/// Runs the binary with `args` and returns its output.
pub fn cli(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run samba-entra-sync")
}
