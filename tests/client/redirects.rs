//! `BindingRedirectionFault`: follow it (at most 3 hops), keep the new host, and put it in
//! `a:To`; refuse hosts the token must not go to.

use std::sync::{Arc, Mutex};

use samba_entra_sync::entra::client::SyncError;
use samba_entra_sync::entra::soap::SERVICE_URL;

use super::server::{TestServer, healthy, redirect_fault};
use super::support::harness;

#[tokio::test]
async fn a_redirect_moves_this_and_later_calls_to_the_new_host() {
    let second = TestServer::start(|seen, _| healthy(seen)).await;
    let target = second.url.clone();
    let first = TestServer::start(move |_, _| redirect_fault(&target)).await;
    let h = harness(&first.url, |_| {});

    let config = h.client.get_company_configuration().await.expect("answered by the second server");
    assert_eq!(config.display_name.as_deref(), Some("Test Tenant"));
    assert_eq!(first.seen()[0].to(), SERVICE_URL, "a:To names the real service by default");
    assert_eq!(second.seen()[0].to(), second.url, "after a redirect a:To names the new host");
    assert_eq!(h.client.current_endpoint(), second.url);

    h.client.finalize_export(1, 1).await.expect("goes straight to the second server");
    assert_eq!(first.seen().len(), 1);
    let seen = second.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].operation(), "FinalizeExport");
    assert_eq!(seen[1].to(), second.url);
    assert!(h.timer.sleeps().is_empty(), "a redirect is followed at once");
}

#[tokio::test]
async fn redirects_stop_after_three_hops() {
    // The server's fault names the server itself, so every hop is redirected again.
    let own_url = Arc::new(Mutex::new(String::new()));
    let named = own_url.clone();
    let looping = TestServer::start(move |_, _| redirect_fault(&named.lock().expect("lock"))).await;
    *own_url.lock().expect("lock") = looping.url.clone();
    let h = harness(&looping.url, |_| {});
    let error = h.client.finalize_export(1, 1).await.expect_err("too many hops");
    assert!(matches!(&error, SyncError::TooManyRedirects { hops: 3, url } if *url == looping.url), "{error:?}");
    assert_eq!(looping.seen().len(), 4, "the first request and three redirected ones");
}

#[tokio::test]
async fn redirects_to_foreign_hosts_are_refused() {
    let server = TestServer::start(|_, _| redirect_fault("http://evil.example/provisioningservice.svc")).await;
    let h = harness(&server.url, |_| {});
    let error = h.client.finalize_export(1, 1).await.expect_err("refused");
    assert!(
        matches!(&error, SyncError::RedirectRefused { url, .. } if url == "http://evil.example/provisioningservice.svc"),
        "{error:?}"
    );
    assert_eq!(server.seen().len(), 1);
    assert_eq!(h.client.current_endpoint(), server.url);
}
