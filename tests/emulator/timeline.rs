//! `--service-date`: the sync endpoint follows the service's dated rules (docs/emulator.md,
//! "The service's timeline"): the legacy audience and old builds end on 2026-09-30, user tokens
//! on 2027-04-07; app tokens for the sync app need `ADSynchronization.ReadWrite.All`.

use samba_entra_sync::emulator::{EmulatorConfig, ServiceDate};
use serde_json::json;

use super::signin::{assertion, claims};
use super::support::*;

const LEGACY_SCOPE: &str = "https://graph.windows.net/.default offline_access openid profile";
const APP: &str = "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d";

fn on(date: &str) -> EmulatorConfig {
    EmulatorConfig { service_date: Some(ServiceDate::parse(date).expect("date")), ..config() }
}

fn finalize_body() -> String {
    format!(
        "<FinalizeExport xmlns=\"{SYNC}\"><totalExported>0</totalExported><successfulExportCount>0</successfulExportCount></FinalizeExport>"
    )
}

async fn user_token(env: &Env, scope: &str) -> String {
    env.device_token(CLIENT_ID, scope).await["access_token"].as_str().expect("token").to_owned()
}

/// An app token for the sync app, for the fixture certificate registered to `APP`.
async fn app_token(env: &Env) -> (u16, serde_json::Value) {
    let token_url = format!("{}/{}/oauth2/v2.0/token", env.base, env.tenant);
    env.form(
        &format!("/{}/oauth2/v2.0/token", env.tenant),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("scope", "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016/.default"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &assertion("app.key", "app.pem", APP, &token_url, 600)),
        ],
    )
    .await
}

fn with_app(config: EmulatorConfig, app_roles: &[&str]) -> EmulatorConfig {
    let pem = std::fs::read(fixture("app.pem")).expect("pem");
    EmulatorConfig {
        client_certificates: vec![(APP.to_owned(), pem)],
        client_app_roles: app_roles.iter().map(|r| (*r).to_owned()).collect(),
        ..config
    }
}

#[tokio::test]
async fn the_legacy_audience_is_refused_from_its_retirement() {
    // The default is today (after 2026-09-30): the sync app's tokens work, graph.windows.net's do not.
    let env = start(config()).await;
    assert_eq!(claims(&env.token)["aud"], SYNC_APP);
    env.call_as("FinalizeExport", &finalize_body(), &env.token, BUILD).await.ok();
    let legacy = user_token(&env, LEGACY_SCOPE).await;
    assert_eq!(claims(&legacy)["aud"], "https://graph.windows.net");
    env.call_as("FinalizeExport", &finalize_body(), &legacy, BUILD).await.expect_fault(500, ACCESS_DENIED);

    // The day before, both work.
    let before = start(on("2026-09-29")).await;
    let legacy = user_token(&before, LEGACY_SCOPE).await;
    before.call_as("FinalizeExport", &finalize_body(), &legacy, BUILD).await.ok();
    before.call_as("FinalizeExport", &finalize_body(), &before.token, BUILD).await.ok();
    // And on the day itself, it ends.
    let day = start(on("2026-09-30")).await;
    let legacy = user_token(&day, LEGACY_SCOPE).await;
    day.call_as("FinalizeExport", &finalize_body(), &legacy, BUILD).await.expect_fault(500, ACCESS_DENIED);
}

#[tokio::test]
async fn builds_below_2_5_79_are_refused_from_2026_09_30() {
    let before = start(on("2026-09-29")).await;
    before.call_as("FinalizeExport", &finalize_body(), &before.token, "2.4.21.0").await.ok();
    before.call_as("FinalizeExport", &finalize_body(), &before.token, "1.5.29.0").await.expect_fault(500, "2.0.0.0");
    let after = start(on("2026-09-30")).await;
    let text =
        after.call_as("FinalizeExport", &finalize_body(), &after.token, "2.4.21.0").await.expect_fault(500, "2.5.79.0");
    assert!(text.contains("DirSyncBuildNumber"), "{text}");
    after.call_as("FinalizeExport", &finalize_body(), &after.token, "2.5.79.0").await.ok();
    // An explicit --min-build still wins over the date.
    let strict = start(EmulatorConfig { min_build: "2.6.84.0".into(), ..on("2026-09-29") }).await;
    strict.call_as("FinalizeExport", &finalize_body(), &strict.token, "2.6.3.0").await.expect_fault(500, "2.6.84.0");
}

#[tokio::test]
async fn user_tokens_are_refused_from_2027_04_07_and_app_tokens_keep_working() {
    let before = start(with_app(on("2027-04-06"), &["ADSynchronization.ReadWrite.All"])).await;
    before.call_as("FinalizeExport", &finalize_body(), &before.token, BUILD).await.ok();

    let after = start(with_app(on("2027-04-07"), &["ADSynchronization.ReadWrite.All"])).await;
    // The token endpoint still signs the user in; the sync endpoint refuses the token.
    assert_eq!(claims(&after.token)["scp"], "ADSynchronization.ReadWrite.All");
    let text =
        after.call_as("FinalizeExport", &finalize_body(), &after.token, BUILD).await.expect_fault(500, ACCESS_DENIED);
    assert!(text.contains("application-based authentication"), "{text}");
    let (status, token) = app_token(&after).await;
    assert_eq!(status, 200, "{token}");
    let at = token["access_token"].as_str().expect("at");
    assert_eq!(claims(at)["aud"], SYNC_APP);
    assert_eq!(claims(at)["idtyp"], "app");
    assert_eq!(claims(at)["roles"], json!(["ADSynchronization.ReadWrite.All"]));
    after.call_as("FinalizeExport", &finalize_body(), at, BUILD).await.ok();
}

#[tokio::test]
async fn an_app_token_needs_the_sync_role_and_a_user_token_a_sync_capable_user() {
    let env = start(with_app(config(), &[])).await;
    let (status, token) = app_token(&env).await;
    assert_eq!(status, 200, "{token}");
    let at = token["access_token"].as_str().expect("at");
    assert_eq!(claims(at)["roles"], json!([]));
    let text = env.call_as("FinalizeExport", &finalize_body(), at, BUILD).await.expect_fault(500, ACCESS_DENIED);
    assert!(!text.contains("application-based"), "{text}");

    let nobody = start(EmulatorConfig { signin_roles: vec!["Hybrid Identity Administrator".into()], ..config() }).await;
    nobody.call_as("FinalizeExport", &finalize_body(), &nobody.token, BUILD).await.expect_fault(500, ACCESS_DENIED);
}
