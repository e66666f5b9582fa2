//! `[metrics] textfile`: the daemon's figures in Prometheus' text format, for the node
//! exporter's textfile collector. The file is rewritten every few seconds by writing a temporary
//! file next to it and renaming it over the old one, so the collector never reads half a file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::control::{Control, LATENCY_BUCKETS_MS, LatencyHistogram};
use super::report::StatusReport;
use super::scheduler::WriteBudget;
use super::state::State;
use super::status;

/// How often the file is rewritten.
pub const PERIOD: Duration = Duration::from_secs(5);

/// What the file shows besides `status`.
pub struct Extra {
    pub latency: LatencyHistogram,
    pub budget_used: u32,
    pub budget_limit: u32,
    /// The app certificate's expiry (Unix seconds), with `method = "certificate"`.
    pub certificate_not_after: Option<u64>,
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The metrics in Prometheus' text exposition format.
pub fn render(status: &StatusReport, extra: &Extra) -> String {
    let mut out = String::new();
    metric(&mut out, "samba_entra_sync_state", "gauge", "The daemon's state: 1 for the current one.");
    for state in ["starting", "running", "degraded", "api-incompatible", "stopping"] {
        let _ = writeln!(out, "samba_entra_sync_state{{state=\"{state}\"}} {}", u8::from(status.state == state));
    }
    metric(&mut out, "samba_entra_sync_dry_run", "gauge", "1 while sync.dry_run sends nothing.");
    let _ = writeln!(out, "samba_entra_sync_dry_run {}", u8::from(status.dry_run));
    metric(&mut out, "samba_entra_sync_password_queue_depth", "gauge", "Password pushes waiting in the outbox.");
    let _ = writeln!(out, "samba_entra_sync_password_queue_depth {}", status.queue_depth);
    metric(&mut out, "samba_entra_sync_password_pushes_total", "counter", "Password pushes Entra acknowledged.");
    let _ = writeln!(out, "samba_entra_sync_password_pushes_total {}", status.pushes_acknowledged);
    metric(&mut out, "samba_entra_sync_password_push_failures_total", "counter", "Password push attempts that failed.");
    let _ = writeln!(out, "samba_entra_sync_password_push_failures_total {}", status.pushes_failed);
    metric(
        &mut out,
        "samba_entra_sync_password_latency_seconds",
        "histogram",
        "From the change to Entra's acknowledgement, per password push.",
    );
    for (bound, count) in LATENCY_BUCKETS_MS.iter().zip(&extra.latency.buckets) {
        let _ = writeln!(
            out,
            "samba_entra_sync_password_latency_seconds_bucket{{le=\"{}\"}} {count}",
            *bound as f64 / 1000.0
        );
    }
    let _ = writeln!(out, "samba_entra_sync_password_latency_seconds_bucket{{le=\"+Inf\"}} {}", extra.latency.count);
    let _ = writeln!(out, "samba_entra_sync_password_latency_seconds_sum {}", extra.latency.sum_us as f64 / 1e6);
    let _ = writeln!(out, "samba_entra_sync_password_latency_seconds_count {}", extra.latency.count);
    metric(&mut out, "samba_entra_sync_exported_objects", "gauge", "Objects this installation exported.");
    let _ = writeln!(out, "samba_entra_sync_exported_objects {}", status.exported_objects);
    metric(&mut out, "samba_entra_sync_held_deletes", "gauge", "Deletes held back by a safety rule.");
    let _ = writeln!(out, "samba_entra_sync_held_deletes {}", status.held_deletes);
    if let Some(r) = &status.last_reconcile {
        metric(
            &mut out,
            "samba_entra_sync_last_reconcile_timestamp_seconds",
            "gauge",
            "When the last reconcile finished (Unix time).",
        );
        let _ = writeln!(out, "samba_entra_sync_last_reconcile_timestamp_seconds {}", r.finished_at as f64 / 1000.0);
        metric(&mut out, "samba_entra_sync_last_reconcile_errors", "gauge", "Errors of the last reconcile.");
        let _ = writeln!(out, "samba_entra_sync_last_reconcile_errors {}", r.errors);
        metric(&mut out, "samba_entra_sync_last_reconcile_operations", "gauge", "What the last reconcile sent.");
        for (op, n) in [
            ("create", r.creates),
            ("update", r.updates),
            ("delete", r.deletes),
            ("held", r.deletes_held),
            ("password", r.passwords),
        ] {
            let _ = writeln!(out, "samba_entra_sync_last_reconcile_operations{{operation=\"{op}\"}} {n}");
        }
    }
    metric(&mut out, "samba_entra_sync_write_budget_used", "gauge", "Writes spent in the current budget window.");
    let _ = writeln!(out, "samba_entra_sync_write_budget_used {}", extra.budget_used);
    metric(&mut out, "samba_entra_sync_write_budget_limit", "gauge", "Writes allowed per budget window.");
    let _ = writeln!(out, "samba_entra_sync_write_budget_limit {}", extra.budget_limit);
    if let Some(t) = extra.certificate_not_after {
        metric(
            &mut out,
            "samba_entra_sync_certificate_expiry_timestamp_seconds",
            "gauge",
            "When the app certificate expires (Unix time).",
        );
        let _ = writeln!(out, "samba_entra_sync_certificate_expiry_timestamp_seconds {t}");
    }
    out
}

/// Writes `text` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp: PathBuf = path.with_extension("prom.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Rewrites the file every [`PERIOD`] until `stop`.
pub async fn run(
    control: Control,
    store: State,
    budget: Arc<WriteBudget>,
    budget_limit: u32,
    certificate_not_after: Option<u64>,
    path: PathBuf,
    stop: CancellationToken,
) {
    let mut reported = false;
    loop {
        match status::report(&control, &store) {
            Ok(status) => {
                let extra = Extra {
                    latency: control.latency_histogram(),
                    budget_used: budget.used(),
                    budget_limit,
                    // The renewal task knows the certificate in use; the one read at start
                    // until it has looked.
                    certificate_not_after: status
                        .certificate
                        .as_ref()
                        .map(|c| (c.expires_at / 1000).max(0) as u64)
                        .or(certificate_not_after),
                };
                match write_atomically(&path, &render(&status, &extra)) {
                    Ok(()) => reported = false,
                    // Once per outage, not every 5 s.
                    Err(e) if !reported => {
                        reported = true;
                        control.report_error("metrics", &format!("cannot write {}: {e}", path.display()));
                    }
                    Err(_) => {}
                }
            }
            Err(e) => tracing::debug!("no status for the metrics file: {e}"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(PERIOD) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("x.prom");
        write_atomically(&path, "a 1\n").unwrap_or_else(|e| panic!("{e}"));
        write_atomically(&path, "b 2\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("b 2\n"));
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
