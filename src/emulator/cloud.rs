//! Objects made and managed in the cloud, not by the sync client: cloud-only users and groups
//! (UPN, proxy addresses, an optional `onPremisesImmutableId`, optional directory roles), and
//! the source of authority of an object (`onPremisesSyncBehavior.isCloudManaged`). Reached
//! through the admin API (`POST /admin/objects`, `PATCH /admin/objects/{anchor}/cloud`) and the
//! Graph facade (`POST /v1.0/users`, `POST /v1.0/groups`,
//! `POST /v1.0/roleManagement/directory/roleAssignments`, `PATCH …/onPremisesSyncBehavior`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as J, json};
use uuid::Uuid;

use super::graph::{graph_error, refuse, resource};
use super::model::{Attribute, ObjectType, SyncObject, Value, parse_cloud_anchor};
use super::store::StoreError;
use super::tenant::Tenant;
use super::{App, admin, clock, tokens};

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a new cloud-only object is made of.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCloudObject {
    #[serde(default = "user_type")]
    pub object_type: String,
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    pub mail: Option<String>,
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
    pub on_premises_immutable_id: Option<String>,
    /// Directory roles (names or template ids).
    #[serde(default)]
    pub roles: Vec<String>,
}

fn user_type() -> String {
    "User".to_owned()
}

/// Why a cloud change was refused (the HTTP layers word it their way).
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Tenant {
    /// Creates a cloud-only object (no SourceAnchor).
    pub fn create_cloud_object(&mut self, new: NewCloudObject, now_ms: i64) -> Result<Uuid, CloudError> {
        let kind = ObjectType::parse_loose(&new.object_type)
            .filter(|k| matches!(k, ObjectType::User | ObjectType::Group | ObjectType::Contact))
            .ok_or_else(|| {
                CloudError::Invalid(format!("objectType {:?}: use User, Group or Contact", new.object_type))
            })?;
        let roles = new
            .roles
            .iter()
            .map(|r| tokens::role_id(r).ok_or_else(|| CloudError::Invalid(format!("unknown role {r:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if kind == ObjectType::User {
            let upn = new.user_principal_name.as_deref().unwrap_or_default();
            if !upn.contains('@') {
                return Err(CloudError::Invalid("a user needs a userPrincipalName like name@domain".into()));
            }
            if self.upns.contains_key(&upn.to_lowercase()) {
                return Err(CloudError::Conflict(format!(
                    "Another object with the same value for property userPrincipalName already exists: {upn}"
                )));
            }
        }
        if let Some(taken) = new.proxy_addresses.iter().find(|a| self.proxies.contains_key(&a.to_lowercase())) {
            return Err(CloudError::Conflict(format!(
                "Another object with the same value for property proxyAddresses already exists: {taken}"
            )));
        }
        self.next_seq += 1;
        let mut object = SyncObject::new(kind, now_ms, self.next_seq - 1);
        let mut set = |key: &str, value: Value| {
            object.attributes.insert(key.to_ascii_lowercase(), Attribute { key: key.to_owned(), value });
        };
        if let Some(upn) = new.user_principal_name.filter(|_| kind == ObjectType::User) {
            set("userPrincipalName", Value::String(upn));
        }
        if let Some(name) = new.display_name {
            set("displayName", Value::String(name));
        }
        if let Some(mail) = new.mail {
            set("mail", Value::String(mail));
        }
        if !new.proxy_addresses.is_empty() {
            set("proxyAddresses", Value::StringList(new.proxy_addresses));
        }
        object.cloud.immutable_id = new.on_premises_immutable_id.filter(|i| !i.is_empty());
        object.cloud.roles = roles;
        let id = object.object_id;
        self.index(&object);
        self.store.persist([&object], &[])?;
        self.objects.insert(id, object);
        Ok(id)
    }

    /// Sets the cloud-side state of an object; `None` leaves a part as it is.
    pub fn set_cloud_state(
        &mut self,
        id: Uuid,
        cloud_managed: Option<bool>,
        add_roles: &[String],
    ) -> Result<bool, StoreError> {
        let Some(object) = self.objects.get_mut(&id) else { return Ok(false) };
        if let Some(managed) = cloud_managed {
            object.cloud.cloud_managed = managed;
        }
        for role in add_roles {
            if !object.cloud.roles.contains(role) {
                object.cloud.roles.push(role.clone());
            }
        }
        let object = &self.objects[&id];
        self.store.persist([object], &[])?;
        Ok(true)
    }
}

fn admin_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// `POST /admin/objects`: a cloud-only object, as an administrator creates it in the portal.
pub async fn admin_create(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let new: NewCloudObject = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, format!("a cloud-only object: {e}")),
    };
    let mut tenant = lock(&app.tenant);
    match tenant.create_cloud_object(new, clock::now_ms()) {
        Ok(id) => match tenant.object(&id) {
            Some(o) => (StatusCode::CREATED, Json(admin::object_json(&tenant, o))).into_response(),
            None => admin_error(StatusCode::INTERNAL_SERVER_ERROR, "the new object vanished"),
        },
        Err(CloudError::Invalid(m)) => admin_error(StatusCode::BAD_REQUEST, m),
        Err(CloudError::Conflict(m)) => admin_error(StatusCode::CONFLICT, m),
        Err(CloudError::Store(e)) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudPatch {
    cloud_managed: Option<bool>,
    #[serde(default)]
    roles: Vec<String>,
}

/// `PATCH /admin/objects/{anchor}/cloud` `{"cloudManaged": bool, "roles": [...]}`.
pub async fn admin_patch(State(app): State<Arc<App>>, Path(anchor): Path<String>, body: Bytes) -> Response {
    let patch: CloudPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return admin_error(StatusCode::BAD_REQUEST, format!("expected {{\"cloudManaged\", \"roles\"}}: {e}"));
        }
    };
    let mut roles = Vec::new();
    for r in &patch.roles {
        match tokens::role_id(r) {
            Some(id) => roles.push(id),
            None => return admin_error(StatusCode::BAD_REQUEST, format!("unknown role {r:?}")),
        }
    }
    let mut tenant = lock(&app.tenant);
    let Some(id) = admin::find(&tenant, &anchor).map(|o| o.object_id) else {
        return admin_error(StatusCode::NOT_FOUND, format!("no object has the anchor {anchor:?}"));
    };
    if let Err(e) = tenant.set_cloud_state(id, patch.cloud_managed, &roles) {
        return admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    match tenant.object(&id) {
        Some(o) => Json(admin::object_json(&tenant, o)).into_response(),
        None => admin_error(StatusCode::NOT_FOUND, "gone"),
    }
}

fn graph_created(tenant: &Tenant, result: Result<Uuid, CloudError>) -> Response {
    match result {
        Ok(id) => match tenant.object(&id) {
            Some(o) => (StatusCode::CREATED, Json(J::Object(resource(o)))).into_response(),
            None => graph_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "The object vanished."),
        },
        Err(CloudError::Invalid(m)) => graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", m),
        Err(CloudError::Conflict(m)) => graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", m),
        Err(CloudError::Store(e)) => {
            graph_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", e.to_string())
        }
    }
}

fn body_object(body: &Bytes) -> Option<serde_json::Map<String, J>> {
    match serde_json::from_slice::<J>(body) {
        Ok(J::Object(map)) => Some(map),
        _ => None,
    }
}

fn not_an_object() -> Response {
    graph_error(StatusCode::BAD_REQUEST, "BadRequest", "The body must be a JSON object.")
}

fn text(map: &serde_json::Map<String, J>, key: &str) -> Option<String> {
    map.get(key).and_then(J::as_str).map(str::to_owned)
}

/// `POST /v1.0/users` (Graph docs "Create user"): `accountEnabled`, `displayName`,
/// `mailNickname`, `userPrincipalName`, `passwordProfile` are required; `onPremisesImmutableId`
/// and `mail` are taken.
pub async fn graph_create_user(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = refuse(&app, &headers) {
        return r;
    }
    let Some(map) = body_object(&body) else { return not_an_object() };
    for required in ["accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile"] {
        if !map.contains_key(required) {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                format!("Property '{required}' is required when creating the entity."),
            );
        }
    }
    let mail = text(&map, "mail");
    let new = NewCloudObject {
        object_type: "User".into(),
        user_principal_name: text(&map, "userPrincipalName"),
        display_name: text(&map, "displayName"),
        proxy_addresses: mail.iter().map(|m| format!("SMTP:{m}")).collect(),
        mail,
        on_premises_immutable_id: text(&map, "onPremisesImmutableId"),
        roles: Vec::new(),
    };
    let mut tenant = lock(&app.tenant);
    let result = tenant.create_cloud_object(new, clock::now_ms());
    graph_created(&tenant, result)
}

/// `POST /v1.0/groups` (Graph docs "Create group"): `displayName`, `mailEnabled`,
/// `mailNickname`, `securityEnabled`; a mail-enabled group gets `SMTP:<nickname>@<initial domain>`.
pub async fn graph_create_group(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = refuse(&app, &headers) {
        return r;
    }
    let Some(map) = body_object(&body) else { return not_an_object() };
    for required in ["displayName", "mailEnabled", "mailNickname", "securityEnabled"] {
        if !map.contains_key(required) {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                format!("Property '{required}' is required when creating the entity."),
            );
        }
    }
    let mut tenant = lock(&app.tenant);
    let mail = (map.get("mailEnabled") == Some(&J::Bool(true)))
        .then(|| format!("{}@{}", text(&map, "mailNickname").unwrap_or_default(), tenant.info.initial_domain));
    let new = NewCloudObject {
        object_type: "Group".into(),
        display_name: text(&map, "displayName"),
        proxy_addresses: mail.iter().map(|m| format!("SMTP:{m}")).collect(),
        mail,
        ..NewCloudObject::default()
    };
    let result = tenant.create_cloud_object(new, clock::now_ms());
    graph_created(&tenant, result)
}

/// `POST /v1.0/roleManagement/directory/roleAssignments` with `principalId`,
/// `roleDefinitionId` (a role template id) and `directoryScopeId` `/` (Graph docs "Create
/// unifiedRoleAssignment").
pub async fn graph_assign_role(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = refuse(&app, &headers) {
        return r;
    }
    let Some(map) = body_object(&body) else { return not_an_object() };
    let bad = |m: &str| graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", m.to_owned());
    let Some(principal) = text(&map, "principalId").and_then(|p| Uuid::parse_str(&p).ok()) else {
        return bad("principalId must be the object id of a user.");
    };
    let Some(role) = text(&map, "roleDefinitionId").and_then(|r| tokens::role_id(&r)) else {
        return bad("roleDefinitionId must be a role template id.");
    };
    if text(&map, "directoryScopeId").as_deref() != Some("/") {
        return bad("directoryScopeId must be '/' (the emulator models tenant-wide roles only).");
    }
    let mut tenant = lock(&app.tenant);
    if tenant.object(&principal).is_none_or(|o| o.object_type != ObjectType::User) {
        return graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{principal}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    }
    match tenant.set_cloud_state(principal, None, std::slice::from_ref(&role)) {
        Ok(_) => (
            StatusCode::CREATED,
            Json(json!({
                "id": Uuid::new_v4(),
                "principalId": principal,
                "roleDefinitionId": role,
                "directoryScopeId": "/",
            })),
        )
            .into_response(),
        Err(e) => graph_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", e.to_string()),
    }
}

/// `PATCH /v1.0/{users|groups|contacts}/{id}/onPremisesSyncBehavior` `{"isCloudManaged": bool}`
/// → 204 (Graph docs "Update onPremisesSyncBehavior"); `GET` answers the setting.
pub async fn graph_patch_sync_behavior(
    app: Arc<App>,
    headers: HeaderMap,
    collection: &'static str,
    id: String,
    body: Bytes,
) -> Response {
    if let Some(r) = refuse(&app, &headers) {
        return r;
    }
    let Some(map) = body_object(&body) else { return not_an_object() };
    let Some(managed) = map.get("isCloudManaged").and_then(J::as_bool) else {
        return graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", "isCloudManaged must be a boolean.");
    };
    let mut tenant = lock(&app.tenant);
    let Some(object_id) = synced_object(&tenant, collection, &id) else {
        return not_found(&id);
    };
    match tenant.set_cloud_state(object_id, Some(managed), &[]) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => graph_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", e.to_string()),
    }
}

pub async fn graph_get_sync_behavior(
    app: Arc<App>,
    headers: HeaderMap,
    collection: &'static str,
    id: String,
) -> Response {
    if let Some(r) = refuse(&app, &headers) {
        return r;
    }
    let tenant = lock(&app.tenant);
    match synced_object(&tenant, collection, &id).and_then(|o| tenant.object(&o)) {
        Some(o) => Json(json!({"isCloudManaged": o.cloud.cloud_managed})).into_response(),
        None => not_found(&id),
    }
}

fn not_found(id: &str) -> Response {
    graph_error(StatusCode::NOT_FOUND, "Request_ResourceNotFound", format!("Resource '{id}' does not exist."))
}

/// The object of a Graph collection by object id (or a CloudAnchor, for people typing URLs).
fn synced_object(tenant: &Tenant, collection: &str, id: &str) -> Option<Uuid> {
    let kind = match collection {
        "users" => ObjectType::User,
        "groups" => ObjectType::Group,
        "contacts" | "orgContacts" => ObjectType::Contact,
        _ => return None,
    };
    let id = Uuid::parse_str(id).ok().or_else(|| parse_cloud_anchor(id).map(|(_, id)| id))?;
    tenant.object(&id).filter(|o| o.object_type == kind).map(|o| o.object_id)
}

#[cfg(test)]
mod tests {
    use super::super::model::{ObjectChange, Property, PropertyValue, SyncOperation};
    use super::super::rules;
    use super::super::tenant::{ProvisionContext, TenantSeed};
    use super::super::timeline::ServiceDate;
    use super::*;

    fn tenant(features: i64) -> Tenant {
        let seed = TenantSeed {
            tenant_id: None,
            display_name: "t".into(),
            initial_domain: "t.onmicrosoft.com".into(),
            dirsync_enabled: true,
            dirsync_features: features,
            anchor_attribute: None,
        };
        Tenant::open(None, &seed).expect("tenant")
    }

    fn ctx() -> ProvisionContext {
        ProvisionContext {
            now_ms: 1,
            replication_delay_ms: 0,
            report_unresolved_members: true,
            unknown_delete_fails: true,
            delta_members_allowed: false,
            max_links: None,
            service_date: ServiceDate::ymd(2026, 12, 5),
        }
    }

    fn user(anchor: &str, upn: &str) -> ObjectChange {
        let p = |k: &str, v: &str| Property { key: k.into(), value: PropertyValue::Value(Value::String(v.into())) };
        ObjectChange {
            properties: vec![p("SourceAnchor", anchor), p("userPrincipalName", upn)],
            object_type: ObjectType::User,
            operation: SyncOperation::Set,
        }
    }

    fn cloud_user(t: &mut Tenant, upn: &str, immutable_id: Option<&str>, roles: &[&str]) -> Uuid {
        let new = NewCloudObject {
            user_principal_name: Some(upn.into()),
            on_premises_immutable_id: immutable_id.map(str::to_owned),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            ..NewCloudObject { object_type: "User".into(), ..Default::default() }
        };
        t.create_cloud_object(new, 0).expect("cloud user")
    }

    #[test]
    fn soft_and_hard_match_keep_the_cloud_id_unless_blocked_or_a_role_holder() {
        let mut t = tenant(0);
        let soft = cloud_user(&mut t, "a@x", None, &[]);
        let hard = cloud_user(&mut t, "b.cloud@x", Some("QkI="), &[]);
        let admin = cloud_user(&mut t, "c@x", None, &["Global Administrator"]);
        let (r, _) =
            t.provision(&[user("QUE=", "a@x"), user("QkI=", "b@x"), user("Q0M=", "c@x")], &ctx()).expect("call");
        assert_eq!(r[0].cloud_anchor, Some(format!("User_{soft}")), "{r:?}");
        assert_eq!(r[1].cloud_anchor, Some(format!("User_{hard}")), "{r:?}");
        assert!(!r[2].success && r[2].description.as_deref().unwrap_or("").starts_with("AdminRoleConflict"), "{r:?}");
        assert!(t.object(&admin).is_some_and(|o| o.source_anchor.is_none()));

        let mut blocked = tenant(rules::BLOCK_SOFT_MATCH | rules::BLOCK_HARD_MATCH_TAKEOVER);
        cloud_user(&mut blocked, "a@x", None, &[]);
        cloud_user(&mut blocked, "b.cloud@x", Some("QkI="), &[]);
        let (r, writes) =
            blocked.provision(&[user("QUE=", "a@x"), user("QkI=", "b@x"), user("RUU=", "e@x")], &ctx()).expect("call");
        assert!(r[0].description.as_deref().unwrap_or("").contains("(BlockSoftMatch)"), "{r:?}");
        assert!(r[1].description.as_deref().unwrap_or("").contains("BlockCloudObjectTakeoverThroughHardMatch"));
        assert!(r[2].success, "an object that matches nothing is created: {r:?}");
        assert_eq!(writes, 1);
    }

    #[test]
    fn a_cloud_managed_user_takes_no_writes() {
        let mut t = tenant(0);
        let (r, _) = t.provision(&[user("QUE=", "a@x")], &ctx()).expect("call");
        let id = parse_cloud_anchor(r[0].cloud_anchor.as_deref().unwrap_or("")).expect("anchor").1;
        assert!(t.set_cloud_state(id, Some(true), &[]).expect("set"));
        let (r, writes) = t.provision(&[user("QUE=", "renamed@x")], &ctx()).expect("call");
        assert!(!r[0].success && r[0].description.as_deref() == Some(rules::CLOUD_MANAGED));
        assert_eq!(writes, 0);
    }

    #[test]
    fn only_an_administrator_changes_features_from_may_2026() {
        let may = ServiceDate::ymd(2026, 5, 1);
        let app = tokens::Subject { object_id: Uuid::nil(), upn: None, roles: vec![], app_roles: vec![] };
        let sync_user = tokens::Subject::user("sync@x", vec![tokens::DIRECTORY_SYNCHRONIZATION_ACCOUNTS.into()]);
        let admin = tokens::Subject::user("admin@x", vec![tokens::HYBRID_IDENTITY_ADMINISTRATOR.into()]);
        assert!(rules::features_refusal(&app, may).is_some_and(|t| t.contains("An application")));
        assert!(rules::features_refusal(&sync_user, may).is_some());
        assert!(rules::features_refusal(&admin, may).is_none());
        assert!(rules::features_refusal(&app, ServiceDate::ymd(2026, 4, 30)).is_none());
    }
}
