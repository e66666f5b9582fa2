//! Concurrency, persistence across restarts of the binary, and HTTPS.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use samba_entra_sync::emulator::{EmulatorConfig, TlsFiles};

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_clients_see_a_consistent_tenant() {
    let env = std::sync::Arc::new(start(config()).await);
    env.enable_phs().await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let env = env.clone();
        tasks.push(tokio::spawn(async move {
            // Each client has its own connection pool, like separate processes would.
            let http = reqwest::Client::new();
            let anchor = format!("parallel-{i}");
            let body = provision_body(
                "ProvisionAzureADSyncObjects",
                &[object(
                    "User",
                    "Set",
                    &[
                        kv_string("SourceAnchor", &anchor),
                        kv_string("userPrincipalName", &format!("p{i}@contoso.example")),
                    ],
                )],
            );
            let env2 = Env::attach_with_token(http, &env.base, &env.tenant, env.token.clone());
            let results = provision_results(&env2.call("ProvisionAzureADSyncObjects", &body).await);
            assert_eq!(results[0].code, "Success");
            let creds = credentials_body(&[credential_item(
                &anchor,
                &credential_for(&format!("pw{i}")),
                "2024-05-01T10:20:30Z",
            )]);
            assert_eq!(credential_results(&env2.call("ProvisionCredentials", &creds).await)[0].0, 0);
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let (_, users) = env.admin_get("/admin/objects?type=User").await;
    assert_eq!(users.as_array().map(Vec::len), Some(50));
    let (_, stats) = env.admin_get("/admin/stats").await;
    assert_eq!(stats["writes"], 100);
    assert_eq!(stats["credentials"], 50);
    assert!(env.verify_password("parallel-17", "pw17").await);
    assert!(!env.verify_password("parallel-17", "pw18").await);
}

struct Running {
    child: Child,
    base: String,
    tenant: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_binary(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_samba-entra-sync"))
        .arg("emulator")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a first line").expect("text");
    let base =
        first.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {first:?}")).to_owned();
    let second = lines.next().expect("a second line").expect("text");
    let tenant = second.strip_prefix("tenant ").expect("tenant line").to_owned();
    Running { child, base, tenant }
}

fn stop(mut running: Running) -> std::process::ExitStatus {
    let pid = running.child.id();
    // SIGTERM: the emulator shuts down gracefully and exits 0.
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    running.child.wait().expect("wait")
}

#[tokio::test]
async fn state_and_tokens_survive_a_restart_with_data() {
    install_crypto();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    let first = run_binary(&["--listen", "127.0.0.1:0", "--data", data, "--auto-approve", "--pending-polls", "0"]);
    let http = reqwest::Client::new();
    let env = Env::attach(http.clone(), &first.base, &first.tenant).await;
    env.enable_phs().await;
    env.add_user("persist", "persist@contoso.example").await;
    let creds = credentials_body(&[credential_item("persist", &credential_for("Restart1!"), "2024-05-01T10:20:30Z")]);
    assert_eq!(credential_results(&env.call("ProvisionCredentials", &creds).await)[0].0, 0);
    let token = env.token.clone();
    let tenant = first.tenant.clone();
    assert!(stop(first).success(), "graceful shutdown exits 0");

    let second = run_binary(&["--listen", "127.0.0.1:0", "--data", data]);
    assert_eq!(second.tenant, tenant, "same tenant");
    let env = Env::attach_with_token(http, &second.base, &second.tenant, token);
    let (_, user) = env.admin_get("/admin/objects/persist").await;
    assert_eq!(user["attributes"]["userPrincipalName"], "persist@contoso.example");
    assert!(env.verify_password("persist", "Restart1!").await);
    // The token of the first run still works: the signing key is kept in the data directory.
    let body = format!(
        "<FinalizeExport xmlns=\"{SYNC}\"><totalExported>1</totalExported><successfulExportCount>1</successfulExportCount></FinalizeExport>"
    );
    env.call("FinalizeExport", &body).await.ok();
    let op = "ReadBackAzureADSyncObjects2";
    assert_eq!(read_back_objects(&env.call(op, &read_back_body(op, true)).await).len(), 1);
    // PHS stays enabled.
    let creds = credentials_body(&[credential_item("persist", &credential_for("Restart2!"), "2024-05-02T10:20:30Z")]);
    assert_eq!(credential_results(&env.call("ProvisionCredentials", &creds).await)[0].0, 0);
    drop(second);
    let other = Command::new(env!("CARGO_BIN_EXE_samba-entra-sync"))
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data,
            "--tenant-id",
            "00000000-0000-0000-0000-000000000001",
        ])
        .output()
        .expect("runs");
    assert_eq!(other.status.code(), Some(2), "a different tenant id for the same data is a usage error");
    assert!(String::from_utf8_lossy(&other.stderr).contains("--tenant-id"));
}

#[tokio::test]
async fn https_serves_the_same_api() {
    install_crypto();
    let tls = TlsFiles { certificate: fixture("server.pem").into(), private_key: fixture("server.key").into() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let emulator = samba_entra_sync::emulator::Emulator::start(EmulatorConfig { tls: Some(tls), ..config() }, listener)
        .await
        .expect("starts");
    assert!(emulator.base_url().starts_with("https://127.0.0.1:"));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(fixture("ca.pem")).expect("ca")).expect("pem");
    let http = reqwest::Client::builder().tls_certs_only([ca]).build().expect("client");
    let env = Env::attach(http, emulator.base_url(), &emulator.tenant_id().to_string()).await;
    let discovery: serde_json::Value = env
        .http
        .get(env.url(&format!("/{}/v2.0/.well-known/openid-configuration", env.tenant)))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(discovery["token_endpoint"].as_str().expect("url").starts_with("https://127.0.0.1:"));
    env.add_user("tls", "tls@contoso.example").await;
    let untrusting = reqwest::Client::builder().tls_certs_only([]).build().expect("client");
    assert!(untrusting.get(env.url("/admin/stats")).send().await.is_err(), "the test CA is needed");
    emulator.shutdown().await;
}
