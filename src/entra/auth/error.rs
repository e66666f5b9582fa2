//! Sign-in failures, each one sentence that names the file, endpoint or setting involved and
//! what to do. None of them carries a token, a key or a device code.

use std::path::PathBuf;

use crate::entra::http::HttpError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("bad sign-in settings: {0}")]
    Settings(String),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("there is no token cache at {}; run `samba-entra-sync login --config FILE` first", path.display())]
    CacheMissing { path: PathBuf },
    #[error(
        "{what} {} can be accessed by group or others (mode {mode:04o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Insecure { what: &'static str, path: PathBuf, mode: u32 },
    #[error(
        "{what} {} belongs to uid {uid}, not root or this process's user: whoever owns it can replace it; run `chown root {}` if it is yours",
        path.display(),
        path.display()
    )]
    InsecureOwner { what: &'static str, path: PathBuf, uid: u32 },
    #[error(
        "{what} {} is in the directory {}, which group or others can write or which another user owns (mode {mode:04o}, uid {uid}): the file could be swapped; run `chmod go-w {}` and `chown root {}` on it",
        path.display(),
        dir.display(),
        dir.display(),
        dir.display()
    )]
    InsecureDirectory { what: &'static str, path: PathBuf, dir: PathBuf, mode: u32, uid: u32 },
    #[error("cannot read {what} {}: {source}", path.display())]
    Read { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{what} {} is not usable: {reason}", path.display())]
    Invalid { what: &'static str, path: PathBuf, reason: String },
    #[error("cannot write the token cache {}: {source}", path.display())]
    CacheWrite { path: PathBuf, source: std::io::Error },
    #[error(
        "the token cache {} belongs to {what} {found:?}, but the config names {expected:?}; run `samba-entra-sync login --config FILE` again",
        path.display()
    )]
    CacheMismatch { path: PathBuf, what: &'static str, found: String, expected: String },
    #[error("cannot reach {endpoint}: {reason}")]
    Network { endpoint: String, reason: String },
    #[error("{endpoint} answered HTTP {status} without an OAuth error")]
    HttpStatus { endpoint: String, status: u16 },
    #[error("{endpoint} sent an unusable answer: {reason}")]
    BadResponse { endpoint: String, reason: String },
    #[error("{endpoint} refused the request: {code}: {description}")]
    OAuth { endpoint: String, status: u16, code: String, description: String },
    #[error(
        "Entra refused the stored refresh token ({code}: {description}); run `samba-entra-sync login --config FILE` again"
    )]
    SignInRequired { code: String, description: String },
    #[error("the device code expired before sign-in finished; run login again and finish within {minutes} minutes")]
    DeviceCodeExpired { minutes: u64 },
    #[error("the sign-in was declined in the browser; run login again and accept the request")]
    DeviceCodeDeclined,
    #[error(
        "the token is for tenant {found:?}, but the config names tenant {expected:?}; sign in with an account of that tenant"
    )]
    WrongTenant { found: String, expected: String },
    #[error("{0}")]
    WrongMethod(&'static str),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AuthError {
    /// Whether trying again later may help (network trouble, Entra overloaded), as opposed to
    /// something an administrator has to fix.
    pub fn is_transient(&self) -> bool {
        match self {
            AuthError::Network { .. } => true,
            AuthError::HttpStatus { status, .. } => *status == 429 || *status >= 500,
            AuthError::OAuth { status, code, .. } => {
                *status == 429 || *status >= 500 || code == "temporarily_unavailable"
            }
            _ => false,
        }
    }

    /// Whether the administrator's configuration (settings, files, permissions) is at fault;
    /// the CLI exits 2 for these.
    pub fn is_config_error(&self) -> bool {
        matches!(
            self,
            AuthError::Settings(_)
                | AuthError::Http(_)
                | AuthError::Insecure { .. }
                | AuthError::Read { .. }
                | AuthError::Invalid { .. }
                | AuthError::CacheMismatch { .. }
                | AuthError::WrongMethod(_)
        )
    }
}
