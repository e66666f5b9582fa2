//! The sign-in service: device codes, refresh tokens with rotation, client credentials with a
//! certificate assertion, and the access tokens the sync endpoint and the Graph facade accept
//! (docs/emulator.md, "Sign-in").

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::clock;
use super::jwt::{self, b64url};
use super::timeline::ServiceDate;

pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const DIRECTORY_SYNCHRONIZATION_ACCOUNTS: &str = "d29b2b05-8046-44ba-8758-1e26182fcf32";
pub const HYBRID_IDENTITY_ADMINISTRATOR: &str = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2";
/// Azure AD Graph, the audience of sync tokens, in the spellings real tokens carry.
pub(super) const AAD_GRAPH_AUDIENCES: [&str; 3] =
    ["https://graph.windows.net", "https://graph.windows.net/", "00000002-0000-0000-c000-000000000000"];
pub(super) const MS_GRAPH_AUDIENCES: [&str; 3] =
    ["https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"];
/// "Microsoft Entra AD Synchronization Service", the app the sync endpoint runs as since build
/// 2.5.79.0; every tenant that syncs has its service principal.
pub(super) const SYNC_APP_ID: &str = "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016";
/// The resource of the Seamless SSO registration service's tokens (AADInternals
/// `Set-AADIntDesktopSSO`): the tenant issues them, `desktop_sso` takes them.
pub(super) const REGISTER_APP_RESOURCE: &str = "https://proxy.cloudwebappproxy.net/registerapp";
/// The sync app's application role a sync app registration needs (Learn `authenticate-application-id`).
pub(super) const SYNC_APP_ROLE: &str = "ADSynchronization.ReadWrite.All";
/// The first-party public clients: the two the open-source ports use, Microsoft's own sync
/// client (`cb1056e2-…`) and Microsoft Graph Command Line Tools (`14d82eec-…`).
pub(super) const DEFAULT_PUBLIC_CLIENTS: [&str; 4] = [
    "1b730954-1685-4b74-9bfd-dac224a7b894",
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
    "cb1056e2-e479-49de-ae31-7812af012ed8",
    "14d82eec-204b-4c2f-b7e8-296a70dab67e",
];
const RESERVED_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];
const DEVICE_CODE_LIFETIME_SECS: i64 = 900;
const CLOCK_SKEW_SECS: i64 = 300;

/// A role given as a name (`Global Administrator`, `global-admin`, …) or a template id.
pub(super) fn role_id(text: &str) -> Option<String> {
    let t = text.trim().to_ascii_lowercase().replace(['-', '_'], " ");
    let id = match t.as_str() {
        "global administrator" | "global admin" | "globaladministrator" => GLOBAL_ADMINISTRATOR,
        "directory synchronization accounts" | "dir sync" | "directory sync" | "sync" => {
            DIRECTORY_SYNCHRONIZATION_ACCOUNTS
        }
        "hybrid identity administrator" | "hybrid identity admin" => HYBRID_IDENTITY_ADMINISTRATOR,
        _ => return Uuid::parse_str(text.trim()).ok().map(|u| u.to_string()),
    };
    Some(id.to_owned())
}

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Subject {
    pub object_id: Uuid,
    /// `None` for an application (client credentials).
    pub upn: Option<String>,
    /// Directory roles (template ids): the token's `wids`.
    pub roles: Vec<String>,
    /// Application roles granted to an application on the sync app: the token's `roles`.
    #[serde(default)]
    pub app_roles: Vec<String>,
}

impl Subject {
    pub(crate) fn user(upn: &str, roles: Vec<String>) -> Subject {
        Subject { object_id: stable_id(&upn.to_lowercase()), upn: Some(upn.to_owned()), roles, app_roles: Vec::new() }
    }
}

/// A stable object id for a name, so a restarted emulator gives the same user the same id.
fn stable_id(name: &str) -> Uuid {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// What a refresh token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub client_id: String,
    pub subject: Subject,
    pub resource: String,
    pub scopes: Vec<String>,
}

/// An OAuth error answer (JSON shape of Entra).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

impl OAuthError {
    pub(crate) fn new(error: &'static str, code: u32, description: impl Into<String>) -> OAuthError {
        let status = if error == "invalid_client" { 401 } else { 400 };
        OAuthError { status, error, code, description: description.into() }
    }

    pub(crate) fn body(&self) -> serde_json::Value {
        let trace = Uuid::new_v4();
        let correlation = Uuid::new_v4();
        let now = clock::rfc3339_ms(clock::now_ms());
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {now}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": "https://login.microsoftonline.com/error?code=".to_owned() + &self.code.to_string(),
        })
    }
}

/// Settings of the sign-in service.
#[derive(Debug, Clone)]
pub(crate) struct TokenSettings {
    pub tenant_id: Uuid,
    pub domains: Vec<String>,
    pub auto_approve: bool,
    pub pending_polls: u32,
    pub poll_interval_secs: u64,
    pub access_token_lifetime_secs: i64,
    pub refresh_token_lifetime_secs: i64,
    pub single_use_refresh_tokens: bool,
    pub public_clients: Vec<String>,
    pub signin_user: String,
    pub signin_roles: Vec<String>,
}

#[derive(Debug, Clone)]
struct DeviceCode {
    user_code: String,
    client_id: String,
    resource: String,
    scopes: Vec<String>,
    expires_at: i64,
    polls: u32,
    approved: Option<Subject>,
    redeemed: bool,
}

/// A certificate registered for a confidential client.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredCertificate {
    pub client_id: String,
    pub der: Vec<u8>,
    pub roles: Vec<String>,
    pub x5t: String,
    pub x5t_s256: String,
}

impl RegisteredCertificate {
    pub(crate) fn new(client_id: &str, der: Vec<u8>, roles: Vec<String>) -> Result<RegisteredCertificate, String> {
        let cert = rustls::pki_types::CertificateDer::from(der.as_slice());
        webpki::EndEntityCert::try_from(&cert).map_err(|e| format!("the certificate cannot be read: {e:?}"))?;
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        let x5t = b64url(sha1.as_ref());
        let x5t_s256 = b64url(&Sha256::digest(&der));
        Ok(RegisteredCertificate { client_id: client_id.to_owned(), der, roles, x5t, x5t_s256 })
    }
}

/// Parses every certificate of a PEM text.
pub(super) fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::pem::PemObject as _;
    let certs: Vec<Vec<u8>> = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()).map_err(|e| format!("the PEM text cannot be read: {e}")))
        .collect::<Result<_, _>>()?;
    if certs.is_empty() {
        return Err("the PEM text contains no CERTIFICATE block".to_owned());
    }
    Ok(certs)
}

/// The token part of the emulator.
pub(crate) struct TokenService {
    key: Zeroizing<Vec<u8>>,
    pub settings: TokenSettings,
    device_codes: Mutex<HashMap<String, DeviceCode>>,
    certificates: Mutex<Vec<RegisteredCertificate>>,
    /// Application roles on the sync app, by client id (lower case).
    app_roles: Mutex<HashMap<String, Vec<String>>>,
}

/// What the token endpoint was asked, after form parsing.
pub(crate) struct TokenRequest<'a> {
    pub form: &'a HashMap<String, String>,
    pub v2: bool,
    /// `scheme://host`, as the client reached the emulator.
    pub base: &'a str,
    pub tenant_path: &'a str,
}

/// Access, refresh and ID token for a grant, plus what the refresh token must be stored as.
pub(crate) struct Issued {
    pub body: serde_json::Value,
    pub refresh: Option<(String, Grant)>,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub(super) fn refresh_token_hash(token: &str) -> String {
    sha256_hex(token)
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // A failing kernel RNG leaves zeros; uniqueness then still comes from the v4 UUID below.
    let _ = getrandom::fill(&mut buf);
    buf.extend_from_slice(Uuid::new_v4().as_bytes());
    b64url(&buf)
}

fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut buf = [0u8; 9];
    let _ = getrandom::fill(&mut buf);
    let id = Uuid::new_v4();
    buf.iter().zip(id.as_bytes()).map(|(a, b)| char::from(ALPHABET[usize::from(a ^ b) % ALPHABET.len()])).collect()
}

impl TokenService {
    pub(crate) fn new(key: Vec<u8>, settings: TokenSettings, certificates: Vec<RegisteredCertificate>) -> TokenService {
        TokenService {
            key: Zeroizing::new(key),
            settings,
            device_codes: Mutex::new(HashMap::new()),
            certificates: Mutex::new(certificates),
            app_roles: Mutex::new(HashMap::new()),
        }
    }

    /// Grants an application role on the sync app to a client (app role assignment).
    pub(crate) fn grant_app_role(&self, client_id: &str, role: &str) {
        if let Ok(mut map) = self.app_roles.lock() {
            let roles = map.entry(client_id.to_ascii_lowercase()).or_default();
            if !roles.iter().any(|r| r == role) {
                roles.push(role.to_owned());
            }
        }
    }

    pub(crate) fn app_roles_of(&self, client_id: &str) -> Vec<String> {
        self.app_roles.lock().ok().and_then(|m| m.get(&client_id.to_ascii_lowercase()).cloned()).unwrap_or_default()
    }

    /// Whether a `/{tenant}/…` path segment names this tenant (id, a domain, `common`,
    /// `organizations`).
    pub(crate) fn knows_tenant(&self, path: &str) -> bool {
        path.eq_ignore_ascii_case(&self.settings.tenant_id.to_string())
            || path.eq_ignore_ascii_case("common")
            || path.eq_ignore_ascii_case("organizations")
            || self.settings.domains.iter().any(|d| d.eq_ignore_ascii_case(path))
    }

    pub(crate) fn unknown_tenant(path: &str) -> OAuthError {
        OAuthError::new(
            "invalid_tenant",
            90002,
            format!(
                "Tenant '{path}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        )
    }

    pub(crate) fn add_certificate(&self, cert: RegisteredCertificate) {
        if let Ok(mut list) = self.certificates.lock() {
            list.retain(|c| !(c.client_id == cert.client_id && c.der == cert.der));
            list.push(cert);
        }
    }

    /// Takes a certificate away from a client (Graph `removeKey`).
    pub(crate) fn remove_certificate(&self, client_id: &str, der: &[u8]) {
        if let Ok(mut list) = self.certificates.lock() {
            list.retain(|c| !(c.client_id.eq_ignore_ascii_case(client_id) && c.der == der));
        }
    }

    fn is_public_client(&self, client_id: &str) -> bool {
        self.settings.public_clients.iter().any(|c| c.eq_ignore_ascii_case(client_id))
    }

    fn check_public_client(&self, form: &HashMap<String, String>) -> Result<String, OAuthError> {
        let client_id = required(form, "client_id")?;
        if !self.is_public_client(&client_id) {
            return Err(OAuthError::new(
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen \
                     if the application has not been installed by the administrator of the tenant (start the \
                     emulator with --public-client {client_id}).",
                    self.settings.tenant_id
                ),
            ));
        }
        Ok(client_id)
    }

    /// Resource and scopes of a request: v2 `scope` or v1 `resource`.
    fn resource_of(form: &HashMap<String, String>, v2: bool) -> Result<(String, Vec<String>), OAuthError> {
        if !v2 {
            let resource = required(form, "resource")?;
            return Ok((known_resource(&resource)?, vec!["openid".to_owned()]));
        }
        let scope = required(form, "scope")?;
        let scopes: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
        resource_from_scopes(&scopes).map(|r| (r, scopes))
    }

    /// `POST /{tenant}/oauth2[/v2.0]/devicecode`.
    pub(crate) fn device_code(
        &self,
        form: &HashMap<String, String>,
        v2: bool,
        base: &str,
    ) -> Result<serde_json::Value, OAuthError> {
        let client_id = self.check_public_client(form)?;
        let (resource, scopes) = Self::resource_of(form, v2)?;
        let device_code = random_token(32);
        let code = user_code();
        let approved = self.settings.auto_approve.then(|| self.default_subject());
        let entry = DeviceCode {
            user_code: code.clone(),
            client_id,
            resource,
            scopes,
            expires_at: clock::now_secs() + DEVICE_CODE_LIFETIME_SECS,
            polls: 0,
            approved,
            redeemed: false,
        };
        if let Ok(mut codes) = self.device_codes.lock() {
            let now = clock::now_secs();
            codes.retain(|_, c| c.expires_at > now);
            codes.insert(device_code.clone(), entry);
        }
        let uri = format!("{base}/devicelogin");
        let message =
            format!("To sign in, use a web browser to open the page {uri} and enter the code {code} to authenticate.");
        let interval = self.settings.poll_interval_secs;
        Ok(if v2 {
            json!({"user_code": code, "device_code": device_code, "verification_uri": uri,
                   "expires_in": DEVICE_CODE_LIFETIME_SECS, "interval": interval, "message": message})
        } else {
            json!({"user_code": code, "device_code": device_code, "verification_url": uri,
                   "expires_in": DEVICE_CODE_LIFETIME_SECS.to_string(), "interval": interval.to_string(),
                   "message": message})
        })
    }

    fn default_subject(&self) -> Subject {
        Subject::user(&self.settings.signin_user, self.settings.signin_roles.clone())
    }

    /// `POST /admin/device-codes/{user_code}/approve`; false when no pending code matches.
    pub(crate) fn approve(&self, code: &str, upn: Option<&str>, roles: Option<Vec<String>>) -> bool {
        let subject = Subject::user(
            upn.unwrap_or(&self.settings.signin_user),
            roles.unwrap_or_else(|| self.settings.signin_roles.clone()),
        );
        let Ok(mut codes) = self.device_codes.lock() else { return false };
        let now = clock::now_secs();
        match codes.values_mut().find(|c| c.user_code.eq_ignore_ascii_case(code) && !c.redeemed && c.expires_at > now) {
            Some(entry) => {
                entry.approved = Some(subject);
                true
            }
            None => false,
        }
    }

    /// The device-code grant: pending, expired, or the grant to issue tokens for.
    pub(crate) fn redeem_device_code(&self, form: &HashMap<String, String>) -> Result<Grant, OAuthError> {
        let client_id = self.check_public_client(form)?;
        let code = form
            .get("device_code")
            .or_else(|| form.get("code"))
            .filter(|c| !c.is_empty())
            .ok_or_else(|| missing("device_code"))?;
        let mut codes = self.device_codes.lock().map_err(|_| server_error())?;
        let entry = codes.get_mut(code).ok_or_else(|| {
            OAuthError::new("invalid_grant", 70000, "The provided value for the 'device_code' is not valid.")
        })?;
        if entry.client_id != client_id {
            return Err(OAuthError::new("invalid_grant", 70000, "The device_code was issued to another client."));
        }
        if entry.redeemed {
            return Err(OAuthError::new("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed."));
        }
        if clock::now_secs() >= entry.expires_at {
            return Err(OAuthError::new("expired_token", 70020, "The provided device code has expired."));
        }
        entry.polls += 1;
        let waiting = self.settings.auto_approve && entry.polls <= self.settings.pending_polls;
        match (&entry.approved, waiting) {
            (Some(subject), false) => {
                entry.redeemed = true;
                Ok(Grant {
                    client_id,
                    subject: subject.clone(),
                    resource: entry.resource.clone(),
                    scopes: entry.scopes.clone(),
                })
            }
            _ => Err(OAuthError::new(
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )),
        }
    }

    /// The refresh-token grant: the stored grant of a presented token (looked up by the caller).
    pub(crate) fn refresh_grant(
        &self,
        form: &HashMap<String, String>,
        v2: bool,
        stored: Option<(Grant, i64)>,
    ) -> Result<Grant, OAuthError> {
        let client_id = required(form, "client_id")?;
        let Some((mut grant, expires_at)) = stored else {
            return Err(OAuthError::new(
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid: the refresh token is not valid.",
            ));
        };
        if clock::now_secs() >= expires_at {
            return Err(OAuthError::new(
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. The token was issued and was inactive for the \
                 configured lifetime.",
            ));
        }
        if grant.client_id != client_id {
            return Err(OAuthError::new(
                "invalid_grant",
                70000,
                "The provided grant is invalid: the refresh token was issued to a different client id.",
            ));
        }
        let asked = if v2 { form.get("scope") } else { form.get("resource") };
        if let Some(asked) = asked.filter(|s| !s.trim().is_empty()) {
            if v2 {
                let scopes: Vec<String> = asked.split_whitespace().map(str::to_owned).collect();
                grant.resource = resource_from_scopes(&scopes)?;
                grant.scopes = scopes;
            } else {
                grant.resource = known_resource(asked)?;
            }
        }
        Ok(grant)
    }

    /// The client-credentials grant with a certificate assertion.
    pub(crate) fn client_credentials(&self, request: &TokenRequest<'_>) -> Result<Grant, OAuthError> {
        let form = request.form;
        let client_id = required(form, "client_id")?;
        if form.contains_key("client_secret") {
            return Err(OAuthError::new(
                "invalid_client",
                7000215,
                "Invalid client secret provided. This tenant accepts only certificate credentials.",
            ));
        }
        let assertion_type = required(form, "client_assertion_type")?;
        if assertion_type != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
            return Err(OAuthError::new(
                "invalid_request",
                7000216,
                "'client_assertion_type' must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
            ));
        }
        let assertion = required(form, "client_assertion")?;
        let roles = self.verify_assertion(&client_id, &assertion, request)?;
        let resource = if request.v2 {
            let scope = required(form, "scope")?;
            let scopes: Vec<&str> = scope.split_whitespace().collect();
            match scopes[..] {
                [one] if one.ends_with("/.default") => known_resource(one.trim_end_matches("/.default"))?,
                _ => {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        1002012,
                        format!(
                            "The provided value for scope {scope} is not valid. Client credential flows must have a \
                             scope value with /.default suffixed to the resource identifier (application ID URI)."
                        ),
                    ));
                }
            }
        } else {
            known_resource(&required(form, "resource")?)?
        };
        Ok(Grant {
            client_id: client_id.clone(),
            subject: Subject {
                object_id: stable_id(&format!("app:{}", client_id.to_lowercase())),
                upn: None,
                roles,
                app_roles: self.app_roles_of(&client_id),
            },
            resource,
            scopes: Vec::new(),
        })
    }

    /// Checks a client assertion: registered certificate (x5t), RS256 signature, iss = sub =
    /// client id, aud = this token endpoint, exp, nbf, jti. Returns the app's roles.
    fn verify_assertion(
        &self,
        client_id: &str,
        assertion: &str,
        request: &TokenRequest<'_>,
    ) -> Result<Vec<String>, OAuthError> {
        let invalid = |code: u32, text: String| OAuthError::new("invalid_client", code, text);
        let jwt =
            jwt::split(assertion).ok_or_else(|| invalid(50027, "The client assertion is not a valid JWT.".into()))?;
        if jwt.header_str("alg") != Some("RS256") {
            return Err(invalid(
                5002738,
                format!("The client assertion must be signed with RS256, not {:?}.", jwt.header_str("alg")),
            ));
        }
        let thumbprint = jwt.header_str("x5t#S256").or_else(|| jwt.header_str("x5t")).unwrap_or("").to_owned();
        let candidates: Vec<RegisteredCertificate> = self
            .certificates
            .lock()
            .map_err(|_| server_error())?
            .iter()
            .filter(|c| {
                c.client_id.eq_ignore_ascii_case(client_id) && (c.x5t == thumbprint || c.x5t_s256 == thumbprint)
            })
            .cloned()
            .collect();
        let Some(cert) = candidates.iter().find(|c| jwt::verify_rs256(&c.der, &jwt)) else {
            return Err(invalid(
                700027,
                format!(
                    "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of \
                     key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly \
                     use MS Graph to see configured keys for app Id '{client_id}'.]"
                ),
            ));
        };
        if jwt.claim_str("iss") != Some(client_id) || jwt.claim_str("sub") != Some(client_id) {
            return Err(invalid(
                700023,
                "The client assertion's iss and sub claims must both be the client id.".into(),
            ));
        }
        let tenant = self.settings.tenant_id.to_string();
        let audiences: Vec<String> = [request.base, "https://login.microsoftonline.com"]
            .iter()
            .flat_map(|base| {
                [request.tenant_path, tenant.as_str()]
                    .into_iter()
                    .flat_map(move |t| [format!("{base}/{t}/oauth2/v2.0/token"), format!("{base}/{t}/oauth2/token")])
            })
            .collect();
        let aud = jwt.claim_str("aud").unwrap_or("");
        if !audiences.iter().any(|a| a.eq_ignore_ascii_case(aud)) {
            return Err(invalid(
                700212,
                format!(
                    "No matching federated identity record found for presented assertion audience '{aud}'; the audience must be this token endpoint."
                ),
            ));
        }
        let now = clock::now_secs();
        match jwt.claim_i64("exp") {
            Some(exp) if exp > now - CLOCK_SKEW_SECS => {}
            _ => return Err(invalid(700024, "The client assertion is expired or has no exp claim.".into())),
        }
        if jwt.claim_i64("nbf").is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECS) {
            return Err(invalid(700024, "The client assertion is not yet valid (nbf).".into()));
        }
        if jwt.claim_str("jti").is_none_or(str::is_empty) {
            return Err(invalid(700025, "The client assertion has no jti claim.".into()));
        }
        Ok(cert.roles.clone())
    }

    /// Signs the tokens of a grant. `user_flow` grants get an ID token and, when asked for
    /// (v2: `offline_access`; v1: always), a refresh token.
    pub(crate) fn issue(&self, grant: &Grant, request: &TokenRequest<'_>, user_flow: bool) -> Issued {
        let now = clock::now_secs();
        let lifetime = self.settings.access_token_lifetime_secs;
        let tid = self.settings.tenant_id.to_string();
        let subject = &grant.subject;
        let mut claims = json!({
            "aud": grant.resource,
            "iss": format!("https://sts.windows.net/{tid}/"),
            "iat": now, "nbf": now, "exp": now + lifetime,
            "tid": tid,
            "oid": subject.object_id,
            "sub": subject.object_id,
            "appid": grant.client_id,
            "appidacr": if user_flow { "0" } else { "2" },
            "wids": subject.roles,
            "ver": "1.0",
            "uti": random_token(12),
            "idtyp": if user_flow { "user" } else { "app" },
            // Millisecond issue time: the tokenExpiry fault expires tokens issued before it.
            "emu_iat_ms": clock::now_ms(),
        });
        let for_sync_app = grant.resource.eq_ignore_ascii_case(SYNC_APP_ID);
        if let Some(upn) = &subject.upn {
            claims["upn"] = json!(upn);
            claims["unique_name"] = json!(upn);
            // The sync app's delegated permission; Graph's are the scopes asked.
            claims["scp"] = json!(if for_sync_app {
                SYNC_APP_ROLE.to_owned()
            } else if grant.resource.starts_with("00000003-") || grant.resource.contains("graph.microsoft.com") {
                delegated_graph_scopes(&grant.scopes)
            } else {
                "user_impersonation".to_owned()
            });
        } else {
            // An app token carries the app roles it holds on the resource it is for.
            claims["roles"] = json!(if for_sync_app { subject.app_roles.clone() } else { Vec::new() });
        }
        let header = json!({"typ": "JWT", "alg": "HS256", "kid": "emulator"});
        let access_token = jwt::sign_hs256(&self.key, &header, &claims);
        let mut body = if request.v2 {
            json!({"token_type": "Bearer", "scope": format!("{}/.default", grant.resource.trim_end_matches('/')),
                   "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access_token})
        } else {
            json!({"token_type": "Bearer", "scope": "user_impersonation", "expires_in": lifetime.to_string(),
                   "ext_expires_in": lifetime.to_string(), "expires_on": (now + lifetime).to_string(),
                   "not_before": now.to_string(), "resource": grant.resource, "access_token": access_token})
        };
        let mut refresh = None;
        if user_flow {
            let wants = |s: &str| grant.scopes.iter().any(|x| x.eq_ignore_ascii_case(s));
            if !request.v2 || wants("offline_access") {
                let token = random_token(48);
                body["refresh_token"] = json!(token);
                refresh = Some((token, grant.clone()));
            }
            if !request.v2 || wants("openid") {
                body["id_token"] = json!(self.id_token(grant, request, now));
            }
            if request.form.get("client_info").is_some_and(|v| v == "1") {
                let info = json!({"uid": subject.object_id, "utid": tid});
                body["client_info"] = json!(b64url(info.to_string().as_bytes()));
            }
            if !request.v2 {
                body["foci"] = json!("1");
            }
        }
        Issued { body, refresh }
    }

    fn id_token(&self, grant: &Grant, request: &TokenRequest<'_>, now: i64) -> String {
        let tid = self.settings.tenant_id.to_string();
        let upn = grant.subject.upn.clone().unwrap_or_default();
        let iss = if request.v2 { issuer_v2(request.base, &tid) } else { format!("https://sts.windows.net/{tid}/") };
        let claims = json!({
            "aud": grant.client_id, "iss": iss, "iat": now, "nbf": now,
            "exp": now + self.settings.access_token_lifetime_secs,
            "tid": tid, "oid": grant.subject.object_id, "sub": grant.subject.object_id,
            "preferred_username": upn, "upn": upn, "name": upn.split('@').next().unwrap_or(""),
            "ver": if request.v2 { "2.0" } else { "1.0" },
        });
        jwt::sign_hs256(&self.key, &json!({"typ": "JWT", "alg": "HS256", "kid": "emulator"}), &claims)
    }

    /// The sync endpoint's token rules on a day of the service (docs/emulator.md, "The service's
    /// timeline"): the audience (the sync app; `https://graph.windows.net` only before its
    /// retirement), a user token only before user sign-in is retired and only for a user with a
    /// sync-capable role, an app token for the sync app only with `ADSynchronization.ReadWrite.All`.
    pub(crate) fn verify_sync_token(
        &self,
        token: &str,
        date: ServiceDate,
        expired_before: Option<i64>,
    ) -> Result<Subject, SyncRefusal> {
        let refused = |reason: String| SyncRefusal { reason, user_sign_in_retired: false };
        let aud = jwt::split(token.trim()).and_then(|j| j.claim_str("aud").map(str::to_owned)).unwrap_or_default();
        let legacy = AAD_GRAPH_AUDIENCES.contains(&aud.as_str());
        if legacy && !date.takes_legacy_audience() {
            return Err(refused(format!(
                "the token's audience {aud:?} (the legacy sync app) is retired since {} (service date {date})",
                super::timeline::LEGACY_RETIREMENT
            )));
        }
        let mut audiences = vec![SYNC_APP_ID];
        audiences.extend(AAD_GRAPH_AUDIENCES);
        let subject = self.verify_access_token(token, &audiences, false, expired_before).map_err(refused)?;
        let sync_capable =
            subject.roles.iter().any(|r| r == GLOBAL_ADMINISTRATOR || r == DIRECTORY_SYNCHRONIZATION_ACCOUNTS);
        match &subject.upn {
            Some(upn) if !date.takes_user_tokens() => Err(SyncRefusal {
                reason: format!(
                    "{upn} signed in as a user: user sign-in of sync clients is retired since {} (service date {date})",
                    super::timeline::USER_SIGN_IN_RETIREMENT
                ),
                user_sign_in_retired: true,
            }),
            Some(_) if !sync_capable => Err(refused(
                "the token's user holds neither Global Administrator nor Directory Synchronization Accounts".into(),
            )),
            None if !legacy && !subject.app_roles.iter().any(|r| r == SYNC_APP_ROLE) => Err(refused(format!(
                "the application holds no {SYNC_APP_ROLE} role on the sync app {SYNC_APP_ID} (roles {:?})",
                subject.app_roles
            ))),
            None if legacy && !sync_capable => Err(refused(
                "the token's application holds neither Global Administrator nor Directory Synchronization Accounts"
                    .into(),
            )),
            _ => Ok(subject),
        }
    }

    /// Checks an access token for one audience set. `expired_before`: tokens issued at or before
    /// this Unix time in ms count as expired (the tokenExpiry fault). The error says why, for the log only.
    pub(crate) fn verify_access_token(
        &self,
        token: &str,
        audiences: &[&str],
        require_sync_role: bool,
        expired_before: Option<i64>,
    ) -> Result<Subject, String> {
        let jwt = jwt::split(token.trim()).ok_or("the token is not a JWT")?;
        if !jwt::verify_hs256(&self.key, &jwt) {
            return Err("the token's signature is not the emulator's".into());
        }
        let aud = jwt.claim_str("aud").unwrap_or("");
        if !audiences.contains(&aud) {
            return Err(format!("the token's audience is {aud:?}, expected one of {audiences:?}"));
        }
        let now = clock::now_secs();
        let exp = jwt.claim_i64("exp").ok_or("the token has no exp claim")?;
        if exp <= now {
            return Err("the token has expired".into());
        }
        if let (Some(limit), Some(iat)) = (expired_before, jwt.claim_i64("emu_iat_ms"))
            && iat <= limit
        {
            return Err("the token was expired by the tokenExpiry fault".into());
        }
        if jwt.claim_i64("nbf").is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECS) {
            return Err("the token is not valid yet".into());
        }
        if jwt.claim_str("tid") != Some(self.settings.tenant_id.to_string().as_str()) {
            return Err("the token belongs to another tenant".into());
        }
        let roles: Vec<String> = jwt
            .claims
            .get("wids")
            .and_then(|w| w.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if require_sync_role
            && !roles.iter().any(|r| r == GLOBAL_ADMINISTRATOR || r == DIRECTORY_SYNCHRONIZATION_ACCOUNTS)
        {
            return Err(
                "the token's identity holds neither Global Administrator nor Directory Synchronization Accounts".into(),
            );
        }
        let object_id = jwt.claim_str("oid").and_then(|o| Uuid::parse_str(o).ok()).unwrap_or_default();
        let app_roles: Vec<String> = jwt
            .claims
            .get("roles")
            .and_then(|w| w.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok(Subject { object_id, upn: jwt.claim_str("upn").map(str::to_owned), roles, app_roles })
    }
}

/// The `scp` of a delegated Microsoft Graph token: the permission names asked for, without the
/// resource prefix and the OpenID scopes.
fn delegated_graph_scopes(scopes: &[String]) -> String {
    let names: Vec<&str> = scopes
        .iter()
        .filter(|s| !RESERVED_SCOPES.iter().any(|r| r.eq_ignore_ascii_case(s)))
        .map(|s| s.rsplit('/').next().unwrap_or(s))
        .filter(|s| *s != ".default")
        .collect();
    if names.is_empty() { "User.Read".to_owned() } else { names.join(" ") }
}

/// Why the sync endpoint refused a token: `reason` is for the emulator's log only.
#[derive(Debug)]
pub(crate) struct SyncRefusal {
    pub reason: String,
    /// A user token after user sign-in was retired: the fault says what to do instead.
    pub user_sign_in_retired: bool,
}

pub(super) fn issuer_v2(base: &str, tenant_id: &str) -> String {
    format!("{base}/{tenant_id}/v2.0")
}

fn server_error() -> OAuthError {
    OAuthError { status: 500, error: "server_error", code: 90013, description: "Internal error.".into() }
}

fn missing(name: &str) -> OAuthError {
    OAuthError::new(
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

pub(super) fn required(form: &HashMap<String, String>, name: &str) -> Result<String, OAuthError> {
    form.get(name).filter(|v| !v.trim().is_empty()).cloned().ok_or_else(|| missing(name))
}

/// A resource the tenant knows, as the audience its tokens carry.
fn known_resource(resource: &str) -> Result<String, OAuthError> {
    let r = resource.trim();
    if AAD_GRAPH_AUDIENCES.iter().chain(MS_GRAPH_AUDIENCES.iter()).any(|a| a.eq_ignore_ascii_case(r)) {
        Ok(r.trim_end_matches('/').to_owned())
    } else if r.trim_end_matches('/').eq_ignore_ascii_case(REGISTER_APP_RESOURCE) {
        // The Seamless SSO (and PTA) registration service (AADInternals `Set-AADIntDesktopSSO`).
        Ok(REGISTER_APP_RESOURCE.to_owned())
    } else if r.eq_ignore_ascii_case(SYNC_APP_ID) {
        // The audience of a token for an app named by its id is that id (GUID form).
        Ok(SYNC_APP_ID.to_owned())
    } else {
        Err(OAuthError::new(
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {r} was not found in the tenant named {}. This can happen if the \
                 application has not been installed by the administrator of the tenant.",
                "the emulated tenant"
            ),
        ))
    }
}

/// The one resource of a v2 scope list (`https://graph.windows.net/.default openid …`).
fn resource_from_scopes(scopes: &[String]) -> Result<String, OAuthError> {
    let mut resource: Option<String> = None;
    for scope in scopes {
        if RESERVED_SCOPES.iter().any(|r| r.eq_ignore_ascii_case(scope)) {
            continue;
        }
        let base = match scope.rfind('/') {
            Some(i) if i > 0 && scope.contains("://") || scope.len() > 36 && i == 36 => &scope[..i],
            _ => scope.as_str(),
        };
        let this = known_resource(base).map_err(|_| {
            OAuthError::new(
                "invalid_scope",
                70011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
                ),
            )
        })?;
        match &resource {
            Some(r) if !r.eq_ignore_ascii_case(&this) => {
                return Err(OAuthError::new(
                    "invalid_scope",
                    28000,
                    "Provided value for the input parameter scope is not valid because it contains more than one resource.",
                ));
            }
            _ => resource = Some(this),
        }
    }
    // Only OpenID scopes: Entra issues a Microsoft Graph token.
    Ok(resource.unwrap_or_else(|| "00000003-0000-0000-c000-000000000000".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn scopes_name_one_resource() {
        let r = resource_from_scopes(&scopes("https://graph.windows.net/.default offline_access openid profile"));
        assert_eq!(r.map_err(|e| e.error), Ok("https://graph.windows.net".to_owned()));
        let r = resource_from_scopes(&scopes("00000002-0000-0000-c000-000000000000/.default"));
        assert_eq!(r.map_err(|e| e.error), Ok("00000002-0000-0000-c000-000000000000".to_owned()));
        let both =
            resource_from_scopes(&scopes("https://graph.windows.net/.default https://graph.microsoft.com/.default"));
        assert_eq!(both.map_err(|e| e.error), Err("invalid_scope"));
        let unknown = resource_from_scopes(&scopes("https://example.com/.default"));
        assert_eq!(unknown.map_err(|e| e.error), Err("invalid_scope"));
    }

    #[test]
    fn roles_by_name_or_id() {
        assert_eq!(role_id("Global Administrator").as_deref(), Some(GLOBAL_ADMINISTRATOR));
        assert_eq!(role_id("dir-sync").as_deref(), Some(DIRECTORY_SYNCHRONIZATION_ACCOUNTS));
        assert_eq!(role_id(HYBRID_IDENTITY_ADMINISTRATOR).as_deref(), Some(HYBRID_IDENTITY_ADMINISTRATOR));
        assert_eq!(role_id("janitor"), None);
    }
}
