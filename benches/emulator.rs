//! ProvisionCredentials calls per second against the emulator on loopback, with concurrent
//! keep-alive clients: `cargo bench --bench emulator`. The calls are made with the project's own
//! sync client (`entra::client::SyncClient`, the daemon's code path: envelope, msbin1 encoding,
//! headers, response parsing). The emulator and the clients share the machine, as they do in the
//! end-to-end tests.
//!
//! EMULATOR_BENCH_SECONDS sets the measuring time (default 5), EMULATOR_BENCH_CLIENTS the
//! number of concurrent connections (default 16).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use samba_entra_sync::emulator::{Emulator, EmulatorConfig};
use samba_entra_sync::entra::client::{SecretToken, SyncClient, SyncSettings, TokenProvider};
use samba_entra_sync::entra::credential::{credential_data_with, nt_hash_of_password};
use samba_entra_sync::entra::ops::{
    CredentialChange, CredentialOutcome, CredentialTarget, ObjectType, PropertyValue, ProvisionVersion, SyncObject,
    SyncOperation,
};

const USERS: usize = 256;
/// Distinct credentials per user, so that every call changes tenant state.
const VERSIONS: usize = 8;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The bearer token the benchmark signed in with.
struct FixedToken(String);

impl TokenProvider for FixedToken {
    type Error = std::io::Error;

    async fn access_token(&self) -> Result<SecretToken, std::io::Error> {
        Ok(SecretToken::new(self.0.clone()))
    }

    fn invalidate(&self) {}
}

async fn sign_in(http: &reqwest::Client, base: &str, tenant: &str) -> String {
    let client = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
    let code: serde_json::Value = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/devicecode"))
        .form(&[
            ("client_id", client),
            ("scope", "6bf85cfa-ac8a-4be5-b5de-425a0d0dc016/.default offline_access openid"),
        ])
        .send()
        .await
        .expect("devicecode")
        .json()
        .await
        .expect("json");
    let token: serde_json::Value = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("client_id", client),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", code["device_code"].as_str().expect("device_code")),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    token["access_token"].as_str().expect("access token").to_owned()
}

fn change((anchor, data): &(String, String)) -> CredentialChange {
    CredentialChange {
        target: CredentialTarget::SourceAnchor(anchor.clone()),
        credential_data: data.clone().into(),
        change_date: std::time::SystemTime::now(),
        force_password_change_on_logon: false,
    }
}

async fn measure(label: &str, data_dir: Option<std::path::PathBuf>) {
    let seconds = env_number("EMULATOR_BENCH_SECONDS", 5);
    let clients = env_number("EMULATOR_BENCH_CLIENTS", 16) as usize;
    let config = EmulatorConfig {
        data_dir,
        auto_approve: true,
        pending_polls: 0,
        throttle_writes: u64::MAX,
        ..EmulatorConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let emulator = Emulator::start(config, listener).await.expect("emulator");
    let base = emulator.base_url().to_owned();
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build().expect("client");
    let token = sign_in(&http, &base, &emulator.tenant_id().to_string()).await;
    let settings = SyncSettings::new(format!("{base}/provisioningservice.svc"), emulator.tenant_id().to_string());
    let client = Arc::new(SyncClient::new(http.clone(), FixedToken(token), settings).expect("sync client"));
    client.set_company_dirsync_features(41017).await.expect("turn on password hash sync");

    // Users, and a pool of credentials (PBKDF2 is not what this measures: derived outside the clock).
    let anchors: Vec<String> = (0..USERS).map(|i| format!("bench-user-{i:04}")).collect();
    for anchor in &anchors {
        let user = SyncObject::new(ObjectType::User, SyncOperation::Set)
            .with("SourceAnchor", PropertyValue::String(anchor.clone()));
        let r = client.provision(std::slice::from_ref(&user), ProvisionVersion::V1).await.expect("provision");
        assert!(r[0].is_success(), "{r:?}");
    }
    let nt = nt_hash_of_password("bench password");
    let mut items = Vec::new();
    for version in 0..VERSIONS {
        for (i, anchor) in anchors.iter().enumerate() {
            let salt = [version as u8, (i >> 8) as u8, i as u8, 1, 2, 3, 4, 5, 6, 7];
            items.push((anchor.clone(), credential_data_with(&nt, &salt, 1000).to_string()));
        }
    }
    let items = Arc::new(items);
    // Check one answer fully: acknowledged.
    let sample = client.provision_credentials(&[change(&items[0])]).await.expect("credentials");
    assert_eq!(sample[0].outcome, CredentialOutcome::Synced, "{sample:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, items, stop, calls, measuring) =
            (client.clone(), items.clone(), stop.clone(), calls.clone(), measuring.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let item = change(&items[i % items.len()]);
                i += clients;
                let r = client.provision_credentials(std::slice::from_ref(&item)).await.expect("credentials");
                assert_eq!(r[0].outcome, CredentialOutcome::Synced);
                if measuring.load(Ordering::Relaxed) {
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // warm-up
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("client task");
    }
    let n = calls.load(Ordering::Relaxed);
    let stats: serde_json::Value =
        http.get(format!("{base}/admin/stats")).send().await.expect("stats").json().await.expect("json");
    println!(
        "emulator ProvisionCredentials ({label}): {:.0} calls/s ({n} calls in {:.2} s, {clients} keep-alive clients, {} cores); tenant writes {}",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        stats["writes"],
    );
    emulator.shutdown().await;
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        measure("in-memory tenant", None).await;
        let dir = tempfile::tempdir().expect("tempdir");
        measure("tenant in SQLite file", Some(dir.path().to_path_buf())).await;
    });
}
