//! The engine: joins the directory (`samba`) and the wire (`entra`).

pub mod anchor;
pub mod settings;
pub mod state;
