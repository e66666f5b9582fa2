//! The start-up probe tells "the API changed under us" apart from ordinary failures.

use samba_entra_sync::entra::client::{ApiCompatibility, SyncError};

use super::server::{Reply, Seen, TestServer, fault, fault_with_subcode, healthy, success};
use super::support::harness;

async fn probe_against(
    handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> Result<ApiCompatibility, SyncError> {
    let server = TestServer::start(handler).await;
    harness(&server.url, |_| {}).client.probe().await
}

fn incompatible_reason(outcome: Result<ApiCompatibility, SyncError>) -> String {
    match outcome {
        Ok(ApiCompatibility::Incompatible { reason }) => reason,
        other => panic!("expected Incompatible, got {other:?}"),
    }
}

fn escape(xml: &str) -> String {
    xml.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[tokio::test]
async fn a_healthy_service_is_compatible() {
    let outcome = probe_against(|seen, _| healthy(seen)).await.expect("probe runs");
    let ApiCompatibility::Compatible { configuration, capabilities } = outcome else {
        panic!("expected Compatible, got {outcome:?}");
    };
    assert_eq!(configuration.dirsync_features, Some(41017));
    assert_eq!(configuration.anchor_attribute.as_deref(), Some("objectGUID"));
    assert!(capabilities.is_some());
}

#[tokio::test]
async fn a_garbage_body_is_incompatible() {
    let reason = incompatible_reason(probe_against(|_, _| Reply::new(200, b"<html>surprise</html>".to_vec())).await);
    assert!(reason.contains("format this client knows"), "{reason}");
}

#[tokio::test]
async fn formatter_outdated_and_unknown_action_faults_are_incompatible() {
    let formatter = "The formatter threw an exception while trying to deserialize the message: There was an error.";
    let reason = incompatible_reason(probe_against(move |_, _| fault(formatter, "")).await);
    assert!(reason.contains("cannot read this client's requests"), "{reason}");

    let reason = incompatible_reason(
        probe_against(|_, _| fault("The DirSyncBuildNumber 2.6.3.0 is no longer supported.", "")).await,
    );
    assert!(reason.contains("no longer accepts client build 2.6.3.0"), "{reason}");

    let reason = incompatible_reason(
        probe_against(|_, _| {
            Reply::new(500, fault_with_subcode("a:ActionNotSupported", "The message with Action cannot be processed"))
        })
        .await,
    );
    assert!(reason.contains("no longer offers an operation"), "{reason}");
}

#[tokio::test]
async fn a_blacklisted_build_is_incompatible() {
    let document = escape(
        r#"<ServiceCapability><MicrosoftOnline><Protocol><Application Name="DirSync"><BlackList Enabled="true"><ClientVersion>2.6.3.0</ClientVersion></BlackList></Application></Protocol></MicrosoftOnline></ServiceCapability>"#,
    );
    let reason = incompatible_reason(
        probe_against(move |seen, _| {
            if seen.operation() == "Capabilities" { success("Capabilities", &document) } else { healthy(seen) }
        })
        .await,
    );
    assert!(reason.contains("black-list client build 2.6.3.0"), "{reason}");
}

#[tokio::test]
async fn missing_capabilities_are_tolerated_but_other_failures_are_errors() {
    let outcome =
        probe_against(
            |seen, _| {
                if seen.operation() == "Capabilities" { fault("Not available", "") } else { healthy(seen) }
            },
        )
        .await;
    assert!(matches!(outcome, Ok(ApiCompatibility::Compatible { capabilities: None, .. })), "{outcome:?}");

    let outcome = probe_against(|_, _| Reply::new(404, Vec::new())).await;
    assert!(matches!(outcome, Err(SyncError::HttpStatus { status: 404, .. })), "{outcome:?}");
}
