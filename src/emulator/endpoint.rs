//! `POST /provisioningservice.svc`: the request pipeline (docs/emulator.md, "Sync API"): content type,
//! injected faults, strict msbin1 decoding, envelope, token, build, throttling, operation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::soap::{self, Fault, FaultCode};
use super::tenant::ProvisionContext;
use super::{App, clock, ops};
use crate::entra::nbfx::{self, Element, Limits};

pub(super) const MSBIN1: &str = "application/soap+msbin1";

fn msbin1_response(status: StatusCode, envelope: &Element, retry_after: Option<u64>) -> Response {
    match nbfx::encode(envelope) {
        Ok(bytes) => {
            let mut response = (status, [(header::CONTENT_TYPE, MSBIN1)], bytes).into_response();
            if let Some(seconds) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        Err(e) => {
            tracing::error!("cannot encode a response: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "the emulator could not encode its response").into_response()
        }
    }
}

fn fault_response(fault: &Fault, relates_to: Option<&str>) -> Response {
    msbin1_response(fault.status, &soap::fault_envelope(fault, relates_to), fault.retry_after)
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) async fn provisioning(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(MSBIN1) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Cannot process the message because the content type '{content_type}' was not the expected type '{MSBIN1}'."),
        )
            .into_response();
    }
    let effects = lock(&app.faults).on_call(Instant::now());
    {
        let mut stats = lock(&app.stats);
        stats.requests += 1;
        stats.faults_injected += effects.injected;
    }
    if effects.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(effects.latency_ms)).await;
    }
    if effects.unavailable {
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], "Service Unavailable").into_response();
    }
    // WCF's reader quotas: MaxDepth 32 by default (a Provision2 delta is 13 deep).
    let limits = Limits { max_input_bytes: app.settings.max_body_bytes, max_depth: 32, ..Limits::default() };
    let root = match nbfx::decode_with_limits(&body, &limits) {
        Ok(root) => root,
        Err(e) => return fault_response(&Fault::unreadable(&e.to_string()), None),
    };
    let relates_to = soap::message_id(&root);
    match handle(&app, &headers, &root, &effects).await {
        Ok(envelope) => msbin1_response(StatusCode::OK, &envelope, None),
        Err(fault) => fault_response(&fault, relates_to.as_deref()),
    }
}

/// A checked request, owned, ready to run against the tenant.
struct Prepared {
    operation: String,
    message_id: String,
    parsed: ops::Parsed,
    application_id: String,
    build: String,
    started: Instant,
    /// Why this caller may not change the sync features, if it may not.
    features_refusal: Option<String>,
}

async fn handle(
    app: &Arc<App>,
    headers: &HeaderMap,
    root: &Element,
    effects: &super::faults::Effects,
) -> Result<Element, Fault> {
    // The namespace views of the request are not Send: finish with them before awaiting.
    let Prepared { operation, message_id, parsed, application_id, build, started: now, features_refusal } =
        prepare(app, headers, root, effects)?;
    let settings = ops::OpSettings {
        provision: ProvisionContext {
            now_ms: clock::now_ms(),
            replication_delay_ms: app
                .settings
                .replication_delay_ms
                .max(i64::try_from(effects.replication_delay_ms).unwrap_or(i64::MAX)),
            report_unresolved_members: app.settings.report_unresolved_members,
            unknown_delete_fails: app.settings.unknown_delete_fails,
            delta_members_allowed: false,
            max_links: None,
            service_date: app.settings.service_date,
        },
        features_refusal,
        require_phs_feature: app.settings.require_phs_feature,
        min_build: app.settings.min_build_text.clone(),
        machine_name: app.settings.machine_name.clone(),
    };
    let tenant = Arc::clone(&app.tenant);
    let op = operation.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let outcome = {
            let mut tenant = lock(&tenant);
            if let Err(e) = tenant.note_client(application_id.trim(), build.trim()) {
                tracing::warn!("{e}");
            }
            ops::run(&mut tenant, &op, parsed, &settings)?
        };
        // The tenant is free again: a read-back's answer is built from its copy now.
        Ok::<_, Fault>((outcome.result.map(ops::Reply::build), outcome.writes))
    })
    .await
    .map_err(|e| {
        tracing::error!("an operation task failed: {e}");
        Fault::service(FaultCode::Receiver, "An internal error occurred while processing the request.")
    })??;
    let (result, writes) = outcome;
    if writes > 0 {
        lock(&app.throttle).record(now, writes);
        lock(&app.stats).writes += writes;
    }
    Ok(soap::response(&operation, &message_id, result))
}

fn prepare(
    app: &App,
    headers: &HeaderMap,
    root: &Element,
    effects: &super::faults::Effects,
) -> Result<Prepared, Fault> {
    let request = soap::parse_request(root)?;
    let operation = request.operation.clone();
    *lock(&app.stats).calls.entry(operation.clone()).or_default() += 1;
    if let Some(api_action) = headers.get("x-ms-aadmsods-apiaction").and_then(|v| v.to_str().ok()) {
        tracing::debug!(operation, api_action, "sync call");
    }
    if effects.redirect {
        let url = format!("{}/provisioningservice.svc", app.settings.base_url_for(headers));
        return Err(Fault::redirect(url));
    }
    if effects.throttle {
        lock(&app.stats).throttled += 1;
        return Err(Fault::throttled(
            "The request was throttled by the service (injected throttling fault). Retry after 1 seconds.".into(),
            1,
        ));
    }
    let token = request.sync_token.bearer_token.as_deref().unwrap_or("");
    let caller = match app.tokens.verify_sync_token(token, app.settings.service_date, effects.tokens_expired_before) {
        Ok(caller) => caller,
        Err(refusal) => {
            tracing::info!(operation, "access denied: {}", refusal.reason);
            return Err(if refusal.user_sign_in_retired {
                Fault::user_sign_in_retired()
            } else {
                Fault::access_denied()
            });
        }
    };
    let build = request.sync_token.dirsync_build.clone().unwrap_or_default();
    match super::parse_build(&build) {
        Some(parsed) if parsed >= app.settings.min_build => {}
        _ => {
            let shown = if build.trim().is_empty() { "(none)".to_owned() } else { build.trim().to_owned() };
            return Err(Fault::service(
                FaultCode::Sender,
                format!(
                    "The DirSync client build {shown} is not supported any more: the minimum DirSyncBuildNumber is {}. \
                     Upgrade the synchronization client.",
                    app.settings.min_build_text
                ),
            ));
        }
    }
    let now = Instant::now();
    if ops::is_write(&operation) {
        let check = lock(&app.throttle).check(now);
        if let Err(wait) = check {
            lock(&app.stats).throttled += 1;
            let (limit, window) = {
                let t = lock(&app.throttle);
                (t.limit(), t.window())
            };
            return Err(Fault::throttled(
                format!(
                    "The request was throttled: this tenant accepts {limit} object and credential writes per {} \
                     seconds. Retry after {wait} seconds.",
                    window.as_secs()
                ),
                wait,
            ));
        }
    }
    let parsed = ops::parse(&operation, &request.body)?;
    Ok(Prepared {
        operation,
        message_id: request.message_id.clone(),
        parsed,
        application_id: request.sync_token.application_id.clone().unwrap_or_default(),
        build,
        started: now,
        features_refusal: super::rules::features_refusal(&caller, app.settings.service_date),
    })
}
