//! Faults injected through the admin API (`POST /admin/faults`), each bounded by a number of
//! calls or seconds.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    Unavailable,
    Throttle,
    Latency,
    ReplicationDelay,
    Redirect,
    TokenExpiry,
    /// Microsoft Graph's 503 for the app key actions (`operation`: `addKey` or `removeKey`;
    /// absent: both). Never acts on the sync endpoint.
    GraphUnavailable,
}

/// The Graph actions a `graphUnavailable` fault may name.
pub(super) const GRAPH_OPERATIONS: [&str; 2] = ["addKey", "removeKey"];

/// One fault as posted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub calls: Option<u64>,
    pub seconds: Option<f64>,
    pub ms: Option<u64>,
    /// For `graphUnavailable`: which Graph action it answers.
    pub operation: Option<String>,
}

#[derive(Debug, Clone)]
struct Active {
    spec: FaultSpec,
    calls_left: Option<u64>,
    until: Option<Instant>,
    /// For tokenExpiry: tokens issued at or before this Unix time (ms) are expired.
    since_ms: i64,
}

/// What the active faults do to one sync call.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Effects {
    pub unavailable: bool,
    pub throttle: bool,
    pub redirect: bool,
    pub latency_ms: u64,
    pub replication_delay_ms: u64,
    pub tokens_expired_before: Option<i64>,
    /// How many faults acted on the call.
    pub injected: u64,
}

#[derive(Default)]
pub(crate) struct Faults {
    active: Vec<Active>,
}

impl FaultSpec {
    pub fn validate(&self) -> Result<(), String> {
        if self.calls == Some(0) {
            return Err("\"calls\" must be at least 1".into());
        }
        if self.seconds.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
            return Err("\"seconds\" must be a positive number".into());
        }
        if matches!(self.kind, FaultKind::Latency | FaultKind::ReplicationDelay) && self.ms.is_none() {
            return Err("latency and replicationDelay faults need \"ms\"".into());
        }
        match (&self.operation, self.kind) {
            (Some(op), FaultKind::GraphUnavailable) if !GRAPH_OPERATIONS.contains(&op.as_str()) => {
                return Err(format!("\"operation\" must be one of {GRAPH_OPERATIONS:?}"));
            }
            (Some(_), kind) if kind != FaultKind::GraphUnavailable => {
                return Err("\"operation\" belongs to graphUnavailable faults only".into());
            }
            _ => {}
        }
        Ok(())
    }
}

impl Faults {
    pub(crate) fn add(&mut self, spec: FaultSpec, now: Instant) {
        let until = spec.seconds.map(|s| now + Duration::from_secs_f64(s));
        self.active.push(Active { calls_left: spec.calls, until, since_ms: clock::now_ms(), spec });
    }

    pub(crate) fn clear(&mut self) {
        self.active.clear();
    }

    pub(crate) fn describe(&self, now: Instant) -> Vec<serde_json::Value> {
        self.active
            .iter()
            .filter(|a| a.until.is_none_or(|u| u > now))
            .map(|a| {
                serde_json::json!({
                    "kind": a.spec.kind,
                    "callsLeft": a.calls_left,
                    "secondsLeft": a.until.map(|u| u.saturating_duration_since(now).as_secs_f64()),
                    "ms": a.spec.ms,
                    "operation": a.spec.operation,
                })
            })
            .collect()
    }

    /// Applies the active faults to one sync call, using up their call budgets.
    pub(crate) fn on_call(&mut self, now: Instant) -> Effects {
        self.active.retain(|a| a.until.is_none_or(|u| u > now) && a.calls_left != Some(0));
        let mut effects = Effects::default();
        for fault in self.active.iter_mut().filter(|a| a.spec.kind != FaultKind::GraphUnavailable) {
            if let Some(left) = &mut fault.calls_left {
                *left -= 1;
            }
            effects.injected += 1;
            match fault.spec.kind {
                FaultKind::Unavailable => effects.unavailable = true,
                FaultKind::Throttle => effects.throttle = true,
                FaultKind::Redirect => effects.redirect = true,
                FaultKind::Latency => effects.latency_ms = effects.latency_ms.max(fault.spec.ms.unwrap_or(0)),
                FaultKind::ReplicationDelay => {
                    effects.replication_delay_ms = effects.replication_delay_ms.max(fault.spec.ms.unwrap_or(0));
                }
                FaultKind::TokenExpiry => {
                    effects.tokens_expired_before = effects.tokens_expired_before.max(Some(fault.since_ms));
                }
                FaultKind::GraphUnavailable => {}
            }
        }
        self.active.retain(|a| a.calls_left != Some(0));
        effects
    }

    /// Whether a `graphUnavailable` fault answers this Graph action (using up one of its calls).
    pub(crate) fn on_graph_call(&mut self, now: Instant, operation: &str) -> bool {
        self.active.retain(|a| a.until.is_none_or(|u| u > now) && a.calls_left != Some(0));
        let mut hit = false;
        for fault in self.active.iter_mut().filter(|a| {
            a.spec.kind == FaultKind::GraphUnavailable && a.spec.operation.as_deref().is_none_or(|o| o == operation)
        }) {
            if let Some(left) = &mut fault.calls_left {
                *left -= 1;
            }
            hit = true;
        }
        self.active.retain(|a| a.calls_left != Some(0));
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: FaultKind, calls: Option<u64>, operation: Option<&str>) -> FaultSpec {
        FaultSpec { kind, calls, seconds: None, ms: None, operation: operation.map(str::to_owned) }
    }

    #[test]
    fn a_graph_fault_answers_its_graph_action_only_and_no_sync_call() {
        let now = Instant::now();
        let mut faults = Faults::default();
        faults.add(spec(FaultKind::GraphUnavailable, Some(2), Some("removeKey")), now);
        assert_eq!(faults.on_call(now), Effects::default(), "the sync endpoint is not touched");
        assert!(!faults.on_graph_call(now, "addKey"));
        assert!(faults.on_graph_call(now, "removeKey"));
        assert!(faults.on_graph_call(now, "removeKey"));
        assert!(!faults.on_graph_call(now, "removeKey"), "two calls, then it is used up");
        assert!(spec(FaultKind::GraphUnavailable, None, Some("deleteApp")).validate().is_err());
        assert!(spec(FaultKind::Unavailable, None, Some("addKey")).validate().is_err());
    }
}
