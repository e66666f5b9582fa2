//! [`TokenSource`]: hands out a valid access token, refreshing it when fewer than 5 minutes
//! remain. One refresh at a time: concurrent callers wait for it and share the result, so a
//! rotated refresh token is never used twice.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use super::assertion::AppCredential;
use super::cache::{load_cache, store_cache};
use super::endpoint::{self, TokenAnswer};
use super::{AccessToken, AuthError, AuthMethod, AuthSettings, Clock, RefreshToken, SystemClock};

const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Access tokens for the sync API. Cheap to clone; clones share the token and the refresh.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    settings: AuthSettings,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Held across a refresh: the single flight.
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    current: Option<AccessToken>,
    /// Set by `force_expire`: the service refused the current token, so neither it nor the copy
    /// in the cache file may be handed out again.
    rejected: bool,
}

impl TokenSource {
    /// Checks the settings (and, for the certificate method, that the certificate and key load).
    /// An expired certificate is no reason to refuse: the daemon then runs degraded, saying which
    /// command registers a new one, and keeps the changes that arrive meanwhile.
    pub fn new(settings: AuthSettings, http: reqwest::Client) -> Result<TokenSource, AuthError> {
        Self::with_clock(settings, http, Arc::new(SystemClock))
    }

    /// The same with a given clock, for tests.
    pub fn with_clock(
        settings: AuthSettings,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<TokenSource, AuthError> {
        settings.validate()?;
        if let AuthMethod::Certificate { certificate, private_key } = &settings.method {
            super::rotation::with_credential_files(|| AppCredential::load(certificate, private_key))?;
        }
        let inner =
            Inner { settings, http, clock, state: Mutex::new(State::default()), refresh: tokio::sync::Mutex::new(()) };
        Ok(TokenSource { inner: Arc::new(inner) })
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.inner.settings
    }

    /// A token with at least 5 minutes left (or half its lifetime, if it lives shorter).
    pub async fn access_token(&self) -> Result<AccessToken, AuthError> {
        if let Some(token) = self.fresh_current() {
            return Ok(token);
        }
        let _flight = self.inner.refresh.lock().await;
        // Whoever held the lock before us may have refreshed already.
        if let Some(token) = self.fresh_current() {
            return Ok(token);
        }
        let rejected = self.lock_state().rejected;
        match self.fetch(rejected).await {
            Ok(token) => {
                let mut state = self.lock_state();
                state.current = Some(token.clone());
                state.rejected = false;
                Ok(token)
            }
            Err(e) => {
                // A refresh that fails while the old token still works is not yet an outage.
                let state = self.lock_state();
                let now = self.inner.clock.now_unix();
                match &state.current {
                    Some(t) if !state.rejected && !t.is_expired(now) && e.is_transient() => {
                        tracing::warn!("token refresh failed, using the current token until it expires: {e}");
                        Ok(t.clone())
                    }
                    _ => Err(e),
                }
            }
        }
    }

    /// Drops the current token, for when the service refused it; the next
    /// [`access_token`](Self::access_token) fetches a new one.
    pub fn force_expire(&self) {
        let mut state = self.lock_state();
        state.current = None;
        state.rejected = true;
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value that is always left consistent; a panic elsewhere while
        // holding the lock does not make it unusable.
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh_current(&self) -> Option<AccessToken> {
        let now = self.inner.clock.now_unix();
        let state = self.lock_state();
        state.current.as_ref().filter(|t| !t.needs_refresh(now)).cloned()
    }

    async fn fetch(&self, rejected: bool) -> Result<AccessToken, AuthError> {
        let settings = &self.inner.settings;
        match &settings.method {
            AuthMethod::RefreshToken { token_cache } => self.refresh(token_cache, rejected).await,
            AuthMethod::Certificate { certificate, private_key } => {
                self.client_credentials(certificate, private_key).await
            }
        }
    }

    async fn refresh(&self, token_cache: &Path, rejected: bool) -> Result<AccessToken, AuthError> {
        let settings = &self.inner.settings;
        // Read the file every time: `login` may have put a new refresh token there meanwhile.
        let cached = {
            let (path, tenant, client) =
                (token_cache.to_owned(), settings.tenant_id.clone(), settings.client_id.clone());
            tokio::task::spawn_blocking(move || load_cache(&path, &tenant, &client)).await.map_err(join_error)??
        };
        let now = self.inner.clock.now_unix();
        if let Some(token) = cached.access_token.filter(|t| !rejected && !t.needs_refresh(now)) {
            return Ok(token);
        }
        let endpoint = settings.token_endpoint();
        let scope = format!("{} offline_access", settings.scope);
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", settings.client_id.as_str()),
            ("refresh_token", cached.refresh_token.secret()),
            ("scope", scope.as_str()),
        ];
        let TokenAnswer { access_token, refresh_token } =
            match endpoint::request_token(&self.inner.http, &endpoint, &form, now).await? {
                Ok(answer) => answer,
                Err(refusal) if refusal.code == "invalid_grant" || refusal.code == "interaction_required" => {
                    return Err(AuthError::SignInRequired { code: refusal.code, description: refusal.description });
                }
                Err(refusal) => return Err(refusal.into_error(&endpoint)),
            };
        check_tenant(&access_token, &settings.tenant_id)?;
        // Entra rotates the refresh token; keep the old one only if no new one came.
        let refresh_token = refresh_token.unwrap_or(cached.refresh_token);
        store_cache_blocking(settings, token_cache, refresh_token, Some(access_token.clone())).await?;
        tracing::debug!(expires_at = access_token.expires_at(), "refreshed the access token");
        Ok(access_token)
    }

    async fn client_credentials(&self, certificate: &Path, private_key: &Path) -> Result<AccessToken, AuthError> {
        let settings = &self.inner.settings;
        let now = self.inner.clock.now_unix();
        // Loaded on every fetch (once an hour), so a renewed certificate is picked up.
        let app = {
            let (cert, key) = (certificate.to_owned(), private_key.to_owned());
            tokio::task::spawn_blocking(move || {
                super::rotation::with_credential_files(|| AppCredential::load(&cert, &key))
            })
            .await
            .map_err(join_error)??
        };
        check_not_expired(&app, certificate, now)?;
        let endpoint = settings.token_endpoint();
        let assertion = app.client_assertion(&settings.client_id, &endpoint, now)?;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", settings.client_id.as_str()),
            ("scope", settings.scope.as_str()),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ];
        let answer = match endpoint::request_token(&self.inner.http, &endpoint, &form, now).await? {
            Ok(answer) => answer,
            Err(refusal) => return Err(refusal.into_error(&endpoint)),
        };
        check_tenant(&answer.access_token, &settings.tenant_id)?;
        tracing::debug!(expires_at = answer.access_token.expires_at(), "obtained an app access token");
        Ok(answer.access_token)
    }
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

/// Refuses a token for another tenant when the config names the tenant by GUID (a domain name
/// cannot be compared with `tid`).
pub(crate) fn check_tenant(token: &AccessToken, configured: &str) -> Result<(), AuthError> {
    let (Some(tid), Ok(expected)) = (token.tenant_id(), uuid::Uuid::parse_str(configured)) else { return Ok(()) };
    match uuid::Uuid::parse_str(tid) {
        Ok(found) if found == expected => Ok(()),
        _ => Err(AuthError::WrongTenant { found: tid.to_owned(), expected: configured.to_owned() }),
    }
}

fn check_not_expired(app: &AppCredential, certificate: &Path, now: u64) -> Result<(), AuthError> {
    if app.not_after() <= now {
        return Err(AuthError::Invalid {
            what: "the certificate",
            path: certificate.to_owned(),
            reason: "it has expired; `samba-entra-sync register-app --config FILE` registers a new one".into(),
        });
    }
    Ok(())
}

/// Writes the cache off the async worker threads (it fsyncs).
pub(crate) async fn store_cache_blocking(
    settings: &AuthSettings,
    token_cache: &Path,
    refresh_token: RefreshToken,
    access_token: Option<AccessToken>,
) -> Result<(), AuthError> {
    let (path, tenant, client) = (token_cache.to_owned(), settings.tenant_id.clone(), settings.client_id.clone());
    tokio::task::spawn_blocking(move || store_cache(&path, &tenant, &client, &refresh_token, access_token.as_ref()))
        .await
        .map_err(join_error)?
}

fn join_error(e: tokio::task::JoinError) -> AuthError {
    AuthError::Internal(format!("a sign-in file task failed: {e}"))
}

/// The sync client takes its bearer tokens from here.
impl crate::entra::client::TokenProvider for TokenSource {
    type Error = AuthError;

    async fn access_token(&self) -> Result<crate::entra::client::SecretToken, AuthError> {
        let token = TokenSource::access_token(self).await?;
        Ok(crate::entra::client::SecretToken::new(token.secret_jwt().to_string()))
    }

    fn is_transient(error: &AuthError) -> bool {
        error.is_transient()
    }

    fn invalidate(&self) {
        self.force_expire();
    }
}
