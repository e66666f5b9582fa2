//! The Graph facade's app registrations (docs/emulator.md, "Applications, service principals and
//! app role assignments"): a key credential signs the app in, an assignment of the sync app's role
//! puts `roles` in its tokens, `addKey`/`removeKey` need a proof signed by a current key.

use base64::Engine as _;
use samba_entra_sync::entra::auth::{AppCredential, generate_credential};
use serde_json::{Value as J, json};

use super::signin::claims;
use super::support::*;

const GRAPH_CLI: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
const ADMIN_SCOPES: &str =
    "https://graph.microsoft.com/Application.ReadWrite.All https://graph.microsoft.com/AppRoleAssignment.ReadWrite.All";
const ROLE_ID: &str = "ab43b826-2c7a-4aff-9ecd-d0629d0ca6a9";

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs()
}

/// A key and certificate as register-app makes them, with the Base64 DER Graph takes.
fn credential() -> (AppCredential, String) {
    let made = generate_credential("SambaEntraSync_test", std::time::Duration::from_secs(86_400), now()).expect("gen");
    let app = AppCredential::from_pem(made.certificate_pem.as_bytes(), made.private_key_pem.as_bytes()).expect("pem");
    let (_, der) = x509_cert::der::pem::decode_vec(made.certificate_pem.as_bytes()).expect("der");
    (app, base64::engine::general_purpose::STANDARD.encode(der))
}

fn key(b64: &str) -> J {
    json!({"type": "AsymmetricX509Cert", "usage": "Verify", "key": b64})
}

async fn graph(env: &Env, method: reqwest::Method, path: &str, token: &str, body: Option<&J>) -> (u16, J) {
    let mut request = env.http.request(method, env.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let r = request.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(J::Null))
}

/// A client-credentials grant for the sync app with `cred`: (status, answer).
async fn app_token(env: &Env, app_id: &str, cred: &AppCredential) -> (u16, J) {
    let token_url = format!("{}/{}/oauth2/v2.0/token", env.base, env.tenant);
    let assertion = cred.client_assertion(app_id, &token_url, now()).expect("assertion");
    env.form(
        &format!("/{}/oauth2/v2.0/token", env.tenant),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", app_id),
            ("scope", "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016/.default"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &assertion),
        ],
    )
    .await
}

#[tokio::test]
async fn an_app_registration_signs_in_gets_its_role_and_rotates_its_key_with_a_proof() {
    let env = start(config()).await;
    let admin = env.device_token(GRAPH_CLI, ADMIN_SCOPES).await["access_token"].as_str().expect("token").to_owned();
    use reqwest::Method as M;

    // The sync token (another audience) is not a Graph token.
    let (status, body) = graph(&env, M::GET, "/v1.0/applications", &env.token, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("InvalidAuthenticationToken")), "{body}");

    let (first, first_key) = credential();
    let (status, created) = graph(
        &env,
        M::POST,
        "/v1.0/applications",
        &admin,
        Some(&json!({"displayName": "SambaEntraSync_dc1", "keyCredentials": [key(&first_key)]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (id, app_id) = (created["id"].as_str().unwrap().to_owned(), created["appId"].as_str().unwrap().to_owned());
    let (status, found) =
        graph(&env, M::GET, "/v1.0/applications?$filter=displayName%20eq%20'SambaEntraSync_dc1'", &admin, None).await;
    assert_eq!((status, found["value"].as_array().map(Vec::len)), (200, Some(1)), "{found}");

    // The key signs the app in; without the role its token carries none.
    let (status, answer) = app_token(&env, &app_id, &first).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(claims(answer["access_token"].as_str().unwrap())["roles"], json!([]));

    let (status, sp) = graph(&env, M::POST, "/v1.0/servicePrincipals", &admin, Some(&json!({"appId": app_id}))).await;
    assert_eq!(status, 201, "{sp}");
    let (status, again) =
        graph(&env, M::POST, "/v1.0/servicePrincipals", &admin, Some(&json!({"appId": app_id}))).await;
    assert_eq!(status, 409, "{again}");
    let path = format!("/v1.0/servicePrincipals?$filter=appId%20eq%20'{SYNC_APP}'");
    let (_, sync) = graph(&env, M::GET, &path, &admin, None).await;
    let sync_sp = &sync["value"][0];
    assert_eq!(sync_sp["appRoles"][0]["id"], ROLE_ID, "{sync}");
    assert_eq!(sync_sp["appRoles"][0]["value"], "ADSynchronization.ReadWrite.All");
    let sync_id = sync_sp["id"].as_str().unwrap();
    let grant = json!({"principalId": sp["id"], "resourceId": sync_id, "appRoleId": ROLE_ID});
    let assign = format!("/v1.0/servicePrincipals/{sync_id}/appRoleAssignedTo");
    let (status, body) = graph(&env, M::POST, &assign, &admin, Some(&grant)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = graph(&env, M::POST, &assign, &admin, Some(&grant)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("already exists"), "{body}");
    let (_, held) = graph(
        &env,
        M::GET,
        &format!("/v1.0/servicePrincipals/{}/appRoleAssignments", sp["id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    assert_eq!(held["value"].as_array().map(Vec::len), Some(1), "{held}");
    let (_, answer) = app_token(&env, &app_id, &first).await;
    assert_eq!(claims(answer["access_token"].as_str().unwrap())["roles"], json!(["ADSynchronization.ReadWrite.All"]));

    // addKey: the proof must come from a current key, for this application's object id.
    let (second, second_key) = credential();
    let add = format!("/v1.0/applications/{id}/addKey");
    let body_with =
        |proof: &str| json!({"keyCredential": key(&second_key), "passwordCredential": null, "proof": proof});
    for (bad, why) in [
        (second.key_proof(&id, now()).unwrap(), "not signed"),
        (first.key_proof(&app_id, now()).unwrap(), "iss"),
        (first.key_proof(&id, now() - 3600).unwrap(), "expired"),
    ] {
        let (status, body) = graph(&env, M::POST, &add, &admin, Some(&body_with(&bad))).await;
        assert_eq!(status, 401, "{why}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(why), "{body}");
    }
    let (status, added) =
        graph(&env, M::POST, &add, &admin, Some(&body_with(&first.key_proof(&id, now()).unwrap()))).await;
    assert_eq!(status, 200, "{added}");
    let (_, listed) = graph(&env, M::GET, &format!("/v1.0/applications/{id}"), &admin, None).await;
    assert_eq!(listed["keyCredentials"].as_array().map(Vec::len), Some(2), "{listed}");
    assert_eq!(app_token(&env, &app_id, &second).await.0, 200);

    // removeKey of the old key, proven by the new one: the old key no longer signs in.
    let old_key_id = listed["keyCredentials"][0]["keyId"].as_str().unwrap().to_owned();
    let remove = json!({"keyId": old_key_id, "proof": second.key_proof(&id, now()).unwrap().as_str()});
    let (status, body) =
        graph(&env, M::POST, &format!("/v1.0/applications/{id}/removeKey"), &admin, Some(&remove)).await;
    assert_eq!(status, 204, "{body}");
    let (_, listed) = graph(&env, M::GET, &format!("/v1.0/applications/{id}"), &admin, None).await;
    assert_eq!(listed["keyCredentials"].as_array().map(Vec::len), Some(1), "{listed}");
    let (status, body) = app_token(&env, &app_id, &first).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    assert_eq!(app_token(&env, &app_id, &second).await.0, 200);
}

/// A client-credentials grant for Microsoft Graph with `cred`: the application's own Graph token.
async fn own_graph_token(env: &Env, app_id: &str, cred: &AppCredential) -> String {
    let token_url = format!("{}/{}/oauth2/v2.0/token", env.base, env.tenant);
    let assertion = cred.client_assertion(app_id, &token_url, now()).expect("assertion");
    let (status, answer) = env
        .form(
            &format!("/{}/oauth2/v2.0/token", env.tenant),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", app_id),
                ("scope", "https://graph.microsoft.com/.default"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", &assertion),
            ],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn an_application_rolls_its_own_keys_but_cannot_read_itself_and_an_admin_replaces_them_whole() {
    let env = start(config()).await;
    let admin = env.device_token(GRAPH_CLI, ADMIN_SCOPES).await["access_token"].as_str().expect("token").to_owned();
    use reqwest::Method as M;
    let (first, first_key) = credential();
    let body = json!({"displayName": "SambaEntraSync_dc2", "keyCredentials": [key(&first_key)]});
    let (_, created) = graph(&env, M::POST, "/v1.0/applications", &admin, Some(&body)).await;
    let (id, app_id) = (created["id"].as_str().unwrap().to_owned(), created["appId"].as_str().unwrap().to_owned());

    // Its own Graph token may not read applications (no Application.Read.All), not even itself.
    let own = own_graph_token(&env, &app_id, &first).await;
    for path in ["/v1.0/applications".to_owned(), format!("/v1.0/applications/{id}")] {
        let (status, body) = graph(&env, M::GET, &path, &own, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("Authorization_RequestDenied")), "{body}");
    }

    // But it rolls its own keys: the proof is the authorisation. A graphUnavailable fault holds
    // removeKey (Graph's 503) and nothing else.
    let (second, second_key) = credential();
    let add = json!({"keyCredential": key(&second_key), "passwordCredential": null,
                     "proof": first.key_proof(&id, now()).unwrap().as_str()});
    let (status, added) = graph(&env, M::POST, &format!("/v1.0/applications/{id}/addKey"), &own, Some(&add)).await;
    assert_eq!(status, 200, "{added}");
    let (status, _) = env
        .admin_post("/admin/faults", &json!({"kind": "graphUnavailable", "operation": "removeKey", "calls": 1}))
        .await;
    assert_eq!(status, 201);
    let old_key_id = created["keyCredentials"][0]["keyId"].as_str().unwrap().to_owned();
    let remove = json!({"keyId": old_key_id, "proof": second.key_proof(&id, now()).unwrap().as_str()});
    let path = format!("/v1.0/applications/{id}/removeKey");
    let (status, body) = graph(&env, M::POST, &path, &own, Some(&remove)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("serviceNotAvailable")), "{body}");
    let company = format!(
        "<GetCompanyConfiguration xmlns=\"{SYNC}\"><includeLicenseInformation>false</includeLicenseInformation></GetCompanyConfiguration>"
    );
    assert_eq!(env.call("GetCompanyConfiguration", &company).await.status, 200, "the sync endpoint is not held");
    let (status, body) = graph(&env, M::POST, &path, &own, Some(&remove)).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = graph(&env, M::POST, &path, &own, Some(&remove)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("Request_ResourceNotFound")), "{body}");

    // An administrator's PATCH replaces the key credentials whole: the key left out stops signing in.
    let (third, third_key) = credential();
    let (status, body) = graph(
        &env,
        M::PATCH,
        &format!("/v1.0/applications/{id}"),
        &admin,
        Some(&json!({"keyCredentials": [key(&third_key)]})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, listed) = graph(&env, M::GET, &format!("/v1.0/applications/{id}"), &admin, None).await;
    assert_eq!(listed["keyCredentials"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(app_token(&env, &app_id, &second).await.0, 401);
    assert_eq!(app_token(&env, &app_id, &third).await.0, 200);
    let (status, _) = graph(&env, M::PATCH, &format!("/v1.0/applications/{id}"), &own, Some(&json!({}))).await;
    assert_eq!(status, 403, "the application's own token may not update it");
}
