//! Transient failures are retried with backoff or `Retry-After`, within bounds; the caller's
//! own mistakes are not.

use std::time::{Duration, Instant};

use samba_entra_sync::entra::client::SyncError;
use samba_entra_sync::entra::soap::Fault;

use super::server::{Reply, TestServer, fault, healthy};
use super::support::harness;

#[tokio::test]
async fn unavailable_with_retry_after_then_success() {
    let server = TestServer::start(|seen, i| match i {
        0 => Reply::new(503, b"busy".to_vec()).header("retry-after", "7"),
        // 1_700_000_000 s + 7 s of fake waiting, plus 20 s.
        1 => Reply::new(503, Vec::new()).header("retry-after", "Tue, 14 Nov 2023 22:13:47 GMT"),
        _ => healthy(seen),
    })
    .await;
    let h = harness(&server.url, |_| {});
    let config = h.client.get_company_configuration().await.expect("succeeds after retries");
    assert_eq!(config.dirsync_features, Some(41017));
    assert_eq!(h.timer.sleeps(), vec![Duration::from_secs(7), Duration::from_secs(20)]);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_ne!(seen[0].tracking_id(), seen[1].tracking_id(), "every attempt is a new message");
}

#[tokio::test]
async fn throttling_fault_is_retried_with_backoff_until_the_attempts_run_out() {
    let server = TestServer::start(|_, _| fault("Request is throttled, slow down", "")).await;
    let h = harness(&server.url, |s| {
        s.retry.max_attempts = 4;
        s.retry.base_delay = Duration::from_secs(2);
    });
    let error = h.client.finalize_export(1, 1).await.expect_err("gives up");
    assert!(
        matches!(&error, SyncError::Throttled { attempts: 4, message, .. } if message.contains("throttled")),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert_eq!(server.seen().len(), 4);
    let sleeps = h.timer.sleeps();
    assert_eq!(sleeps.len(), 3);
    for (wait, ceiling) in sleeps.iter().zip([2, 4, 8]) {
        assert!(*wait <= Duration::from_secs(ceiling), "full jitter stays under the ceiling: {sleeps:?}");
    }
}

#[tokio::test]
async fn throttling_fault_then_success() {
    let server = TestServer::start(|seen, i| if i == 0 { fault("Throttling", "") } else { healthy(seen) }).await;
    let h = harness(&server.url, |_| {});
    h.client.finalize_export(3, 2).await.expect("second attempt succeeds");
    assert_eq!(server.seen().len(), 2);
    assert_eq!(h.timer.sleeps().len(), 1);
}

#[tokio::test]
async fn a_long_retry_after_ends_the_call_at_once() {
    let server = TestServer::start(|_, _| Reply::new(429, Vec::new()).header("retry-after", "3600")).await;
    let h = harness(&server.url, |_| {});
    let error = h.client.finalize_export(1, 1).await.expect_err("gives up");
    assert!(matches!(error, SyncError::Unavailable { status: 429, attempts: 1, .. }), "{error:?}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
    assert!(h.timer.sleeps().is_empty());
}

#[tokio::test]
async fn the_time_budget_bounds_retries() {
    let server = TestServer::start(|_, _| fault("throttled", "").header("retry-after", "100")).await;
    let h = harness(&server.url, |s| {
        s.retry.max_attempts = 10;
        s.retry.max_elapsed = Duration::from_secs(250);
    });
    let error = h.client.finalize_export(1, 1).await.expect_err("gives up");
    assert!(matches!(error, SyncError::Throttled { attempts: 3, .. }), "{error:?}");
    assert_eq!(h.timer.sleeps(), vec![Duration::from_secs(100); 2]);
}

#[tokio::test]
async fn server_errors_without_a_fault_are_retried() {
    let server =
        TestServer::start(
            |seen, i| {
                if i < 2 { Reply::new(502, b"<html>Bad Gateway</html>".to_vec()) } else { healthy(seen) }
            },
        )
        .await;
    let h = harness(&server.url, |_| {});
    h.client.finalize_export(1, 1).await.expect("third attempt succeeds");
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn client_errors_and_plain_faults_are_not_retried() {
    let bad_request =
        TestServer::start(|_, _| Reply::new(400, b"no".to_vec()).header("content-type", "text/plain")).await;
    let h = harness(&bad_request.url, |_| {});
    let error = h.client.finalize_export(1, 1).await.expect_err("fails");
    assert!(
        matches!(&error, SyncError::HttpStatus { status: 400, content_type } if content_type == "text/plain"),
        "{error:?}"
    );
    assert_eq!(bad_request.seen().len(), 1);

    let broken = TestServer::start(|_, _| fault("Object reference not set to an instance of an object.", "")).await;
    let h = harness(&broken.url, |_| {});
    let error = h.client.finalize_export(1, 1).await.expect_err("fails");
    assert!(matches!(error, SyncError::Fault(Fault::Other { .. })), "{error:?}");
    assert!(!error.is_transient());
    assert_eq!(broken.seen().len(), 1);
    assert!(h.timer.sleeps().is_empty());
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/provisioningservice.svc", listener.local_addr().expect("address"));
    drop(listener);
    let h = harness(&url, |s| s.retry.max_attempts = 3);
    let error = h.client.finalize_export(1, 1).await.expect_err("nobody listens");
    assert!(matches!(&error, SyncError::Connection { attempts: 3, url: u, .. } if *u == url), "{error:?}");
    assert_eq!(h.timer.sleeps().len(), 2);
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let server = TestServer::start(|seen, _| healthy(seen).delayed(Duration::from_secs(5))).await;
    let h = harness(&server.url, |s| s.request_timeout = Duration::from_millis(300));
    let started = Instant::now();
    let error = h.client.finalize_export(1, 1).await.expect_err("times out");
    assert!(started.elapsed() < Duration::from_secs(4), "the timeout fired: {:?}", started.elapsed());
    assert!(
        matches!(error, SyncError::Timeout { attempts: 1, timeout, .. } if timeout == Duration::from_millis(300)),
        "{error:?}"
    );
    assert_eq!(server.seen().len(), 1, "timeouts are not retried by default");

    let h = harness(&server.url, |s| {
        s.request_timeout = Duration::from_millis(200);
        s.retry.retry_timeouts = true;
        s.retry.max_attempts = 2;
    });
    let error = h.client.finalize_export(1, 1).await.expect_err("times out twice");
    assert!(matches!(error, SyncError::Timeout { attempts: 2, .. }), "{error:?}");
    assert_eq!(server.seen().len(), 3);
}
