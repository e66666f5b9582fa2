//! Sign-in against a small local stand-in for the Entra token endpoints (axum on 127.0.0.1:0):
//! device code (pending twice, then a token), refresh-token rotation with single-flight
//! refresh, and client credentials whose assertion signature the server checks.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Form, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::PublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use samba_entra_sync::entra::auth::{
    AuthError, AuthMethod, AuthSettings, Clock, DEFAULT_SCOPE, RefreshToken, TokenSource, device_code_login,
    load_cache, store_cache,
};
use samba_entra_sync::entra::http::{HttpSettings, http_client};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use x509_cert::der::{Decode, Encode};

const TENANT: &str = "6b1f3c2e-0d4a-4c5e-9f7a-2b8c1d3e4f50";
const CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const APP_CLIENT: &str = "3f2e1d0c-b9a8-4765-8432-10fedcba9876";
const CERT: &str = include_str!("fixtures/auth/test-app.pem");
const KEY: &str = include_str!("fixtures/auth/test-app.key");
const DEVICE_CODE: &str = "device-code-secret";
const USER_CODE: &str = "ABCD-EFGH";

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now_unix(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the stand-in knows and counts.
struct Entra {
    token_url: OnceLock<String>,
    pending_polls: AtomicU32,
    expire_device_code: bool,
    device_polls: AtomicU32,
    refresh_calls: AtomicU32,
    client_credential_calls: AtomicU32,
    issued: AtomicU32,
    /// The one refresh token that is valid now; using it rotates it.
    valid_refresh_token: Mutex<Option<String>>,
    seen_jti: Mutex<HashSet<String>>,
    app_key: PublicKey,
    app_x5t: String,
}

impl Entra {
    fn new(pending_polls: u32, expire_device_code: bool) -> Entra {
        let (_, der) = x509_cert::der::pem::decode_vec(CERT.as_bytes()).unwrap();
        let cert = x509_cert::Certificate::from_der(&der).unwrap();
        let spki = cert.tbs_certificate().subject_public_key_info().to_der().unwrap();
        Entra {
            token_url: OnceLock::new(),
            pending_polls: AtomicU32::new(pending_polls),
            expire_device_code,
            device_polls: AtomicU32::new(0),
            refresh_calls: AtomicU32::new(0),
            client_credential_calls: AtomicU32::new(0),
            issued: AtomicU32::new(0),
            valid_refresh_token: Mutex::new(None),
            seen_jti: Mutex::new(HashSet::new()),
            app_key: PublicKey::from_public_key_der(&spki).unwrap(),
            app_x5t: URL_SAFE_NO_PAD.encode(Sha1::digest(&der)),
        }
    }

    /// A token answer; with a refresh token that becomes the only valid one.
    fn tokens(&self, with_refresh: bool) -> (StatusCode, Json<Value>) {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let now = unix_now();
        let payload =
            json!({ "aud": "https://graph.windows.net", "tid": TENANT, "iat": now, "exp": now + 3600, "n": n });
        let jwt = format!("eyJhbGciOiJub25lIn0.{}.", URL_SAFE_NO_PAD.encode(payload.to_string()));
        let mut answer = json!({ "token_type": "Bearer", "access_token": jwt, "expires_in": 3600 });
        if with_refresh {
            let rt = format!("rt-{n}");
            answer["refresh_token"] = json!(rt);
            *self.valid_refresh_token.lock().unwrap() = Some(rt);
        }
        (StatusCode::OK, Json(answer))
    }
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(json!({ "error": code, "error_description": format!("{description}\r\nTrace ID: 0\r\nTimestamp: x") })),
    )
}

async fn device_code(
    State(entra): State<Arc<Entra>>,
    UrlPath(tenant): UrlPath<String>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    if tenant != TENANT || form.get("client_id").map(String::as_str) != Some(CLIENT) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "AADSTS90002: unknown tenant or client.");
    }
    let scope = form.get("scope").cloned().unwrap_or_default();
    if !scope.split(' ').any(|s| s == "offline_access") || !scope.contains(DEFAULT_SCOPE) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "AADSTS70011: bad scope.");
    }
    let _ = entra;
    (
        StatusCode::OK,
        Json(json!({
            "device_code": DEVICE_CODE, "user_code": USER_CODE,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900, "interval": 1,
            "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin."
        })),
    )
}

async fn token(
    State(entra): State<Arc<Entra>>,
    UrlPath(tenant): UrlPath<String>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if tenant != TENANT {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_tenant", "AADSTS90002: tenant not found.");
    }
    match field("grant_type") {
        "urn:ietf:params:oauth:grant-type:device_code" => {
            entra.device_polls.fetch_add(1, Ordering::SeqCst);
            if field("device_code") != DEVICE_CODE || field("client_id") != CLIENT {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "AADSTS70000: bad device code.");
            }
            if entra.expire_device_code {
                return oauth_error(StatusCode::BAD_REQUEST, "expired_token", "AADSTS70020: expired.");
            }
            if entra.pending_polls.load(Ordering::SeqCst) > 0 {
                entra.pending_polls.fetch_sub(1, Ordering::SeqCst);
                return oauth_error(StatusCode::BAD_REQUEST, "authorization_pending", "AADSTS70016: pending.");
            }
            entra.tokens(true)
        }
        "refresh_token" => {
            entra.refresh_calls.fetch_add(1, Ordering::SeqCst);
            let valid = entra.valid_refresh_token.lock().unwrap().clone();
            if valid.as_deref() != Some(field("refresh_token")) || field("client_id") != CLIENT {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "AADSTS70000: refresh token revoked.");
            }
            if !field("scope").split(' ').any(|s| s == "offline_access") {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "AADSTS70011: no offline_access.");
            }
            entra.tokens(true)
        }
        "client_credentials" => {
            entra.client_credential_calls.fetch_add(1, Ordering::SeqCst);
            match check_assertion(&entra, &form) {
                Ok(()) => entra.tokens(false),
                Err(why) => oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &format!("AADSTS700027: {why}")),
            }
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "AADSTS70003: unsupported."),
    }
}

/// What Entra checks in a client assertion.
fn check_assertion(entra: &Entra, form: &HashMap<String, String>) -> Result<(), String> {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
        return Err("wrong client_assertion_type".into());
    }
    if field("scope") != DEFAULT_SCOPE {
        return Err(format!("scope {:?}", field("scope")));
    }
    let parts: Vec<&str> = field("client_assertion").split('.').collect();
    let [header, claims, signature] = parts[..] else { return Err("not a JWS".into()) };
    let decode = |p: &str| -> Result<Value, String> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
    };
    let (header, claims) = (decode(header)?, decode(claims)?);
    if header["alg"] != "RS256" || header["x5t"] != entra.app_x5t.as_str() {
        return Err(format!("unknown key {header}"));
    }
    let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(signature).map_err(|e| e.to_string())?.as_slice())
        .map_err(|e| e.to_string())?;
    let signed = field("client_assertion").rsplit_once('.').unwrap().0;
    VerifyingKey::<Sha256>::new(entra.app_key.clone())
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "signature does not verify".to_string())?;
    let now = unix_now();
    let token_url = entra.token_url.get().unwrap();
    if claims["aud"] != token_url.as_str() {
        return Err(format!("aud {} is not {token_url}", claims["aud"]));
    }
    if claims["iss"] != APP_CLIENT || claims["sub"] != APP_CLIENT || field("client_id") != APP_CLIENT {
        return Err("iss/sub/client_id mismatch".into());
    }
    let (nbf, exp) = (claims["nbf"].as_u64().unwrap_or(u64::MAX), claims["exp"].as_u64().unwrap_or(0));
    if nbf > now + 60 || exp <= now {
        return Err("outside its validity".into());
    }
    let jti = claims["jti"].as_str().ok_or("no jti")?.to_owned();
    if !entra.seen_jti.lock().unwrap().insert(jti) {
        return Err("replayed jti".into());
    }
    Ok(())
}

/// Starts the stand-in; returns its base URL.
async fn serve(entra: Arc<Entra>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    entra.token_url.set(format!("{base}/{TENANT}/oauth2/v2.0/token")).unwrap();
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/devicecode", post(device_code))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .with_state(entra);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn settings(authority: &str, client_id: &str, method: AuthMethod) -> AuthSettings {
    AuthSettings {
        authority: authority.into(),
        tenant_id: TENANT.into(),
        client_id: client_id.into(),
        method,
        scope: DEFAULT_SCOPE.into(),
        ca_file: None,
        proxy: None,
    }
}

fn http() -> reqwest::Client {
    http_client(&HttpSettings::default()).unwrap()
}

fn cached_refresh_token(path: &Path) -> String {
    load_cache(path, TENANT, CLIENT).unwrap().refresh_token.secret().to_owned()
}

#[tokio::test]
async fn device_code_login_then_rotating_single_flight_refresh() {
    let entra = Arc::new(Entra::new(2, false));
    let base = serve(entra.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("state/token.json");
    let settings = settings(&base, CLIENT, AuthMethod::RefreshToken { token_cache: cache.clone() });

    let prompts = Mutex::new(Vec::new());
    device_code_login(&settings, &http(), |p| prompts.lock().unwrap().push(p.clone())).await.unwrap();
    let prompts = prompts.into_inner().unwrap();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].user_code, USER_CODE);
    assert_eq!(prompts[0].verification_uri, "https://microsoft.com/devicelogin");
    assert_eq!(entra.device_polls.load(Ordering::SeqCst), 3, "pending twice, then the token");
    assert_eq!(std::fs::metadata(&cache).unwrap().mode() & 0o777, 0o600);
    assert_eq!(cached_refresh_token(&cache), "rt-1");

    let clock = Arc::new(ManualClock(AtomicU64::new(unix_now())));
    let source = TokenSource::with_clock(settings.clone(), http(), clock.clone()).unwrap();
    let first = source.access_token().await.unwrap();
    assert_eq!(first.tenant_id(), Some(TENANT));
    assert_eq!(entra.refresh_calls.load(Ordering::SeqCst), 0, "the token from login is still fresh");

    // Past the refresh margin: ten callers at once cause exactly one refresh.
    clock.0.fetch_add(3600 - 200, Ordering::SeqCst);
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.access_token().await })
        })
        .collect();
    let mut jwts = HashSet::new();
    for h in handles {
        jwts.insert(h.await.unwrap().unwrap().secret_jwt().to_owned());
    }
    assert_eq!(entra.refresh_calls.load(Ordering::SeqCst), 1);
    assert_eq!(jwts.len(), 1, "all callers share the refreshed token");
    assert!(!jwts.contains(first.secret_jwt()));
    assert_eq!(cached_refresh_token(&cache), "rt-2", "the rotated refresh token was persisted");
    assert_eq!(std::fs::metadata(&cache).unwrap().mode() & 0o777, 0o600);

    // The service refused the token: force_expire fetches a new one, rotating again.
    source.force_expire();
    let third = source.access_token().await.unwrap();
    assert!(!jwts.contains(third.secret_jwt()));
    assert_eq!(entra.refresh_calls.load(Ordering::SeqCst), 2);
    assert_eq!(cached_refresh_token(&cache), "rt-3");

    // An old (already rotated) refresh token is refused, and the error says to log in again.
    store_cache(&cache, TENANT, CLIENT, &RefreshToken::new("rt-2".to_string()), None).unwrap();
    source.force_expire();
    let err = source.access_token().await.unwrap_err();
    assert!(matches!(err, AuthError::SignInRequired { ref code, .. } if code == "invalid_grant"), "{err}");
    assert!(err.to_string().contains("login"), "{err}");
    assert!(!err.to_string().contains("rt-2"), "{err}");
}

#[tokio::test]
async fn device_code_expiry_is_reported() {
    let entra = Arc::new(Entra::new(0, true));
    let base = serve(entra).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("token.json");
    let settings = settings(&base, CLIENT, AuthMethod::RefreshToken { token_cache: cache.clone() });
    let err = device_code_login(&settings, &http(), |_| {}).await.unwrap_err();
    assert!(matches!(err, AuthError::DeviceCodeExpired { minutes: 15 }), "{err}");
    assert!(!cache.exists());
}

#[tokio::test]
async fn login_command_stores_the_refresh_token() {
    let entra = Arc::new(Entra::new(0, false));
    let base = serve(entra).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("token.json");
    let settings = settings(&base, CLIENT, AuthMethod::RefreshToken { token_cache: cache.clone() });
    samba_entra_sync::cli::login::login(settings).await.unwrap();
    assert_eq!(cached_refresh_token(&cache), "rt-1");

    let cert_method =
        AuthMethod::Certificate { certificate: "/nonexistent".into(), private_key: "/nonexistent".into() };
    let failure = samba_entra_sync::cli::login::login(self::settings(&base, CLIENT, cert_method)).await.unwrap_err();
    assert_eq!(failure.code, 2, "{}", failure.message);
}

#[tokio::test]
async fn client_credentials_with_a_signed_assertion() {
    let entra = Arc::new(Entra::new(0, false));
    let base = serve(entra.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("app.pem"), dir.path().join("app.key"));
    std::fs::write(&cert, CERT).unwrap();
    std::fs::write(&key, KEY).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let method = AuthMethod::Certificate { certificate: cert.clone(), private_key: key.clone() };

    let source = TokenSource::new(settings(&base, APP_CLIENT, method.clone()), http()).unwrap();
    let token = source.access_token().await.unwrap();
    assert_eq!(token.tenant_id(), Some(TENANT));
    assert_eq!(token.claims().aud.as_deref(), Some("https://graph.windows.net"));
    let again = source.access_token().await.unwrap();
    assert_eq!(again.secret_jwt(), token.secret_jwt());
    assert_eq!(entra.client_credential_calls.load(Ordering::SeqCst), 1, "cached until near expiry");
    source.force_expire();
    assert_ne!(source.access_token().await.unwrap().secret_jwt(), token.secret_jwt());
    assert_eq!(entra.client_credential_calls.load(Ordering::SeqCst), 2);

    // An app the service does not know this key for is refused with the service's reason.
    let stranger = TokenSource::new(settings(&base, CLIENT, method), http()).unwrap();
    let err = stranger.access_token().await.unwrap_err();
    assert!(matches!(err, AuthError::OAuth { status: 401, ref code, .. } if code == "invalid_client"), "{err}");
    assert!(err.to_string().contains("AADSTS700027"), "{err}");
    assert!(!err.to_string().contains("Trace ID"), "{err}");

    // A key file others can read is refused before anything is sent.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let method = AuthMethod::Certificate { certificate: cert, private_key: key };
    let err = TokenSource::new(settings(&base, APP_CLIENT, method), http()).unwrap_err();
    assert!(matches!(err, AuthError::Insecure { .. }), "{err}");
}

/// A hostile or broken token endpoint answers far more than any token answer can be (a 16 MiB
/// answer that is otherwise valid JSON, and an endless stream): both are refused once the
/// answer passes the limit, with an error that names it, instead of read whole into memory.
#[tokio::test]
async fn hostile_token_endpoint_oversized_answers_are_refused() {
    use axum::body::Body;
    use axum::response::Response;

    async fn padded() -> Response {
        let pad = "x".repeat(16 << 20);
        let body = format!(r#"{{"access_token":"at","expires_in":3600,"refresh_token":"rt-big","pad":"{pad}"}}"#);
        Response::builder().header("content-type", "application/json").body(Body::from(body)).unwrap()
    }
    async fn endless() -> Response {
        let chunk = axum::body::Bytes::from(vec![b' '; 64 << 10]);
        let stream = futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        Response::builder().header("content-type", "application/json").body(Body::from_stream(stream)).unwrap()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/padded/oauth2/v2.0/token", post(padded))
        .route("/endless/oauth2/v2.0/token", post(endless));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let mut refused = 0;
    for tenant in ["padded", "endless"] {
        let cache = dir.path().join(format!("{tenant}.json"));
        let mut settings = settings(&base, CLIENT, AuthMethod::RefreshToken { token_cache: cache.clone() });
        settings.tenant_id = tenant.into();
        store_cache(&cache, tenant, CLIENT, &RefreshToken::new("rt-1".to_string()), None).unwrap();
        let source = TokenSource::new(settings, http()).unwrap();
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(30), source.access_token())
            .await
            .unwrap_or_else(|_| panic!("{tenant}: still reading the answer after 30 s"));
        let err = outcome.expect_err(tenant);
        assert!(matches!(err, AuthError::BadResponse { .. }), "{tenant}: {err}");
        assert!(err.to_string().contains("larger than"), "{tenant}: {err}");
        let kept = load_cache(&cache, tenant, CLIENT).unwrap().refresh_token.secret().to_owned();
        assert_eq!(kept, "rt-1", "{tenant}: the stored refresh token is kept");
        refused += 1;
    }
    println!(
        "RELIABILITY|hostile token endpoint: oversized answers|16 MiB token answer, endless stream|every token request|pass: {refused} refused at the 1 MiB limit, refresh token kept|0"
    );
}
