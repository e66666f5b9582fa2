//! [`SyncClient`]: calls the sync API over HTTPS: retries transient failures
//! with backoff, follows redirect faults, refreshes a refused token once, and can probe whether
//! the service still speaks the protocol this client knows.

mod capture;
mod error;
mod exchange;
mod probe;
mod redirect;
mod retry;
mod settings;
mod timer;
mod token;

pub use error::SyncError;
pub use probe::ApiCompatibility;
pub use settings::{RedirectPolicy, RetryPolicy, SyncSettings, stable_machine_id};
pub use timer::{Sleep, Timer, TokioTimer};
pub use token::{SecretToken, TokenProvider};

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use uuid::Uuid;

use self::capture::Capture;
use self::exchange::Step;
use self::redirect::{Route, redirect_target};
use crate::entra::ops::{
    Capabilities, CompanyConfiguration, CredentialChange, CredentialResult, FinalizeExport, GetCompanyConfiguration,
    Operation, ProvisionCredentials, ProvisionObjects, ProvisionVersion, ReadBack, ReadBackEach, ReadBackResult,
    ReadBackTally, ServiceCapabilities, SetCompanyDirsyncFeatures, SyncObject, SyncObjectResult,
};
use crate::entra::soap::{RequestHeader, encode_request, request_envelope};

/// The sync API client. Calls are sequential in practice (as Entra Connect makes them) but the client is `Sync`.
pub struct SyncClient<T: TokenProvider> {
    http: reqwest::Client,
    tokens: T,
    settings: SyncSettings,
    timer: Arc<dyn Timer>,
    route: Mutex<Route>,
    capture: Option<Capture>,
}

impl<T: TokenProvider> SyncClient<T> {
    pub fn new(http: reqwest::Client, tokens: T, settings: SyncSettings) -> Result<SyncClient<T>, SyncError> {
        let endpoint = reqwest::Url::parse(&settings.endpoint)
            .map_err(|e| SyncError::Settings(format!("the endpoint {:?} is not a URL: {e}", settings.endpoint)))?;
        if !matches!(endpoint.scheme(), "https" | "http") {
            return Err(SyncError::Settings(format!("the endpoint {} is not an http(s) URL", settings.endpoint)));
        }
        if settings.retry.max_attempts == 0 {
            return Err(SyncError::Settings("retry.max_attempts must be at least 1".to_owned()));
        }
        let route = Route { url: settings.endpoint.clone(), to: settings.to_address.clone() };
        let capture = settings.capture_dir.clone().map(Capture::new);
        Ok(SyncClient {
            http,
            tokens,
            settings,
            timer: Arc::new(TokioTimer::default()),
            route: Mutex::new(route),
            capture,
        })
    }

    /// Uses `timer` for waits (tests).
    pub fn with_timer(mut self, timer: Arc<dyn Timer>) -> SyncClient<T> {
        self.timer = timer;
        self
    }

    pub fn settings(&self) -> &SyncSettings {
        &self.settings
    }

    /// The URL calls go to now (after redirects, the new host).
    pub fn current_endpoint(&self) -> String {
        self.current_route().url
    }

    fn current_route(&self) -> Route {
        self.route.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub async fn get_company_configuration(&self) -> Result<CompanyConfiguration, SyncError> {
        self.call(&GetCompanyConfiguration::default()).await
    }

    /// Writes the whole feature mask (not one bit).
    pub async fn set_company_dirsync_features(&self, features: u32) -> Result<(), SyncError> {
        self.call(&SetCompanyDirsyncFeatures { features }).await
    }

    /// Provisions objects in one call; one result per object.
    pub async fn provision(
        &self,
        objects: &[SyncObject],
        version: ProvisionVersion,
    ) -> Result<Vec<SyncObjectResult>, SyncError> {
        self.call(&ProvisionObjects { objects, version }).await
    }

    pub async fn read_back(&self, request: ReadBack) -> Result<ReadBackResult, SyncError> {
        self.call(&request).await
    }

    /// Reads every synced object back, handing each to `visit` as it is decoded (memory holds
    /// one object, not the tenant). After a retried attempt `visit` may see an object again.
    pub async fn read_back_each(
        &self,
        request: ReadBack,
        visit: &mut (dyn FnMut(SyncObject) + Send),
    ) -> Result<ReadBackTally, SyncError> {
        self.call(&ReadBackEach::new(request, visit)).await
    }

    /// Password hash sync for one or more users.
    pub async fn provision_credentials(&self, items: &[CredentialChange]) -> Result<Vec<CredentialResult>, SyncError> {
        self.call(&ProvisionCredentials { items }).await
    }

    pub async fn finalize_export(&self, total_exported: u64, successful_export_count: u64) -> Result<(), SyncError> {
        self.call(&FinalizeExport { total_exported, successful_export_count }).await
    }

    pub async fn capabilities(&self) -> Result<ServiceCapabilities, SyncError> {
        self.call(&Capabilities).await
    }

    /// Calls one operation: retries transient failures within the retry policy, follows up to
    /// `max_hops` redirects (keeping the new host), and after a refused token tries once more
    /// with a fresh one.
    pub async fn call<O: Operation>(&self, op: &O) -> Result<O::Output, SyncError> {
        let policy = &self.settings.retry;
        let started = self.timer.elapsed();
        let call = self.capture.as_ref().map_or(0, Capture::next_call);
        let (mut attempt, mut failures, mut hops, mut reauthenticated) = (0u32, 0u32, 0u32, false);
        loop {
            attempt += 1;
            match self.attempt(op, call, attempt).await? {
                Step::Done(output) => return Ok(output),
                Step::Fail(error) => return Err(error),
                Step::Redirect(url) => {
                    hops += 1;
                    if hops > self.settings.redirects.max_hops {
                        return Err(SyncError::TooManyRedirects { hops: self.settings.redirects.max_hops, url });
                    }
                    self.follow_redirect(&url)?;
                }
                Step::Reauthenticate(error) => {
                    if reauthenticated {
                        return Err(error);
                    }
                    reauthenticated = true;
                    tracing::info!(operation = op.name(), "the sync API refused the token; trying a fresh one");
                    self.tokens.invalidate();
                }
                Step::Retry { error, after } => {
                    failures += 1;
                    let delay = after.unwrap_or_else(|| retry::backoff(policy, failures, retry::jitter_random()));
                    let spent = self.timer.elapsed().saturating_sub(started);
                    if failures >= policy.max_attempts
                        || after.is_some_and(|d| d > policy.max_retry_after)
                        || spent + delay > policy.max_elapsed
                    {
                        return Err(error.with_attempts(failures));
                    }
                    tracing::warn!(operation = op.name(), attempt, ?delay, "{error}; retrying");
                    self.timer.sleep(delay).await;
                }
            }
        }
    }

    fn follow_redirect(&self, url: &str) -> Result<(), SyncError> {
        let mut route = self.route.lock().unwrap_or_else(PoisonError::into_inner);
        let target = redirect_target(url, &route.url, &self.settings.endpoint, &self.settings.redirects)?;
        tracing::info!(from = %route.url, to = %target, "the sync API redirected this tenant");
        *route = Route { url: target.clone(), to: target };
        Ok(())
    }

    /// One request: a fresh token and tracking id, the envelope, the exchange.
    async fn attempt<O: Operation>(&self, op: &O, call: u64, attempt: u32) -> Result<Step<O::Output>, SyncError> {
        let token = self.tokens.access_token().await.map_err(|e| {
            if T::is_transient(&e) { SyncError::TokenUnavailable(Box::new(e)) } else { SyncError::Token(Box::new(e)) }
        })?;
        let route = self.current_route();
        let tracking_id = Uuid::new_v4();
        let header = RequestHeader {
            identity: &self.settings.identity,
            bearer_token: token.expose(),
            tracking_id,
            to: &route.to,
        };
        let envelope = request_envelope(op.name(), &header, op.body());
        drop(token);
        if let Some(capture) = &self.capture {
            capture.request(call, op.name(), attempt, &envelope, op.carries_secret()).await;
        }
        // The buffer holds the token (and credentials) and is wiped once reqwest lets go of it.
        let body = Bytes::from_owner(encode_request(envelope).map_err(SyncError::Encode)?);
        tracing::debug!(operation = op.name(), %tracking_id, attempt, url = %route.url, "calling the sync API");
        let target = exchange::Target {
            url: &route.url,
            api_action: op.api_action(),
            tracking_id,
            response_limit: self.response_limit(op),
        };
        // Items are handed out as the response arrives, unless the response is captured whole.
        let take = |item| op.take_item(item);
        let items = op
            .split_container()
            .filter(|_| self.capture.is_none())
            .map(|container| exchange::StreamedItems { container, take: &take });
        op.start_response();
        let reply = match exchange::post(&self.http, &self.settings, target, body, self.timer.now(), items).await {
            Ok(reply) => reply,
            Err(e) => return Ok(exchange::transport_failure(&e, &route.url, &self.settings)),
        };
        tracing::debug!(operation = op.name(), %tracking_id, status = reply.status, "sync API answered");
        if let (Some(capture), Ok(body)) = (&self.capture, &reply.body) {
            capture.response(call, op.name(), attempt, reply.status, body).await;
        }
        Ok(exchange::interpret(op, reply, &self.settings.faults, self.response_limit(op)))
    }

    fn response_limit<O: Operation>(&self, op: &O) -> usize {
        if op.streams_result() { self.settings.max_streamed_response_bytes } else { self.settings.max_response_bytes }
    }
}
