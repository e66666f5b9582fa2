//! Subcommand implementations behind `main.rs`. Each returns `Result<(), Failure>`; `main`
//! turns a failure into one sentence on stderr and the exit status of `interfaces.md`.

pub mod config;
pub mod daemon_client;
pub mod directory;
pub mod docs;
pub mod doctor;
pub mod emulator;
pub mod engine;
pub mod install_hook;
mod local_time;
pub mod login;
pub mod phs;
mod progress;
pub mod register_app;
pub mod resync;
pub mod seamless_sso;
pub mod wire;

use std::fmt;

/// A failed subcommand: what to tell the administrator and which exit status to use.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Exit 1: something failed at run time.
    pub fn runtime(message: impl fmt::Display) -> Self {
        Failure { code: 1, message: message.to_string() }
    }

    /// Exit 2: bad usage, bad input or a bad config.
    pub fn usage(message: impl fmt::Display) -> Self {
        Failure { code: 2, message: message.to_string() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type CliResult = Result<(), Failure>;

/// A small runtime for subcommands that talk to async parts (the ldb thread, D-Bus, HTTP).
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the async runtime: {e}")))
}
