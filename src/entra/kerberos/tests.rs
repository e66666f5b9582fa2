//! A ticket made the way a KDC makes it (sealed with the account's key), then accepted or refused
//! the way the emulator's winauth/sso does.

use super::ticket::write::{TicketSpec, negotiate, ticket};
use super::*;

const NOW: i64 = 1_796_489_283;
const AUTOLOGON: [&str; 2] = ["HTTP", "autologon.microsoftazuread-sso.com"];

fn domain_sid() -> Vec<u8> {
    let mut sid = vec![1, 4, 0, 0, 0, 0, 0, 5];
    for sub in [21u32, 11, 22, 33] {
        sid.extend_from_slice(&sub.to_le_bytes());
    }
    sid
}

fn session_key() -> Key {
    Key::new(Etype::Aes256CtsHmacSha196, &[9u8; 32]).unwrap()
}

fn token(service_key: &Key, sname: &[&str], authtime: i64, endtime: i64, ctime: i64) -> Vec<u8> {
    token_with_pac_key(service_key, service_key, sname, authtime, endtime, ctime)
}

fn token_with_pac_key(
    service_key: &Key,
    pac_key: &Key,
    sname: &[&str],
    authtime: i64,
    endtime: i64,
    ctime: i64,
) -> Vec<u8> {
    let pac = pac::write::pac("alice", &domain_sid(), 1104, pac_key);
    let session = session_key();
    let spec = TicketSpec {
        realm: "LAB.TEST",
        sname,
        client: "alice",
        session_key: &session,
        authtime,
        endtime,
        pac: Some(&pac),
    };
    let t = ticket(&spec, service_key).unwrap();
    negotiate(&t, "LAB.TEST", "alice", &session, ctime).unwrap()
}

fn accept_token(bytes: &[u8], key: &Key) -> Result<Accepted, KerberosError> {
    let ap = ticket::ap_req_from_negotiate(bytes)?;
    accept(&ap, key, &SSO_SPNS, NOW)
}

#[test]
fn a_ticket_sealed_with_the_accounts_key_names_the_user_by_sid() {
    let key = computer_key("a long random password", "lab.test", SSO_COMPUTER_NAME);
    let got = accept_token(&token(&key, &AUTOLOGON, NOW - 60, NOW + 36_000, NOW), &key).unwrap();
    let mut sid = domain_sid();
    sid[1] = 5;
    sid.extend_from_slice(&1104u32.to_le_bytes());
    assert_eq!(got.user_sid, sid);
    assert_eq!(got.client, "alice@LAB.TEST");
    // The ticket's realm and service came through the parser as sent.
    let ap = ticket::ap_req_from_negotiate(&token(&key, &AUTOLOGON, NOW, NOW + 10, NOW)).unwrap();
    assert_eq!(ap.ticket.realm, "LAB.TEST");
    assert_eq!(ap.ticket.sname, AUTOLOGON);
    assert_eq!(ap.ticket.enc_part.etype, 18);
}

#[test]
fn another_key_an_expired_ticket_another_service_or_a_stale_authenticator_are_refused() {
    let key = computer_key("a long random password", "lab.test", SSO_COMPUTER_NAME);
    let rolled = computer_key("the next password", "lab.test", SSO_COMPUTER_NAME);
    let good = token(&key, &AUTOLOGON, NOW - 60, NOW + 36_000, NOW);
    assert_eq!(accept_token(&good, &rolled), Err(KerberosError::Integrity));
    let expired = token(&key, &AUTOLOGON, NOW - 40_000, NOW - 3_600, NOW);
    assert_eq!(accept_token(&expired, &key), Err(KerberosError::Expired));
    let future = token(&key, &AUTOLOGON, NOW + 3_600, NOW + 36_000, NOW);
    assert_eq!(accept_token(&future, &key), Err(KerberosError::NotYetValid));
    let other = token(&key, &["HTTP", "intranet.lab.test"], NOW - 60, NOW + 36_000, NOW);
    assert!(matches!(accept_token(&other, &key), Err(KerberosError::WrongService(_))));
    let replayed = token(&key, &AUTOLOGON, NOW - 60, NOW + 36_000, NOW - 3_600);
    assert_eq!(accept_token(&replayed, &key), Err(KerberosError::Skew));
    // A PAC whose server signature is not the service key's (a ticket re-sealed around a PAC
    // from elsewhere) is refused.
    let resealed = token_with_pac_key(&key, &rolled, &AUTOLOGON, NOW - 60, NOW + 36_000, NOW);
    assert_eq!(accept_token(&resealed, &key), Err(KerberosError::PacSignature));
    // The second SPN of the account is as good as the first.
    let aadg = token(&key, &["HTTP", "aadg.windows.net.nsatc.net"], NOW - 60, NOW + 36_000, NOW);
    assert!(accept_token(&aadg, &key).is_ok());
}

#[test]
fn garbage_and_truncated_tokens_are_errors_not_panics() {
    let key = computer_key("pw", "lab.test", SSO_COMPUTER_NAME);
    let good = token(&key, &AUTOLOGON, NOW - 60, NOW + 36_000, NOW);
    for cut in (0..good.len()).step_by(7) {
        assert!(accept_token(&good[..cut], &key).is_err(), "cut at {cut}");
    }
    assert!(accept_token(b"NTLMSSP\0garbage", &key).is_err());
    // An NTLM mechanism only: not Kerberos.
    let ntlm_only = der::write::tlv(
        der::application(0),
        &[
            der::write::tlv(der::OID, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]),
            der::write::tlv(
                der::context(0),
                &der::write::sequence(&[der::write::explicit(
                    0,
                    der::write::sequence(&[der::write::tlv(
                        der::OID,
                        &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a],
                    )]),
                )]),
            ),
        ]
        .concat(),
    );
    assert_eq!(accept_token(&ntlm_only, &key), Err(KerberosError::NotKerberos));
}

#[test]
fn the_computer_salt_is_realm_host_name_dot_domain() {
    assert_eq!(computer_salt("Lab.Test", "AZUREADSSOACC$"), "LAB.TESThostazureadssoacc.lab.test");
}

/// A ticket the way Samba's KDC makes it for an account whose msDS-SupportedEncryptionTypes is
/// RC4 only: the enc-part under the NT hash (etype 23), the PAC's server signature
/// KERB_CHECKSUM_HMAC_MD5 (-138) with that key, the session key of the client's choosing.
fn rc4_token(service_key: &Key, session: &Key, ctime: i64) -> Vec<u8> {
    let pac = pac::write::pac("alice", &domain_sid(), 1104, service_key);
    let spec = TicketSpec {
        realm: "LAB.TEST",
        sname: &AUTOLOGON,
        client: "alice",
        session_key: session,
        authtime: NOW - 60,
        endtime: NOW + 36_000,
        pac: Some(&pac),
    };
    let t = ticket(&spec, service_key).unwrap();
    negotiate(&t, "LAB.TEST", "alice", session, ctime).unwrap()
}

#[test]
fn an_rc4_hmac_ticket_is_read_with_the_nt_hash_of_the_password() {
    let rc4 = computer_rc4_key("a long random password");
    assert_eq!(rc4.etype(), Etype::Rc4Hmac);
    assert_eq!(rc4.bytes(), crypto::string_to_key(Etype::Rc4Hmac, b"a long random password", b"", 0).bytes());
    let rc4_session = Key::new(Etype::Rc4Hmac, &[4u8; 16]).unwrap();
    for session in [rc4_session, session_key()] {
        let token = rc4_token(&rc4, &session, NOW);
        let ap = ticket::ap_req_from_negotiate(&token).unwrap();
        assert_eq!(ap.ticket.enc_part.etype, 23);
        let got = accept(&ap, &rc4, &SSO_SPNS, NOW).unwrap();
        assert_eq!(got.client, "alice@LAB.TEST");
        assert_eq!(&got.user_sid[got.user_sid.len() - 4..], &1104u32.to_le_bytes());
    }
    // The PAC's server signature is HMAC-MD5 (-138) over the PAC.
    let pac = pac::write::pac("alice", &domain_sid(), 1104, &rc4);
    assert!(pac.windows(4).any(|w| w == (-138i32).to_le_bytes()));
    assert_eq!(pac::verify_server_signature(&pac, &rc4), Ok(()));
}

#[test]
fn an_rc4_ticket_is_refused_by_an_aes_key_and_by_another_nt_hash() {
    let rc4 = computer_rc4_key("a long random password");
    let aes = computer_key("a long random password", "lab.test", SSO_COMPUTER_NAME);
    let token = rc4_token(&rc4, &session_key(), NOW);
    // The AES key of the very same password does not read an RC4 ticket: a service holding
    // only AES keys refuses RC4 tickets, whatever their origin.
    assert_eq!(accept_token(&token, &aes), Err(KerberosError::UnsupportedEtype(23)));
    assert_eq!(accept_token(&token, &computer_rc4_key("the next password")), Err(KerberosError::Integrity));
    // An AES ticket is not read with the RC4 key either.
    let aes_token = token_with_pac_key(&aes, &aes, &AUTOLOGON, NOW - 60, NOW + 36_000, NOW);
    assert_eq!(accept_token(&aes_token, &rc4), Err(KerberosError::UnsupportedEtype(18)));
    // An RC4 ticket around a PAC whose server signature was made with another key is refused.
    let pac = pac::write::pac("alice", &domain_sid(), 1104, &aes);
    let session = session_key();
    let spec = TicketSpec {
        realm: "LAB.TEST",
        sname: &AUTOLOGON,
        client: "alice",
        session_key: &session,
        authtime: NOW - 60,
        endtime: NOW + 36_000,
        pac: Some(&pac),
    };
    let resealed = negotiate(&ticket(&spec, &rc4).unwrap(), "LAB.TEST", "alice", &session, NOW).unwrap();
    assert_eq!(accept_token(&resealed, &rc4), Err(KerberosError::PacSignature));
    // A stale authenticator, as for AES.
    assert_eq!(accept_token(&rc4_token(&rc4, &session, NOW - 3_600), &rc4), Err(KerberosError::Skew));
}
