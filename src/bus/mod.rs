//! The daemon's D-Bus face: `io.github.SambaEntraSync1` at `/io/github/SambaEntraSync1`.
//!
//! * `service` serves the interface: the hook's `PasswordChanged` (uid 0 only), read-only
//!   queries for root and a configured admin group, state-changing calls for root only, and the
//!   `PasswordSynced` / `ReconcileFinished` signals.
//! * `client` is what the CLI uses to ask a running daemon.
//!
//! Authorisation does not trust the caller: the bus daemon vouches for the caller's uid and
//! groups (it got them from SO_PEERCRED); the system bus policy in `systemd/` is a first fence.

pub mod client;
pub mod plan_gate;
pub mod service;

use crate::config::BusConfig;

pub const BUS_NAME: &str = "io.github.SambaEntraSync1";
pub const OBJECT_PATH: &str = "/io/github/SambaEntraSync1";

/// A connection builder for the configured bus.
/// (An invalid address is reported when the connection is built.)
pub fn builder(bus: &BusConfig) -> zbus::connection::Builder<'static> {
    match bus {
        BusConfig::System => zbus::connection::Builder::system(),
        BusConfig::Session => zbus::connection::Builder::session(),
        BusConfig::Address(a) => zbus::connection::Builder::address(a.as_str()),
    }
}
