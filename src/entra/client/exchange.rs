//! One HTTP exchange with the sync API and what it means for the call: done, retry,
//! redirect, re-authenticate or fail.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER, USER_AGENT};
use uuid::Uuid;

use super::error::SyncError;
use super::retry::parse_retry_after;
use super::settings::SyncSettings;
use crate::entra::nbfx::{Element, Limits, SplitStream};
use crate::entra::ops::Operation;
use crate::entra::soap::{Fault, FaultRules, Reply, ResponseError, read_response};

pub(crate) const CONTENT_TYPE_MSBIN1: &str = "application/soap+msbin1";

/// A response as received.
pub(crate) struct HttpReply {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<Duration>,
    pub body: Result<Vec<u8>, ResponseError>,
}

/// What to do after one attempt.
pub(crate) enum Step<T> {
    Done(T),
    /// Transient: wait (`after`, or the backoff) and send again.
    Retry {
        error: SyncError,
        after: Option<Duration>,
    },
    /// Send to the host the `BindingRedirectionFault` names.
    Redirect(String),
    /// The token was refused: try once more with a fresh one, else fail with this error.
    Reauthenticate(SyncError),
    Fail(SyncError),
}

/// What one POST goes to and what it accepts back.
pub(crate) struct Target<'a> {
    pub url: &'a str,
    pub api_action: &'a str,
    pub tracking_id: Uuid,
    /// Largest response body read.
    pub response_limit: usize,
}

/// Where the items of a successful response go while it arrives (see
/// [`Operation::split_container`]).
pub(crate) struct StreamedItems<'a> {
    pub container: &'static str,
    pub take: &'a (dyn Fn(Element) + Sync),
}

/// Posts one encoded envelope. With `items`, a successful response's items are handed out as
/// they arrive and the reply's body keeps only the rest of the document.
pub(crate) async fn post(
    http: &reqwest::Client,
    settings: &SyncSettings,
    target: Target<'_>,
    body: Bytes,
    now: SystemTime,
    items: Option<StreamedItems<'_>>,
) -> Result<HttpReply, reqwest::Error> {
    let Target { url, api_action, tracking_id, response_limit: limit } = target;
    let identity = &settings.identity;
    let mut response = http
        .post(url)
        .timeout(settings.request_timeout)
        .header(CONTENT_TYPE, CONTENT_TYPE_MSBIN1)
        .header(USER_AGENT, settings.user_agent.as_str())
        .header("client-request-id", tracking_id.hyphenated().to_string())
        .header("x-ms-aadmsods-appid", identity.application_id.as_str())
        .header("x-ms-aadmsods-apiaction", api_action)
        .header("x-ms-aadmsods-clientversion", identity.client_version.as_str())
        .header("x-ms-aadmsods-dirsyncbuildnumber", identity.build_number.as_str())
        .header("x-ms-aadmsods-fimbuildnumber", identity.build_number.as_str())
        .header("x-ms-aadmsods-tenantid", settings.tenant_id.as_str())
        // What Microsoft's client sends besides (a capture of its 2.1.19.0 in
        // dirkjanm/roadtools_hybrid), with values of ours.
        .header("x-ms-aadmsods-machineid", settings.machine_id.as_str())
        .header("x-ms-aadmsods-provisioningsessiondesc", format!("Connector-{}", settings.session_id.hyphenated()))
        .header("x-ms-aadmsods-scenario", settings.scenario.as_str())
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let headers = response.headers();
    let content_type = header_text(headers, CONTENT_TYPE.as_str());
    let retry_after = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, now));
    let length = response.content_length();
    if length.is_some_and(|n| n > limit as u64) {
        return Ok(HttpReply { status, content_type, retry_after, body: Err(ResponseError::TooLarge { limit }) });
    }
    let success = (200..300).contains(&status);
    let mut split = items.filter(|_| success).map(|i| {
        let limits = Limits { max_input_bytes: limit, ..Limits::default() };
        (SplitStream::new(i.container, limits), i.take)
    });
    let mut body = Vec::with_capacity(if split.is_some() { 0 } else { initial_capacity(length) });
    let mut received = 0usize;
    while let Some(chunk) = response.chunk().await? {
        received += chunk.len();
        if received > limit {
            return Ok(HttpReply { status, content_type, retry_after, body: Err(ResponseError::TooLarge { limit }) });
        }
        match &mut split {
            Some((stream, take)) => stream.push(&chunk, &mut |item| take(item)),
            None => {
                make_room(&mut body, chunk.len(), length);
                body.extend_from_slice(&chunk);
            }
        }
    }
    if let Some((stream, _)) = split {
        tracing::debug!(received, items = stream.handed_out(), "response items handed out as they arrived");
        body = stream.finish();
    }
    Ok(HttpReply { status, content_type, retry_after, body: Ok(body) })
}

/// A declared length is believed up to this much before the body has shown it is that large:
/// a server that says 60 MB and sends 10 bytes must not make us reserve 60 MB.
const BELIEVED_BEFORE_DATA: usize = 1 << 20;

/// The first buffer for a body of `declared` bytes (already checked against the limit).
fn initial_capacity(declared: Option<u64>) -> usize {
    declared.map_or(0, |n| n.min(BELIEVED_BEFORE_DATA as u64) as usize)
}

/// Makes room for `more` bytes. Once a body has filled its first buffer, the declared length is
/// reserved in one step: growing by doubling would hold up to twice a large body.
fn make_room(body: &mut Vec<u8>, more: usize, declared: Option<u64>) {
    let needed = body.len() + more;
    if needed <= body.capacity() {
        return;
    }
    match declared.map(|n| n as usize) {
        Some(total) if total >= needed => body.reserve_exact(total - body.len()),
        _ => body.reserve(more),
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("none").to_owned()
}

/// A failure before a response arrived.
pub(crate) fn transport_failure<T>(error: &reqwest::Error, url: &str, settings: &SyncSettings) -> Step<T> {
    if error.is_timeout() {
        let error = SyncError::Timeout { url: url.to_owned(), timeout: settings.request_timeout, attempts: 1 };
        return if settings.retry.retry_timeouts { Step::Retry { error, after: None } } else { Step::Fail(error) };
    }
    if error.is_builder() {
        return Step::Fail(SyncError::Settings(format!("cannot build a request to {url}: {}", chain(error))));
    }
    // Refused or reset connections, TLS failures, bodies cut short: the service may be
    // restarting or a middlebox dropped us.
    Step::Retry { error: SyncError::Connection { url: url.to_owned(), reason: chain(error), attempts: 1 }, after: None }
}

/// An error with its causes on one line (shared with the HTTP client builder).
use crate::entra::http::error_chain as chain;

/// What a response means for the call.
pub(crate) fn interpret<O: Operation>(op: &O, reply: HttpReply, rules: &FaultRules, limit: usize) -> Step<O::Output> {
    let success = (200..300).contains(&reply.status);
    let body = match reply.body {
        Ok(body) => body,
        Err(e) => return Step::Fail(SyncError::Response(e)),
    };
    let limits = Limits { max_input_bytes: limit, ..Limits::default() };
    let decoded =
        if body.is_empty() { Err(ResponseError::Empty) } else { op.decode(&body, &limits).map_err(Into::into) };
    let envelope = match decoded {
        Ok(envelope) => envelope,
        Err(e) if success => return Step::Fail(SyncError::Response(e)),
        Err(_) => return status_step(&reply.status, &reply.content_type, reply.retry_after),
    };
    match read_response(&envelope, op.name()) {
        Ok(Reply::Fault(raw)) => fault_step(rules.classify(&raw), reply.status, reply.retry_after),
        Ok(Reply::Result(result)) if success => match op.parse(result) {
            Ok(output) => Step::Done(output),
            Err(e) => Step::Fail(SyncError::Response(e)),
        },
        Err(e) if success => Step::Fail(SyncError::Response(e)),
        Ok(Reply::Result(_)) | Err(_) => status_step(&reply.status, &reply.content_type, reply.retry_after),
    }
}

fn fault_step<T>(fault: Fault, status: u16, retry_after: Option<Duration>) -> Step<T> {
    match fault {
        Fault::Redirect { url } => Step::Redirect(url),
        Fault::Throttled { message } => {
            Step::Retry { error: SyncError::Throttled { message, attempts: 1, retry_after }, after: retry_after }
        }
        // An overloaded front end may wrap its 503 in some other fault: still a 503.
        _ if matches!(status, 429 | 503) => {
            Step::Retry { error: SyncError::Unavailable { status, attempts: 1, retry_after }, after: retry_after }
        }
        fault @ (Fault::AccessDenied { .. } | Fault::TokenRejected { .. }) => {
            Step::Reauthenticate(SyncError::Fault(fault))
        }
        fault => Step::Fail(SyncError::Fault(fault)),
    }
}

/// A response without a usable SOAP envelope.
fn status_step<T>(status: &u16, content_type: &str, retry_after: Option<Duration>) -> Step<T> {
    let status = *status;
    let http = || SyncError::HttpStatus { status, content_type: content_type.to_owned() };
    match status {
        429 | 500..=599 => {
            Step::Retry { error: SyncError::Unavailable { status, attempts: 1, retry_after }, after: retry_after }
        }
        401 | 403 => Step::Reauthenticate(http()),
        _ => Step::Fail(http()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_length_is_reserved_only_once_the_body_shows_it() {
        // A hostile Content-Length (60 MB, under the 64 MB limit) reserves no more than 1 MiB up front.
        let declared = Some(60 << 20);
        let mut body = Vec::with_capacity(initial_capacity(declared));
        assert!(body.capacity() <= BELIEVED_BEFORE_DATA, "reserved {} bytes for a promise", body.capacity());
        // A body that does come: past its first buffer, the declared total is reserved in one step.
        let chunk = vec![0u8; 64 << 10];
        while body.len() < BELIEVED_BEFORE_DATA + chunk.len() {
            make_room(&mut body, chunk.len(), declared);
            body.extend_from_slice(&chunk);
        }
        assert_eq!(body.capacity(), 60 << 20);
        // Small and undeclared bodies start small and grow as they come.
        assert_eq!(initial_capacity(Some(300)), 300);
        assert_eq!(initial_capacity(None), 0);
    }
}
