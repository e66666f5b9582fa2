//! The Privilege Attribute Certificate (MS-PAC): only what identifies the user, the
//! KERB_VALIDATION_INFO of the LOGON_INFO buffer (MS-PAC §2.5), NDR-encoded (MS-RPCE §2.2.5,
//! little-endian, 4-byte aligned): the user's SID is `LogonDomainId` + `UserId`.

use super::KerberosError;
use super::crypto::{self, Key};

/// PAC_INFO_BUFFER ulType of LOGON_INFO (MS-PAC §2.4).
const LOGON_INFO: u32 = 1;
/// The server's and the KDC's signatures (MS-PAC §2.4, §2.8).
const SERVER_CHECKSUM: u32 = 6;
const PRIVSVR_CHECKSUM: u32 = 7;
/// MS-PAC §2.8.1: the key usage of PAC signatures, KERB_NON_KERB_CKSUM_SALT.
const SIGNATURE_USAGE: u32 = 17;
/// Bytes of KERB_VALIDATION_INFO's fixed part before the deferred pointers' data.
const FIXED_PART: usize = 216;

/// Who the PAC says the user is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogonInfo {
    pub effective_name: String,
    /// The user's SID in binary form (revision, count, authority, sub-authorities; the form of
    /// AD's objectSid and of onPremiseSecurityIdentifier).
    pub user_sid: Vec<u8>,
}

/// Reads the LOGON_INFO buffer of a PAC (the ad-data of AD-WIN2K-PAC).
pub fn logon_info(pac: &[u8]) -> Result<LogonInfo, KerberosError> {
    let list = buffers(pac)?;
    let (_, range) = list.into_iter().find(|(kind, _)| *kind == LOGON_INFO).ok_or(KerberosError::NoLogonInfo)?;
    validation_info(&pac[range])
}

/// The PAC's buffers: (type, bytes range).
fn buffers(pac: &[u8]) -> Result<Vec<(u32, std::ops::Range<usize>)>, KerberosError> {
    let bad = KerberosError::Malformed;
    let count = u32_at(pac, 0).ok_or(bad("PAC shorter than its header"))? as usize;
    if count > 64 {
        return Err(bad("a PAC with an implausible number of buffers"));
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let at = 8 + i * 16;
        let kind = u32_at(pac, at).ok_or(bad("PAC buffer list cut short"))?;
        let size = u32_at(pac, at + 4).ok_or(bad("PAC buffer list cut short"))? as usize;
        let offset = u64_at(pac, at + 8).ok_or(bad("PAC buffer list cut short"))?;
        let start = usize::try_from(offset).map_err(|_| bad("PAC buffer offset out of range"))?;
        let end = start.checked_add(size).filter(|e| *e <= pac.len()).ok_or(bad("PAC buffer outside the PAC"))?;
        out.push((kind, start..end));
    }
    Ok(out)
}

/// MS-PAC §2.8.1: the server signature is the service key's checksum (usage 17) of the whole PAC
/// with both signatures' bytes zeroed. A PAC without it, or signed with another key or checksum
/// type, is refused: only the KDC (and the holder of the service key) can make it.
pub fn verify_server_signature(pac: &[u8], key: &Key) -> Result<(), KerberosError> {
    let bad = KerberosError::Malformed;
    let list = buffers(pac)?;
    let signature_of = |kind: u32| -> Result<Option<(u32, std::ops::Range<usize>)>, KerberosError> {
        match list.iter().find(|(k, _)| *k == kind) {
            None => Ok(None),
            Some((_, range)) => {
                let ty = u32_at(pac, range.start).ok_or(bad("PAC signature cut short"))?;
                let len = if ty == 15 || ty == 16 {
                    12
                } else if ty == super::rc4::CHECKSUM_TYPE {
                    16
                } else {
                    0
                };
                let start = range.start + 4;
                if len == 0 || start + len > range.end {
                    return Err(KerberosError::PacSignature);
                }
                Ok(Some((ty, start..start + len)))
            }
        }
    };
    let (server_type, server) = signature_of(SERVER_CHECKSUM)?.ok_or(KerberosError::PacSignature)?;
    if server_type != crypto::checksum_type(key.etype()) {
        return Err(KerberosError::PacSignature);
    }
    let mut zeroed = pac.to_vec();
    zeroed[server.clone()].fill(0);
    if let Some((_, kdc)) = signature_of(PRIVSVR_CHECKSUM)? {
        zeroed[kdc].fill(0);
    }
    if crypto::verify_checksum(key, SIGNATURE_USAGE, &zeroed, &pac[server]) {
        Ok(())
    } else {
        Err(KerberosError::PacSignature)
    }
}

/// KERB_VALIDATION_INFO behind its NDR type serialization headers (MS-RPCE §2.2.6).
fn validation_info(buffer: &[u8]) -> Result<LogonInfo, KerberosError> {
    let bad = KerberosError::Malformed;
    // Common header (version 1, little-endian 0x10, length 8) and private header (8 bytes),
    // then the top-level referent pointer.
    if buffer.len() < 20 || buffer[0] != 1 || buffer[1] != 0x10 {
        return Err(bad("LOGON_INFO without a little-endian NDR type serialization header"));
    }
    let mut ndr = Ndr { data: buffer, pos: 20 };
    let fixed = ndr.take(FIXED_PART).ok_or(bad("KERB_VALIDATION_INFO cut short"))?;
    let field = |off: usize| u32_at(fixed, off).unwrap_or(0);
    // RPC_UNICODE_STRINGs (Length, MaximumLength, pointer) at 48 + 8*i for i in 0..6.
    let strings_ptr: Vec<bool> = (0..6).map(|i| field(48 + 8 * i + 4) != 0).collect();
    let user_id = field(100);
    let group_ids_ptr = field(112) != 0;
    let logon_server_ptr = field(136 + 4) != 0;
    let logon_domain_name_ptr = field(144 + 4) != 0;
    let domain_sid_ptr = field(152) != 0;
    // Deferred data, in the order the pointers appear.
    let mut effective_name = String::new();
    for (i, present) in strings_ptr.iter().enumerate() {
        if *present {
            let s = ndr.string().ok_or(bad("a KERB_VALIDATION_INFO string cut short"))?;
            if i == 0 {
                effective_name = s;
            }
        }
    }
    if group_ids_ptr {
        let n = ndr.u32().ok_or(bad("GroupIds cut short"))? as usize;
        ndr.take(n.checked_mul(8).ok_or(bad("GroupIds too long"))?).ok_or(bad("GroupIds cut short"))?;
    }
    for present in [logon_server_ptr, logon_domain_name_ptr] {
        if present {
            ndr.string().ok_or(bad("a KERB_VALIDATION_INFO string cut short"))?;
        }
    }
    if !domain_sid_ptr {
        return Err(bad("LOGON_INFO without LogonDomainId"));
    }
    let mut sid = ndr.sid().ok_or(bad("LogonDomainId cut short"))?;
    // Append the RID: one more sub-authority.
    sid[1] = sid[1].checked_add(1).ok_or(bad("LogonDomainId too long"))?;
    sid.extend_from_slice(&user_id.to_le_bytes());
    Ok(LogonInfo { effective_name, user_sid: sid })
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let lo = u64::from(u32_at(b, at)?);
    let hi = u64::from(u32_at(b, at + 4)?);
    Some(lo | (hi << 32))
}

/// An NDR cursor (little-endian, as the headers above said).
struct Ndr<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Ndr<'a> {
    fn align4(&mut self) {
        self.pos = self.pos.next_multiple_of(4);
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        self.align4();
        let v = u32_at(self.data, self.pos)?;
        self.pos += 4;
        Some(v)
    }

    /// A conformant varying array of UTF-16 code units (the buffer of an RPC_UNICODE_STRING).
    fn string(&mut self) -> Option<String> {
        let _max = self.u32()?;
        let offset = self.u32()? as usize;
        let actual = self.u32()? as usize;
        if offset != 0 {
            return None;
        }
        let bytes = self.take(actual.checked_mul(2)?)?;
        let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        Some(String::from_utf16_lossy(&units))
    }

    /// An RPC_SID (conformant: the sub-authority count first), as the binary SID.
    fn sid(&mut self) -> Option<Vec<u8>> {
        let count = self.u32()? as usize;
        let head = self.take(8)?;
        if head[0] != 1 || usize::from(head[1]) != count || count > 15 {
            return None;
        }
        let subs = self.take(count * 4)?;
        let mut sid = head.to_vec();
        sid.extend_from_slice(subs);
        Some(sid)
    }
}

/// Building a PAC, for tests and test tooling: a LOGON_INFO with a name, a domain SID and a
/// RID, nothing else.
pub mod write {
    fn ndr_string(out: &mut Vec<u8>, s: &str) {
        let units: Vec<u16> = s.encode_utf16().collect();
        for v in [units.len() as u32, 0, units.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for u in units {
            out.extend_from_slice(&u.to_le_bytes());
        }
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    /// A PAC with a LOGON_INFO buffer for `name`, user `domain_sid` + `rid`, and the server and
    /// KDC signatures made with `service_key` (a real KDC makes the second with its own key).
    pub fn pac(name: &str, domain_sid: &[u8], rid: u32, service_key: &super::Key) -> Vec<u8> {
        let mut fixed = vec![0u8; super::FIXED_PART];
        let len = (name.encode_utf16().count() * 2) as u16;
        fixed[48..50].copy_from_slice(&len.to_le_bytes());
        fixed[50..52].copy_from_slice(&len.to_le_bytes());
        fixed[52..56].copy_from_slice(&0x0002_0004u32.to_le_bytes());
        fixed[100..104].copy_from_slice(&rid.to_le_bytes());
        fixed[104..108].copy_from_slice(&513u32.to_le_bytes());
        fixed[152..156].copy_from_slice(&0x0002_0008u32.to_le_bytes());
        let mut body = vec![0u8; 16];
        body[..4].copy_from_slice(&[1, 0x10, 8, 0]);
        body[4..8].copy_from_slice(&0xcccc_ccccu32.to_le_bytes());
        body.extend_from_slice(&0x0002_0000u32.to_le_bytes());
        body.extend_from_slice(&fixed);
        ndr_string(&mut body, name);
        body.extend_from_slice(&u32::from(domain_sid[1]).to_le_bytes());
        body.extend_from_slice(domain_sid);
        let object_len = (body.len() - 16) as u32;
        body[8..12].copy_from_slice(&object_len.to_le_bytes());
        while !body.len().is_multiple_of(8) {
            body.push(0);
        }
        let ty = super::crypto::checksum_type(service_key.etype());
        // 12 bytes of HMAC-SHA1-96 (AES) or 16 of HMAC-MD5 (RC4-HMAC), each buffer 8-aligned.
        let mac_len = super::crypto::checksum(service_key, super::SIGNATURE_USAGE, &[]).len();
        let size = 4 + mac_len;
        let padded = size.next_multiple_of(8);
        let signature = |out: &mut Vec<u8>| {
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend(std::iter::repeat_n(0u8, padded - 4));
        };
        let header_len = 8 + 3 * 16;
        let logon_at = header_len;
        let server_at = logon_at + body.len();
        let kdc_at = server_at + padded;
        let mut pac = Vec::new();
        pac.extend_from_slice(&3u32.to_le_bytes());
        pac.extend_from_slice(&0u32.to_le_bytes());
        for (kind, size, at) in [
            (super::LOGON_INFO, body.len(), logon_at),
            (super::SERVER_CHECKSUM, size, server_at),
            (super::PRIVSVR_CHECKSUM, size, kdc_at),
        ] {
            pac.extend_from_slice(&kind.to_le_bytes());
            pac.extend_from_slice(&(size as u32).to_le_bytes());
            pac.extend_from_slice(&(at as u64).to_le_bytes());
        }
        pac.extend_from_slice(&body);
        signature(&mut pac);
        signature(&mut pac);
        let mac = super::crypto::checksum(service_key, super::SIGNATURE_USAGE, &pac);
        pac[server_at + 4..server_at + 4 + mac_len].copy_from_slice(&mac);
        let kdc_mac = super::crypto::checksum(service_key, super::SIGNATURE_USAGE, &mac);
        pac[kdc_at + 4..kdc_at + 4 + mac_len].copy_from_slice(&kdc_mac);
        pac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S-1-5-21-1-2-3 in binary form.
    pub(crate) fn domain_sid() -> Vec<u8> {
        let mut sid = vec![1, 4, 0, 0, 0, 0, 0, 5];
        for sub in [21u32, 1, 2, 3] {
            sid.extend_from_slice(&sub.to_le_bytes());
        }
        sid
    }

    fn key() -> Key {
        Key::new(crypto::Etype::Aes256CtsHmacSha196, &[7u8; 32]).unwrap()
    }

    #[test]
    fn the_server_signature_is_checked_with_the_service_key() {
        let pac = write::pac("alice", &domain_sid(), 1105, &key());
        assert_eq!(verify_server_signature(&pac, &key()), Ok(()));
        let other = Key::new(crypto::Etype::Aes256CtsHmacSha196, &[8u8; 32]).unwrap();
        assert_eq!(verify_server_signature(&pac, &other), Err(KerberosError::PacSignature));
        // A changed RID breaks the signature.
        let mut forged = pac.clone();
        let at = forged.windows(4).position(|w| w == 1105u32.to_le_bytes()).unwrap();
        forged[at] ^= 1;
        assert_eq!(verify_server_signature(&forged, &key()), Err(KerberosError::PacSignature));
    }

    #[test]
    fn the_user_sid_is_the_domain_sid_and_the_rid() {
        let pac = write::pac("alice", &domain_sid(), 1105, &key());
        let info = logon_info(&pac).unwrap();
        assert_eq!(info.effective_name, "alice");
        let mut want = domain_sid();
        want[1] = 5;
        want.extend_from_slice(&1105u32.to_le_bytes());
        assert_eq!(info.user_sid, want);
    }

    #[test]
    fn a_truncated_pac_or_one_without_logon_info_is_refused() {
        let pac = write::pac("alice", &domain_sid(), 1105, &key());
        for cut in [0, 7, 30, 100, pac.len() - 10] {
            assert!(logon_info(&pac[..cut]).is_err(), "cut at {cut}");
        }
        let mut other = pac.clone();
        other[8] = 10; // CLIENT_INFO instead of LOGON_INFO
        assert!(matches!(logon_info(&other), Err(KerberosError::NoLogonInfo)));
    }
}
