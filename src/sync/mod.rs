//! The engine: joins the directory (`samba`) and the wire (`entra`).

pub mod anchor;
pub mod control;
pub mod passwords;
pub mod scope;
pub mod settings;
pub mod state;
