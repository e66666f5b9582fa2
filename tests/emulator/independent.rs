//! The "done when": an independent client (Python standard library only, its own
//! msbin1 codec and MD4, written from the protocol doc) completes a full sync against a live
//! emulator.

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_python_client_syncs_a_user_group_and_password() {
    let python = std::path::Path::new("/usr/bin/python3");
    assert!(python.exists(), "/usr/bin/python3 is needed for the independent client check");
    // The client asks for graph.windows.net tokens, as the ports did: the service took them until
    // the legacy sync app was retired on 2026-09-30.
    let service_date = samba_entra_sync::emulator::ServiceDate::parse("2026-09-29").ok();
    let env = start(samba_entra_sync::emulator::EmulatorConfig { pending_polls: 1, service_date, ..config() }).await;
    let script = format!("{}/tests/independent/entra_client.py", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .arg(&env.base)
        .arg(&env.tenant)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "independent client failed:\n{stdout}\n{stderr}");
    assert!(stdout.trim_end().ends_with("passed, 0 failed"), "{stdout}");
    // The emulator's own view agrees with what the client did.
    let (_, users) = env.admin_get("/admin/objects?type=User").await;
    let (_, groups) = env.admin_get("/admin/objects?type=Group").await;
    assert_eq!(users.as_array().map(Vec::len), Some(1));
    assert_eq!(groups[0]["members"][0], users[0]["sourceAnchor"]);
    assert!(users[0]["credential"]["receivedAt"].is_string());
    let (_, stats) = env.admin_get("/admin/stats").await;
    assert_eq!(stats["calls"]["ProvisionCredentials"], 1);
    assert_eq!(stats["writes"], 3);
}
