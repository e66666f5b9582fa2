//! ProvisionCredentials calls per second against the emulator on loopback, with concurrent
//! keep-alive clients: `cargo bench --bench emulator`. Requests are built with nbfx and sent
//! with reqwest (the project's typed client replaces this once merged). The emulator and the
//! clients share the machine, as they do in the end-to-end tests.
//!
//! EMULATOR_BENCH_SECONDS sets the measuring time (default 5), EMULATOR_BENCH_CLIENTS the
//! number of concurrent connections (default 16).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use samba_entra_sync::emulator::{Emulator, EmulatorConfig};
use samba_entra_sync::entra::credential::{credential_data_with, nt_hash_of_password};
use samba_entra_sync::entra::nbfx;

const SYNC: &str = "http://schemas.microsoft.com/online/aws/change/2010/01";
const USERS: usize = 256;
/// Distinct credentials per user, so that every call changes tenant state.
const VERSIONS: usize = 8;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn envelope(op: &str, token: &str, body: &str) -> Vec<u8> {
    let guid = uuid::Uuid::new_v4();
    let c = |name: &str, value: &str| format!("<{name} xmlns=\"{SYNC}\">{value}</{name}>");
    let xml = format!(
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://www.w3.org/2005/08/addressing\">\
         <s:Header><a:Action s:mustUnderstand=\"1\">{SYNC}/IProvisioningWebService/{op}</a:Action>\
         <SyncToken s:role=\"urn:microsoft.online.administrativeservice\" xmlns=\"urn:microsoft.online.administrativeservice\" \
         xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">{}{}{}{}{}{}{}{}<LiveToken xmlns=\"{SYNC}\"/>{}{}{}</SyncToken>\
         <a:MessageID>urn:uuid:{guid}</a:MessageID><a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>\
         <a:To s:mustUnderstand=\"1\">https://adminwebservice.microsoftonline.com/provisioningservice.svc</a:To></s:Header>\
         <s:Body>{body}</s:Body></s:Envelope>",
        c("ApplicationId", "6eb59a73-39b2-4c23-a70f-e2e3ce8965b1"),
        c("BearerToken", token),
        c("ClientVersion", "8.0"),
        c("DirSyncBuildNumber", "2.6.3.0"),
        c("FIMBuildNumber", "2.6.3.0"),
        c("IsInstalledOnDC", "false"),
        c("IssueDateTime", "0001-01-01T00:00:00"),
        c("LanguageId", "en-US"),
        c("ProtocolVersion", "2.0"),
        c("RichCoexistenceEnabled", "false"),
        c("TrackingId", &guid.to_string()),
    );
    nbfx::encode(&nbfx::from_xml(&xml).expect("request XML")).expect("encodes")
}

fn add_user(anchor: &str) -> String {
    format!(
        "<ProvisionAzureADSyncObjects xmlns=\"{SYNC}\"><syncRequest xmlns:b=\"http://schemas.microsoft.com/online/aws/change/2014/06\" \
         xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\"><b:SyncObjects><b:AzureADSyncObject>\
         <b:PropertyValues xmlns:c=\"http://schemas.microsoft.com/2003/10/Serialization/Arrays\"><c:KeyValueOfstringanyType>\
         <c:Key>SourceAnchor</c:Key><c:Value i:type=\"d:string\" xmlns:d=\"http://www.w3.org/2001/XMLSchema\">{anchor}</c:Value>\
         </c:KeyValueOfstringanyType></b:PropertyValues><b:SyncObjectType>User</b:SyncObjectType><b:SyncOperation>Set</b:SyncOperation>\
         </b:AzureADSyncObject></b:SyncObjects></syncRequest></ProvisionAzureADSyncObjects>"
    )
}

fn credential(anchor: &str, data: &str) -> String {
    format!(
        "<ProvisionCredentials xmlns=\"{SYNC}\"><request xmlns:b=\"http://schemas.datacontract.org/2004/07/Microsoft.Online.Coexistence.Schema\" \
         xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\"><b:RequestItems><b:SyncCredentialsChangeItem>\
         <b:ChangeDate>2026-11-23T10:20:30.1234567Z</b:ChangeDate><b:CloudAnchor i:nil=\"true\"/><b:CredentialData>{data}</b:CredentialData>\
         <b:ForcePasswordChangeOnLogon>false</b:ForcePasswordChangeOnLogon><b:SourceAnchor>{anchor}</b:SourceAnchor>\
         <b:WindowsLegacyCredentials i:nil=\"true\"/><b:WindowsSupplementalCredentials i:nil=\"true\"/></b:SyncCredentialsChangeItem>\
         </b:RequestItems></request></ProvisionCredentials>"
    )
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> Vec<u8> {
    let r = http.post(url).header("content-type", "application/soap+msbin1").body(body).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 200, "the emulator refused a benchmark call");
    r.bytes().await.expect("body").to_vec()
}

async fn sign_in(http: &reqwest::Client, base: &str, tenant: &str) -> String {
    let client = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
    let code: serde_json::Value = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/devicecode"))
        .form(&[("client_id", client), ("scope", "https://graph.windows.net/.default offline_access openid")])
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
    let url = format!("{base}/provisioningservice.svc");
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build().expect("client");
    let token = sign_in(&http, &base, &emulator.tenant_id().to_string()).await;
    let features = format!(
        "<SetCompanyDirsyncFeatures xmlns=\"{SYNC}\"><dirsyncFeatures>41017</dirsyncFeatures></SetCompanyDirsyncFeatures>"
    );
    post(&http, &url, envelope("SetCompanyDirsyncFeatures", &token, &features)).await;

    // Users, and a pool of ready-made credential requests (built with nbfx, outside the clock).
    let anchors: Vec<String> = (0..USERS).map(|i| format!("bench-user-{i:04}")).collect();
    for anchor in &anchors {
        post(&http, &url, envelope("ProvisionAzureADSyncObjects", &token, &add_user(anchor))).await;
    }
    let nt = nt_hash_of_password("bench password");
    let mut bodies = Vec::new();
    for version in 0..VERSIONS {
        for (i, anchor) in anchors.iter().enumerate() {
            let salt = [version as u8, (i >> 8) as u8, i as u8, 1, 2, 3, 4, 5, 6, 7];
            let data = credential_data_with(&nt, &salt, 1000);
            bodies.push(envelope("ProvisionCredentials", &token, &credential(anchor, &data)));
        }
    }
    let bodies = Arc::new(bodies);
    // Check one answer fully: Result 0.
    let sample = post(&http, &url, bodies[0].clone()).await;
    let xml = nbfx::to_xml(&nbfx::decode(&sample).expect("decodes"));
    assert!(xml.contains("<b:Result>0</b:Result>"), "{xml}");

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, url, bodies, stop, calls, measuring) =
            (http.clone(), url.clone(), bodies.clone(), stop.clone(), calls.clone(), measuring.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let body = bodies[i % bodies.len()].clone();
                i += clients;
                let answer = post(&http, &url, body).await;
                // A credential result that is not 0 would carry ExtendedErrorInformation or Result 2.
                assert!(answer.len() > 100);
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
