//! What the real service would reject is rejected here too, and the emulator keeps serving.

use samba_entra_sync::entra::nbfx;

use super::support::*;

fn finalize_body() -> String {
    format!(
        "<FinalizeExport xmlns=\"{SYNC}\"><totalExported>0</totalExported><successfulExportCount>0</successfulExportCount></FinalizeExport>"
    )
}

/// A valid call still works.
async fn still_serving(env: &Env) {
    assert!(env.call("FinalizeExport", &finalize_body()).await.ok().is(SYNC, "FinalizeExportResponse"));
}

fn valid_request(env: &Env) -> Vec<u8> {
    let xml = envelope("FinalizeExport", &env.token, BUILD, &uuid::Uuid::new_v4().to_string(), &finalize_body());
    nbfx::encode(&nbfx::from_xml(&xml).expect("xml")).expect("encode")
}

#[tokio::test]
async fn transport_errors_are_http_errors() {
    let env = start(config()).await;
    let reply = env.post_raw(valid_request(&env), "application/soap+xml; charset=utf-8").await;
    assert_eq!(reply.status, 415);
    assert!(String::from_utf8_lossy(&reply.raw).contains("application/soap+msbin1"));
    let reply = env.post_raw(vec![0x56; 5 << 20], "application/soap+msbin1").await;
    assert_eq!(reply.status, 413, "over the 4 MiB limit");
    let get = env.http.get(env.url("/provisioningservice.svc")).send().await.expect("get");
    assert_eq!(get.status().as_u16(), 405);
    still_serving(&env).await;
}

#[tokio::test]
async fn malformed_bodies_get_the_formatter_fault() {
    let env = start(config()).await;
    let valid = valid_request(&env);
    let mut corrupt = valid.clone();
    corrupt[40] = 0xFF;
    let mut deep = Vec::new();
    for _ in 0..200 {
        deep.extend_from_slice(&[0x40, 0x01, b'x']);
    }
    deep.extend(std::iter::repeat_n(0x01, 200));
    let odd_dictionary = vec![0x42, 0x03, 0x01];
    for (name, body) in [
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("corrupt", corrupt),
        ("empty", Vec::new()),
        ("deep nesting", deep),
        ("in-band dictionary id", odd_dictionary),
    ] {
        let reply = env.post_raw(body, "application/soap+msbin1").await;
        let text = reply.expect_fault(500, "The formatter threw an exception while trying to deserialize the message");
        assert!(!text.is_empty(), "{name}");
        still_serving(&env).await;
    }
}

#[tokio::test]
async fn envelope_errors_are_faults() {
    let env = start(config()).await;
    let guid = uuid::Uuid::new_v4().to_string();
    let valid = envelope("FinalizeExport", &env.token, BUILD, &guid, &finalize_body());

    let unknown = valid.replace("IProvisioningWebService/FinalizeExport", "IProvisioningWebService/DropAllTables");
    let text = env.send_xml(&unknown).await.expect_fault(500, "ContractFilter mismatch");
    assert!(text.contains("DropAllTables"), "{text}");
    let reply = env.send_xml(&unknown).await;
    let root = reply.root.as_ref().expect("root");
    let header = root.view().child(SOAP, "Header").expect("header");
    assert_eq!(header.child_text(ADDRESSING, "RelatesTo"), Some(format!("urn:uuid:{guid}")));
    let lang = root
        .view()
        .child(SOAP, "Body")
        .and_then(|b| b.child(SOAP, "Fault"))
        .and_then(|f| f.child(SOAP, "Reason"))
        .and_then(|r| r.child(SOAP, "Text"))
        .expect("text");
    assert_eq!(lang.attribute("http://www.w3.org/XML/1998/namespace", "lang"), Some("en-US"));

    let no_action = valid.replace(
        &format!("<a:Action s:mustUnderstand=\"1\">{SYNC}/IProvisioningWebService/FinalizeExport</a:Action>"),
        "",
    );
    env.send_xml(&no_action).await.expect_fault(500, "a:Action");
    let no_to = valid.replace(
        "<a:To s:mustUnderstand=\"1\">https://adminwebservice.microsoftonline.com/provisioningservice.svc</a:To>",
        "",
    );
    env.send_xml(&no_to).await.expect_fault(500, "a:To");
    let other_path = valid.replace("microsoftonline.com/provisioningservice.svc", "microsoftonline.com/other.svc");
    env.send_xml(&other_path).await.expect_fault(500, "AddressFilter mismatch");
    let wrong_body =
        valid.replace("<FinalizeExport ", "<Capabilities ").replace("</FinalizeExport>", "</Capabilities>");
    env.send_xml(&wrong_body)
        .await
        .expect_fault(500, "Expected to find node type 'Element' with name 'FinalizeExport'");
    let soap11 = valid.replace(SOAP, "http://schemas.xmlsoap.org/soap/envelope/");
    env.send_xml(&soap11).await.expect_fault(500, "envelope version");
    let must =
        valid.replace("<a:MessageID>", "<x:Secret s:mustUnderstand=\"1\" xmlns:x=\"urn:x\">1</x:Secret><a:MessageID>");
    env.send_xml(&must).await.expect_fault(500, "was not understood");
    // The real host in a:To is fine, whatever host the request reached (checked by every
    // other test); so is any order of the SyncToken children.
    still_serving(&env).await;
}

fn forge(claims: serde_json::Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        b64(&serde_json::json!({"alg": "HS256", "typ": "JWT"})),
        b64(&claims),
        b64(&serde_json::json!("sig"))
    )
}

#[tokio::test]
async fn tokens_are_checked() {
    let env = start(config()).await;
    let body = finalize_body();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    let forged = forge(serde_json::json!({"aud": "https://graph.windows.net", "tid": env.tenant, "exp": now + 600,
        "wids": ["62e90394-69f5-4237-9190-012177145e10"]}));
    let mut tampered = env.token.clone();
    tampered.pop();
    tampered.push(if env.token.ends_with('A') { 'B' } else { 'A' });
    let graph_token = env.device_token(CLIENT_ID, "https://graph.microsoft.com/.default offline_access openid").await;
    let no_role = {
        let code = env.device_code(CLIENT_ID, SYNC_SCOPE).await;
        let user_code = code["user_code"].as_str().expect("user_code");
        let (status, _) = env
            .admin_post(
                &format!("/admin/device-codes/{user_code}/approve"),
                &serde_json::json!({"userPrincipalName": "helpdesk@emulator.onmicrosoft.com", "roles": []}),
            )
            .await;
        assert_eq!(status, 200);
        let (status, token) = env.poll(CLIENT_ID, code["device_code"].as_str().expect("device_code")).await;
        assert_eq!(status, 200, "{token}");
        token["access_token"].as_str().expect("token").to_owned()
    };
    for (name, token) in [
        ("missing", String::new()),
        ("not a JWT", "not-a-token".to_owned()),
        ("forged signature", forged),
        ("tampered", tampered),
        ("wrong audience", graph_token["access_token"].as_str().expect("token").to_owned()),
        ("no sync role", no_role),
    ] {
        let reply = env.call_as("FinalizeExport", &body, &token, BUILD).await;
        let text = reply.expect_fault(500, ACCESS_DENIED);
        assert_eq!(text, ACCESS_DENIED, "{name}");
    }
    still_serving(&env).await;
}

#[tokio::test]
async fn expired_tokens_and_other_tenants_are_refused() {
    use samba_entra_sync::emulator::EmulatorConfig;
    let short = start(EmulatorConfig { access_token_lifetime: std::time::Duration::from_secs(1), ..config() }).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    short.call("FinalizeExport", &finalize_body()).await.expect_fault(500, ACCESS_DENIED);
    // A token of another emulator (another tenant, another key).
    let other = start(config()).await;
    short.call_as("FinalizeExport", &finalize_body(), &other.token, BUILD).await.expect_fault(500, ACCESS_DENIED);
    still_serving(&other).await;
}

#[tokio::test]
async fn old_client_builds_are_refused() {
    let env = start(config()).await;
    for build in ["2.4.21.0", "1.5.29.0", "", "two.six"] {
        let reply = env.call_as("FinalizeExport", &finalize_body(), &env.token, build).await;
        let text = reply.expect_fault(500, "DirSyncBuildNumber");
        let shown = if build.is_empty() { "(none)" } else { build };
        assert!(text.contains(shown), "{text}");
    }
    env.call_as("FinalizeExport", &finalize_body(), &env.token, "2.5.79.0").await.ok();
    env.call_as("FinalizeExport", &finalize_body(), &env.token, "10.0.0.0").await.ok();
}
