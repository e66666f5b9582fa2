//! A refused token is replaced once; a second refusal is reported.

use samba_entra_sync::entra::client::SyncError;
use samba_entra_sync::entra::soap::{ACCESS_DENIED_TEXT, Fault};

use super::server::{Reply, TestServer, fault, healthy};
use super::support::harness;

#[tokio::test]
async fn access_denied_then_success_with_a_fresh_token() {
    let server =
        TestServer::start(
            |seen, _| {
                if seen.bearer_token() == "token-0" { fault(ACCESS_DENIED_TEXT, "") } else { healthy(seen) }
            },
        )
        .await;
    let h = harness(&server.url, |_| {});
    let config = h.client.get_company_configuration().await.expect("the fresh token is accepted");
    assert_eq!(config.is_password_syncing, Some(true));
    assert_eq!((h.tokens.invalidated(), h.tokens.handed_out()), (1, 2));
    let tokens: Vec<_> = server.seen().iter().map(|s| s.bearer_token()).collect();
    assert_eq!(tokens, ["token-0", "token-1"]);
    assert!(h.timer.sleeps().is_empty());
}

#[tokio::test]
async fn access_denied_twice_is_reported() {
    let server = TestServer::start(|_, _| fault(ACCESS_DENIED_TEXT, "")).await;
    let h = harness(&server.url, |_| {});
    let error = h.client.finalize_export(1, 1).await.expect_err("denied");
    assert!(
        matches!(&error, SyncError::Fault(Fault::AccessDenied { message }) if message == ACCESS_DENIED_TEXT),
        "{error:?}"
    );
    assert!(error.to_string().contains("Directory Synchronization Accounts"), "{error}");
    assert_eq!(server.seen().len(), 2);
    assert_eq!(h.tokens.invalidated(), 1);
}

#[tokio::test]
async fn expired_token_fault_and_http_401_also_refresh_the_token() {
    for refusal in [fault("The security token has expired", ""), Reply::new(401, Vec::new())] {
        let refusal = std::sync::Mutex::new(Some(refusal));
        let server = TestServer::start(move |seen, _| match refusal.lock().expect("lock").take() {
            Some(reply) if seen.bearer_token() == "token-0" => reply,
            _ => healthy(seen),
        })
        .await;
        let h = harness(&server.url, |_| {});
        h.client.finalize_export(1, 1).await.expect("the fresh token is accepted");
        let tokens: Vec<_> = server.seen().iter().map(|s| s.bearer_token()).collect();
        assert_eq!(tokens, ["token-0", "token-1"]);
    }
}
