//! The one USN watcher: polls the directory's highestCommittedUSN and publishes it through
//! [`Control`]; delta reconciles and the password safety net both follow it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::control::Control;
use super::directory::Directory;

/// Polls every `poll` until `shutdown` (a read well under a millisecond on sam.ldb).
pub async fn run<D: Directory>(directory: Arc<D>, control: Control, poll: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        match directory.highest_usn().await {
            Ok(usn) => control.set_directory_usn(usn),
            Err(e) => control.report_error("sam.ldb", &e.to_string()),
        }
    }
}
