//! Seamless SSO registration and winauth/sso refusals (docs/emulator.md, "Seamless SSO"), with
//! raw XML requests and tickets forged with the registered secret.

use base64::Engine as _;
use samba_entra_sync::emulator::EmulatorConfig;
use samba_entra_sync::entra::kerberos::ticket::write::{TicketSpec, negotiate, ticket};
use samba_entra_sync::entra::kerberos::{Etype, Key, computer_key, computer_rc4_key, pac};

use super::support::*;

const REG: &str =
    "http://schemas.datacontract.org/2004/07/Microsoft.ApplicationProxy.Common.RegistrationCommons.Registration";
const SEC: &str = "http://schemas.datacontract.org/2004/07/Microsoft.ApplicationProxy.Common.Security.AadSecurity";
const CONNECT: &str = "cb1056e2-e479-49de-ae31-7812af012ed8";
const REGISTER_SCOPE: &str = "https://proxy.cloudwebappproxy.net/registerapp/.default";
const SECRET: &str = "a-long-random-secret";

fn enable_domain(token: &str, enable: bool) -> String {
    format!(
        "<DesktopSsoRequest xmlns=\"{REG}\"><AuthenticationToken xmlns=\"{SEC}\">{token}</AuthenticationToken>\
         <ComputerName>AZUREADSSOACC</ComputerName><DomainName>lab.test</DomainName><Enable>{enable}</Enable>\
         <Secret>{SECRET}</Secret></DesktopSsoRequest>"
    )
}

fn enable_flag(token: &str) -> String {
    format!(
        "<DesktopSsoEnablementRequest xmlns=\"{REG}\"><AuthenticationToken xmlns=\"{SEC}\">{token}</AuthenticationToken>\
         <Enable>true</Enable></DesktopSsoEnablementRequest>"
    )
}

async fn register(env: &Env, op: &str, body: String, content_type: &str) -> (u16, String) {
    let r = env
        .http
        .post(env.url(&format!("/register/{op}")))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn register_token(env: &Env) -> String {
    env.device_token(CONNECT, REGISTER_SCOPE).await["access_token"].as_str().expect("token").to_owned()
}

async fn sso(env: &Env, token: Option<&[u8]>) -> (u16, Option<String>, serde_json::Value) {
    let mut request = env.http.get(env.url(&format!("/{}/winauth/sso", env.tenant)));
    if let Some(t) = token {
        request = request
            .header("Authorization", format!("Negotiate {}", base64::engine::general_purpose::STANDARD.encode(t)));
    }
    let r = request.send().await.expect("request");
    let status = r.status().as_u16();
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap_or("").to_owned());
    (status, challenge, r.json().await.unwrap_or(serde_json::Value::Null))
}

fn forged(key: &Key) -> Vec<u8> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut sid = vec![1, 4, 0, 0, 0, 0, 0, 5];
    for sub in [21u32, 1, 2, 3] {
        sid.extend_from_slice(&sub.to_le_bytes());
    }
    let pac = pac::write::pac("carol", &sid, 1200, key);
    let session = Key::new(Etype::Aes256CtsHmacSha196, &[4u8; 32]).unwrap();
    let spec = TicketSpec {
        realm: "LAB.TEST",
        sname: &["HTTP", "autologon.microsoftazuread-sso.com"],
        client: "carol",
        session_key: &session,
        authtime: now - 10,
        endtime: now + 3600,
        pac: Some(&pac),
    };
    negotiate(&ticket(&spec, key).unwrap(), "LAB.TEST", "carol", &session, now).unwrap()
}

#[tokio::test]
async fn registration_wants_an_administrators_registerapp_token_in_xml() {
    let env = start(config()).await;
    // The sync token (another audience) is refused.
    let (status, body) = register(&env, "EnableDesktopSso", enable_domain(&env.token, true), "application/xml").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("<IsSuccessful>false</IsSuccessful>"), "{body}");
    let token = register_token(&env).await;
    let (status, _) = register(&env, "EnableDesktopSso", enable_domain(&token, true), "text/plain").await;
    assert_eq!(status, 415);
    let (status, body) =
        register(&env, "EnableDesktopSso", enable_flag(&token).replace("Enablement", ""), "application/xml").await;
    assert_eq!(status, 400, "{body}");
    let (_, state) = env.admin_get("/admin/desktop-sso").await;
    assert_eq!(state["domains"], serde_json::json!([]), "{state}");

    // A user without an administrator role is refused.
    let reader =
        start(EmulatorConfig { signin_roles: vec!["Directory Synchronization Accounts".into()], ..config() }).await;
    let weak = register_token(&reader).await;
    let (status, body) = register(&reader, "EnableDesktopSsoFlag", enable_flag(&weak), "application/xml").await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn winauth_sso_challenges_then_refuses_what_it_cannot_accept() {
    let env = start(config()).await;
    let key = computer_key(SECRET, "lab.test", "AZUREADSSOACC");
    let (status, challenge, _) = sso(&env, None).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Negotiate")));
    // Not registered yet: refused.
    let (status, _, body) = sso(&env, Some(&forged(&key))).await;
    assert_eq!(status, 401, "{body}");

    let token = register_token(&env).await;
    assert_eq!(register(&env, "EnableDesktopSsoFlag", enable_flag(&token), "application/xml").await.0, 200);
    let (status, body) = register(&env, "EnableDesktopSso", enable_domain(&token, true), "application/xml").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<IsSuccessful>true</IsSuccessful>"), "{body}");
    let status_request = format!(
        "<TokenAuthenticationRequest xmlns=\"{SEC}\"><AuthenticationToken>{token}</AuthenticationToken></TokenAuthenticationRequest>"
    );
    let (status, body) = register(&env, "GetDesktopSsoStatus", status_request, "application/xml").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("lab.test</a:string>") && body.contains("<Enable>true</Enable>"), "{body}");

    // The key decrypts, but the SID is no synced user.
    let (status, _, body) = sso(&env, Some(&forged(&key))).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["reason"].as_str().unwrap_or("").contains("carol@LAB.TEST (by its SID) is no synced user"), "{body}");
    // A ticket sealed with another key is refused before any user lookup.
    let other = computer_key("another secret", "lab.test", "AZUREADSSOACC");
    let (status, _, body) = sso(&env, Some(&forged(&other))).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["reason"].as_str().unwrap_or("").contains("checksum"), "{body}");
    assert_eq!(sso(&env, Some(b"not a token")).await.0, 401);

    // Unregistered: refused again.
    assert_eq!(register(&env, "EnableDesktopSso", enable_domain(&token, false), "application/xml").await.0, 200);
    let (_, _, body) = sso(&env, Some(&forged(&key))).await;
    assert!(body["reason"].as_str().unwrap_or("").contains("no Seamless SSO registration"), "{body}");
}

async fn admin_state(env: &Env) -> serde_json::Value {
    env.http.get(env.url("/admin/desktop-sso")).send().await.expect("request").json().await.expect("json")
}

/// "RC4 only if registered so": an RC4-HMAC ticket (etype 23) forged with the NT hash of the
/// registered secret, as AADInternals' New-AADIntKerberosTicket makes one by default, decrypts
/// under a registration made with `--seamless-sso-rc4 accept` (the default) and is refused, for
/// its encryption type, by one made with `refuse`, whose AES256 key still reads AES tickets.
#[tokio::test]
async fn an_rc4_ticket_is_read_only_by_a_registration_holding_the_rc4_key() {
    let rc4 = computer_rc4_key(SECRET);
    let aes = computer_key(SECRET, "lab.test", "AZUREADSSOACC");
    for accept in [true, false] {
        let env = start(EmulatorConfig { seamless_sso_rc4: accept, ..config() }).await;
        let token = register_token(&env).await;
        assert_eq!(register(&env, "EnableDesktopSsoFlag", enable_flag(&token), "application/xml").await.0, 200);
        assert_eq!(register(&env, "EnableDesktopSso", enable_domain(&token, true), "application/xml").await.0, 200);
        let state = admin_state(&env).await;
        let want = if accept { vec!["aes256-cts-hmac-sha1-96", "rc4-hmac"] } else { vec!["aes256-cts-hmac-sha1-96"] };
        assert_eq!(state["domains"][0]["encryptionTypes"], serde_json::json!(want), "{state}");
        assert!(!state.to_string().to_lowercase().contains(&hex::encode(rc4.bytes())), "{state}");

        let (status, _, body) = sso(&env, Some(&forged(&rc4))).await;
        assert_eq!(status, 401, "{body}");
        let reason = body["reason"].as_str().unwrap_or("").to_owned();
        if accept {
            // Decrypted and its PAC signature checked: only the user is unknown.
            assert!(reason.contains("carol@LAB.TEST (by its SID) is no synced user"), "{body}");
        } else {
            assert!(reason.contains("sealed with rc4-hmac") && reason.contains("holds no rc4-hmac key"), "{body}");
        }
        // Another secret's NT hash never reads.
        let (_, _, body) = sso(&env, Some(&forged(&computer_rc4_key("another secret")))).await;
        let reason = body["reason"].as_str().unwrap_or("").to_owned();
        assert!(reason.contains(if accept { "checksum" } else { "holds no rc4-hmac key" }), "{body}");
        // AES tickets, either way.
        let (_, _, body) = sso(&env, Some(&forged(&aes))).await;
        assert!(body["reason"].as_str().unwrap_or("").contains("is no synced user"), "{body}");
    }
}
