//! HTTP handlers of the sign-in service: discovery documents, device code and token endpoints
//! (v1 and v2), with Entra's JSON error shape.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::tokens::{Grant, OAuthError, TokenRequest, TokenService, issuer_v2, refresh_token_hash, required};
use super::{App, clock, store::RefreshRow};

fn error_response(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CACHE_CONTROL, "no-store")], Json(e.body())).into_response()
}

fn ok_json(body: serde_json::Value) -> Response {
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// Form fields as a map; a field given twice is an error, as in Entra.
fn form_map(fields: Vec<(String, String)>) -> Result<HashMap<String, String>, OAuthError> {
    let mut map = HashMap::new();
    for (k, v) in fields {
        if map.insert(k.clone(), v).is_some() {
            return Err(OAuthError::new("invalid_request", 90015, format!("The parameter '{k}' is duplicated.")));
        }
    }
    Ok(map)
}

/// The error answer when the path names another tenant.
fn unknown_tenant(app: &App, tenant: &str) -> Option<Response> {
    (!app.tokens.knows_tenant(tenant)).then(|| error_response(&TokenService::unknown_tenant(tenant)))
}

pub(super) async fn openid_configuration_v2(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = unknown_tenant(&app, &tenant) {
        return r;
    }
    let base = app.settings.base_url_for(&headers);
    let tid = app.tokens.settings.tenant_id.to_string();
    ok_json(json!({
        "issuer": issuer_v2(&base, &tid),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["HS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token", "client_credentials"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
}

pub(super) async fn openid_configuration_v1(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = unknown_tenant(&app, &tenant) {
        return r;
    }
    let base = app.settings.base_url_for(&headers);
    let tid = app.tokens.settings.tenant_id.to_string();
    ok_json(json!({
        "issuer": format!("https://sts.windows.net/{tid}/"),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/authorize"),
        "token_endpoint": format!("{base}/{tid}/oauth2/token"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/devicecode"),
        "jwks_uri": format!("{base}/common/discovery/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    }))
}

/// MSAL's instance discovery (`/common/discovery/instance?api-version=1.1&authorization_endpoint=…`).
pub(super) async fn instance_discovery(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let base = app.settings.base_url_for(&headers);
    let host = base.split_once("://").map_or(base.as_str(), |(_, h)| h).to_owned();
    let tenant = query
        .get("authorization_endpoint")
        .and_then(|e| e.split_once("://"))
        .and_then(|(_, rest)| rest.split('/').nth(1))
        .filter(|t| !t.is_empty())
        .unwrap_or("common")
        .to_owned();
    ok_json(json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }))
}

pub(super) async fn device_code_v2(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    device_code(app, tenant, headers, fields, true)
}

pub(super) async fn device_code_v1(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    device_code(app, tenant, headers, fields, false)
}

fn device_code(app: Arc<App>, tenant: String, headers: HeaderMap, fields: Vec<(String, String)>, v2: bool) -> Response {
    if let Some(r) = unknown_tenant(&app, &tenant) {
        return r;
    }
    let base = app.settings.base_url_for(&headers);
    match form_map(fields).and_then(|form| app.tokens.device_code(&form, v2, &base)) {
        Ok(body) => ok_json(body),
        Err(e) => error_response(&e),
    }
}

pub(super) async fn token_v2(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    token(app, tenant, headers, fields, true).await
}

pub(super) async fn token_v1(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    token(app, tenant, headers, fields, false).await
}

async fn token(app: Arc<App>, tenant: String, headers: HeaderMap, fields: Vec<(String, String)>, v2: bool) -> Response {
    if let Some(r) = unknown_tenant(&app, &tenant) {
        return r;
    }
    let form = match form_map(fields) {
        Ok(f) => f,
        Err(e) => return error_response(&e),
    };
    let base = app.settings.base_url_for(&headers);
    let request = TokenRequest { form: &form, v2, base: &base, tenant_path: &tenant };
    match grant_for(&app, &request).await {
        Ok((grant, user_flow)) => {
            let issued = app.tokens.issue(&grant, &request, user_flow);
            if let Some((token, grant)) = issued.refresh
                && let Err(e) = store_refresh(&app, &token, &grant).await
            {
                tracing::error!("cannot store a refresh token: {e}");
                return error_response(&internal());
            }
            ok_json(issued.body)
        }
        Err(e) => error_response(&e),
    }
}

/// The grant a token request stands for, and whether it is a user flow.
async fn grant_for(app: &Arc<App>, request: &TokenRequest<'_>) -> Result<(Grant, bool), OAuthError> {
    let grant_type = required(request.form, "grant_type")?;
    match grant_type.as_str() {
        "urn:ietf:params:oauth:grant-type:device_code" | "device_code" => {
            Ok((app.tokens.redeem_device_code(request.form)?, true))
        }
        "refresh_token" => {
            let presented = required(request.form, "refresh_token")?;
            let hash = refresh_token_hash(&presented);
            let single_use = app.tokens.settings.single_use_refresh_tokens;
            let tenant = Arc::clone(&app.tenant);
            let stored = tokio::task::spawn_blocking(move || {
                let tenant = tenant.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let row = tenant.store().refresh_token(&hash)?;
                if single_use && row.is_some() {
                    tenant.store().remove_refresh_token(&hash)?;
                }
                Ok::<_, super::store::StoreError>(row)
            })
            .await
            .map_err(|_| internal())?
            .map_err(|_| internal())?;
            let stored =
                stored.and_then(|row| serde_json::from_str::<Grant>(&row.grant).ok().map(|g| (g, row.expires_at)));
            Ok((app.tokens.refresh_grant(request.form, request.v2, stored)?, true))
        }
        "client_credentials" => Ok((app.tokens.client_credentials(request)?, false)),
        other => Err(OAuthError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

fn internal() -> OAuthError {
    OAuthError { status: 500, error: "server_error", code: 90013, description: "Internal error.".into() }
}

async fn store_refresh(app: &Arc<App>, token: &str, grant: &Grant) -> Result<(), String> {
    let row = RefreshRow {
        client_id: grant.client_id.clone(),
        grant: serde_json::to_string(grant).map_err(|e| e.to_string())?,
        expires_at: clock::now_secs().saturating_add(app.tokens.settings.refresh_token_lifetime_secs),
    };
    let hash = refresh_token_hash(token);
    let tenant = Arc::clone(&app.tenant);
    tokio::task::spawn_blocking(move || {
        let tenant = tenant.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tenant.store().prune_refresh_tokens(clock::now_secs())?;
        tenant.store().add_refresh_token(&hash, &row)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}
