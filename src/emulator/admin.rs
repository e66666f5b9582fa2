//! The admin JSON API (interfaces.md): tenant state for people and tests, the sign-in check
//! against stored PHS credentials, counters, fault injection, device-code approval and client
//! certificate registration.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::App;
use super::faults::FaultSpec;
use super::model::{ObjectType, SyncObject, Value, parse_cloud_anchor};
use super::store::CertificateRow;
use super::tenant::Tenant;
use super::tokens::{self, RegisteredCertificate};

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The JSON form of one object.
pub(super) fn object_json(tenant: &Tenant, object: &SyncObject) -> serde_json::Value {
    json!({
        "sourceAnchor": object.source_anchor,
        "cloudAnchor": object.cloud_anchor(),
        "objectType": object.object_type,
        "attributes": Tenant::attribute_map(object),
        "members": tenant.member_anchors(object),
        "credential": object.credential.as_ref().map(|c| json!({
            "changeDate": c.change_date,
            "receivedAt": c.received_at,
        })),
    })
}

pub(super) async fn objects(State(app): State<Arc<App>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let filter = match query.get("type") {
        None => None,
        Some(t) => match ObjectType::parse_loose(t) {
            Some(t) => Some(t),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown type {t:?}: use User, Group, Contact or Device"),
                );
            }
        },
    };
    let tenant = lock(&app.tenant);
    let list: Vec<_> = tenant.objects(filter).into_iter().map(|o| object_json(&tenant, o)).collect();
    Json(list).into_response()
}

/// The object named by a source anchor or a cloud anchor (`User_<id>`).
fn find<'t>(tenant: &'t Tenant, anchor: &str) -> Option<&'t SyncObject> {
    tenant
        .find_by_anchor(anchor)
        .or_else(|| parse_cloud_anchor(anchor).and_then(|(t, id)| tenant.object(&id).filter(|o| o.object_type == t)))
}

fn not_found(anchor: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("no object has the anchor {anchor:?}"))
}

pub(super) async fn object(State(app): State<Arc<App>>, Path(anchor): Path<String>) -> Response {
    let tenant = lock(&app.tenant);
    match find(&tenant, &anchor) {
        Some(o) => Json(object_json(&tenant, o)).into_response(),
        None => not_found(&anchor),
    }
}

/// `DELETE /admin/objects/{anchor}`: an administrator deletes the object in the cloud, behind
/// the sync client's back (drift for it to find).
pub(super) async fn delete_object(State(app): State<Arc<App>>, Path(anchor): Path<String>) -> Response {
    let mut tenant = lock(&app.tenant);
    let Some(id) = find(&tenant, &anchor).map(|o| o.object_id) else { return not_found(&anchor) };
    match tenant.cloud_delete(id) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CloudEdit {
    attributes: serde_json::Map<String, serde_json::Value>,
}

/// `PATCH /admin/objects/{anchor}` with `{"attributes": {"displayName": "x", "mail": null}}`:
/// a change made in the cloud (strings, booleans, integers, lists of strings; null clears).
pub(super) async fn edit_object(State(app): State<Arc<App>>, Path(anchor): Path<String>, body: Bytes) -> Response {
    let edit: CloudEdit = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("expected {{\"attributes\": {{...}}}}: {e}")),
    };
    let mut attributes = Vec::new();
    for (key, value) in edit.attributes {
        let value = match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Number(n) if n.is_i64() => Value::Long(n.as_i64().unwrap_or_default()),
            serde_json::Value::Array(items) if items.iter().all(|i| i.is_string()) => {
                Value::StringList(items.into_iter().filter_map(|i| i.as_str().map(String::from)).collect())
            }
            other => {
                return error(StatusCode::BAD_REQUEST, format!("{key}: unsupported value {other}"));
            }
        };
        attributes.push((key, value));
    }
    let mut tenant = lock(&app.tenant);
    let Some(id) = find(&tenant, &anchor).map(|o| o.object_id) else { return not_found(&anchor) };
    if let Err(e) = tenant.cloud_set_attributes(id, attributes) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    match tenant.object(&id) {
        Some(o) => Json(object_json(&tenant, o)).into_response(),
        None => not_found(&anchor),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct VerifyPassword {
    source_anchor: Option<String>,
    user_principal_name: Option<String>,
    password: String,
}

/// The emulator's sign-in: recompute the PHS key from the candidate password's NT hash and
/// compare in constant time.
pub(super) async fn verify_password(
    State(app): State<Arc<App>>,
    body: Result<Json<VerifyPassword>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body must be {{\"sourceAnchor\" or \"userPrincipalName\", \"password\"}}: {e}"),
            );
        }
    };
    if body.source_anchor.is_none() && body.user_principal_name.is_none() {
        return error(StatusCode::BAD_REQUEST, "give \"sourceAnchor\" or \"userPrincipalName\"");
    }
    let stored = lock(&app.tenant).credential_of(body.source_anchor.as_deref(), body.user_principal_name.as_deref());
    let Some(stored) = stored else { return error(StatusCode::NOT_FOUND, "no such user") };
    let Some(stored) = stored else { return Json(json!({"valid": false})).into_response() };
    let force_change = stored.force_change_on_logon;
    let data = stored.credential_data.clone();
    drop(stored);
    let password = zeroize::Zeroizing::new(body.password);
    let valid = tokio::task::spawn_blocking(move || {
        let nt_hash = crate::entra::credential::nt_hash_of_password(&password);
        crate::entra::credential::verify(&data, &nt_hash).unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    Json(json!({"valid": valid, "forceChangeOnLogon": valid && force_change})).into_response()
}

pub(super) async fn stats(State(app): State<Arc<App>>) -> Response {
    let (objects, credentials) = {
        let tenant = lock(&app.tenant);
        (tenant.object_count(), tenant.credential_count())
    };
    let stats = lock(&app.stats);
    Json(json!({
        "calls": stats.calls,
        "writes": stats.writes,
        "faultsInjected": stats.faults_injected,
        "requests": stats.requests,
        "throttled": stats.throttled,
        "objects": objects,
        "credentials": credentials,
    }))
    .into_response()
}

fn company_json(tenant: &Tenant) -> serde_json::Value {
    json!({
        "passwordHashSync": tenant.info.dirsync_features & 1 != 0,
        "dirSyncFeatures": tenant.info.dirsync_features,
        "dirSyncEnabled": tenant.info.dirsync_enabled,
    })
}

/// `GET /admin/company`: the tenant's sync settings as the admin portal shows them.
pub(super) async fn company(State(app): State<Arc<App>>) -> Response {
    Json(company_json(&lock(&app.tenant))).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct CompanyPatch {
    password_hash_sync: Option<bool>,
}

/// `PATCH /admin/company` `{"passwordHashSync": true|false}`: an administrator turning password
/// hash sync on or off in the portal (the PasswordHashSync bit of DirSyncFeatures; the other
/// bits stay).
pub(super) async fn patch_company(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let patch = match serde_json::from_slice::<CompanyPatch>(&body) {
        Ok(p) => p,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, format!("expected {{\"passwordHashSync\": true|false}}: {e}"));
        }
    };
    let mut tenant = lock(&app.tenant);
    if let Some(on) = patch.password_hash_sync {
        let mask = (tenant.info.dirsync_features & !1) | i64::from(on);
        if let Err(e) = tenant.set_dirsync_features(mask) {
            return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
    }
    Json(company_json(&tenant)).into_response()
}

/// `DELETE /admin/credentials`: every stored password forgotten behind the sync client's back
/// (a tenant restore, a cloud-side reset); the objects stay.
pub(super) async fn wipe_credentials(State(app): State<Arc<App>>) -> Response {
    match lock(&app.tenant).wipe_credentials() {
        Ok(n) => Json(json!({"wiped": n})).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(FaultSpec),
    Many(Vec<FaultSpec>),
}

pub(super) async fn list_faults(State(app): State<Arc<App>>) -> Response {
    Json(json!({"active": lock(&app.faults).describe(Instant::now())})).into_response()
}

pub(super) async fn add_faults(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let specs = match serde_json::from_slice::<OneOrMany>(&body) {
        Ok(OneOrMany::One(f)) => vec![f],
        Ok(OneOrMany::Many(list)) => list,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "the body must be a fault or a list of faults: {\"kind\": \"unavailable\"|\"throttle\"|\"latency\"|\
                 \"replicationDelay\"|\"redirect\"|\"tokenExpiry\"|\"graphUnavailable\", \"calls\": N, \"seconds\": S, \"ms\": M, \"operation\": \"addKey\"|\"removeKey\"}",
            );
        }
    };
    for spec in &specs {
        if let Err(e) = spec.validate() {
            return error(StatusCode::BAD_REQUEST, e);
        }
    }
    let now = Instant::now();
    let mut faults = lock(&app.faults);
    for spec in specs {
        faults.add(spec, now);
    }
    (StatusCode::CREATED, Json(json!({"active": faults.describe(now)}))).into_response()
}

pub(super) async fn clear_faults(State(app): State<Arc<App>>) -> Response {
    lock(&app.faults).clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Approval {
    user_principal_name: Option<String>,
    roles: Option<Vec<String>>,
}

pub(super) async fn approve_device_code(
    State(app): State<Arc<App>>,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    let approval: Approval = if body.iter().all(u8::is_ascii_whitespace) {
        Approval::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(a) => a,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the body must be {{\"userPrincipalName\", \"roles\"}} or empty: {e}"),
                );
            }
        }
    };
    let roles = match approval.roles {
        Some(names) => {
            let mut ids = Vec::new();
            for name in names {
                match tokens::role_id(&name) {
                    Some(id) => ids.push(id),
                    None => return error(StatusCode::BAD_REQUEST, format!("unknown role {name:?}")),
                }
            }
            Some(ids)
        }
        None => None,
    };
    if app.tokens.approve(&code, approval.user_principal_name.as_deref(), roles) {
        Json(json!({"approved": true})).into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no pending device code {code:?}"))
    }
}

/// `POST /admin/certificates?clientId=…[&role=…]` with a PEM body.
pub(super) async fn add_certificates(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let Some(client_id) = query.get("clientId").filter(|c| !c.is_empty()).cloned() else {
        return error(StatusCode::BAD_REQUEST, "give the application as ?clientId=…");
    };
    let roles = match query.get("role") {
        Some(r) => match tokens::role_id(r) {
            Some(id) => vec![id],
            None => return error(StatusCode::BAD_REQUEST, format!("unknown role {r:?}")),
        },
        None => app.settings.client_roles.clone(),
    };
    let ders = match tokens::pem_certificates(&body) {
        Ok(d) => d,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let mut thumbprints = Vec::new();
    for der in ders {
        let cert = match RegisteredCertificate::new(&client_id, der.clone(), roles.clone()) {
            Ok(c) => c,
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        };
        let row = CertificateRow { client_id: client_id.clone(), der, roles: roles.clone() };
        if let Err(e) = lock(&app.tenant).store().add_certificate(&row) {
            return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
        thumbprints.push(cert.x5t.clone());
        app.tokens.add_certificate(cert);
    }
    // An app set up by hand gets the sync app's role too, as `--client-cert` apps do.
    for role in &app.settings.client_app_roles {
        app.tokens.grant_app_role(&client_id, role);
    }
    (StatusCode::CREATED, Json(json!({"clientId": client_id, "x5t": thumbprints}))).into_response()
}
