//! App registrations in Microsoft Graph v1.0 shapes (docs/emulator.md, "Applications"):
//! applications with key credentials, service principals (every tenant has the sync app's),
//! app role assignments and `addKey` with its proof of possession. A key credential becomes a
//! client-credentials certificate of the token service, an assignment of
//! `ADSynchronization.ReadWrite.All` a `roles` entry of the app's tokens. Held in memory.

// A refusal is the Graph answer itself, returned once per request: its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value as J, json};
use uuid::Uuid;

use super::tokens::{
    GLOBAL_ADMINISTRATOR, HYBRID_IDENTITY_ADMINISTRATOR, MS_GRAPH_AUDIENCES, RegisteredCertificate, SYNC_APP_ID,
    SYNC_APP_ROLE,
};
use super::{App, clock, jwt};

/// The id of `ADSynchronization.ReadWrite.All` on the sync app (Learn `authenticate-application-id`).
pub(super) const SYNC_APP_ROLE_ID: &str = "ab43b826-2c7a-4aff-9ecd-d0629d0ca6a9";
/// The audience of an `addKey` proof (Graph docs, `application: addKey`).
const PROOF_AUDIENCE: &str = "00000002-0000-0000-c000-000000000000";
const PROOF_MAX_LIFETIME_SECS: i64 = 600;
const CLOCK_SKEW_SECS: i64 = 300;
const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const CLOUD_APPLICATION_ADMINISTRATOR: &str = "158c047a-c907-4556-b7ef-446551a6b5f7";

#[derive(Debug, Clone)]
struct KeyCredential {
    key_id: Uuid,
    display_name: String,
    der: Vec<u8>,
    start: i64,
    end: i64,
}

#[derive(Debug, Clone)]
struct Application {
    id: Uuid,
    app_id: Uuid,
    display_name: String,
    created_ms: i64,
    keys: Vec<KeyCredential>,
}

#[derive(Debug, Clone)]
struct ServicePrincipal {
    id: Uuid,
    app_id: String,
    display_name: String,
    app_roles: Vec<J>,
}

#[derive(Debug, Clone)]
struct Assignment {
    id: String,
    principal_id: Uuid,
    resource_id: Uuid,
    app_role_id: String,
    created_ms: i64,
}

/// The tenant's app registrations.
#[derive(Debug)]
pub(crate) struct AppDirectory {
    applications: Vec<Application>,
    service_principals: Vec<ServicePrincipal>,
    assignments: Vec<Assignment>,
}

impl Default for AppDirectory {
    fn default() -> Self {
        let sync = ServicePrincipal {
            id: Uuid::new_v4(),
            app_id: SYNC_APP_ID.to_owned(),
            display_name: "Microsoft Entra AD Synchronization Service".to_owned(),
            app_roles: vec![json!({
                "allowedMemberTypes": ["Application"],
                "description": "Read and write all on-premises directory synchronization information",
                "displayName": "Read and write all on-premises directory synchronization information",
                "id": SYNC_APP_ROLE_ID,
                "isEnabled": true,
                "origin": "Application",
                "value": SYNC_APP_ROLE,
            })],
        };
        AppDirectory { applications: Vec::new(), service_principals: vec![sync], assignments: Vec::new() }
    }
}

fn graph_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let now = clock::rfc3339_ms(clock::now_ms());
    let inner = json!({"date": now, "request-id": Uuid::new_v4(), "client-request-id": Uuid::new_v4()});
    (status, Json(json!({"error": {"code": code, "message": message.into(), "innerError": inner}}))).into_response()
}

fn denied() -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Who called: a user with directory roles and delegated scopes, or an application.
struct Caller {
    user: bool,
    roles: Vec<String>,
    scopes: Vec<String>,
}

impl Caller {
    fn has_scope(&self, any_of: &[&str]) -> bool {
        self.scopes.iter().any(|s| any_of.iter().any(|a| a.eq_ignore_ascii_case(s)))
    }

    fn has_role(&self, any_of: &[&str]) -> bool {
        self.roles.iter().any(|r| any_of.contains(&r.as_str()))
    }

    /// Creating or changing app registrations: `Application.ReadWrite.All` and an administrator
    /// role that may manage applications (Graph permissions reference; Entra built-in roles).
    fn may_write_applications(&self) -> bool {
        self.user
            && self.has_scope(&["Application.ReadWrite.All", "Directory.ReadWrite.All"])
            && self.has_role(&[
                GLOBAL_ADMINISTRATOR,
                HYBRID_IDENTITY_ADMINISTRATOR,
                APPLICATION_ADMINISTRATOR,
                CLOUD_APPLICATION_ADMINISTRATOR,
            ])
    }

    fn may_read_applications(&self) -> bool {
        self.user
            && self.has_scope(&[
                "Application.Read.All",
                "Application.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ])
    }

    /// Granting an app role: `AppRoleAssignment.ReadWrite.All` and an administrator who may grant
    /// it (at least Hybrid Identity Administrator for the sync app's role, as Microsoft documents for application-based
    /// authentication).
    fn may_assign_roles(&self) -> bool {
        self.user
            && self.has_scope(&["AppRoleAssignment.ReadWrite.All"])
            && self.has_role(&[GLOBAL_ADMINISTRATOR, HYBRID_IDENTITY_ADMINISTRATOR])
    }
}

/// A Microsoft Graph token (delegated or app), or the refusal Graph gives.
fn caller(app: &App, headers: &HeaderMap) -> Result<Caller, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(|| graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", "Access token is empty."))?;
    let subject = app.tokens.verify_access_token(token, &MS_GRAPH_AUDIENCES, false, None).map_err(|reason| {
        tracing::info!("Graph call refused: {reason}");
        graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience, signature or lifetime.",
        )
    })?;
    let scopes = jwt::split(token.trim())
        .and_then(|j| j.claim_str("scp").map(|s| s.split_whitespace().map(str::to_owned).collect()))
        .unwrap_or_default();
    Ok(Caller { user: subject.upn.is_some(), roles: subject.roles, scopes })
}

fn rfc3339(secs: i64) -> String {
    clock::rfc3339_ms(secs.saturating_mul(1000))
}

fn key_json(k: &KeyCredential) -> J {
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &k.der);
    json!({
        "keyId": k.key_id,
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "displayName": k.display_name,
        "customKeyIdentifier": hex::encode_upper(sha1.as_ref()),
        "startDateTime": rfc3339(k.start),
        "endDateTime": rfc3339(k.end),
        // Graph never returns the key itself unless asked with $select=keyCredentials.
        "key": J::Null,
    })
}

fn application_json(a: &Application) -> J {
    json!({
        "@odata.type": "#microsoft.graph.application",
        "id": a.id,
        "appId": a.app_id,
        "displayName": a.display_name,
        "signInAudience": "AzureADMyOrg",
        "createdDateTime": clock::rfc3339_ms(a.created_ms),
        "keyCredentials": a.keys.iter().map(key_json).collect::<Vec<_>>(),
        "passwordCredentials": [],
    })
}

fn service_principal_json(s: &ServicePrincipal) -> J {
    json!({
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": s.id,
        "appId": s.app_id,
        "displayName": s.display_name,
        "servicePrincipalType": "Application",
        "accountEnabled": true,
        "appRoles": s.app_roles,
    })
}

/// The one value of `$filter=NAME eq 'VALUE'` (the only filter form this facade knows).
fn filter_value<'a>(query: &'a HashMap<String, String>, name: &str) -> Result<Option<&'a str>, Response> {
    let Some(filter) = query.get("$filter") else { return Ok(None) };
    let bad = || {
        graph_error(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            format!("Unsupported query: only $filter={name} eq '…' is supported here."),
        )
    };
    let rest = filter.trim().strip_prefix(name).ok_or_else(bad)?.trim_start();
    let rest = rest.strip_prefix("eq").ok_or_else(bad)?.trim();
    let value = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')).ok_or_else(bad)?;
    Ok(Some(value))
}

/// A key credential from a Graph `keyCredential` object: an X.509 certificate in `key` (Base64 DER).
fn parse_key(value: &J) -> Result<KeyCredential, Response> {
    let bad = |m: &str| graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", m.to_owned());
    if value.get("type").and_then(J::as_str) != Some("AsymmetricX509Cert") {
        return Err(bad("keyCredential.type must be 'AsymmetricX509Cert'."));
    }
    if value.get("usage").and_then(J::as_str) != Some("Verify") {
        return Err(bad("keyCredential.usage must be 'Verify' for an application's certificate."));
    }
    let der = value
        .get("key")
        .and_then(J::as_str)
        .and_then(|k| STANDARD.decode(k.trim()).ok())
        .ok_or_else(|| bad("keyCredential.key must be the Base64 encoded certificate."))?;
    let parsed = x509_parser_validity(&der).ok_or_else(|| bad("Key credential's key is not a valid certificate."))?;
    Ok(KeyCredential {
        key_id: Uuid::new_v4(),
        display_name: value.get("displayName").and_then(J::as_str).unwrap_or("").to_owned(),
        der,
        start: parsed.0,
        end: parsed.1,
    })
}

/// notBefore and notAfter (Unix seconds) of a DER certificate.
fn x509_parser_validity(der: &[u8]) -> Option<(i64, i64)> {
    use x509_cert::der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let validity = &cert.tbs_certificate().validity();
    let secs = |t: &x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).ok();
    Some((secs(&validity.not_before)?, secs(&validity.not_after)?))
}

/// Makes a key credential usable for the client-credentials grant of `app_id`.
fn register_key(app: &App, app_id: Uuid, key: &KeyCredential) {
    match RegisteredCertificate::new(&app_id.to_string(), key.der.clone(), Vec::new()) {
        Ok(cert) => app.tokens.add_certificate(cert),
        Err(e) => tracing::warn!("key credential of {app_id} not usable for sign-in: {e}"),
    }
}

fn json_body(body: &Bytes) -> Result<serde_json::Map<String, J>, Response> {
    match serde_json::from_slice::<J>(body) {
        Ok(J::Object(map)) => Ok(map),
        _ => Err(graph_error(StatusCode::BAD_REQUEST, "BadRequest", "The body must be a JSON object.")),
    }
}

/// `GET /v1.0/applications[?$filter=displayName eq '…']`.
pub(super) async fn list_applications(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let who = match caller(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !who.may_read_applications() {
        return denied();
    }
    let name = match filter_value(&q, "displayName") {
        Ok(n) => n,
        Err(r) => return r,
    };
    let dir = lock(&app.apps);
    let value: Vec<J> =
        dir.applications.iter().filter(|a| name.is_none_or(|n| a.display_name == n)).map(application_json).collect();
    Json(json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#applications", "value": value}))
        .into_response()
}

/// `GET /v1.0/applications/{id}`: the app with its key credentials.
pub(super) async fn get_application(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let who = match caller(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !who.may_read_applications() {
        return denied();
    }
    let dir = lock(&app.apps);
    match dir.applications.iter().find(|a| a.id.to_string().eq_ignore_ascii_case(&id)) {
        Some(a) => Json(application_json(a)).into_response(),
        None => not_found(&id),
    }
}

fn not_found(id: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

/// `POST /v1.0/applications` with `displayName` and optionally `keyCredentials` → 201.
pub(super) async fn create_application(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let who = match caller(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !who.may_write_applications() {
        return denied();
    }
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(name) = body.get("displayName").and_then(J::as_str).filter(|n| !n.trim().is_empty()) else {
        return graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", "Property 'displayName' is required.");
    };
    let mut keys = Vec::new();
    for k in body.get("keyCredentials").and_then(J::as_array).map(Vec::as_slice).unwrap_or_default() {
        match parse_key(k) {
            Ok(key) => keys.push(key),
            Err(r) => return r,
        }
    }
    let created = Application {
        id: Uuid::new_v4(),
        app_id: Uuid::new_v4(),
        display_name: name.to_owned(),
        created_ms: clock::now_ms(),
        keys,
    };
    for key in &created.keys {
        register_key(&app, created.app_id, key);
    }
    let answer = application_json(&created);
    lock(&app.apps).applications.push(created);
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// `PATCH /v1.0/applications/{id}` with `keyCredentials` (the whole new collection, each with its
/// certificate in `key`) → 204: the keys not in it stop signing the app in (Graph docs "Update
/// application": a collection property is replaced whole).
pub(super) async fn update_application(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let who = match caller(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !who.may_write_applications() {
        return denied();
    }
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(other) = body.keys().find(|k| !matches!(k.as_str(), "keyCredentials" | "displayName")) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            format!("Property '{other}' cannot be updated by this emulator."),
        );
    }
    let mut keys = Vec::new();
    if let Some(list) = body.get("keyCredentials") {
        let Some(list) = list.as_array() else {
            return graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", "keyCredentials must be a collection.");
        };
        for k in list {
            match parse_key(k) {
                Ok(key) => keys.push(key),
                Err(r) => return r,
            }
        }
    }
    let mut dir = lock(&app.apps);
    let Some(target) = dir.applications.iter_mut().find(|a| a.id.to_string().eq_ignore_ascii_case(&id)) else {
        return not_found(&id);
    };
    if let Some(name) = body.get("displayName").and_then(J::as_str) {
        target.display_name = name.to_owned();
    }
    if body.contains_key("keyCredentials") {
        for old in &target.keys {
            app.tokens.remove_certificate(&target.app_id.to_string(), &old.der);
        }
        for key in &keys {
            register_key(&app, target.app_id, key);
        }
        target.keys = keys;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// What `addKey` and `removeKey` both need first: a Graph caller, a JSON body, the application,
/// and a proof of possession signed by one of its current keys.
fn proven_application(
    app: &Arc<App>,
    headers: &HeaderMap,
    id: &str,
    body: &Bytes,
    operation: &str,
) -> Result<(Application, serde_json::Map<String, J>), Response> {
    if lock(&app.faults).on_graph_call(std::time::Instant::now(), operation) {
        lock(&app.stats).faults_injected += 1;
        let mut answer = graph_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry after some time.",
        );
        answer.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        return Err(answer);
    }
    caller(app, headers)?;
    let body = json_body(body)?;
    let Some(current) =
        lock(&app.apps).applications.iter().find(|a| a.id.to_string().eq_ignore_ascii_case(id)).cloned()
    else {
        return Err(not_found(id));
    };
    let Some(proof) = body.get("proof").and_then(J::as_str) else {
        return Err(graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", "Property 'proof' is required."));
    };
    if let Err(why) = check_proof(proof, &current) {
        tracing::info!("{operation} of {id} refused: {why}");
        return Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "Authentication_MissingOrMalformed",
            format!("Invalid proof of possession token: {why}"),
        ));
    }
    Ok((current, body))
}

/// `POST /v1.0/applications/{id}/addKey`: a new certificate, proven by a JWT signed with one of
/// the app's current keys (`aud` 00000002-…, `iss` the app's object id, ≤ 10 minutes).
pub(super) async fn add_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (current, body) = match proven_application(&app, &headers, &id, &body, "addKey") {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(key) = body.get("keyCredential") else {
        return graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", "Property 'keyCredential' is required.");
    };
    let key = match parse_key(key) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let answer = key_json(&key);
    register_key(&app, current.app_id, &key);
    if let Some(a) = lock(&app.apps).applications.iter_mut().find(|a| a.id == current.id) {
        a.keys.push(key);
    }
    Json(answer).into_response()
}

/// `POST /v1.0/applications/{id}/removeKey` with `keyId` and a `proof` as for `addKey` → 204; the
/// certificate no longer signs the app in.
pub(super) async fn remove_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (current, body) = match proven_application(&app, &headers, &id, &body, "removeKey") {
        Ok(found) => found,
        Err(r) => return r,
    };
    let key_id = body.get("keyId").and_then(J::as_str).and_then(|k| Uuid::parse_str(k).ok());
    let Some(key) = current.keys.iter().find(|k| Some(k.key_id) == key_id) else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("No key credential with keyId '{}' on the application.", body.get("keyId").unwrap_or(&J::Null)),
        );
    };
    app.tokens.remove_certificate(&current.app_id.to_string(), &key.der);
    if let Some(a) = lock(&app.apps).applications.iter_mut().find(|a| a.id == current.id) {
        a.keys.retain(|k| k.key_id != key.key_id);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /v1.0/servicePrincipals/{id}/appRoleAssignments`: the roles granted to a service principal.
pub(super) async fn list_assignments(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let who = match caller(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !who.may_read_applications() {
        return denied();
    }
    let dir = lock(&app.apps);
    let value: Vec<J> = dir
        .assignments
        .iter()
        .filter(|a| a.principal_id.to_string().eq_ignore_ascii_case(&id))
        .map(|a| assignment_json(&dir, a))
        .collect();
    Json(json!({"value": value})).into_response()
}

/// The proof rules of Graph's `addKey` (Graph docs, `application: addKey`).
fn check_proof(proof: &str, application: &Application) -> Result<(), String> {
    let token = jwt::split(proof.trim()).ok_or("the proof is not a JWT")?;
    let now = clock::now_secs();
    if !application
        .keys
        .iter()
        .filter(|k| k.start <= now + CLOCK_SKEW_SECS && k.end > now)
        .any(|k| jwt::verify_rs256(&k.der, &token))
    {
        return Err("it is not signed by a current key of the application".into());
    }
    if token.claim_str("aud") != Some(PROOF_AUDIENCE) {
        return Err(format!("aud must be {PROOF_AUDIENCE}"));
    }
    if !token.claim_str("iss").is_some_and(|i| i.eq_ignore_ascii_case(&application.id.to_string())) {
        return Err("iss must be the application's object id".into());
    }
    let (Some(nbf), Some(exp)) = (token.claim_i64("nbf"), token.claim_i64("exp")) else {
        return Err("nbf and exp are required".into());
    };
    if exp - nbf > PROOF_MAX_LIFETIME_SECS {
        return Err("its lifetime is longer than 10 minutes".into());
    }
    if exp <= now || nbf > now + CLOCK_SKEW_SECS {
        return Err("it is expired or not valid yet".into());
    }
    Ok(())
}

/// `GET /v1.0/servicePrincipals[?$filter=appId eq '…']`.
pub(super) async fn list_service_principals(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let who = match caller(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !who.may_read_applications() {
        return denied();
    }
    let app_id = match filter_value(&q, "appId") {
        Ok(n) => n,
        Err(r) => return r,
    };
    let dir = lock(&app.apps);
    let value: Vec<J> = dir
        .service_principals
        .iter()
        .filter(|s| app_id.is_none_or(|n| s.app_id.eq_ignore_ascii_case(n)))
        .map(service_principal_json)
        .collect();
    Json(json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals", "value": value}))
        .into_response()
}

/// `POST /v1.0/servicePrincipals` with `appId` → 201.
pub(super) async fn create_service_principal(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let who = match caller(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !who.may_write_applications() {
        return denied();
    }
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(app_id) = body.get("appId").and_then(J::as_str) else {
        return graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", "Property 'appId' is required.");
    };
    let mut dir = lock(&app.apps);
    if dir.service_principals.iter().any(|s| s.app_id.eq_ignore_ascii_case(app_id)) {
        return graph_error(
            StatusCode::CONFLICT,
            "Request_MultipleObjectsWithSameKeyValue",
            "The service principal cannot be created, updated, or restored because the service principal name \
             is already in use.",
        );
    }
    let Some(registered) = dir.applications.iter().find(|a| a.app_id.to_string().eq_ignore_ascii_case(app_id)) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            format!("The appId '{app_id}' of the service principal does not reference a valid application object."),
        );
    };
    let sp = ServicePrincipal {
        id: Uuid::new_v4(),
        app_id: registered.app_id.to_string(),
        display_name: registered.display_name.clone(),
        app_roles: Vec::new(),
    };
    let answer = service_principal_json(&sp);
    dir.service_principals.push(sp);
    (StatusCode::CREATED, Json(answer)).into_response()
}

fn assignment_json(dir: &AppDirectory, a: &Assignment) -> J {
    let name = |id: Uuid| dir.service_principals.iter().find(|s| s.id == id).map(|s| s.display_name.clone());
    json!({
        "id": a.id,
        "appRoleId": a.app_role_id,
        "createdDateTime": clock::rfc3339_ms(a.created_ms),
        "principalId": a.principal_id,
        "principalType": "ServicePrincipal",
        "principalDisplayName": name(a.principal_id),
        "resourceId": a.resource_id,
        "resourceDisplayName": name(a.resource_id),
    })
}

/// `GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo`.
pub(super) async fn list_assigned_to(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let who = match caller(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !who.may_read_applications() {
        return denied();
    }
    let dir = lock(&app.apps);
    let value: Vec<J> = dir
        .assignments
        .iter()
        .filter(|a| a.resource_id.to_string().eq_ignore_ascii_case(&id))
        .map(|a| assignment_json(&dir, a))
        .collect();
    Json(json!({"value": value})).into_response()
}

/// `POST /v1.0/servicePrincipals/{id}/appRoleAssignedTo` with `principalId`, `resourceId`,
/// `appRoleId` → 201.
pub(super) async fn assign_role(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let who = match caller(&app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !who.may_assign_roles() {
        return denied();
    }
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let field = |name: &str| body.get(name).and_then(J::as_str).and_then(|s| Uuid::parse_str(s).ok());
    let (Some(principal_id), Some(resource_id), Some(role_id)) =
        (field("principalId"), field("resourceId"), field("appRoleId"))
    else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "principalId, resourceId and appRoleId must be GUIDs.",
        );
    };
    let mut dir = lock(&app.apps);
    if !resource_id.to_string().eq_ignore_ascii_case(&id) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "resourceId must be the service principal of the URL.",
        );
    }
    let Some(resource) = dir.service_principals.iter().find(|s| s.id == resource_id).cloned() else {
        return not_found(&id);
    };
    let Some(role) = resource
        .app_roles
        .iter()
        .find(|r| r.get("id").and_then(J::as_str).is_some_and(|i| i.eq_ignore_ascii_case(&role_id.to_string())))
    else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "Permission being assigned was not found on application",
        );
    };
    let Some(principal) = dir.service_principals.iter().find(|s| s.id == principal_id).cloned() else {
        return not_found(&principal_id.to_string());
    };
    if dir.assignments.iter().any(|a| {
        a.principal_id == principal_id
            && a.resource_id == resource_id
            && a.app_role_id.eq_ignore_ascii_case(&role_id.to_string())
    }) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "Permission being assigned already exists on the object",
        );
    }
    if resource.app_id.eq_ignore_ascii_case(SYNC_APP_ID)
        && let Some(value) = role.get("value").and_then(J::as_str)
    {
        app.tokens.grant_app_role(&principal.app_id, value);
    }
    let mut bytes = [0u8; 32];
    let _ = getrandom::fill(&mut bytes);
    let assignment = Assignment {
        id: jwt::b64url(&bytes),
        principal_id,
        resource_id,
        app_role_id: role_id.to_string(),
        created_ms: clock::now_ms(),
    };
    let answer = assignment_json(&dir, &assignment);
    dir.assignments.push(assignment);
    (StatusCode::CREATED, Json(answer)).into_response()
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::entra::auth::{AppCredential, generate_credential};

    fn credential() -> (AppCredential, Vec<u8>) {
        let now = u64::try_from(clock::now_secs()).unwrap();
        let made = generate_credential("SambaEntraSync_dc1", std::time::Duration::from_secs(86_400), now).unwrap();
        let app = AppCredential::from_pem(made.certificate_pem.as_bytes(), made.private_key_pem.as_bytes()).unwrap();
        let (_, der) = x509_cert::der::pem::decode_vec(made.certificate_pem.as_bytes()).unwrap();
        (app, der)
    }

    #[test]
    fn a_generated_certificate_is_usable_for_client_credentials() {
        let (_, der) = credential();
        RegisteredCertificate::new("a8616755-90b9-429b-831e-375cda1eb8e9", der, Vec::new()).unwrap();
    }

    #[test]
    fn an_add_key_proof_is_checked_for_signature_audience_issuer_and_lifetime() {
        let (cred, der) = credential();
        let (start, end) = x509_parser_validity(&der).unwrap();
        let id = Uuid::new_v4();
        let application = Application {
            id,
            app_id: Uuid::new_v4(),
            display_name: "x".into(),
            created_ms: 0,
            keys: vec![KeyCredential { key_id: Uuid::new_v4(), display_name: String::new(), der, start, end }],
        };
        let now = u64::try_from(clock::now_secs()).unwrap();
        let proof = cred.key_proof(&id.to_string(), now).unwrap();
        assert_eq!(check_proof(&proof, &application), Ok(()));
        let other = cred.key_proof(&Uuid::new_v4().to_string(), now).unwrap();
        assert!(check_proof(&other, &application).unwrap_err().contains("iss"));
        let old = cred.key_proof(&id.to_string(), now - 3600).unwrap();
        assert!(check_proof(&old, &application).unwrap_err().contains("expired"));
        let (stranger, _) = credential();
        let foreign = stranger.key_proof(&id.to_string(), now).unwrap();
        assert!(check_proof(&foreign, &application).unwrap_err().contains("not signed"));
    }
}
