//! The token cache: a small JSON file, mode 0600, holding the refresh token (and the current
//! access token, so a restart does not cost a refresh). Every rotation replaces it atomically:
//! a lost rotated refresh token breaks sync once the old one expires.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{AccessToken, AuthError, RefreshToken};

/// A cache larger than this is not ours.
const MAX_CACHE_BYTES: u64 = 1 << 20;

/// What the cache file holds.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct CacheFile {
    refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    /// Expiry of `access_token`, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    /// When `access_token` was received, for the refresh margin of short-lived tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued_at: Option<u64>,
    tenant: String,
    client_id: String,
}

/// The tokens read from the cache.
#[derive(Debug)]
pub struct CachedTokens {
    pub refresh_token: RefreshToken,
    pub access_token: Option<AccessToken>,
}

/// Refuses a file that group or others may access, that another user owns, or that sits in a
/// directory others could swap it in. `what` names it in the error.
pub fn check_private_file(file: &File, path: &Path, what: &'static str) -> Result<(), AuthError> {
    let meta = file.metadata().map_err(|source| AuthError::Read { what, path: path.to_owned(), source })?;
    check_private_metadata(&meta, path, what)
}

/// The checks of `check_private_file` on metadata already read (the daemon's start-up check).
pub fn check_private_metadata(meta: &fs::Metadata, path: &Path, what: &'static str) -> Result<(), AuthError> {
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(AuthError::Insecure { what, path: path.to_owned(), mode });
    }
    // The owner may chmod it open again or replace its content whenever it likes.
    if !trusted_owner(meta.uid()) {
        return Err(AuthError::InsecureOwner { what, path: path.to_owned(), uid: meta.uid() });
    }
    // Whoever can write the directory can rename another file over this one between two reads.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir_meta = fs::metadata(dir).map_err(|source| AuthError::Read { what, path: dir.to_owned(), source })?;
    let (dir_mode, dir_uid) = (dir_meta.mode() & 0o7777, dir_meta.uid());
    if dir_mode & 0o022 != 0 || !trusted_owner(dir_uid) {
        return Err(AuthError::InsecureDirectory {
            what,
            path: path.to_owned(),
            dir: dir.to_owned(),
            mode: dir_mode,
            uid: dir_uid,
        });
    }
    Ok(())
}

/// Root, or the user this process runs as (`/proc/self` belongs to it; no `unsafe` for geteuid).
fn trusted_owner(uid: u32) -> bool {
    uid == 0 || fs::metadata("/proc/self").is_ok_and(|m| m.uid() == uid)
}

/// Opens `path` for reading and reads it whole into a buffer that is wiped after use, refusing
/// it if group or others can access it. The check is on the opened file, not the name, so a
/// swapped file cannot slip in between.
pub(crate) fn read_private_file(
    path: &Path,
    what: &'static str,
    max_len: u64,
) -> Result<Zeroizing<Vec<u8>>, AuthError> {
    let file = File::open(path).map_err(|source| AuthError::Read { what, path: path.to_owned(), source })?;
    check_private_file(&file, path, what)?;
    let mut buf = Zeroizing::new(Vec::with_capacity(8192));
    file.take(max_len + 1).read_to_end(&mut buf).map_err(|source| AuthError::Read {
        what,
        path: path.to_owned(),
        source,
    })?;
    if buf.len() as u64 > max_len {
        return Err(AuthError::Invalid { what, path: path.to_owned(), reason: format!("larger than {max_len} bytes") });
    }
    Ok(buf)
}

/// Reads the cache for `tenant` and `client_id`; a cache written for another tenant or app is
/// refused rather than used against the wrong directory.
pub fn load_cache(path: &Path, tenant: &str, client_id: &str) -> Result<CachedTokens, AuthError> {
    const WHAT: &str = "the token cache";
    let bytes = match read_private_file(path, WHAT, MAX_CACHE_BYTES) {
        Err(AuthError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(AuthError::CacheMissing { path: path.to_owned() });
        }
        other => other?,
    };
    let mut file: CacheFile = serde_json::from_slice(&bytes).map_err(|e| AuthError::Invalid {
        what: WHAT,
        path: path.to_owned(),
        // serde_json quotes offending values, which here may be tokens: give the position only.
        reason: format!("not the expected JSON (line {}, column {})", e.line(), e.column()),
    })?;
    let mismatch = |what, found: &str, expected: &str| AuthError::CacheMismatch {
        path: path.to_owned(),
        what,
        found: found.to_owned(),
        expected: expected.to_owned(),
    };
    if !file.tenant.eq_ignore_ascii_case(tenant) {
        return Err(mismatch("tenant", &file.tenant, tenant));
    }
    if !file.client_id.eq_ignore_ascii_case(client_id) {
        return Err(mismatch("client_id", &file.client_id, client_id));
    }
    if file.refresh_token.is_empty() {
        return Err(AuthError::Invalid {
            what: WHAT,
            path: path.to_owned(),
            reason: "the refresh token is empty".into(),
        });
    }
    let access_token = match (file.access_token.take(), file.expires_at) {
        (Some(jwt), Some(expires_at)) if !jwt.is_empty() => {
            let issued_at = file.issued_at.unwrap_or(expires_at.saturating_sub(3600));
            Some(AccessToken::restored(Zeroizing::new(jwt), issued_at, expires_at))
        }
        _ => None,
    };
    let refresh_token = RefreshToken::new(std::mem::take(&mut file.refresh_token));
    Ok(CachedTokens { refresh_token, access_token })
}

/// Replaces the cache atomically: a new mode-0600 file in the same directory, flushed, renamed
/// over the old one, then the directory flushed so the rename survives a crash. Creates the
/// directory (mode 0700) if needed.
pub fn store_cache(
    path: &Path,
    tenant: &str,
    client_id: &str,
    refresh_token: &RefreshToken,
    access_token: Option<&AccessToken>,
) -> Result<(), AuthError> {
    let write_err = |source| AuthError::CacheWrite { path: path.to_owned(), source };
    let file_name = path
        .file_name()
        .ok_or_else(|| write_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(write_err)?;

    let contents = CacheFile {
        refresh_token: refresh_token.secret().to_owned(),
        access_token: access_token.map(|t| t.secret_jwt().to_owned()),
        expires_at: access_token.map(AccessToken::expires_at),
        issued_at: access_token.map(AccessToken::issued_at),
        tenant: tenant.to_owned(),
        client_id: client_id.to_owned(),
    };
    // Room for both tokens up front, so the buffer does not reallocate and strand copies.
    let mut json = Zeroizing::new(Vec::with_capacity(32 * 1024));
    serde_json::to_writer_pretty(&mut *json, &contents).map_err(|e| write_err(e.into()))?;
    json.push(b'\n');

    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).map_err(|e| write_err(std::io::Error::other(e.to_string())))?;
    let tmp = dir.join(format!(".{}.{}.tmp", file_name.to_string_lossy(), hex::encode(suffix)));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_err)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn jwt(payload: &str) -> Zeroizing<String> {
        use base64::Engine;
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload);
        Zeroizing::new(format!("eyJhbGciOiJub25lIn0.{p}."))
    }

    #[test]
    fn round_trip_keeps_tokens_and_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/token.json");
        let access = AccessToken::received(jwt(r#"{"tid":"t1"}"#), 1000, Some(3600)).unwrap();
        store_cache(&path, "t1", "c1", &RefreshToken::new("rt-1".to_string()), Some(&access)).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777, 0o700);

        let cached = load_cache(&path, "t1", "c1").unwrap();
        assert_eq!(cached.refresh_token.secret(), "rt-1");
        let restored = cached.access_token.unwrap();
        assert_eq!(restored.secret_jwt(), access.secret_jwt());
        assert_eq!((restored.issued_at(), restored.expires_at()), (1000, 4600));
        assert_eq!(restored.tenant_id(), Some("t1"));

        // Rotation replaces the file and leaves no temporary files behind.
        store_cache(&path, "t1", "c1", &RefreshToken::new("rt-2".to_string()), None).unwrap();
        let cached = load_cache(&path, "t1", "c1").unwrap();
        assert_eq!(cached.refresh_token.secret(), "rt-2");
        assert!(cached.access_token.is_none());
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("token.json")]);
    }

    #[test]
    fn refuses_a_cache_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        store_cache(&path, "t1", "c1", &RefreshToken::new("rt".to_string()), None).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = load_cache(&path, "t1", "c1").unwrap_err();
            assert!(matches!(err, AuthError::Insecure { mode: m, .. } if m == mode), "{mode:o}: {err}");
            let text = err.to_string();
            assert!(text.contains("chmod 600") && !text.contains("rt"), "{text}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(load_cache(&path, "t1", "c1").is_ok());
    }

    #[test]
    fn refuses_a_cache_owned_by_another_user_or_in_a_directory_others_can_write() {
        use std::os::unix::fs::{chown, lchown};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        store_cache(&path, "t1", "c1", &RefreshToken::new("rt".to_string()), None).unwrap();

        // Owned by nobody (who could rewrite it, mode or not): refused, naming the owner.
        chown(&path, Some(65534), None).unwrap();
        let err = load_cache(&path, "t1", "c1").unwrap_err();
        assert!(matches!(err, AuthError::InsecureOwner { uid: 65534, .. }), "{err}");
        assert!(err.to_string().contains("chown root"), "{err}");
        chown(&path, Some(0), None).unwrap();
        assert!(load_cache(&path, "t1", "c1").is_ok());

        // A directory group or others can write (even sticky /tmp-style): the file could be swapped.
        for mode in [0o777, 0o1777, 0o770, 0o702] {
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode)).unwrap();
            let err = load_cache(&path, "t1", "c1").unwrap_err();
            assert!(matches!(err, AuthError::InsecureDirectory { mode: m, .. } if m == mode), "{mode:o}: {err}");
            assert!(err.to_string().contains("chmod go-w"), "{err}");
        }
        // A directory owned by someone else, mode or not.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        lchown(dir.path(), Some(65534), None).unwrap();
        let err = load_cache(&path, "t1", "c1").unwrap_err();
        assert!(matches!(err, AuthError::InsecureDirectory { .. }), "{err}");
        lchown(dir.path(), Some(0), None).unwrap();
        assert!(load_cache(&path, "t1", "c1").is_ok());
    }

    #[test]
    fn missing_foreign_and_broken_caches_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        assert!(matches!(load_cache(&path, "t1", "c1").unwrap_err(), AuthError::CacheMissing { .. }));

        store_cache(&path, "t1", "c1", &RefreshToken::new("rt".to_string()), None).unwrap();
        let err = load_cache(&path, "t2", "c1").unwrap_err();
        assert!(matches!(err, AuthError::CacheMismatch { what: "tenant", .. }), "{err}");
        let err = load_cache(&path, "t1", "c2").unwrap_err();
        assert!(matches!(err, AuthError::CacheMismatch { what: "client_id", .. }), "{err}");

        let mut f = OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
        f.write_all(br#"{"refresh_token": 5}"#).unwrap();
        let err = load_cache(&path, "t1", "c1").unwrap_err();
        assert!(matches!(err, AuthError::Invalid { .. }), "{err}");
    }
}
