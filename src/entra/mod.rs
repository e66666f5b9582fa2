//! The cloud side: the msbin1 codec, SOAP messages of the sync API, the PHS credential,
//! sign-in and the HTTP client. Knows nothing of sam.ldb.

pub mod auth;
pub mod client;
pub mod credential;
pub mod desktop_sso;
pub mod http;
pub mod kerberos;
pub mod nbfx;
pub mod ops;
pub mod soap;
pub mod timefmt;
