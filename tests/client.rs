//! The sync API client against a tiny local server: headers and envelope of every request,
//! retries (503 + Retry-After, throttling fault, 5xx, refused connections), redirect faults,
//! token refresh after access denied, the compatibility probe, timeouts, and the redacted
//! capture; hostile answers (the fuzz corpus replayed).

#[path = "client/auth.rs"]
mod auth;
#[path = "client/calls.rs"]
mod calls;
#[path = "client/hostile.rs"]
mod hostile;
#[path = "client/probe.rs"]
mod probe;
#[path = "client/redirects.rs"]
mod redirects;
#[path = "client/retries.rs"]
mod retries;
#[path = "client/server.rs"]
mod server;
#[path = "client/support.rs"]
mod support;
