//! What a sync API call can end with.

use std::time::Duration;

use crate::entra::nbfx::NbfxError;
use crate::entra::soap::{Fault, ResponseError};

/// The failure of one call, after retries. Each message is one sentence naming the cause.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The sign-in itself was refused (revoked, expired, no token cache): a person must renew it.
    #[error("could not get an access token for the sync API: {0}")]
    Token(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The sign-in endpoint could not answer now (network, 5xx): worth trying again.
    #[error("could not get an access token for the sync API yet: {0}")]
    TokenUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A fault that retrying cannot fix (access denied after a fresh token, sync not activated,
    /// outdated client, formatter fault, service error, other).
    #[error("{0}")]
    Fault(Fault),
    #[error("Entra is still throttling after {attempts} attempt(s): {message}")]
    Throttled { message: String, attempts: u32, retry_after: Option<Duration> },
    #[error("the sync API is unavailable (HTTP {status}) after {attempts} attempt(s)")]
    Unavailable { status: u16, attempts: u32, retry_after: Option<Duration> },
    #[error("cannot reach the sync API at {url} after {attempts} attempt(s): {reason}")]
    Connection { url: String, reason: String, attempts: u32 },
    #[error("the sync API at {url} did not answer within {timeout:?} ({attempts} attempt(s))")]
    Timeout { url: String, timeout: Duration, attempts: u32 },
    #[error("the sync API redirected more than {hops} times (last to {url})")]
    TooManyRedirects { hops: u32, url: String },
    #[error("refused to follow the redirection to {url}: {reason}")]
    RedirectRefused { url: String, reason: &'static str },
    #[error("the sync API answered HTTP {status} ({content_type}) without a SOAP fault")]
    HttpStatus { status: u16, content_type: String },
    #[error("cannot read the sync API's answer: {0}")]
    Response(#[from] ResponseError),
    #[error("cannot encode the request: {0}")]
    Encode(#[source] NbfxError),
    #[error("invalid sync API settings: {0}")]
    Settings(String),
}

impl SyncError {
    /// Worth trying again later (the scheduler's concern; the client has already retried).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Throttled { .. }
                | SyncError::TokenUnavailable(_)
                | SyncError::Unavailable { .. }
                | SyncError::Connection { .. }
                | SyncError::Timeout { .. }
        )
    }

    /// The service and this client no longer understand each other: stop syncing rather than
    /// send half a change set.
    pub fn is_api_incompatible(&self) -> bool {
        match self {
            SyncError::Fault(Fault::OutdatedClient { .. } | Fault::Deserialization { .. }) => true,
            // A huge answer is a size problem, not a protocol change.
            SyncError::Response(e) => !matches!(e, ResponseError::TooLarge { .. }),
            _ => false,
        }
    }

    /// The sign-in is at fault (refused, revoked, an account without the sync role): a person
    /// must sign in again or fix the app's role.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, SyncError::Token(_) | SyncError::Fault(Fault::AccessDenied { .. } | Fault::TokenRejected { .. }))
    }

    /// A later `Retry-After` the service asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Throttled { retry_after, .. } | SyncError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Sets the attempt count of a transient error when it is given up on.
    pub(crate) fn with_attempts(mut self, n: u32) -> SyncError {
        match &mut self {
            SyncError::Throttled { attempts, .. }
            | SyncError::Unavailable { attempts, .. }
            | SyncError::Connection { attempts, .. }
            | SyncError::Timeout { attempts, .. } => *attempts = n,
            _ => {}
        }
        self
    }
}
