//! The engine: joins the directory (`samba`) and the wire (`entra`).

pub mod anchor;
pub mod approval;
pub mod blocked;
pub mod cert_rotation;
pub mod cluster;
pub mod control;
pub mod directory;
pub mod drift;
pub mod entra_port;
pub mod gate;
pub mod ldb_directory;
pub mod mapping;
pub mod metrics;
pub mod model;
pub mod password_status;
pub mod passwords;
pub mod plan;
pub mod progress;
pub mod queries;
pub mod reconcile;
pub mod report;
pub mod scheduler;
pub mod scope;
pub mod settings;
pub mod state;
pub mod status;
pub mod tenant;
#[cfg(test)]
pub(crate) mod testing;
pub mod usn_watch;
