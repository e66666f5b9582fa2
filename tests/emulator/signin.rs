//! The sign-in service: device code, refresh rotation, certificate assertions, and what MSAL
//! needs (interfaces.md).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use samba_entra_sync::emulator::EmulatorConfig;
use serde_json::{Value as J, json};

use super::support::*;

pub fn claims(jwt: &str) -> J {
    let part = jwt.split('.').nth(1).expect("claims part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn device_code_stays_pending_until_approved() {
    let manual = start(EmulatorConfig { auto_approve: false, ..config() }).await;
    let code = manual.device_code(CLIENT_ID, SYNC_SCOPE).await;
    for field in ["device_code", "user_code", "verification_uri", "expires_in", "interval", "message"] {
        assert!(code.get(field).is_some(), "{field} missing: {code}");
    }
    let device_code = code["device_code"].as_str().expect("device_code");
    for _ in 0..3 {
        let (status, body) = manual.poll(CLIENT_ID, device_code).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("authorization_pending")), "{body}");
        assert_eq!(body["error_codes"], json!([70016]));
    }
    let (status, _) = manual.admin_post("/admin/device-codes/NOPE12345/approve", &json!({})).await;
    assert_eq!(status, 404);
    let user_code = code["user_code"].as_str().expect("user_code");
    let (status, _) = manual.admin_post(&format!("/admin/device-codes/{user_code}/approve"), &json!({})).await;
    assert_eq!(status, 200);
    let (status, token) = manual.poll(CLIENT_ID, device_code).await;
    assert_eq!(status, 200, "{token}");
    let (status, again) = manual.poll(CLIENT_ID, device_code).await;
    assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")), "a device code is redeemed once");
}

#[tokio::test]
async fn auto_approval_answers_pending_the_configured_number_of_times() {
    let env = start(EmulatorConfig { pending_polls: 3, ..config() }).await;
    let code = env.device_code(CLIENT_ID, SYNC_SCOPE).await;
    let device_code = code["device_code"].as_str().expect("device_code");
    let mut pending = 0;
    loop {
        let (status, body) = env.poll(CLIENT_ID, device_code).await;
        if status == 200 {
            break;
        }
        assert_eq!(body["error"], "authorization_pending");
        pending += 1;
        assert!(pending <= 3);
    }
    assert_eq!(pending, 3);
}

#[tokio::test]
async fn token_answers_carry_what_msal_needs() {
    let env = start(config()).await;
    let token = env.device_token(CLIENT_ID, SYNC_SCOPE).await;
    for field in ["access_token", "refresh_token", "expires_in", "token_type", "client_info", "id_token", "scope"] {
        assert!(token.get(field).is_some(), "{field} missing: {token}");
    }
    assert!(token["expires_in"].is_number());
    let access = claims(token["access_token"].as_str().expect("at"));
    assert_eq!(access["aud"], SYNC_APP);
    assert_eq!(access["scp"], "ADSynchronization.ReadWrite.All");
    assert_eq!(access["tid"], env.tenant);
    assert_eq!(access["wids"], json!(["62e90394-69f5-4237-9190-012177145e10"]));
    assert_eq!(access["appid"], CLIENT_ID);
    let info: J =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token["client_info"].as_str().expect("ci")).expect("b64"))
            .expect("json");
    assert_eq!(info["utid"], env.tenant);
    assert_eq!(info["uid"], access["oid"]);
    let discovery: J = env
        .http
        .get(env.url(&format!("/{}/v2.0/.well-known/openid-configuration", env.tenant)))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let id = claims(token["id_token"].as_str().expect("id_token"));
    assert_eq!(id["aud"], CLIENT_ID);
    assert_eq!(id["iss"], discovery["issuer"]);
    for field in ["issuer", "authorization_endpoint", "token_endpoint", "device_authorization_endpoint"] {
        let url = discovery[field].as_str().expect(field);
        assert!(url.starts_with(&env.base), "{field}: {url}");
        let first_segment = url[env.base.len() + 1..].split('/').next().expect("segment");
        assert_eq!(first_segment, env.tenant, "{field}");
    }
    // Without offline_access there is no refresh token, without openid no ID token.
    let bare = env.device_token(CLIENT_ID, "https://graph.windows.net/.default").await;
    assert!(bare.get("refresh_token").is_none() && bare.get("id_token").is_none(), "{bare}");
    // Instance discovery.
    let auth = format!("{}/{}/oauth2/v2.0/authorize", env.base, env.tenant);
    let instance: J = env
        .http
        .get(env.url(&format!(
            "/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
            super::operations::urlencode(&auth)
        )))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        instance["tenant_discovery_endpoint"],
        format!("{}/{}/v2.0/.well-known/openid-configuration", env.base, env.tenant)
    );
    let host = env.base.trim_start_matches("http://");
    assert_eq!(instance["metadata"][0]["aliases"], json!([host]));
    // Unknown tenants and unknown public clients are refused.
    let (status, body) =
        env.form("/contoso.example/oauth2/v2.0/devicecode", &[("client_id", CLIENT_ID), ("scope", SYNC_SCOPE)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_tenant")));
    let (status, body) = env
        .form(
            &format!("/{}/oauth2/v2.0/devicecode", env.tenant),
            &[("client_id", "11111111-2222-3333-4444-555555555555"), ("scope", SYNC_SCOPE)],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")));
    let (status, body) = env
        .form(
            &format!("/{}/oauth2/v2.0/devicecode", env.tenant),
            &[("client_id", CLIENT_ID), ("scope", "https://example.com/.default")],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let env = start(EmulatorConfig { single_use_refresh_tokens: true, ..config() }).await;
    let first = env.device_token(CLIENT_ID, SYNC_SCOPE).await;
    let rt1 = first["refresh_token"].as_str().expect("rt").to_owned();
    let path = format!("/{}/oauth2/v2.0/token", env.tenant);
    let refresh = |rt: String, scope: &'static str| {
        let env = &env;
        let path = path.clone();
        async move {
            env.form(
                &path,
                &[("grant_type", "refresh_token"), ("client_id", CLIENT_ID), ("refresh_token", &rt), ("scope", scope)],
            )
            .await
        }
    };
    let (status, second) = refresh(rt1.clone(), SYNC_SCOPE).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().expect("rotated").to_owned();
    assert_ne!(rt1, rt2);
    let (status, reuse) = refresh(rt1, SYNC_SCOPE).await;
    assert_eq!((status, reuse["error"].as_str()), (400, Some("invalid_grant")), "single-use refresh token");
    // The same refresh token family gets a Microsoft Graph token (as Microsoft's own client does).
    let (status, graph) = refresh(rt2, "https://graph.microsoft.com/.default offline_access openid profile").await;
    assert_eq!(status, 200, "{graph}");
    assert_eq!(claims(graph["access_token"].as_str().expect("at"))["aud"], "https://graph.microsoft.com");
    let (status, garbage) = refresh("garbage".into(), SYNC_SCOPE).await;
    assert_eq!((status, garbage["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn v1_endpoints_use_resource() {
    // The ports' v1 sign-in asks for graph.windows.net, which the service took until 2026-09-30.
    let service_date = samba_entra_sync::emulator::ServiceDate::parse("2026-09-29").ok();
    let env = start(EmulatorConfig { service_date, ..config() }).await;
    let client = "1b730954-1685-4b74-9bfd-dac224a7b894";
    let (status, code) = env
        .form(
            &format!("/{}/oauth2/devicecode", env.tenant),
            &[("client_id", client), ("resource", "https://graph.windows.net")],
        )
        .await;
    assert_eq!(status, 200, "{code}");
    assert!(code.get("verification_url").is_some());
    let (status, token) = env
        .form(
            &format!("/{}/oauth2/token", env.tenant),
            &[
                ("client_id", client),
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("code", code["device_code"].as_str().expect("dc")),
                ("resource", "https://graph.windows.net"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{token}");
    assert!(token["expires_in"].is_string(), "v1 returns numbers as strings");
    assert_eq!(token["resource"], "https://graph.windows.net");
    let at = token["access_token"].as_str().expect("at");
    let body = format!(
        "<FinalizeExport xmlns=\"{SYNC}\"><totalExported>1</totalExported><successfulExportCount>1</successfulExportCount></FinalizeExport>"
    );
    env.call_as("FinalizeExport", &body, at, BUILD).await.ok();
}

/// An RS256 client assertion signed with a fixture key.
pub fn assertion(key_file: &str, cert_file: &str, client_id: &str, aud: &str, exp_offset: i64) -> String {
    use rustls::pki_types::pem::PemObject as _;
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_file(fixture(key_file)).expect("key");
    let cert = rustls::pki_types::CertificateDer::from_pem_file(fixture(cert_file)).expect("cert");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).expect("rsa key");
    let x5t = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64;
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": x5t});
    let claims = json!({"aud": aud, "iss": client_id, "sub": client_id, "jti": uuid::Uuid::new_v4(),
                        "nbf": now - 10, "exp": now + exp_offset});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut sig)
        .expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[tokio::test]
async fn client_credentials_need_a_registered_certificate() {
    let app = "6d0a1b2c-3d4e-4f50-8a9b-0c1d2e3f4a5b";
    let env = start(config()).await;
    let token_url = format!("{}/{}/oauth2/v2.0/token", env.base, env.tenant);
    let ask = |assertion: String| {
        let env = &env;
        async move {
            env.form(
                &format!("/{}/oauth2/v2.0/token", env.tenant),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", app),
                    ("scope", "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016/.default"),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", &assertion),
                ],
            )
            .await
        }
    };
    let (status, body) = ask(assertion("app.key", "app.pem", app, &token_url, 600)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "not registered yet: {body}");

    let pem = std::fs::read(fixture("app.pem")).expect("pem");
    let r =
        env.http.post(env.url(&format!("/admin/certificates?clientId={app}"))).body(pem).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let (status, token) = ask(assertion("app.key", "app.pem", app, &token_url, 600)).await;
    assert_eq!(status, 200, "{token}");
    assert!(token.get("refresh_token").is_none());
    let at = token["access_token"].as_str().expect("at");
    assert_eq!(claims(at)["wids"], json!(["d29b2b05-8046-44ba-8758-1e26182fcf32"]));
    assert_eq!(claims(at)["aud"], SYNC_APP);
    assert_eq!(claims(at)["roles"], json!(["ADSynchronization.ReadWrite.All"]));
    let body = format!(
        "<FinalizeExport xmlns=\"{SYNC}\"><totalExported>1</totalExported><successfulExportCount>1</successfulExportCount></FinalizeExport>"
    );
    env.call_as("FinalizeExport", &body, at, BUILD).await.ok();

    for (name, forged) in [
        ("unregistered key", assertion("other.key", "other.pem", app, &token_url, 600)),
        ("key of another certificate", assertion("other.key", "app.pem", app, &token_url, 600)),
        ("wrong audience", assertion("app.key", "app.pem", app, "https://example.com/token", 600)),
        ("expired", assertion("app.key", "app.pem", app, &token_url, -600)),
        ("another client's assertion", assertion("app.key", "app.pem", CLIENT_ID, &token_url, 600)),
    ] {
        let (status, body) = ask(forged).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{name}: {body}");
    }
}

#[tokio::test]
async fn certificates_can_be_given_at_start() {
    let app = "0f1e2d3c-4b5a-4968-8776-655443322110";
    let pem = std::fs::read(fixture("app.pem")).expect("pem");
    let env = start(EmulatorConfig { client_certificates: vec![(app.to_owned(), pem)], ..config() }).await;
    let token_url = format!("{}/{}/oauth2/token", env.base, env.tenant);
    let (status, body) = env
        .form(
            &format!("/{}/oauth2/token", env.tenant),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", app),
                ("resource", "https://graph.windows.net"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", &assertion("app.key", "app.pem", app, &token_url, 600)),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}
