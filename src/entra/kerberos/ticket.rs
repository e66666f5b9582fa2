//! The browser's `Authorization: Negotiate` token, from the outside in: the GSS-API framing
//! (RFC 2743 §3.1), SPNEGO's NegTokenInit (RFC 4178 §4.2.1) and its Kerberos mech token
//! (RFC 4121 §4.1), the AP-REQ, its Ticket and, once decrypted with the service's key, the
//! EncTicketPart (RFC 4120 §5.3, §5.5.1) with its authorization data (AD-IF-RELEVANT holding
//! AD-WIN2K-PAC), and the Authenticator.

use zeroize::Zeroizing;

use super::KerberosError;
use super::crypto::{self, Etype, Key};
use super::der::{self, Reader, application, context};

/// 1.3.6.1.5.5.2, SPNEGO.
const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// 1.2.840.113554.1.2.2, Kerberos V5 (RFC 4121).
const OID_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// 1.2.840.48018.1.2.2, the Kerberos OID as older Windows spells it (RFC 4178 §4.1 note).
const OID_KRB5_MS: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// RFC 4121 §4.1: TOK_ID of an AP-REQ inside the mech token.
const TOK_ID_AP_REQ: [u8; 2] = [0x01, 0x00];
/// RFC 4120 §7.5.1 key usages.
const USAGE_TICKET: u32 = 2;
const USAGE_AUTHENTICATOR: u32 = 11;
/// RFC 4120 §7.5.4 authorization data types.
const AD_IF_RELEVANT: i64 = 1;
const AD_WIN2K_PAC: i64 = 128;
/// RFC 4120 §1.6: the usual allowance for clock skew.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// RFC 4120 EncryptedData.
#[derive(Clone, Debug)]
pub struct EncryptedData {
    pub etype: i64,
    pub kvno: Option<i64>,
    pub cipher: Vec<u8>,
}

/// The clear part of a Ticket.
#[derive(Clone, Debug)]
pub struct Ticket {
    pub realm: String,
    /// The service principal's name components, e.g. `["HTTP", "autologon.microsoftazuread-sso.com"]`.
    pub sname: Vec<String>,
    pub enc_part: EncryptedData,
}

/// A parsed AP-REQ.
#[derive(Clone, Debug)]
pub struct ApReq {
    pub ticket: Ticket,
    pub authenticator: EncryptedData,
}

/// What the decrypted ticket says.
pub struct TicketContents {
    pub crealm: String,
    pub cname: Vec<String>,
    pub authtime: i64,
    pub starttime: Option<i64>,
    pub endtime: i64,
    pub session_key: Key,
    /// The PAC, if the KDC put one in (AD-IF-RELEVANT → AD-WIN2K-PAC).
    pub pac: Option<Vec<u8>>,
}

/// Finds the AP-REQ in the bytes of a `Negotiate` token: SPNEGO's NegTokenInit with a Kerberos
/// mech token, or a bare Kerberos GSS token (both are sent by real clients).
pub fn ap_req_from_negotiate(token: &[u8]) -> Result<ApReq, KerberosError> {
    let mut outer = Reader::new(token);
    let gss = outer.next(application(0))?;
    let mut r = Reader::new(gss);
    let oid = r.next(der::OID)?;
    if oid == OID_SPNEGO {
        // negTokenInit is choice [0]; a negTokenResp ([1]) never opens an exchange.
        let choice = r.next(context(0))?;
        let mut init = Reader::new(Reader::new(choice).next(der::SEQUENCE)?);
        let mech_types = init.explicit(0, der::SEQUENCE)?;
        let mut types = Reader::new(mech_types);
        let mut kerberos = false;
        while !types.is_empty() {
            let t = types.next(der::OID)?;
            kerberos |= t == OID_KRB5 || t == OID_KRB5_MS;
        }
        if !kerberos {
            return Err(KerberosError::NotKerberos);
        }
        init.skip_to(2)?;
        let mech_token = init.optional_explicit(2, der::OCTET_STRING)?.ok_or(KerberosError::NotKerberos)?;
        return krb5_mech_token(mech_token);
    }
    if oid == OID_KRB5 || oid == OID_KRB5_MS {
        return krb5_mech_token(token);
    }
    Err(KerberosError::NotKerberos)
}

/// RFC 4121 §4.1: `[APPLICATION 0] { OID krb5, TOK_ID 01 00, AP-REQ }`.
fn krb5_mech_token(token: &[u8]) -> Result<ApReq, KerberosError> {
    let gss = Reader::new(token).next(application(0))?;
    let mut r = Reader::new(gss);
    let oid = r.next(der::OID)?;
    if oid != OID_KRB5 && oid != OID_KRB5_MS {
        return Err(KerberosError::NotKerberos);
    }
    // What follows the OID is not a DER value: two bytes of token id, then the AP-REQ.
    let rest = remaining(gss, oid);
    if rest.len() < 2 || rest[..2] != TOK_ID_AP_REQ {
        return Err(KerberosError::Malformed("the Kerberos mech token is not an AP-REQ"));
    }
    ap_req(&rest[2..])
}

/// The bytes of `outer` after `inner` (a subslice of it).
fn remaining<'a>(outer: &'a [u8], inner: &[u8]) -> &'a [u8] {
    let end = inner.as_ptr() as usize - outer.as_ptr() as usize + inner.len();
    &outer[end..]
}

/// RFC 4120 §5.5.1 AP-REQ.
pub fn ap_req(bytes: &[u8]) -> Result<ApReq, KerberosError> {
    let body = Reader::new(bytes).next(application(14))?;
    let mut r = Reader::new(Reader::new(body).next(der::SEQUENCE)?);
    let pvno = der::integer(r.explicit(0, der::INTEGER)?)?;
    let msg_type = der::integer(r.explicit(1, der::INTEGER)?)?;
    if pvno != 5 || msg_type != 14 {
        return Err(KerberosError::Malformed("not a Kerberos 5 AP-REQ"));
    }
    r.explicit(2, der::BIT_STRING)?;
    let ticket = ticket(r.explicit(3, application(1))?)?;
    let authenticator = encrypted_data(r.explicit(4, der::SEQUENCE)?)?;
    Ok(ApReq { ticket, authenticator })
}

/// RFC 4120 §5.3 Ticket (the contents of `[APPLICATION 1]`).
fn ticket(body: &[u8]) -> Result<Ticket, KerberosError> {
    let mut r = Reader::new(Reader::new(body).next(der::SEQUENCE)?);
    if der::integer(r.explicit(0, der::INTEGER)?)? != 5 {
        return Err(KerberosError::Malformed("a ticket that is not version 5"));
    }
    let realm = text(r.explicit(1, der::GENERAL_STRING)?)?;
    let sname = principal_name(r.explicit(2, der::SEQUENCE)?)?;
    let enc_part = encrypted_data(r.explicit(3, der::SEQUENCE)?)?;
    Ok(Ticket { realm, sname, enc_part })
}

fn encrypted_data(body: &[u8]) -> Result<EncryptedData, KerberosError> {
    let mut r = Reader::new(body);
    let etype = der::integer(r.explicit(0, der::INTEGER)?)?;
    let kvno = r.optional_explicit(1, der::INTEGER)?.map(der::integer).transpose()?;
    let cipher = r.explicit(2, der::OCTET_STRING)?.to_vec();
    Ok(EncryptedData { etype, kvno, cipher })
}

fn principal_name(body: &[u8]) -> Result<Vec<String>, KerberosError> {
    let mut r = Reader::new(body);
    r.explicit(0, der::INTEGER)?;
    let mut names = Reader::new(r.explicit(1, der::SEQUENCE)?);
    let mut out = Vec::new();
    while !names.is_empty() {
        out.push(text(names.next(der::GENERAL_STRING)?)?);
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> Result<String, KerberosError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| KerberosError::Malformed("a Kerberos string that is not UTF-8"))
}

/// Decrypts the ticket's enc-part with the service's long-term key (usage 2) and reads it.
pub fn decrypt_ticket(ticket: &Ticket, key: &Key) -> Result<TicketContents, KerberosError> {
    if Etype::from_number(ticket.enc_part.etype) != Some(key.etype()) {
        return Err(KerberosError::UnsupportedEtype(ticket.enc_part.etype));
    }
    let plain = crypto::decrypt(key, USAGE_TICKET, &ticket.enc_part.cipher)?;
    enc_ticket_part(&plain)
}

/// RFC 4120 §5.3 EncTicketPart.
fn enc_ticket_part(plain: &[u8]) -> Result<TicketContents, KerberosError> {
    let body = Reader::new(plain).next(application(3))?;
    let mut r = Reader::new(Reader::new(body).next(der::SEQUENCE)?);
    r.explicit(0, der::BIT_STRING)?;
    let session_key = encryption_key(r.explicit(1, der::SEQUENCE)?)?;
    let crealm = text(r.explicit(2, der::GENERAL_STRING)?)?;
    let cname = principal_name(r.explicit(3, der::SEQUENCE)?)?;
    r.explicit(4, der::SEQUENCE)?;
    let authtime = der::kerberos_time(r.explicit(5, der::GENERALIZED_TIME)?)?;
    let starttime = r.optional_explicit(6, der::GENERALIZED_TIME)?.map(der::kerberos_time).transpose()?;
    let endtime = der::kerberos_time(r.explicit(7, der::GENERALIZED_TIME)?)?;
    r.skip_to(10)?;
    let pac = match r.optional_explicit(10, der::SEQUENCE)? {
        Some(ad) => find_pac(ad, 0)?,
        None => None,
    };
    Ok(TicketContents { crealm, cname, authtime, starttime, endtime, session_key, pac })
}

fn encryption_key(body: &[u8]) -> Result<Key, KerberosError> {
    let mut r = Reader::new(body);
    let keytype = der::integer(r.explicit(0, der::INTEGER)?)?;
    let value = Zeroizing::new(r.explicit(1, der::OCTET_STRING)?.to_vec());
    let etype = Etype::from_number(keytype).ok_or(KerberosError::UnsupportedEtype(keytype))?;
    Key::new(etype, &value)
}

/// AuthorizationData (a SEQUENCE OF {ad-type, ad-data}): the PAC, looking inside AD-IF-RELEVANT.
fn find_pac(ad: &[u8], depth: u8) -> Result<Option<Vec<u8>>, KerberosError> {
    if depth > 3 {
        return Err(KerberosError::Malformed("authorization data nested too deep"));
    }
    let mut list = Reader::new(ad);
    while !list.is_empty() {
        let mut element = Reader::new(list.next(der::SEQUENCE)?);
        let ad_type = der::integer(element.explicit(0, der::INTEGER)?)?;
        let data = element.explicit(1, der::OCTET_STRING)?;
        match ad_type {
            AD_WIN2K_PAC => return Ok(Some(data.to_vec())),
            AD_IF_RELEVANT => {
                let inner = Reader::new(data).next(der::SEQUENCE)?;
                if let Some(pac) = find_pac(inner, depth + 1)? {
                    return Ok(Some(pac));
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

/// RFC 4120 §3.2.3: the ticket is valid now (start time, or auth time, no later than now plus the
/// skew; end time no earlier than now minus the skew).
pub fn check_times(contents: &TicketContents, now: i64) -> Result<(), KerberosError> {
    let start = contents.starttime.unwrap_or(contents.authtime);
    if start > now + CLOCK_SKEW_SECS {
        return Err(KerberosError::NotYetValid);
    }
    if contents.endtime < now - CLOCK_SKEW_SECS {
        return Err(KerberosError::Expired);
    }
    Ok(())
}

/// RFC 4120 §3.2.3: the authenticator decrypts with the ticket's session key (usage 11), names
/// the ticket's client, and was made within the clock skew of now.
pub fn check_authenticator(ap: &ApReq, contents: &TicketContents, now: i64) -> Result<(), KerberosError> {
    if Etype::from_number(ap.authenticator.etype) != Some(contents.session_key.etype()) {
        return Err(KerberosError::UnsupportedEtype(ap.authenticator.etype));
    }
    let plain = crypto::decrypt(&contents.session_key, USAGE_AUTHENTICATOR, &ap.authenticator.cipher)?;
    let body = Reader::new(&plain).next(application(2))?;
    let mut r = Reader::new(Reader::new(body).next(der::SEQUENCE)?);
    if der::integer(r.explicit(0, der::INTEGER)?)? != 5 {
        return Err(KerberosError::Malformed("an authenticator that is not version 5"));
    }
    let crealm = text(r.explicit(1, der::GENERAL_STRING)?)?;
    let cname = principal_name(r.explicit(2, der::SEQUENCE)?)?;
    if !crealm.eq_ignore_ascii_case(&contents.crealm) || cname != contents.cname {
        return Err(KerberosError::ClientMismatch);
    }
    r.skip_to(5)?;
    let ctime = der::kerberos_time(r.explicit(5, der::GENERALIZED_TIME)?)?;
    if (ctime - now).abs() > CLOCK_SKEW_SECS {
        return Err(KerberosError::Skew);
    }
    Ok(())
}

/// Building the messages, for tests and test tooling (a unit test's ticket, a fake client).
pub mod write {
    use super::super::der::write::{explicit, integer, kerberos_time, sequence, tlv};
    use super::*;

    pub fn principal(name_type: i64, names: &[&str]) -> Vec<u8> {
        let strings: Vec<Vec<u8>> = names.iter().map(|n| tlv(der::GENERAL_STRING, n.as_bytes())).collect();
        sequence(&[explicit(0, integer(name_type)), explicit(1, sequence(&strings))])
    }

    fn encrypted(etype: i64, kvno: Option<i64>, cipher: &[u8]) -> Vec<u8> {
        let mut parts = vec![explicit(0, integer(etype))];
        if let Some(k) = kvno {
            parts.push(explicit(1, integer(k)));
        }
        parts.push(explicit(2, tlv(der::OCTET_STRING, cipher)));
        sequence(&parts)
    }

    /// What a test ticket says.
    pub struct TicketSpec<'a> {
        pub realm: &'a str,
        pub sname: &'a [&'a str],
        pub client: &'a str,
        pub session_key: &'a Key,
        pub authtime: i64,
        pub endtime: i64,
        pub pac: Option<&'a [u8]>,
    }

    /// An EncTicketPart sealed with `service_key`, as a KDC makes it.
    pub fn ticket(spec: &TicketSpec<'_>, service_key: &Key) -> Result<Vec<u8>, KerberosError> {
        let key = sequence(&[
            explicit(0, integer(spec.session_key.etype() as i64)),
            explicit(1, tlv(der::OCTET_STRING, spec.session_key.bytes())),
        ]);
        let mut parts = vec![
            explicit(0, tlv(der::BIT_STRING, &[0, 0x40, 0xe1, 0, 0])),
            explicit(1, key),
            explicit(2, tlv(der::GENERAL_STRING, spec.realm.as_bytes())),
            explicit(3, principal(1, &[spec.client])),
            explicit(4, sequence(&[explicit(0, integer(1)), explicit(1, tlv(der::OCTET_STRING, &[]))])),
            explicit(5, kerberos_time(spec.authtime)),
            explicit(6, kerberos_time(spec.authtime)),
            explicit(7, kerberos_time(spec.endtime)),
        ];
        if let Some(pac) = spec.pac {
            let inner =
                sequence(&[sequence(&[explicit(0, integer(AD_WIN2K_PAC)), explicit(1, tlv(der::OCTET_STRING, pac))])]);
            let relevant =
                sequence(&[explicit(0, integer(AD_IF_RELEVANT)), explicit(1, tlv(der::OCTET_STRING, &inner))]);
            parts.push(explicit(10, sequence(&[relevant])));
        }
        let enc_part = tlv(application(3), &sequence(&parts));
        let cipher = crypto::encrypt(service_key, USAGE_TICKET, &[3u8; 16], &enc_part)?;
        Ok(tlv(
            application(1),
            &sequence(&[
                explicit(0, integer(5)),
                explicit(1, tlv(der::GENERAL_STRING, spec.realm.as_bytes())),
                explicit(2, principal(2, spec.sname)),
                explicit(3, encrypted(service_key.etype() as i64, Some(2), &cipher)),
            ]),
        ))
    }

    /// The SPNEGO token a browser sends: an AP-REQ with `ticket` and an authenticator for
    /// `client`@`realm` made at `ctime`.
    pub fn negotiate(
        ticket: &[u8],
        realm: &str,
        client: &str,
        session_key: &Key,
        ctime: i64,
    ) -> Result<Vec<u8>, KerberosError> {
        let authenticator = tlv(
            application(2),
            &sequence(&[
                explicit(0, integer(5)),
                explicit(1, tlv(der::GENERAL_STRING, realm.as_bytes())),
                explicit(2, principal(1, &[client])),
                explicit(4, integer(0)),
                explicit(5, kerberos_time(ctime)),
            ]),
        );
        let sealed = crypto::encrypt(session_key, USAGE_AUTHENTICATOR, &[5u8; 16], &authenticator)?;
        let ap_req = tlv(
            application(14),
            &sequence(&[
                explicit(0, integer(5)),
                explicit(1, integer(14)),
                explicit(2, tlv(der::BIT_STRING, &[0, 0x20, 0, 0, 0])),
                explicit(3, ticket.to_vec()),
                explicit(4, encrypted(session_key.etype() as i64, None, &sealed)),
            ]),
        );
        let mut mech = tlv(der::OID, OID_KRB5);
        mech.extend_from_slice(&TOK_ID_AP_REQ);
        mech.extend_from_slice(&ap_req);
        let mech_token = tlv(application(0), &mech);
        let init = sequence(&[
            explicit(0, sequence(&[tlv(der::OID, OID_KRB5), tlv(der::OID, OID_KRB5_MS)])),
            explicit(2, tlv(der::OCTET_STRING, &mech_token)),
        ]);
        let mut spnego = tlv(der::OID, OID_SPNEGO);
        spnego.extend_from_slice(&tlv(context(0), &init));
        Ok(tlv(application(0), &spnego))
    }
}
