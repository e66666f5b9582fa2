//! A timer that does not sleep, a token provider that counts, and a client on top.

use std::future::ready;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use samba_entra_sync::entra::client::{SecretToken, Sleep, SyncClient, SyncSettings, Timer, TokenProvider};

use super::server::TENANT;

/// Records waits and advances its clock by them, at once.
#[derive(Default)]
pub struct FakeTimer {
    elapsed: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
}

impl FakeTimer {
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().expect("lock").clone()
    }
}

impl Timer for FakeTimer {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000) + self.elapsed()
    }

    fn elapsed(&self) -> Duration {
        *self.elapsed.lock().expect("lock")
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleeps.lock().expect("lock").push(duration);
        *self.elapsed.lock().expect("lock") += duration;
        Box::pin(ready(()))
    }
}

#[derive(Default)]
struct Counters {
    handed_out: AtomicU32,
    invalidated: AtomicU32,
}

/// Hands out `token-<n>`, where n counts the invalidations so far.
#[derive(Clone, Default)]
pub struct TestTokens(Arc<Counters>);

impl TestTokens {
    pub fn handed_out(&self) -> u32 {
        self.0.handed_out.load(Ordering::SeqCst)
    }

    pub fn invalidated(&self) -> u32 {
        self.0.invalidated.load(Ordering::SeqCst)
    }
}

impl TokenProvider for TestTokens {
    type Error = std::io::Error;

    fn access_token(&self) -> impl Future<Output = Result<SecretToken, std::io::Error>> + Send {
        self.0.handed_out.fetch_add(1, Ordering::SeqCst);
        let generation = self.invalidated();
        ready(Ok(SecretToken::new(format!("token-{generation}"))))
    }

    fn invalidate(&self) {
        self.0.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}

pub struct Harness {
    pub client: SyncClient<TestTokens>,
    pub tokens: TestTokens,
    pub timer: Arc<FakeTimer>,
}

/// A client for `url` with a fake timer; `tweak` adjusts the settings.
pub fn harness(url: &str, tweak: impl FnOnce(&mut SyncSettings)) -> Harness {
    let mut settings = SyncSettings::new(url, TENANT);
    settings.request_timeout = Duration::from_secs(10);
    tweak(&mut settings);
    let tokens = TestTokens::default();
    let timer = Arc::new(FakeTimer::default());
    let http = samba_entra_sync::entra::http::http_client(&samba_entra_sync::entra::http::HttpSettings {
        connect_timeout: settings.connect_timeout,
        request_timeout: settings.request_timeout,
        ..Default::default()
    })
    .expect("http client");
    let client = SyncClient::new(http, tokens.clone(), settings).expect("client").with_timer(timer.clone());
    Harness { client, tokens, timer }
}
