//! Admin API, fault injection, throttling, Graph facade and the HTML page.

use std::time::Duration;

use samba_entra_sync::emulator::EmulatorConfig;
use serde_json::json;

use super::support::*;

fn finalize_body() -> String {
    format!(
        "<FinalizeExport xmlns=\"{SYNC}\"><totalExported>0</totalExported><successfulExportCount>0</successfulExportCount></FinalizeExport>"
    )
}

fn user(anchor: &str) -> String {
    provision_body("ProvisionAzureADSyncObjects", &[object("User", "Set", &[kv_string("SourceAnchor", anchor)])])
}

#[tokio::test]
async fn writes_are_throttled_in_a_sliding_window() {
    let window = Duration::from_millis(1500);
    let env = start(EmulatorConfig { throttle_writes: 3, throttle_window: window, ..config() }).await;
    for i in 0..3 {
        env.call("ProvisionAzureADSyncObjects", &user(&format!("t{i}"))).await.ok();
    }
    let reply = env.call("ProvisionAzureADSyncObjects", &user("t3")).await;
    reply.expect_fault(503, "throttl");
    let retry: u64 = reply.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    // Reads are not writes; an unchanged object is not a write either.
    env.call("FinalizeExport", &finalize_body()).await.ok();
    tokio::time::sleep(window).await;
    env.call("ProvisionAzureADSyncObjects", &user("t3")).await.ok();
    let (_, stats) = env.admin_get("/admin/stats").await;
    assert_eq!(stats["throttled"], 1);
    assert_eq!(stats["writes"], 4);
}

async fn inject(env: &Env, fault: serde_json::Value) {
    let (status, body) = env.admin_post("/admin/faults", &fault).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn each_fault_kind_acts_and_ends() {
    let env = start(config()).await;
    let finalize = finalize_body();

    inject(&env, json!({"kind": "unavailable", "calls": 1})).await;
    let reply = env.call("FinalizeExport", &finalize).await;
    assert_eq!(reply.status, 503);
    assert!(reply.headers.contains_key("retry-after"));
    env.call("FinalizeExport", &finalize).await.ok();

    inject(&env, json!({"kind": "throttle", "calls": 2})).await;
    env.call("FinalizeExport", &finalize).await.expect_fault(503, "throttl");
    env.call("FinalizeExport", &finalize).await.expect_fault(503, "throttl");
    env.call("FinalizeExport", &finalize).await.ok();

    inject(&env, json!({"kind": "redirect", "calls": 1})).await;
    let reply = env.call("FinalizeExport", &finalize).await;
    reply.expect_fault(500, "moved");
    let root = reply.root.as_ref().expect("root");
    let detail = root
        .view()
        .child(SOAP, "Body")
        .and_then(|b| b.child(SOAP, "Fault"))
        .and_then(|f| f.child(SOAP, "Detail"))
        .expect("detail");
    let url = detail.children().next().expect("BindingRedirectionFault").child_text(SYNC, "Url").expect("Url");
    assert_eq!(url, format!("{}/provisioningservice.svc", env.base));
    env.call("FinalizeExport", &finalize).await.ok();

    inject(&env, json!({"kind": "latency", "ms": 300, "calls": 1})).await;
    let started = std::time::Instant::now();
    env.call("FinalizeExport", &finalize).await.ok();
    assert!(started.elapsed() >= Duration::from_millis(300));

    inject(&env, json!({"kind": "tokenExpiry", "seconds": 30})).await;
    env.call("FinalizeExport", &finalize).await.expect_fault(500, ACCESS_DENIED);
    let fresh = env.device_token(CLIENT_ID, SYNC_SCOPE).await;
    env.call_as("FinalizeExport", &finalize, fresh["access_token"].as_str().expect("at"), BUILD).await.ok();
    let r = env.http.delete(env.url("/admin/faults")).send().await.expect("delete");
    assert_eq!(r.status().as_u16(), 204);
    env.call("FinalizeExport", &finalize).await.ok();

    env.enable_phs().await;
    env.add_user("rd", "rd@contoso.example").await;
    inject(&env, json!({"kind": "replicationDelay", "ms": 60_000, "calls": 1})).await;
    let body = credentials_body(&[credential_item("rd", &credential_for("pw"), "2024-05-01T10:20:30Z")]);
    assert_eq!(credential_results(&env.call("ProvisionCredentials", &body).await)[0].0, 2);
    assert_eq!(credential_results(&env.call("ProvisionCredentials", &body).await)[0].0, 0);

    let (_, stats) = env.admin_get("/admin/stats").await;
    assert_eq!(stats["faultsInjected"], 8, "{stats}");
    assert_eq!(stats["throttled"], 2);

    for bad in [
        json!({"kind": "meteor"}),
        json!({"kind": "latency"}),
        json!({"kind": "throttle", "calls": 0}),
        json!([{"kind": "throttle", "colls": 1}]),
    ] {
        let (status, _) = env.admin_post("/admin/faults", &bad).await;
        assert_eq!(status, 400, "{bad}");
    }
}

#[tokio::test]
async fn seconds_bound_a_fault() {
    let env = start(config()).await;
    inject(&env, json!([{"kind": "unavailable", "seconds": 0.3}])).await;
    assert_eq!(env.call("FinalizeExport", &finalize_body()).await.status, 503);
    assert_eq!(env.call("FinalizeExport", &finalize_body()).await.status, 503);
    tokio::time::sleep(Duration::from_millis(350)).await;
    env.call("FinalizeExport", &finalize_body()).await.ok();
}

#[tokio::test]
async fn admin_lists_objects_and_validates_input() {
    let env = start(config()).await;
    env.add_user("a/b+c==", "slash@contoso.example").await;
    let group =
        provision_body("ProvisionAzureADSyncObjects", &[object("Group", "Set", &[kv_string("SourceAnchor", "grp")])]);
    env.call("ProvisionAzureADSyncObjects", &group).await.ok();
    let (status, users) = env.admin_get("/admin/objects?type=User").await;
    assert_eq!(status, 200);
    assert_eq!(users.as_array().map(Vec::len), Some(1));
    assert_eq!(users[0]["sourceAnchor"], "a/b+c==");
    assert_eq!(users[0]["credential"], serde_json::Value::Null);
    let (_, all) = env.admin_get("/admin/objects").await;
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let (status, one) = env.admin_get("/admin/objects/a%2Fb%2Bc%3D%3D").await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["attributes"]["userPrincipalName"], "slash@contoso.example");
    let (status, _) = env.admin_get("/admin/objects?type=Printer").await;
    assert_eq!(status, 400);
    let (status, _) =
        env.admin_post("/admin/verify-password", &json!({"sourceAnchor": "nobody", "password": "x"})).await;
    assert_eq!(status, 404);
    let (status, _) = env.admin_post("/admin/verify-password", &json!({"password": "x"})).await;
    assert_eq!(status, 400);
    assert!(!env.verify_password("a/b+c==", "anything").await, "no credential yet");
}

#[tokio::test]
async fn the_page_lists_objects_escaped() {
    let env = start(config()).await;
    env.enable_phs().await;
    let body = provision_body(
        "ProvisionAzureADSyncObjects",
        &[object(
            "User",
            "Set",
            &[kv_string("SourceAnchor", "<script>"), kv_string("displayName", "Mallory <b>&</b>")],
        )],
    );
    env.call("ProvisionAzureADSyncObjects", &body).await.ok();
    let creds = credentials_body(&[credential_item("<script>", &credential_for("pw"), "2024-05-01T10:20:30Z")]);
    env.call("ProvisionCredentials", &creds).await.ok();
    let html = env.http.get(env.url("/")).send().await.expect("get").text().await.expect("text");
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");
    assert!(html.contains("Mallory &lt;b&gt;&amp;&lt;/b&gt;"));
    assert!(html.contains("2024-05-01T10:20:30Z"));
}

#[tokio::test]
async fn graph_facade_pages_and_selects() {
    let env = start(config()).await;
    for i in 0..5 {
        env.add_user(&format!("g{i}"), &format!("g{i}@contoso.example")).await;
    }
    let graph = env.device_token(CLIENT_ID, "https://graph.microsoft.com/.default offline_access openid profile").await;
    let token = graph["access_token"].as_str().expect("token");
    let mut url = env.url("/v1.0/users?$select=onPremisesImmutableId,userPrincipalName,onPremisesSyncEnabled&$top=2");
    let mut seen = Vec::new();
    loop {
        let page: serde_json::Value =
            env.http.get(&url).bearer_auth(token).send().await.expect("get").json().await.expect("json");
        for user in page["value"].as_array().expect("value") {
            assert_eq!(user["onPremisesSyncEnabled"], true);
            assert!(user.get("displayName").is_none(), "$select limits properties: {user}");
            seen.push(user["onPremisesImmutableId"].as_str().expect("immutable id").to_owned());
        }
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ["g0", "g1", "g2", "g3", "g4"]);
    let r = env.http.get(env.url("/v1.0/users")).bearer_auth(&env.token).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 401, "an Azure AD Graph token is not a Microsoft Graph token");
    let r = env.http.get(env.url("/v1.0/users?$select=shoeSize")).bearer_auth(token).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 400);
    let groups: serde_json::Value =
        env.http.get(env.url("/v1.0/groups")).bearer_auth(token).send().await.expect("get").json().await.expect("json");
    assert_eq!(groups["value"], json!([]));
}
