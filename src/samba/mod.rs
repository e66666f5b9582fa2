//! The directory side: reading a Samba AD DC's sam.ldb through libldb.
//!
//! * `ffi` holds the generated bindings and is private.
//! * `ldb` is the only place with `unsafe`: a connection type that frees in `Drop`, and a
//!   dedicated OS thread that owns it (libldb and the samba modules are not thread-safe).
//! * `filter` builds LDAP filters from escaped values.
//! * `directory` turns entries into typed users, groups and computers.
//! * `computer_account` finds, creates, re-keys and deletes one service computer account (the
//!   `seamless-sso` command's AZUREADSSOACC$).

pub mod computer_account;
pub mod directory;
mod ffi;
pub mod filter;
pub mod ldb;
pub mod values;

pub use directory::{Computer, Contact, DirectoryObject, Group, NtHash, User};
pub use ldb::{AccountWriter, ConsistencyGuidWrite, LdbError, LdbHandle, LdbWriter};
