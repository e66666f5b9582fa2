//! Each user's password events for `user NAME --history`: what happened and why, never a hash
//! or anything derived from one. Bounded by age (`[state] password_history`) and per user.

use rusqlite::params;
use serde::Serialize;

use super::{State, StateError, now_ms};
use crate::sync::anchor::Anchor;

/// Events kept per user at most, whatever their age.
pub const HISTORY_PER_USER: i64 = 200;

/// What happened to a user's password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordEvent {
    ChangeSeen,
    Pushed,
    Acknowledged,
    Refused,
    Retried,
    Skipped,
    Resync,
}

impl PasswordEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            PasswordEvent::ChangeSeen => "changeSeen",
            PasswordEvent::Pushed => "pushed",
            PasswordEvent::Acknowledged => "acknowledged",
            PasswordEvent::Refused => "refused",
            PasswordEvent::Retried => "retried",
            PasswordEvent::Skipped => "skipped",
            PasswordEvent::Resync => "resync",
        }
    }
}

/// One event as `--history --json` shows it (`at` is ms here; the CLI renders RFC 3339).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub at: i64,
    pub event: String,
    pub key_version: Option<u32>,
    pub detail: String,
}

impl State {
    /// Records one event; a failure to record never stops a push.
    pub fn record_password_event(
        &self,
        anchor: &Anchor,
        account: &str,
        event: PasswordEvent,
        kvno: Option<u32>,
        detail: &str,
    ) -> Result<(), StateError> {
        insert_event(&self.lock(), anchor, account, event, kvno, detail).map_err(|e| self.err(e))
    }

    /// The account's events, newest first.
    pub fn password_history(&self, account: &str) -> Result<Vec<HistoryEntry>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT at, event, kvno, detail FROM password_history WHERE account = ?1 COLLATE NOCASE
                 ORDER BY at DESC, id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![account, HISTORY_PER_USER], |r| {
                Ok(HistoryEntry { at: r.get(0)?, event: r.get(1)?, key_version: r.get(2)?, detail: r.get(3)? })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Drops events older than `keep` and those beyond the per-user bound; returns how many.
    pub fn prune_password_history(&self, keep: std::time::Duration) -> Result<usize, StateError> {
        let conn = self.lock();
        let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        let old = conn
            .execute("DELETE FROM password_history WHERE at < ?1", [now_ms().saturating_sub(keep_ms)])
            .map_err(|e| self.err(e))?;
        let over = conn
            .execute(
                "DELETE FROM password_history WHERE id IN (
                     SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY anchor ORDER BY id DESC) AS n
                                     FROM password_history) WHERE n > ?1)",
                [HISTORY_PER_USER],
            )
            .map_err(|e| self.err(e))?;
        Ok(old + over)
    }
}

/// Records one event on `conn` (inside a caller's transaction, or on its own).
pub(super) fn insert_event(
    conn: &rusqlite::Connection,
    anchor: &Anchor,
    account: &str,
    event: PasswordEvent,
    kvno: Option<u32>,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO password_history(anchor, account, at, event, kvno, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![anchor, account, now_ms(), event.as_str(), kvno, detail])
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_newest_first_bounded_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(&dir.path().join("state.db")).unwrap();
        s.record_password_event(&Anchor::from("a"), "alice", PasswordEvent::ChangeSeen, Some(2), "").unwrap();
        s.record_password_event(&Anchor::from("a"), "alice", PasswordEvent::Acknowledged, Some(2), "").unwrap();
        let h = s.password_history("ALICE").unwrap();
        assert_eq!(h.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(), ["acknowledged", "changeSeen"]);
        for _ in 0..HISTORY_PER_USER + 5 {
            s.record_password_event(&Anchor::from("a"), "alice", PasswordEvent::Retried, Some(3), "503").unwrap();
        }
        s.prune_password_history(std::time::Duration::from_secs(60)).unwrap();
        assert_eq!(s.password_history("alice").unwrap().len() as i64, HISTORY_PER_USER);
        s.lock().execute("UPDATE password_history SET at = at - 120000", []).unwrap();
        assert!(s.prune_password_history(std::time::Duration::from_secs(60)).unwrap() > 0);
        assert!(s.password_history("alice").unwrap().is_empty());
    }
}
