//! The password hash sync credential: what `ProvisionCredentials` sends as
//! `CredentialData` instead of the NT hash itself.
//!
//! `v1;PPH1_MD4,<salt hex>,<iterations>,<key hex>;` where key = PBKDF2-HMAC-SHA256 over the
//! UTF-16LE bytes of the NT hash written as 32 upper-case hex characters. The upper-case step
//! matters: lower-case hex gives a credential no sign-in ever matches (a known pitfall of the ports), so every
//! entry point here normalises.

use std::fmt;

use md4::{Digest, Md4};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Iterations Entra expects today; AADInternals warns that more may not allow sign-in.
pub const ITERATIONS: u32 = 1000;
/// Salt length the Microsoft agent sends; the service reads the length from the string.
pub const SALT_LEN: usize = 10;
/// Length of the derived key in bytes.
pub const KEY_LEN: usize = 32;
/// Upper bound on iterations accepted anywhere, so a hostile string cannot burn seconds of CPU
/// per verification (100 000 rounds take a few milliseconds).
pub const MAX_ITERATIONS: u32 = 100_000;
/// Upper bound on the salt length; real credentials use 10 (Microsoft) or 16 (roadtools) bytes.
pub const MAX_SALT_LEN: usize = 64;

const PREFIX: &str = "v1;PPH1_MD4,";
const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";
const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Why an NT hash, a salt or a `CredentialData` string was refused. Messages never quote the
/// input: it may be a password equivalent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the NT hash must be 32 hexadecimal characters, but {0} characters were given")]
    NtHashLength(usize),
    #[error("the NT hash contains a character that is not hexadecimal (0-9, A-F)")]
    NtHashNotHex,
    #[error("the salt must be an even number of hexadecimal characters (1 to {MAX_SALT_LEN} bytes)")]
    SaltNotHex,
    #[error("the salt must be 1 to {MAX_SALT_LEN} bytes long, but it is {0} bytes")]
    SaltLength(usize),
    #[error("the iteration count must be between 1 and {MAX_ITERATIONS}, but it is {0}")]
    Iterations(u64),
    #[error("the credential does not start with \"{PREFIX}\"")]
    BadPrefix,
    #[error("the credential does not end with \";\"")]
    MissingTerminator,
    #[error("the credential must have 3 comma-separated fields after the algorithm, but it has {0}")]
    FieldCount(usize),
    #[error("the credential's iteration field is not a decimal number")]
    IterationsNotNumber,
    #[error("the credential's key must be {} hexadecimal characters", KEY_LEN * 2)]
    KeyNotHex,
}

/// A parsed `CredentialData` string. The key is what a sign-in is checked against, so it is
/// wiped on drop and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ParsedCredential {
    salt: Vec<u8>,
    iterations: u32,
    key: [u8; KEY_LEN],
}

impl ParsedCredential {
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    pub fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// Whether `nt_hash` derives this key, compared in constant time.
    pub fn matches(&self, nt_hash: &[u8; 16]) -> bool {
        let candidate = derive_key(nt_hash, &self.salt, self.iterations);
        candidate[..].ct_eq(&self.key[..]).into()
    }
}

impl fmt::Debug for ParsedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedCredential")
            .field("salt_len", &self.salt.len())
            .field("iterations", &self.iterations)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The credential for `nt_hash` with a fresh 10-byte salt from the OS CSPRNG and 1000 iterations.
///
/// # Panics
/// Only if the kernel's random source fails (`getrandom(2)` cannot fail on Linux ≥ 3.17 once
/// the pool is initialised); sending a credential with a predictable salt would be worse.
#[allow(clippy::expect_used)]
pub fn credential_data(nt_hash: &[u8; 16]) -> Zeroizing<String> {
    let salt = random_salt().expect("the operating system's random number generator failed");
    credential_data_with(nt_hash, &salt, ITERATIONS)
}

/// A fresh random salt of [`SALT_LEN`] bytes.
pub fn random_salt() -> Result<[u8; SALT_LEN], getrandom::Error> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt)?;
    Ok(salt)
}

/// The credential for `nt_hash` with the given salt and iteration count. The caller checks the
/// parameters with [`check_parameters`] when they come from outside; an out-of-range value
/// still yields a string, but one [`parse_credential_data`] refuses.
pub fn credential_data_with(nt_hash: &[u8; 16], salt: &[u8], iterations: u32) -> Zeroizing<String> {
    let key = derive_key(nt_hash, salt, iterations);
    // Reserve the exact length up front so the string never reallocates and leaves an
    // unwiped copy of the key behind.
    let len = PREFIX.len() + 2 * salt.len() + 1 + decimal_len(iterations) + 1 + 2 * KEY_LEN + 1;
    let mut out = Zeroizing::new(String::with_capacity(len));
    out.push_str(PREFIX);
    push_lower_hex(&mut out, salt);
    out.push(',');
    out.push_str(&iterations.to_string());
    out.push(',');
    push_lower_hex(&mut out, &key[..]);
    out.push(';');
    debug_assert_eq!(out.len(), len);
    out
}

/// Checks a salt and an iteration count against the limits every parser here enforces.
pub fn check_parameters(salt: &[u8], iterations: u32) -> Result<(), CredentialError> {
    if salt.is_empty() || salt.len() > MAX_SALT_LEN {
        return Err(CredentialError::SaltLength(salt.len()));
    }
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(CredentialError::Iterations(iterations.into()));
    }
    Ok(())
}

/// Parses an NT hash written as 32 hex characters in either case (surrounding whitespace is
/// ignored). The bytes are what matter: the credential always uses the upper-case spelling.
pub fn parse_nt_hash_hex(hex: &str) -> Result<Zeroizing<[u8; 16]>, CredentialError> {
    let hex = hex.trim();
    let chars = hex.chars().count();
    if chars != 32 || hex.len() != 32 {
        return Err(CredentialError::NtHashLength(chars));
    }
    let mut out = Zeroizing::new([0u8; 16]);
    hex::decode_to_slice(hex, &mut out[..]).map_err(|_| CredentialError::NtHashNotHex)?;
    Ok(out)
}

/// Parses a salt given as hex (either case), within the limits of [`check_parameters`].
pub fn parse_salt_hex(hex: &str) -> Result<Vec<u8>, CredentialError> {
    let hex = hex.trim();
    let salt = hex::decode(hex).map_err(|_| CredentialError::SaltNotHex)?;
    if salt.is_empty() || salt.len() > MAX_SALT_LEN {
        return Err(CredentialError::SaltLength(salt.len()));
    }
    Ok(salt)
}

/// Parses `v1;PPH1_MD4,<salt>,<iterations>,<key>;`. Hex is accepted in either case; the salt
/// length and the iteration count must be within [`MAX_SALT_LEN`] and [`MAX_ITERATIONS`].
pub fn parse_credential_data(data: &str) -> Result<ParsedCredential, CredentialError> {
    let rest = data.strip_prefix(PREFIX).ok_or(CredentialError::BadPrefix)?;
    let body = rest.strip_suffix(';').ok_or(CredentialError::MissingTerminator)?;
    let fields: Vec<&str> = body.split(',').collect();
    let [salt_hex, iterations_text, key_hex] = fields[..] else {
        return Err(CredentialError::FieldCount(fields.len()));
    };
    let salt = parse_salt_hex(salt_hex).and_then(|s| {
        // parse_salt_hex trims; a stored credential must not carry whitespace.
        if salt_hex.len() == 2 * s.len() { Ok(s) } else { Err(CredentialError::SaltNotHex) }
    })?;
    let iterations = parse_iterations(iterations_text)?;
    check_parameters(&salt, iterations)?;
    let mut key = [0u8; KEY_LEN];
    if key_hex.len() != 2 * KEY_LEN || hex::decode_to_slice(key_hex, &mut key).is_err() {
        key.zeroize();
        return Err(CredentialError::KeyNotHex);
    }
    Ok(ParsedCredential { salt, iterations, key })
}

/// Whether `credential_data` was derived from `nt_hash` (the emulator's sign-in check).
pub fn verify(credential_data: &str, nt_hash: &[u8; 16]) -> Result<bool, CredentialError> {
    Ok(parse_credential_data(credential_data)?.matches(nt_hash))
}

/// The NT hash of a password: MD4 over its UTF-16LE encoding.
pub fn nt_hash_of_password(password: &str) -> Zeroizing<[u8; 16]> {
    let mut utf16 = Zeroizing::new(Vec::with_capacity(password.len() * 2));
    for unit in password.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let mut hasher = Md4::new();
    hasher.update(&utf16[..]);
    let mut digest = hasher.finalize();
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(&digest);
    digest.zeroize();
    out
}

/// The NT hash as upper-case hex, UTF-16LE encoded (the input of the PBKDF2 step). ASCII hex digits are one
/// UTF-16 unit each, so the high bytes stay zero and no intermediate string is needed.
fn nt_hash_utf16_upper_hex(nt_hash: &[u8; 16]) -> Zeroizing<[u8; 64]> {
    let mut out = Zeroizing::new([0u8; 64]);
    for (i, b) in nt_hash.iter().enumerate() {
        out[4 * i] = UPPER_HEX[usize::from(b >> 4)];
        out[4 * i + 2] = UPPER_HEX[usize::from(b & 0x0f)];
    }
    out
}

fn derive_key(nt_hash: &[u8; 16], salt: &[u8], iterations: u32) -> Zeroizing<[u8; KEY_LEN]> {
    let password = nt_hash_utf16_upper_hex(nt_hash);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    pbkdf2::pbkdf2_hmac::<Sha256>(&password[..], salt, iterations, &mut key[..]);
    key
}

fn parse_iterations(text: &str) -> Result<u32, CredentialError> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CredentialError::IterationsNotNumber);
    }
    let n: u64 = text.parse().map_err(|_| CredentialError::IterationsNotNumber)?;
    u32::try_from(n).ok().filter(|&n| n != 0 && n <= MAX_ITERATIONS).ok_or(CredentialError::Iterations(n))
}

fn push_lower_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(char::from(LOWER_HEX[usize::from(b >> 4)]));
        out.push(char::from(LOWER_HEX[usize::from(b & 0x0f)]));
    }
}

fn decimal_len(mut n: u32) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

#[cfg(test)]
#[path = "credential_tests.rs"]
mod tests;
