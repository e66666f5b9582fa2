//! `samba-entra-sync sync --all-passwords`: a full password sync, asked of the running daemon
//! (or run in this process with `--config`), with progress for people and a summary.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::daemon_client::BusArgs;
use super::{CliResult, Failure};
use crate::bus::client::{connect, to_json};
use crate::daemon;
use crate::sync::state::{ResyncRun, now_ms};

/// The summary's counts, as `--json` prints them.
fn counts(run: &ResyncRun) -> Json {
    json!({
        "total": run.total,
        "pushed": run.pushed,
        "skipped": {
            "temporaryPassword": run.temporary_password,
            "outOfScope": run.out_of_scope,
            "notExported": run.not_exported,
            "refused": run.refused,
        },
        "failed": run.failed,
        // The same counts in Entra Connect's password status words (where it has them).
        "statusCodes": {
            "Success": run.pushed,
            "FilteredByTarget": run.temporary_password,
            "TargetNotExportedToDirectory": run.not_exported,
            "Refused": run.refused,
        },
        "remaining": run.remaining,
        "startedAt": run.started_at,
        "finishedAt": run.finished_at,
    })
}

fn print_summary(run: &ResyncRun, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(&counts(run)).unwrap_or_default());
        return;
    }
    println!("full password sync: {} users", run.total);
    println!("  pushed:              {}", run.pushed);
    println!("  skipped:             {}", run.temporary_password + run.out_of_scope + run.not_exported + run.refused);
    println!("    temporary password kept on-premises (FilteredByTarget): {}", run.temporary_password);
    println!("    out of scope, gone or without a password:               {}", run.out_of_scope);
    println!("    not exported to Entra yet (pushed after its export):    {}", run.not_exported);
    println!("    refused by the tenant (see `status`):                    {}", run.refused);
    println!("  failed (still retried by the daemon): {}", run.failed);
    if run.remaining > 0 {
        println!("  still queued:        {}", run.remaining);
    }
}

/// Progress for people on stderr (stdout stays for the summary): on a terminal one line redrawn
/// in place; elsewhere (a pipe, a log) a plain line now and then. Nothing with `--json`.
struct Progress {
    show: bool,
    terminal: bool,
    since: Instant,
    done_at_start: Option<u64>,
    last_line: Option<Instant>,
}

/// How often a line goes to a pipe or a log.
const PLAIN_LINE_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    fn new(json: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress { show: !json, terminal, since: Instant::now(), done_at_start: None, last_line: None }
    }

    fn show(&mut self, run: &ResyncRun) {
        let done = run.done();
        let start = *self.done_at_start.get_or_insert(done);
        if !self.show || (!self.terminal && self.last_line.is_some_and(|t| t.elapsed() < PLAIN_LINE_EVERY)) {
            return;
        }
        let secs = self.since.elapsed().as_secs_f64().max(0.001);
        let rate = done.saturating_sub(start) as f64 / secs;
        let left = if rate > 0.0 { format!("{:.0} s", run.remaining as f64 / rate) } else { "-".to_owned() };
        let line = format!("{done}/{} done, {rate:.0}/s, about {left} left", run.total);
        if self.terminal {
            eprint!("\r{line}   ");
            let _ = std::io::stderr().flush();
        } else {
            eprintln!("{line}");
        }
        self.last_line = Some(Instant::now());
    }

    /// Ends the redrawn line, so the summary starts on a line of its own.
    fn finish(&self) {
        if self.show && self.terminal {
            eprintln!();
        }
    }
}

/// Through the daemon: `ResyncPasswords`, then its progress from `status`.
pub(crate) fn through_daemon(bus: &BusArgs, json: bool) -> CliResult {
    let bus = bus.bus_config()?;
    let asked_at = now_ms();
    super::runtime()?.block_on(async {
        let proxy = connect(&bus).await.map_err(|e| Failure::runtime(format!("cannot reach the D-Bus bus: {e}")))?;
        proxy.resync_passwords().await.map_err(|e| super::daemon_client::bus_failure(e.into()))?;
        let mut progress = Progress::new(json);
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let status = to_json(&proxy.status().await.map_err(|e| super::daemon_client::bus_failure(e.into()))?);
            let Some(run) = status
                .get("passwordResync")
                .and_then(|r| serde_json::from_value::<ResyncRun>(r.clone()).ok())
                .filter(|r| r.started_at >= asked_at - 1_000)
            else {
                continue;
            };
            progress.show(&run);
            if run.finished_at.is_some() {
                progress.finish();
                print_summary(&run, json);
                return Ok(());
            }
        }
    })
}

/// In this process (`sync --all-passwords --config FILE`): the same resync, pushed from here;
/// what does not go through stays queued for the daemon.
pub(crate) fn in_process(path: &std::path::Path, json: bool) -> CliResult {
    let config = daemon::load_config(path).map_err(|e| Failure { code: e.exit_code(), message: e.to_string() })?;
    super::runtime()?.block_on(async {
        let engine = daemon::offline_engine(&config, false)
            .await
            .map_err(|e| Failure { code: e.exit_code(), message: e.to_string() })?;
        engine.reconciler.check_tenant().await.map_err(Failure::runtime)?;
        if !engine.reconciler.gate().password_sync_on() {
            return Err(Failure::runtime(
                "password hash sync is off in the tenant: an administrator must turn it on first (nothing was sent)",
            ));
        }
        let started =
            engine.reconciler.start_password_resync("requested by an administrator").await.map_err(Failure::runtime)?;
        let store = engine.control.store();
        let mut progress = Progress::new(json);
        progress.done_at_start = Some(started.done());
        let mut run = started;
        // Each pass pushes what is queued; a push that fails waits its back-off, and counts as
        // failed after a few tries.
        while run.finished_at.is_none() {
            engine.passwords.drain().await;
            run = store.resync_run().map_err(Failure::runtime)?.unwrap_or_default();
            progress.show(&run);
            if run.finished_at.is_none() {
                tokio::time::sleep(Duration::from_secs(1)).await;
                run = store.resync_run().map_err(Failure::runtime)?.unwrap_or_default();
            }
        }
        progress.finish();
        print_summary(&run, json);
        Ok(())
    })
}
