//! A small Microsoft Graph facade for clients such as AzureADConnect_Samba4 (docs/emulator.md,
//! "Graph facade"): users, groups and devices with `$select`, `$top` and `@odata.nextLink`, and the
//! organization's `onPremisesSyncEnabled` switch.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as J, json};

use super::App;
use super::model::{ObjectType, SyncObject, Value};
use super::tokens::MS_GRAPH_AUDIENCES;

fn graph_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message.into()}}))).into_response()
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Graph wants a Microsoft Graph token in the Authorization header; the refusal otherwise.
fn refuse(app: &App, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let Some(token) = token else {
        return Some(graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", "Access token is empty."));
    };
    app.tokens.verify_access_token(token, &MS_GRAPH_AUDIENCES, false, None).err().map(|reason| {
        tracing::info!("Graph call refused: {reason}");
        graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience, signature or lifetime.",
        )
    })
}

/// `S-1-5-21-…` from the binary SID.
fn sid_string(bytes: &[u8]) -> Option<String> {
    if bytes.len() < 8 || bytes.len() != 8 + 4 * usize::from(bytes[1]) {
        return None;
    }
    let authority = bytes[2..8].iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let subs: Vec<String> =
        bytes[8..].chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string()).collect();
    Some(format!("S-{}-{authority}-{}", bytes[0], subs.join("-")))
}

/// The GUID string of 16 bytes in .NET order (`deviceId`).
fn guid_string(bytes: &[u8]) -> Option<String> {
    let b: [u8; 16] = bytes.try_into().ok()?;
    Some(uuid::Uuid::from_bytes_le(b).to_string())
}

fn get_string(o: &SyncObject, key: &str) -> J {
    o.string(key).map_or(J::Null, |s| J::String(s.to_owned()))
}

fn get_bool(o: &SyncObject, key: &str) -> J {
    match o.get(key) {
        Some(Value::Bool(b)) => J::Bool(*b),
        _ => J::Null,
    }
}

fn get_list(o: &SyncObject, key: &str) -> J {
    match o.get(key) {
        Some(Value::StringList(l)) => json!(l),
        _ => json!([]),
    }
}

fn sid(o: &SyncObject) -> J {
    match o.get("onPremiseSecurityIdentifier") {
        Some(Value::Binary(b)) => sid_string(b).map_or(J::Null, J::String),
        _ => J::Null,
    }
}

/// Graph's view of one object (the sync attributes under their Graph names).
fn resource(o: &SyncObject) -> Map<String, J> {
    let synced = o.source_anchor.is_some();
    let mut m = Map::new();
    m.insert("id".into(), json!(o.object_id));
    m.insert("displayName".into(), get_string(o, "displayName"));
    m.insert("onPremisesSyncEnabled".into(), if synced { J::Bool(true) } else { J::Null });
    m.insert("onPremisesSecurityIdentifier".into(), sid(o));
    m.insert("onPremisesSamAccountName".into(), get_string(o, "onPremisesSamAccountName"));
    m.insert("onPremisesDomainName".into(), get_string(o, "dnsDomainName"));
    match o.object_type {
        ObjectType::User | ObjectType::Contact => {
            m.insert("userPrincipalName".into(), get_string(o, "userPrincipalName"));
            m.insert("onPremisesImmutableId".into(), o.source_anchor.clone().map_or(J::Null, J::String));
            m.insert("accountEnabled".into(), get_bool(o, "accountEnabled"));
            m.insert("givenName".into(), get_string(o, "givenName"));
            m.insert("surname".into(), get_string(o, "surname"));
            m.insert("mail".into(), get_string(o, "mail"));
            m.insert("onPremisesDistinguishedName".into(), get_string(o, "onPremisesDistinguishedName"));
            m.insert("onPremisesNetBiosName".into(), get_string(o, "netBiosName"));
            m.insert("officeLocation".into(), get_string(o, "physicalDeliveryOfficeName"));
            m.insert("jobTitle".into(), get_string(o, "title"));
            m.insert("department".into(), get_string(o, "department"));
            m.insert("companyName".into(), get_string(o, "company"));
            m.insert("mobilePhone".into(), get_string(o, "mobile"));
            m.insert("faxNumber".into(), get_string(o, "facsimileTelephoneNumber"));
            let phone = o.string("telephoneNumber").map_or_else(|| json!([]), |p| json!([p]));
            m.insert("businessPhones".into(), phone);
            m.insert("proxyAddresses".into(), get_list(o, "proxyAddresses"));
        }
        ObjectType::Group => {
            m.insert("mail".into(), get_string(o, "mail"));
            m.insert("securityEnabled".into(), get_bool(o, "securityEnabled"));
            m.insert("mailEnabled".into(), J::Bool(false));
            m.insert("description".into(), get_string(o, "description"));
            m.insert("proxyAddresses".into(), get_list(o, "proxyAddresses"));
        }
        ObjectType::Device => {
            let device_id = match o.get("deviceId") {
                Some(Value::Binary(b)) => guid_string(b).map_or(J::Null, J::String),
                _ => J::Null,
            };
            m.insert("deviceId".into(), device_id);
            m.insert("accountEnabled".into(), get_bool(o, "accountEnabled"));
            m.insert("operatingSystem".into(), get_string(o, "deviceOSType"));
            m.insert("operatingSystemVersion".into(), get_string(o, "deviceOSVersion"));
            m.insert("trustType".into(), get_string(o, "deviceTrustType"));
        }
    }
    m
}

fn list(app: &App, headers: &HeaderMap, query: &HashMap<String, String>, kind: ObjectType, path: &str) -> Response {
    if let Some(r) = refuse(app, headers) {
        return r;
    }
    let graph_type = match kind {
        ObjectType::User => "user",
        ObjectType::Group => "group",
        _ => "device",
    };
    let top = match query.get("$top").map(|t| t.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=999).contains(&n) => n,
        Some(_) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                "Invalid page size specified: $top must be 1 to 999.",
            );
        }
    };
    let skip = match query.get("$skiptoken").map(|t| t.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", "Invalid $skiptoken."),
    };
    let all: Vec<Map<String, J>> = {
        let tenant = lock(&app.tenant);
        let kinds: &[ObjectType] = if kind == ObjectType::User { &[ObjectType::User] } else { &[kind] };
        kinds.iter().flat_map(|k| tenant.objects(Some(*k))).map(resource).collect()
    };
    let select: Option<Vec<String>> =
        query.get("$select").map(|s| s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect());
    if let (Some(select), Some(sample)) = (&select, all.first().cloned().or_else(|| Some(resource_template(kind)))) {
        for property in select {
            if !sample.keys().any(|k| k.eq_ignore_ascii_case(property)) {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "Request_BadRequest",
                    format!("Could not find a property named '{property}' on type 'microsoft.graph.{graph_type}'."),
                );
            }
        }
    }
    let page: Vec<J> = all
        .iter()
        .skip(skip)
        .take(top)
        .map(|item| match &select {
            None => J::Object(item.clone()),
            Some(select) => J::Object(
                item.iter()
                    .filter(|(k, _)| *k == "id" || select.iter().any(|s| s.eq_ignore_ascii_case(k)))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        })
        .collect();
    let base = app.settings.base_url_for(headers);
    let mut body = json!({"@odata.context": format!("{base}/v1.0/$metadata#{path}"), "value": page});
    if skip + top < all.len() {
        let mut next = format!("{base}/v1.0/{path}?$top={top}&$skiptoken={}", skip + top);
        if let Some(select) = &select {
            next.push_str(&format!("&$select={}", select.join(",")));
        }
        body["@odata.nextLink"] = J::String(next);
    }
    Json(body).into_response()
}

/// The property names of a type, for `$select` checks on an empty list.
fn resource_template(kind: ObjectType) -> Map<String, J> {
    let o = SyncObject {
        object_id: uuid::Uuid::nil(),
        object_type: kind,
        source_anchor: None,
        attributes: Default::default(),
        members: Vec::new(),
        created_at_ms: 0,
        seq: 0,
        credential: None,
    };
    resource(&o)
}

pub(super) async fn users(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    list(&app, &headers, &q, ObjectType::User, "users")
}

pub(super) async fn groups(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    list(&app, &headers, &q, ObjectType::Group, "groups")
}

pub(super) async fn devices(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    list(&app, &headers, &q, ObjectType::Device, "devices")
}

fn organization_json(app: &App) -> J {
    let tenant = lock(&app.tenant);
    json!({
        "id": tenant.info.tenant_id,
        "displayName": tenant.info.display_name,
        "onPremisesSyncEnabled": tenant.info.dirsync_enabled,
        "verifiedDomains": [{"name": tenant.info.initial_domain, "isInitial": true, "isDefault": true}],
    })
}

pub(super) async fn organization(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(r) = refuse(&app, &headers) {
        return r;
    }
    Json(json!({"value": [organization_json(&app)]})).into_response()
}

/// `PATCH /v1.0/organization/{id}` with `{"onPremisesSyncEnabled": true}` → 204.
pub(super) async fn patch_organization(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = refuse(&app, &headers) {
        return r;
    }
    let tenant_id = app.tokens.settings.tenant_id;
    if !id.eq_ignore_ascii_case(&tenant_id.to_string()) {
        return graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist."),
        );
    }
    let Ok(J::Object(fields)) = serde_json::from_slice::<J>(&body) else {
        return graph_error(StatusCode::BAD_REQUEST, "BadRequest", "The body must be a JSON object.");
    };
    for (key, value) in fields {
        if !key.eq_ignore_ascii_case("onPremisesSyncEnabled") {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                format!("Property '{key}' cannot be updated on the organization by this emulator."),
            );
        }
        let Some(enabled) = value.as_bool() else {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                "onPremisesSyncEnabled must be a boolean.",
            );
        };
        if let Err(e) = lock(&app.tenant).set_dirsync_enabled(enabled) {
            return graph_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", e.to_string());
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_and_guid_strings() {
        let sid = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            "AQUAAAAAAAUVAAAAwM8SUMELJU0m/cWzfAQAAA==",
        )
        .expect("base64");
        assert_eq!(sid_string(&sid).as_deref(), Some("S-1-5-21-1343410112-1294273473-3016097062-1148"));
        let guid = [0x91, 0x98, 0xfb, 0x9e, 0x21, 0xae, 0x6b, 0x41, 0xb3, 0xf7, 0x69, 0x88, 0x0c, 0x29, 0x7e, 0x4f];
        assert_eq!(guid_string(&guid).as_deref(), Some("9efb9891-ae21-416b-b3f7-69880c297e4f"));
    }
}
