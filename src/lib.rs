//! samba-entra-sync: keep a Samba 4 AD domain in sync with Microsoft Entra ID, with password
//! hash sync pushed the moment a password changes.
//!
//! Floors (who may import whom) are described in `docs/architecture.md`:
//! `samba` (sam.ldb) and `entra` (wire protocol) know nothing of each other; `sync` joins them;
//! `bus` serves D-Bus; `daemon` wires everything; `cli` and `main.rs` are the front door.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::todo, clippy::unimplemented)]

pub mod bus;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod emulator;
pub mod entra;
pub mod samba;
pub mod sync;
