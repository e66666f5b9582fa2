//! The status report (`status`, the metrics file): the live figures of [`Control`] with what
//! the state DB holds, built by the engine.

use std::sync::atomic::Ordering;

use super::control::Control;
use super::report::{BLOCKED_SHOWN, StatusReport};
use super::state::{State, StateError, now_ms, quantile};
use crate::entra::timefmt::utc_millis;

/// Everything `status` shows.
pub fn report(control: &Control, store: &State) -> Result<StatusReport, StateError> {
    let live = control.live();
    let latencies = store.recent_latencies()?;
    let recent = store.recent_events(10)?;
    let last = live.last_reconcile.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let next = live.next_reconcile_ms.load(Ordering::Relaxed);
    let problems: Vec<String> = live
        .problems
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(area, m)| format!("{area}: {m}"))
        .collect();
    let cluster = live.cluster.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let blocked = store.blocked()?;
    Ok(StatusReport {
        state: control.state().as_str().to_string(),
        role: cluster.role,
        leader: cluster.leader,
        this_dc: cluster.this_dc,
        degraded_reasons: problems,
        warnings: live.warnings.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect(),
        dry_run: live.dry_run.load(Ordering::Relaxed),
        dry_run_passwords_held: live.dry_run_passwords.load(Ordering::Relaxed),
        held_deletes_digest: super::approval::current_digest(store)?,
        reload_error: live.reload_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        queue_depth: store.outbox_len()? as u64,
        exported_objects: store.exported_count()? as u64,
        held_deletes: store.held_deletes()?.len() as u64,
        notices: live.notices.load(Ordering::Relaxed),
        notices_dropped: live.notices_dropped.load(Ordering::Relaxed),
        pushes_acknowledged: live.pushes_acked.load(Ordering::Relaxed),
        pushes_failed: live.pushes_failed.load(Ordering::Relaxed),
        password_latency_samples: latencies.len() as u64,
        password_latency_p50_ms: quantile(&latencies, 0.5).map(|us| us as f64 / 1000.0),
        password_latency_p99_ms: quantile(&latencies, 0.99).map(|us| us as f64 / 1000.0),
        last_reconcile: last,
        next_reconcile_at: (next > 0).then_some(next as i64),
        api_compatibility: live.api.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        sign_in: live.sign_in.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        certificate: live.certificate.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        last_error: live.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        recent_errors: recent
            .into_iter()
            .map(|e| format!("{} {}: {}", utc_millis(e.at), e.subject, e.message))
            .collect(),
        password_resync: store.resync_run()?,
        blocked_objects: blocked.len() as u64,
        blocked: blocked.iter().take(BLOCKED_SHOWN).map(super::blocked::Blocked::sentence).collect(),
        now: now_ms(),
    })
}
