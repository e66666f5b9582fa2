use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use super::*;
use crate::entra::http::{HttpSettings, http_client};

const TENANT: &str = "11111111-2222-3333-4444-555555555555";

struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now_unix(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn jwt(tid: &str, exp: u64) -> Zeroizing<String> {
    let payload = serde_json::json!({ "tid": tid, "exp": exp, "aud": ["https://graph.windows.net", "x"] });
    Zeroizing::new(format!("eyJhbGciOiJub25lIn0.{}.", URL_SAFE_NO_PAD.encode(payload.to_string())))
}

fn settings(method: AuthMethod, authority: &str) -> AuthSettings {
    AuthSettings {
        authority: authority.into(),
        tenant_id: TENANT.into(),
        client_id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46".into(),
        method,
        scope: DEFAULT_SCOPE.into(),
        ca_file: None,
        proxy: None,
    }
}

#[test]
fn claims_are_read_from_the_payload() {
    let claims = TokenClaims::decode(&jwt("t-1", 1234));
    assert_eq!(claims.tid.as_deref(), Some("t-1"));
    assert_eq!(claims.exp, Some(1234));
    assert_eq!(claims.aud.as_deref(), Some("https://graph.windows.net"));
    assert_eq!(TokenClaims::decode("not a jwt"), TokenClaims::default());
    assert_eq!(TokenClaims::decode("a.!!!.c"), TokenClaims::default());
}

#[test]
fn expiry_uses_expires_in_and_falls_back_to_exp() {
    let t = AccessToken::received(jwt(TENANT, 99_999), 1000, Some(3600)).unwrap();
    assert_eq!(t.expires_at(), 4600, "expires_in is authoritative");
    let t = AccessToken::received(jwt(TENANT, 99_999), 1000, None).unwrap();
    assert_eq!(t.expires_at(), 99_999);
    assert!(AccessToken::received(Zeroizing::new("opaque".into()), 1000, None).is_none());
}

#[test]
fn refresh_decision_uses_a_five_minute_margin() {
    let t = AccessToken::received(jwt(TENANT, 0), 1000, Some(3600)).unwrap();
    assert!(!t.needs_refresh(1000));
    assert!(!t.needs_refresh(4600 - 301));
    assert!(t.needs_refresh(4600 - 300));
    assert!(!t.is_expired(4599));
    assert!(t.is_expired(4600));
    // A two-minute token (the emulator's) is refreshed at half-life, not at once.
    let short = AccessToken::received(jwt(TENANT, 0), 1000, Some(120)).unwrap();
    assert!(!short.needs_refresh(1059));
    assert!(short.needs_refresh(1060));
}

#[test]
fn secrets_do_not_show_in_debug() {
    let t = AccessToken::received(jwt(TENANT, 5), 0, Some(1)).unwrap();
    let r = RefreshToken::new("refresh-secret".to_string());
    let shown = format!("{t:?} {r:?}");
    assert!(shown.contains("[redacted]"));
    assert!(!shown.contains(t.secret_jwt()) && !shown.contains("refresh-secret"), "{shown}");
}

#[test]
fn settings_validation() {
    let cache = AuthMethod::RefreshToken { token_cache: "/tmp/x".into() };
    assert!(settings(cache.clone(), DEFAULT_AUTHORITY).validate().is_ok());
    assert!(settings(cache.clone(), "http://127.0.0.1:8080/").validate().is_ok());
    assert!(settings(cache.clone(), "http://[::1]:8080").validate().is_ok());
    assert!(settings(cache.clone(), "http://localhost:8080").validate().is_ok());
    for bad in ["http://login.example", "ftp://login.example", "not a url", "https://login.example/?x=1"] {
        let err = settings(cache.clone(), bad).validate().unwrap_err();
        assert!(matches!(err, AuthError::Settings(_)), "{bad}: {err}");
    }
    let mut s = settings(cache.clone(), DEFAULT_AUTHORITY);
    s.tenant_id = "../admin".into();
    assert!(s.validate().is_err());
    let mut s = settings(cache, "https://login.example/");
    assert_eq!(s.token_endpoint(), format!("https://login.example/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(s.device_code_endpoint(), format!("https://login.example/{TENANT}/oauth2/v2.0/devicecode"));
    s.proxy = Some("http://user:pw@proxy:3128".into());
    assert!(!format!("{s:?}").contains("pw@"));
}

#[test]
fn a_token_of_another_tenant_is_refused() {
    let other = AccessToken::received(jwt("99999999-2222-3333-4444-555555555555", 0), 0, Some(60)).unwrap();
    assert!(matches!(source::check_tenant(&other, TENANT), Err(AuthError::WrongTenant { .. })));
    let same = AccessToken::received(jwt(&TENANT.to_uppercase(), 0), 0, Some(60)).unwrap();
    assert!(source::check_tenant(&same, TENANT).is_ok());
    // A tenant named by domain cannot be compared with tid.
    assert!(source::check_tenant(&other, "contoso.example").is_ok());
}

/// The refresh decision end to end with an injected clock and no server: the cached token is
/// used while fresh; once within the margin a refresh is attempted (and fails: nothing listens),
/// the still-valid token is kept; after expiry, or after force_expire, the failure surfaces.
#[tokio::test]
async fn token_source_refresh_decisions_with_an_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.json");
    let s = settings(AuthMethod::RefreshToken { token_cache: path.clone() }, "http://127.0.0.1:9");
    let access = AccessToken::received(jwt(TENANT, 0), 10_000, Some(3600)).unwrap();
    store_cache(&path, &s.tenant_id, &s.client_id, &RefreshToken::new("rt".to_string()), Some(&access)).unwrap();

    let clock = Arc::new(ManualClock(AtomicU64::new(10_000)));
    let http = http_client(&HttpSettings::default()).unwrap();
    let source = TokenSource::with_clock(s, http, clock.clone()).unwrap();

    let t = source.access_token().await.unwrap();
    assert_eq!(t.secret_jwt(), access.secret_jwt(), "the cached token is used without a request");

    clock.0.store(13_600 - 200, Ordering::SeqCst);
    let t = source.access_token().await.unwrap();
    assert_eq!(t.expires_at(), 13_600, "refresh failed; the token still works, so it is kept");

    source.force_expire();
    let err = source.access_token().await.unwrap_err();
    assert!(matches!(err, AuthError::Network { .. }), "{err}");
    assert!(err.is_transient());

    clock.0.store(13_600, Ordering::SeqCst);
    assert!(source.access_token().await.is_err(), "an expired token is never handed out");
}

#[tokio::test]
async fn missing_cache_asks_for_login() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.json");
    let s = settings(AuthMethod::RefreshToken { token_cache: path }, "http://127.0.0.1:9");
    let source = TokenSource::new(s, http_client(&HttpSettings::default()).unwrap()).unwrap();
    let err = source.access_token().await.unwrap_err();
    assert!(matches!(err, AuthError::CacheMissing { .. }), "{err}");
    assert!(err.to_string().contains("samba-entra-sync login"), "{err}");
}
