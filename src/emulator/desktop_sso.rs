//! Seamless SSO ("desktop SSO"): the registration service Entra Connect calls to hand Entra the
//! key of the `AZUREADSSOACC` computer account, and the sign-in endpoint that accepts a Kerberos
//! ticket sealed with that key (docs/emulator.md, "Seamless SSO", with the sources of each rule).
//!
//! Registration (`POST /register/{operation}`, Microsoft's `https://{tenant}.registration.
//! msappproxy.net/register/{operation}`): XML in, XML out, the administrator's token inside the
//! body. The emulator keeps, per on-premises domain, only the keys derived from the secret (as
//! Entra must, to read tickets), in memory: a restart forgets registrations. The keys are derived
//! once, at registration: the AES256 key with the account's salt always, the RC4-HMAC key (the
//! secret's NT hash) only while `--seamless-sso-rc4 accept` (the default, as Microsoft's service
//! accepts RC4) is in force. The request names no encryption type (AADInternals' body), so the
//! emulator's setting is what "registered with RC4" means: a domain registered without the RC4
//! key refuses every RC4 ticket, one the KDC issued as much as one forged with the NT hash.
//!
//! Sign-in (`GET /{tenant}/winauth/sso`): `401` with `WWW-Authenticate: Negotiate` until the
//! browser sends `Authorization: Negotiate <SPNEGO>`; then the ticket must be for one of the two
//! SPNs, decrypt with its realm's domain's key of the ticket's encryption type, be valid now, carry an authenticator of the
//! same client, and name by its PAC's SID a synced, enabled user: `200` with that user's
//! userPrincipalName (an emulator extension standing in for Entra's token), `401` otherwise.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;
use zeroize::Zeroizing;

use super::App;
use super::clock;
use super::model::{ObjectType, Value};
use super::tokens::{GLOBAL_ADMINISTRATOR, HYBRID_IDENTITY_ADMINISTRATOR, REGISTER_APP_RESOURCE};
use crate::entra::desktop_sso::escape;
use crate::entra::kerberos::{self, Etype, Key, SSO_SPNS, ticket};
use crate::entra::nbfx::{ElementRef, from_xml};

const NS_REGISTRATION: &str =
    "http://schemas.datacontract.org/2004/07/Microsoft.ApplicationProxy.Common.RegistrationCommons.Registration";
const NS_SECURITY: &str =
    "http://schemas.datacontract.org/2004/07/Microsoft.ApplicationProxy.Common.Security.AadSecurity";
const NS_INSTANCE: &str = "http://www.w3.org/2001/XMLSchema-instance";
const NS_ARRAYS: &str = "http://schemas.microsoft.com/2003/10/Serialization/Arrays";
/// The SPNs Entra accepts tickets for: `HTTP/` + host.
const ACCEPTED_SERVICES: [&str; 2] = SSO_SPNS;

/// One on-premises domain's registration.
pub(crate) struct Registration {
    pub computer_name: String,
    /// AES256 first, then RC4-HMAC when the registration allows it: one key per encryption type.
    keys: Vec<Key>,
    pub registered_at: i64,
    /// 1 for the first registration, +1 for each new secret (a rollover).
    pub key_version: u32,
}

/// The tenant's Seamless SSO state.
#[derive(Default)]
pub(crate) struct DesktopSso {
    /// The tenant-wide switch (`EnableDesktopSsoFlag`).
    pub enabled: bool,
    /// Lower-cased DNS domain name → its registration.
    pub domains: BTreeMap<String, Registration>,
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response()
}

/// `DesktopSsoEnablementResult` (what AADInternals reads: ErrorMessage, IsSuccessful).
fn enablement_result(status: StatusCode, error: Option<&str>) -> Response {
    let message = match error {
        Some(e) => format!("<ErrorMessage>{}</ErrorMessage>", escape(e)),
        None => "<ErrorMessage i:nil=\"true\"/>".to_owned(),
    };
    xml(
        status,
        format!(
            "<DesktopSsoEnablementResult xmlns=\"{NS_REGISTRATION}\" xmlns:i=\"{NS_INSTANCE}\">{message}\
             <IsSuccessful>{}</IsSuccessful></DesktopSsoEnablementResult>",
            error.is_none()
        ),
    )
}

/// A refused registration call: its status and ErrorMessage.
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: impl AsRef<str>) -> Refusal {
        Refusal { status, message: message.as_ref().to_owned() }
    }

    fn into_response(self) -> Response {
        enablement_result(self.status, Some(&self.message))
    }
}

/// The request's root element and the administrator's token inside it, or the refusal.
struct Request {
    root: crate::entra::nbfx::Element,
}

impl Request {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Request, Refusal> {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.to_ascii_lowercase().starts_with("application/xml") {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The request's Content-Type must be application/xml.",
            ));
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, "The request body is not UTF-8."))?;
        let root = from_xml(text)
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("The request is not XML: {e}")))?;
        Ok(Request { root })
    }

    fn view(&self) -> ElementRef<'_> {
        self.root.view()
    }

    fn field(&self, namespace: &str, name: &str) -> Option<String> {
        self.view().child_text(namespace, name).map(|t| t.trim().to_owned())
    }

    fn expect_root(&self, namespace: &str, name: &str) -> Result<(), Refusal> {
        if self.view().is(namespace, name) {
            Ok(())
        } else {
            Err(Refusal::new(StatusCode::BAD_REQUEST, format!("The request's root element must be {name}.")))
        }
    }

    /// The token of `AuthenticationToken` (namespace AadSecurity): this tenant's, for the
    /// registration service, of a Global or Hybrid Identity Administrator.
    fn authorize(&self, app: &App) -> Result<(), Refusal> {
        let Some(token) = self.field(NS_SECURITY, "AuthenticationToken") else {
            return Err(Refusal::new(StatusCode::UNAUTHORIZED, "AuthenticationToken is missing."));
        };
        let subject = app.tokens.verify_access_token(&token, &[REGISTER_APP_RESOURCE], false, None).map_err(|why| {
            tracing::info!("Seamless SSO registration refused: {why}");
            Refusal::new(StatusCode::UNAUTHORIZED, "The authentication token is not valid for this service.")
        })?;
        let admin = subject.roles.iter().any(|r| r == GLOBAL_ADMINISTRATOR || r == HYBRID_IDENTITY_ADMINISTRATOR);
        if subject.upn.is_none() || !admin {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "Only a Global Administrator or a Hybrid Identity Administrator may configure Seamless SSO.",
            ));
        }
        Ok(())
    }

    fn flag(&self, name: &str) -> Result<bool, Refusal> {
        match self.field(NS_REGISTRATION, name).as_deref() {
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            _ => Err(Refusal::new(StatusCode::BAD_REQUEST, format!("{name} must be true or false."))),
        }
    }
}

/// `POST /register/{operation}`.
pub async fn register(
    State(app): State<Arc<App>>,
    Path(operation): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match Request::parse(&headers, &body) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    let result = match operation.as_str() {
        "EnableDesktopSsoFlag" => enable_flag(&app, &request),
        "EnableDesktopSso" => enable_domain(&app, &request),
        "GetDesktopSsoStatus" => status(&app, &request),
        _ => Err(Refusal::new(StatusCode::NOT_FOUND, format!("Unknown operation {operation}."))),
    };
    result.unwrap_or_else(Refusal::into_response)
}

fn enable_flag(app: &App, request: &Request) -> Result<Response, Refusal> {
    request.expect_root(NS_REGISTRATION, "DesktopSsoEnablementRequest")?;
    request.authorize(app)?;
    let enable = request.flag("Enable")?;
    lock(&app.desktop_sso).enabled = enable;
    tracing::info!(enable, "Seamless SSO switched");
    Ok(enablement_result(StatusCode::OK, None))
}

fn enable_domain(app: &App, request: &Request) -> Result<Response, Refusal> {
    request.expect_root(NS_REGISTRATION, "DesktopSsoRequest")?;
    request.authorize(app)?;
    let required = |name: &str| {
        request
            .field(NS_REGISTRATION, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, format!("{name} is required.")))
    };
    let computer_name = required("ComputerName")?;
    let domain = required("DomainName")?.to_ascii_lowercase();
    let enable = request.flag("Enable")?;
    let mut sso = lock(&app.desktop_sso);
    if !enable {
        let removed = sso.domains.remove(&domain).is_some();
        tracing::info!(%domain, removed, "Seamless SSO domain unregistered");
        return Ok(enablement_result(StatusCode::OK, None));
    }
    let secret = Zeroizing::new(required("Secret")?);
    let mut keys = vec![kerberos::computer_key(&secret, &domain, &computer_name)];
    if app.settings.seamless_sso_rc4 {
        keys.push(kerberos::computer_rc4_key(&secret));
    }
    drop(secret);
    let key_version = sso.domains.get(&domain).map_or(1, |r| r.key_version + 1);
    let registration = Registration { computer_name, keys, registered_at: clock::now_secs(), key_version };
    tracing::info!(
        %domain,
        computer_name = %registration.computer_name,
        key_version,
        encryption_types = %registration.encryption_types().join(", "),
        "Seamless SSO domain registered"
    );
    sso.domains.insert(domain, registration);
    Ok(enablement_result(StatusCode::OK, None))
}

/// `DesktopSsoStatusResult`: Domains, Enable, ErrorMessage, Exists, IsSuccessful.
fn status(app: &App, request: &Request) -> Result<Response, Refusal> {
    request.expect_root(NS_SECURITY, "TokenAuthenticationRequest")?;
    request.authorize(app)?;
    let sso = lock(&app.desktop_sso);
    let domains: String =
        sso.domains.keys().map(|d| format!("<a:string>{}</a:string>", escape(d))).collect::<Vec<_>>().concat();
    Ok(xml(
        StatusCode::OK,
        format!(
            "<DesktopSsoStatusResult xmlns=\"{NS_REGISTRATION}\" xmlns:i=\"{NS_INSTANCE}\">\
             <Domains xmlns:a=\"{NS_ARRAYS}\">{domains}</Domains><Enable>{}</Enable>\
             <ErrorMessage i:nil=\"true\"/><Exists>{}</Exists><IsSuccessful>true</IsSuccessful>\
             </DesktopSsoStatusResult>",
            sso.enabled,
            !sso.domains.is_empty()
        ),
    ))
}

impl Registration {
    /// The names of the encryption types this registration holds a key for.
    fn encryption_types(&self) -> Vec<&'static str> {
        self.keys.iter().map(|k| k.etype().name()).collect()
    }

    /// The key for a ticket sealed with encryption type `etype`, if this registration has one.
    fn key_for(&self, etype: i64) -> Option<&Key> {
        let wanted = Etype::from_number(etype)?;
        self.keys.iter().find(|k| k.etype() == wanted)
    }
}

/// `GET /admin/desktop-sso`: the switch and the registered domains (never a key).
pub async fn admin_state(State(app): State<Arc<App>>) -> Response {
    let sso = lock(&app.desktop_sso);
    let domains: Vec<_> = sso
        .domains
        .iter()
        .map(|(domain, r)| {
            json!({"domainName": domain, "computerName": r.computer_name, "registeredAt": r.registered_at,
                   "keyVersion": r.key_version, "encryptionType": r.encryption_types().join(", "),
                   "encryptionTypes": r.encryption_types()})
        })
        .collect();
    Json(json!({"enabled": sso.enabled, "domains": domains})).into_response()
}

fn negotiate_challenge(reason: &str) -> Response {
    tracing::info!("Seamless SSO sign-in refused: {reason}");
    let mut response =
        (StatusCode::UNAUTHORIZED, Json(json!({"error": "interaction_required", "reason": reason}))).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Negotiate"));
    response
}

/// `GET /{tenant}/winauth/sso`.
pub async fn winauth_sso(State(app): State<Arc<App>>, Path(tenant): Path<String>, headers: HeaderMap) -> Response {
    if !app.tokens.knows_tenant(&tenant) {
        return (StatusCode::NOT_FOUND, Json(json!({"error": format!("unknown tenant {tenant}")}))).into_response();
    }
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Negotiate ").or_else(|| v.strip_prefix("negotiate ")))
    else {
        // The first leg of every Negotiate exchange (RFC 4559 §4).
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Negotiate"));
        return response;
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(token.trim()) else {
        return negotiate_challenge("the Negotiate token is not base64");
    };
    let ap = match ticket::ap_req_from_negotiate(&bytes) {
        Ok(ap) => ap,
        Err(e) => return negotiate_challenge(&e.to_string()),
    };
    let accepted = {
        let sso = lock(&app.desktop_sso);
        if !sso.enabled {
            return negotiate_challenge("Seamless SSO is not enabled for the tenant");
        }
        let realm = ap.ticket.realm.to_ascii_lowercase();
        let Some(registration) = sso.domains.get(&realm) else {
            return negotiate_challenge(&format!("no Seamless SSO registration for the realm {}", ap.ticket.realm));
        };
        let etype = ap.ticket.enc_part.etype;
        let Some(key) = registration.key_for(etype) else {
            let name =
                Etype::from_number(etype).map_or_else(|| format!("encryption type {etype}"), |e| e.name().to_owned());
            return negotiate_challenge(&format!(
                "the ticket is sealed with {name}, and the registration of {realm} holds no {name} key (it holds {})",
                registration.encryption_types().join(", ")
            ));
        };
        match kerberos::accept(&ap, key, &ACCEPTED_SERVICES, clock::now_secs()) {
            Ok(a) => a,
            Err(e) => return negotiate_challenge(&e.to_string()),
        }
    };
    let tenant_state = lock(&app.tenant);
    let user = tenant_state.objects(Some(ObjectType::User)).into_iter().find(|o| {
        o.source_anchor.is_some()
            && matches!(o.get("onPremiseSecurityIdentifier"), Some(Value::Binary(sid)) if *sid == accepted.user_sid)
    });
    let Some(user) = user else {
        return negotiate_challenge(&format!("{} (by its SID) is no synced user", accepted.client));
    };
    if matches!(user.get("accountEnabled"), Some(Value::Bool(false))) {
        return negotiate_challenge(&format!("{} is disabled", accepted.client));
    }
    let upn = user.string("userPrincipalName").unwrap_or_default().to_owned();
    tracing::info!(client = %accepted.client, %upn, "Seamless SSO sign-in");
    Json(json!({
        "userPrincipalName": upn,
        "objectId": user.object_id,
        "kerberosClient": accepted.client,
        "ticketEndTime": accepted.endtime,
    }))
    .into_response()
}
