//! Kerberos as a service sees it, for Seamless SSO: the browser sends a SPNEGO token holding an
//! AP-REQ whose ticket the DC's KDC sealed with the key of the computer account
//! `AZUREADSSOACC$`; whoever holds that key (Entra, or the emulator) decrypts it and reads the
//! user's SID from the PAC.
//!
//! It lives under `entra` because the emulator may import `entra` only (docs/architecture.md,
//! floors), and it imports nothing else of ours: the CLI and the emulator share the crypto
//! (RFC 3961/3962), the DER reader and the PAC reader, while each keeps its own policy.

pub mod crypto;
pub mod der;
pub mod pac;
pub mod rc4;
pub mod ticket;

pub use crypto::{Etype, Key};

/// The two service principal names of Seamless SSO (Learn "how-to-connect-sso-how-it-works").
pub const SSO_SPNS: [&str; 2] = ["HTTP/autologon.microsoftazuread-sso.com", "HTTP/aadg.windows.net.nsatc.net"];
/// The computer account Entra Connect creates, and the name registered with Entra.
pub const SSO_COMPUTER_NAME: &str = "AZUREADSSOACC";

/// Why a token was not accepted. Each variant is one sentence for a log; none carries key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KerberosError {
    #[error("malformed Kerberos message: {0}")]
    Malformed(&'static str),
    #[error("DER tag 0x{found:02x} where 0x{expected:02x} was expected")]
    UnexpectedTag { expected: u8, found: u8 },
    #[error("the Negotiate token holds no Kerberos AP-REQ")]
    NotKerberos,
    #[error("encryption type {0} is not supported")]
    UnsupportedEtype(i64),
    #[error("the checksum does not match: wrong key, or a tampered message")]
    Integrity,
    #[error("the ticket has expired")]
    Expired,
    #[error("the ticket is not valid yet")]
    NotYetValid,
    #[error("the authenticator names another client than the ticket")]
    ClientMismatch,
    #[error("the authenticator's time is outside the allowed clock skew")]
    Skew,
    #[error("the PAC has no LOGON_INFO buffer")]
    NoLogonInfo,
    #[error("the ticket carries no PAC")]
    NoPac,
    #[error("the PAC's server signature is missing or not made with the service key")]
    PacSignature,
    #[error("the ticket is for {0}, not for Seamless SSO")]
    WrongService(String),
}

/// The salt Samba (like Windows) gives a computer account's AES keys: the realm, `host`, the
/// account name without `$` in lower case, a dot, the DNS domain in lower case (MS-KILE §3.1.1.2;
/// checked on a lab DC against supplementalCredentials' Primary:Kerberos-Newer-Keys).
pub fn computer_salt(dns_domain: &str, computer_name: &str) -> String {
    let name = computer_name.trim_end_matches('$').to_ascii_lowercase();
    let domain = dns_domain.to_ascii_lowercase();
    format!("{}host{name}.{domain}", domain.to_ascii_uppercase())
}

/// The AES256 key of a computer account with `password` (RFC 3962, default iterations).
pub fn computer_key(password: &str, dns_domain: &str, computer_name: &str) -> Key {
    let salt = computer_salt(dns_domain, computer_name);
    crypto::string_to_key(Etype::Aes256CtsHmacSha196, password.as_bytes(), salt.as_bytes(), crypto::DEFAULT_ITERATIONS)
}

/// The RC4-HMAC key of a computer account with `password`: its NT hash (RFC 4757; no salt).
/// Only for registrations that allow RC4 (docs/emulator.md, "Seamless SSO").
pub fn computer_rc4_key(password: &str) -> Key {
    crypto::string_to_key(Etype::Rc4Hmac, password.as_bytes(), &[], 0)
}

/// A ticket a service accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// `user@REALM` as the ticket names the client.
    pub client: String,
    /// The user's SID from the PAC (binary form).
    pub user_sid: Vec<u8>,
    pub endtime: i64,
}

/// Checks a service's whole acceptance of an AP-REQ: the ticket is for one of `services`
/// (`HTTP/host` names, compared without case), decrypts with `key`, is valid at `now`, its
/// authenticator matches, and its PAC names the user.
pub fn accept(ap: &ticket::ApReq, key: &Key, services: &[&str], now: i64) -> Result<Accepted, KerberosError> {
    let sname = ap.ticket.sname.join("/");
    if !services.iter().any(|s| s.eq_ignore_ascii_case(&sname)) {
        return Err(KerberosError::WrongService(sname));
    }
    let contents = ticket::decrypt_ticket(&ap.ticket, key)?;
    ticket::check_times(&contents, now)?;
    ticket::check_authenticator(ap, &contents, now)?;
    let pac = contents.pac.as_deref().ok_or(KerberosError::NoPac)?;
    pac::verify_server_signature(pac, key)?;
    let info = pac::logon_info(pac)?;
    Ok(Accepted {
        client: format!("{}@{}", contents.cname.join("/"), contents.crealm),
        user_sid: info.user_sid,
        endtime: contents.endtime,
    })
}

#[cfg(test)]
mod tests;
