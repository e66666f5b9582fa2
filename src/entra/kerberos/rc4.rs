//! RC4-HMAC, encryption type 23 (RFC 4757), for registrations that allow it: the key is the NT
//! hash, `MD4(UTF-16LE(password))` (no salt, no iterations); encryption and the checksum
//! KERB_CHECKSUM_HMAC_MD5 (-138) are HMAC-MD5 constructions with the key usage as a 32-bit
//! little-endian number, translated by RFC 4757's table (AS-REP's usage 3 is Microsoft's 8).
//!
//! ```text
//! K1 = HMAC-MD5(K, usage)             K3 = HMAC-MD5(K1, checksum)
//! checksum = HMAC-MD5(K1, confounder(8) || plaintext)
//! ciphertext = checksum(16) || RC4(K3, confounder || plaintext)
//! ```
//!
//! RC4 itself is the 30-line stream cipher (key schedule, then the keystream XORed in); its
//! state is wiped on drop. Checked against RFC 6229 (RC4) and MIT krb5's `t_decrypt.c` and
//! `t_cksums.c` (the enctype and its checksum).

use hmac::{Hmac, KeyInit, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::KerberosError;

/// The key and HMAC-MD5 length.
pub const KEY_LEN: usize = 16;
/// KERB_CHECKSUM_HMAC_MD5 (-138, RFC 4757 §4; MS-PAC §2.8) as the PAC's unsigned 32-bit field.
pub const CHECKSUM_TYPE: u32 = 0xffff_ff76;
const CONFOUNDER: usize = 8;
const MAC_LEN: usize = 16;

/// The NT hash of `password`: the RC4-HMAC key (RFC 4757 §2).
pub fn string_to_key(password: &str) -> Zeroizing<[u8; KEY_LEN]> {
    let mut utf16 = Zeroizing::new(Vec::with_capacity(password.len() * 2));
    for unit in password.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let mut digest = Md4::digest(&utf16[..]);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(&digest);
    digest.zeroize();
    out
}

/// RFC 4757 §3: the key usage numbers Microsoft's implementation uses (the ones a service sees,
/// 2 for tickets and 11 for authenticators, are unchanged).
fn ms_usage(usage: u32) -> u32 {
    match usage {
        3 => 8,
        23 => 13,
        u => u,
    }
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; MAC_LEN]> {
    let mut out = Zeroizing::new([0u8; MAC_LEN]);
    // HMAC takes a key of any length, so new_from_slice cannot fail.
    if let Ok(mut mac) = <Hmac<Md5> as KeyInit>::new_from_slice(key) {
        for p in parts {
            mac.update(p);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// The RC4 stream cipher (the key schedule, then one keystream byte XORed into each input byte).
struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl Rc4 {
    fn new(key: &[u8]) -> Rc4 {
        let mut s = [0u8; 256];
        for (n, v) in s.iter_mut().enumerate() {
            *v = n as u8;
        }
        let mut j = 0u8;
        for n in 0..256 {
            j = j.wrapping_add(s[n]).wrapping_add(key[n % key.len()]);
            s.swap(n, usize::from(j));
        }
        Rc4 { s, i: 0, j: 0 }
    }

    fn apply(&mut self, data: &mut [u8]) {
        for byte in data {
            self.i = self.i.wrapping_add(1);
            self.j = self.j.wrapping_add(self.s[usize::from(self.i)]);
            self.s.swap(usize::from(self.i), usize::from(self.j));
            let k = self.s[usize::from(self.s[usize::from(self.i)].wrapping_add(self.s[usize::from(self.j)]))];
            *byte ^= k;
        }
    }
}

impl Drop for Rc4 {
    fn drop(&mut self) {
        self.s.zeroize();
        self.i.zeroize();
        self.j.zeroize();
    }
}

/// RFC 4757 §5 decryption: the HMAC is checked (in constant time) before anything is returned;
/// the confounder is stripped.
pub fn decrypt(key: &[u8], usage: u32, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, KerberosError> {
    if ciphertext.len() < MAC_LEN + CONFOUNDER {
        return Err(KerberosError::Malformed("ciphertext shorter than a checksum and a confounder"));
    }
    let (checksum, body) = ciphertext.split_at(MAC_LEN);
    let k1 = hmac_md5(key, &[&ms_usage(usage).to_le_bytes()]);
    let k3 = hmac_md5(&k1[..], &[checksum]);
    let mut plain = Zeroizing::new(body.to_vec());
    Rc4::new(&k3[..]).apply(&mut plain);
    let expected = hmac_md5(&k1[..], &[&plain]);
    if !bool::from(expected[..].ct_eq(checksum)) {
        return Err(KerberosError::Integrity);
    }
    Ok(Zeroizing::new(plain[CONFOUNDER..].to_vec()))
}

/// RFC 4757 §5 encryption with a given confounder (tests pick it; a real sender picks it at random).
pub fn encrypt(key: &[u8], usage: u32, confounder: &[u8; CONFOUNDER], plaintext: &[u8]) -> Vec<u8> {
    let k1 = hmac_md5(key, &[&ms_usage(usage).to_le_bytes()]);
    let mut data = Zeroizing::new(Vec::with_capacity(CONFOUNDER + plaintext.len()));
    data.extend_from_slice(confounder);
    data.extend_from_slice(plaintext);
    let checksum = hmac_md5(&k1[..], &[&data]);
    let k3 = hmac_md5(&k1[..], &[&checksum[..]]);
    let mut out = checksum.to_vec();
    let start = out.len();
    out.extend_from_slice(&data);
    Rc4::new(&k3[..]).apply(&mut out[start..]);
    out
}

/// RFC 4757 §4, KERB_CHECKSUM_HMAC_MD5: `HMAC-MD5(HMAC-MD5(K, "signaturekey\0"), MD5(usage ||
/// data))`.
pub fn checksum(key: &[u8], usage: u32, data: &[u8]) -> [u8; MAC_LEN] {
    let ksign = hmac_md5(key, &[b"signaturekey\0"]);
    let mut md5 = Md5::new();
    md5.update(ms_usage(usage).to_le_bytes());
    md5.update(data);
    let tmp = md5.finalize();
    *hmac_md5(&ksign[..], &[&tmp])
}

/// Whether `mac` is [`checksum`] of `data`, compared in constant time.
pub fn verify_checksum(key: &[u8], usage: u32, data: &[u8], mac: &[u8]) -> bool {
    bool::from(checksum(key, usage, data)[..].ct_eq(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let clean: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        hex::decode(clean).unwrap_or_default()
    }

    #[test]
    fn rc4_matches_the_rfc_6229_keystreams() {
        // RFC 6229 §2, 40-bit key 0102030405 and 128-bit key 0102…10: keystream offsets 0 and 16.
        for (key, at0, at16) in [
            ("0102030405", "b2396305f03dc027ccc3524a0a1118a8", "6982944f18fc82d589c403a47a0d0919"),
            (
                "0102030405060708090a0b0c0d0e0f10",
                "9ac7cc9a609d1ef7b2932899cde41b97",
                "5248c4959014126a6e8a84f11d1a9e1c",
            ),
        ] {
            let mut stream = vec![0u8; 32];
            Rc4::new(&unhex(key)).apply(&mut stream);
            assert_eq!(hex::encode(&stream[..16]), at0, "key {key}");
            assert_eq!(hex::encode(&stream[16..]), at16, "key {key}");
        }
    }

    #[test]
    fn string_to_key_is_the_nt_hash() {
        // MS-NLMP §4.2.2.1.2 (NTOWFv1 of "Password") and the NT hash of "password".
        assert_eq!(hex::encode(&string_to_key("Password")[..]), "a4f49c406510bdcab6824ee7c30fd852");
        assert_eq!(hex::encode(&string_to_key("password")[..]), "8846f7eaee8fb117ad06bdd830b7586c");
    }

    /// MIT krb5 `src/lib/crypto/crypto_tests/t_decrypt.c`, ENCTYPE_ARCFOUR_HMAC:
    /// (plaintext, usage, key, ciphertext).
    fn mit_vectors() -> Vec<(&'static str, u32, &'static str, &'static str)> {
        vec![
            ("", 0, "F81FEC39255F5784E850C4377C88BD85", "02C1EB15586144122EC717763DD348BF00434DDC6585954C"),
            ("1", 1, "67D1300D281223867F9647FF48721273", "6156E0CC04E0A0874F9FDA008F498A7ADBBC80B70B14DDDBC0"),
            (
                "9 bytesss",
                2,
                "3E40AB6093695281B3AC1A9304224D98",
                "0F9AD121D99D4A09448E4F1F718C4F5CBE6096262C66F29DF232A87C9F98755D55",
            ),
            (
                "13 bytes byte",
                3,
                "4BA2FBF0379FAED87A254D3B353D5A7E",
                "612C57568B17A70352BAE8CF26FB9459A6F3353CD35FD439DB3107CBEC765D326DFC04C1DD",
            ),
            (
                "30 bytes bytes bytes bytes byt",
                4,
                "68F263DB3FCE15D031C9EAB02D67107A",
                "95F9047C3AD75891C2E9B04B16566DC8B6EB9CE4231AFB2542EF87A7B5A0F260A99F0460508DE0CECC632D07C354124E46C5D2234EB8",
            ),
        ]
    }

    #[test]
    fn decrypt_matches_mit_krb5s_arcfour_vectors_and_encrypt_inverts_it() {
        for (plain, usage, key, cipher) in mit_vectors() {
            let key = unhex(key);
            let cipher = unhex(cipher);
            let got = decrypt(&key, usage, &cipher).unwrap_or_else(|e| panic!("usage {usage}: {e}"));
            assert_eq!(&got[..], plain.as_bytes(), "usage {usage}");
            // The confounder is the first 8 bytes of the RC4 output's plaintext: re-encrypting
            // with it gives the vector back, byte for byte.
            let k1 = hmac_md5(&key, &[&ms_usage(usage).to_le_bytes()]);
            let k3 = hmac_md5(&k1[..], &[&cipher[..16]]);
            let mut body = cipher[16..].to_vec();
            Rc4::new(&k3[..]).apply(&mut body);
            let mut confounder = [0u8; 8];
            confounder.copy_from_slice(&body[..8]);
            assert_eq!(encrypt(&key, usage, &confounder, plain.as_bytes()), cipher, "usage {usage}");
            // Another usage, a changed byte or a wrong key: an integrity error, never garbage.
            assert_eq!(decrypt(&key, usage + 20, &cipher), Err(KerberosError::Integrity));
            let mut flipped = cipher.clone();
            let last = flipped.len() - 1;
            flipped[last] ^= 1;
            assert_eq!(decrypt(&key, usage, &flipped), Err(KerberosError::Integrity));
            assert_eq!(decrypt(&[0u8; 16], usage, &cipher), Err(KerberosError::Integrity));
        }
        assert!(decrypt(&[0u8; 16], 2, &[0u8; 23]).is_err());
    }

    #[test]
    fn the_hmac_md5_checksum_matches_mit_krb5s_vector() {
        // MIT krb5 `t_cksums.c`, CKSUMTYPE_HMAC_MD5_ARCFOUR (-138), usage 6.
        let key = unhex("F7D3A155AF5E238A0B7A871A96BA2AB2");
        let data = b"seventeen eighteen nineteen twenty";
        let want = unhex("EB38CC97E2230F59DA4117DC5859D7EC");
        assert_eq!(checksum(&key, 6, data).to_vec(), want);
        assert!(verify_checksum(&key, 6, data, &want));
        assert!(!verify_checksum(&key, 17, data, &want));
        assert_eq!(CHECKSUM_TYPE as i32, -138);
    }
}
