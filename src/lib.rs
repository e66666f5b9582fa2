//! samba-entra-sync: keep a Samba 4 AD domain in sync with Microsoft Entra ID, with password
//! hash sync pushed the moment a password changes.
//!
//! Floors (who may import whom): `samba` (sam.ldb) and `entra` (the wire protocol) know nothing
//! of each other nor of the engine; `sync`, the engine, joins them; `emulator` uses `entra` (its
//! codec) and nothing else of ours, so it never shares the engine's assumptions; `bus` serves
//! D-Bus; `daemon` wires everything; `cli` and `main.rs` are the front door.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::todo, clippy::unimplemented)]

pub mod bus;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod emulator;
pub mod entra;
pub mod samba;
pub mod sync;
