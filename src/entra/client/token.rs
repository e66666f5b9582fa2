//! Where the client gets its bearer tokens. The auth module's `TokenSource` implements
//! [`TokenProvider`]; tests use a fixed token.

use std::fmt;
use std::future::Future;

use zeroize::Zeroizing;

/// A raw JWT for `SyncToken/BearerToken`: wiped on drop, never printed.
#[derive(Clone)]
pub struct SecretToken(Zeroizing<String>);

impl SecretToken {
    pub fn new(jwt: impl Into<Zeroizing<String>>) -> SecretToken {
        SecretToken(jwt.into())
    }

    /// The token itself, for the request envelope only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken([redacted])")
    }
}

/// Hands out access tokens for the sync API (audience Azure AD Graph, or the sync app).
pub trait TokenProvider: Send + Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// A token that is valid now.
    fn access_token(&self) -> impl Future<Output = Result<SecretToken, Self::Error>> + Send;

    /// The service refused the last token: the next [`access_token`](Self::access_token) must
    /// not hand it out again.
    fn invalidate(&self);

    /// Whether a failure to get a token may pass by itself (the sign-in endpoint unreachable
    /// or busy), as opposed to a sign-in that a person must renew.
    fn is_transient(_error: &Self::Error) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token() {
        let token = SecretToken::new("eyJhbGciOi.secret".to_owned());
        assert_eq!(format!("{token:?}"), "SecretToken([redacted])");
        assert_eq!(token.expose(), "eyJhbGciOi.secret");
    }
}
