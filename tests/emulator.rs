//! The Entra sync-endpoint emulator, driven in-process on 127.0.0.1:0 with raw msbin1 requests
//! built from the protocol doc's XML shapes (never with the project's own client), plus the
//! binary (restart with --data) and an independent Python client.

#[path = "emulator/admin.rs"]
mod admin;
#[path = "emulator/applications.rs"]
mod applications;
#[path = "emulator/desktop_sso.rs"]
mod desktop_sso;
#[path = "emulator/independent.rs"]
mod independent;
#[path = "emulator/lifecycle.rs"]
mod lifecycle;
#[path = "emulator/negative.rs"]
mod negative;
#[path = "emulator/operations.rs"]
mod operations;
#[path = "emulator/signin.rs"]
mod signin;
#[path = "emulator/support.rs"]
mod support;
#[path = "emulator/timeline.rs"]
mod timeline;
