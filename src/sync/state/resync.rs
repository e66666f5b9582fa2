//! A full password resync in the state DB: its pushes are outbox rows marked `resync` (durable,
//! so a restart resumes it where it was), its totals and per-outcome counts are kept in `meta`.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{State, StateError, now_ms, now_us};
use crate::sync::anchor::Anchor;

const META_RUN: &str = "resync.run";

/// What became of one user's password in a resync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResyncTally {
    Pushed,
    /// A temporary password (must change at next logon) stays on-premises (FilteredByTarget).
    Temporary,
    /// Out of the sync scope, gone, or without a password.
    OutOfScope,
    /// Not exported to Entra yet: its password follows the export.
    NotExported,
    /// The tenant refused the credential.
    Refused,
    /// The push failed (it is retried as any other push).
    Failed,
}

impl ResyncTally {
    fn key(self) -> &'static str {
        match self {
            ResyncTally::Pushed => "resync.n.pushed",
            ResyncTally::Temporary => "resync.n.temporary",
            ResyncTally::OutOfScope => "resync.n.out_of_scope",
            ResyncTally::NotExported => "resync.n.not_exported",
            ResyncTally::Refused => "resync.n.refused",
            ResyncTally::Failed => "resync.n.failed",
        }
    }

    const ALL: [ResyncTally; 6] = [
        ResyncTally::Pushed,
        ResyncTally::Temporary,
        ResyncTally::OutOfScope,
        ResyncTally::NotExported,
        ResyncTally::Refused,
        ResyncTally::Failed,
    ];
}

/// The current (or last) full password resync.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResyncRun {
    /// Why it runs: "requested by an administrator", "password hash sync was turned on".
    pub reason: String,
    /// ms since the epoch.
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// In-scope users plus those skipped before any push.
    pub total: u64,
    #[serde(default)]
    pub pushed: u64,
    #[serde(default)]
    pub temporary_password: u64,
    #[serde(default)]
    pub out_of_scope: u64,
    #[serde(default)]
    pub not_exported: u64,
    #[serde(default)]
    pub refused: u64,
    #[serde(default)]
    pub failed: u64,
    /// Pushes of this resync still queued.
    #[serde(default)]
    pub remaining: u64,
}

impl ResyncRun {
    pub fn done(&self) -> u64 {
        self.total.saturating_sub(self.remaining)
    }

    fn set(&mut self, tally: ResyncTally, n: u64) {
        *match tally {
            ResyncTally::Pushed => &mut self.pushed,
            ResyncTally::Temporary => &mut self.temporary_password,
            ResyncTally::OutOfScope => &mut self.out_of_scope,
            ResyncTally::NotExported => &mut self.not_exported,
            ResyncTally::Refused => &mut self.refused,
            ResyncTally::Failed => &mut self.failed,
        } = n;
    }
}

/// One user to push again: (anchor, account, key version).
pub type ResyncItem = (Anchor, String, u32);

impl State {
    /// Starts a full password resync: every item is queued (or a queued push of it is marked
    /// and made due now), behind live changes; `skipped` are counted at once. A resync under
    /// way is replaced (its queued pushes join the new one).
    pub fn start_resync(
        &self,
        reason: &str,
        items: &[ResyncItem],
        skipped: &[(ResyncTally, u64)],
    ) -> Result<ResyncRun, StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let now_us = now_us();
        {
            let mut queue = tx
                .prepare_cached(
                    "INSERT INTO outbox(anchor, account, kvno, noticed_at, attempts, next_attempt_at, backfill, resync)
                     VALUES (?1, ?2, ?3, ?4, 0, 0, 1, 1)
                     ON CONFLICT(anchor) DO UPDATE SET resync = 1, kvno = MAX(kvno, ?3), attempts = 0,
                         next_attempt_at = 0",
                )
                .map_err(|e| self.err(e))?;
            let mut record = tx
                .prepare_cached("INSERT OR IGNORE INTO passwords(anchor, account) VALUES (?1, ?2)")
                .map_err(|e| self.err(e))?;
            let mut history = tx
                .prepare_cached(
                    "INSERT INTO password_history(anchor, account, at, event, kvno, detail)
                     VALUES (?1, ?2, ?3, 'resync', ?4, ?5)",
                )
                .map_err(|e| self.err(e))?;
            let (at, detail) = (now_ms(), format!("full password sync: {reason}"));
            for (anchor, account, kvno) in items {
                queue.execute(params![anchor, account, kvno, now_us]).map_err(|e| self.err(e))?;
                record.execute(params![anchor, account]).map_err(|e| self.err(e))?;
                history.execute(params![anchor, account, at, kvno, detail]).map_err(|e| self.err(e))?;
            }
        }
        let skipped_total: u64 = skipped.iter().map(|(_, n)| n).sum();
        let run = ResyncRun {
            reason: reason.to_owned(),
            started_at: now_ms(),
            total: items.len() as u64 + skipped_total,
            ..Default::default()
        };
        let json = serde_json::to_string(&run).unwrap_or_default();
        tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", params![META_RUN, json])
            .map_err(|e| self.err(e))?;
        for tally in ResyncTally::ALL {
            let n = skipped.iter().filter(|(t, _)| *t == tally).map(|(_, n)| n).sum::<u64>();
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", params![tally.key(), n.to_string()])
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        drop(conn);
        Ok(self.resync_run()?.unwrap_or(run))
    }

    /// Counts what became of one resync push (once: the push leaves the resync). Returns the
    /// run when this was its last push, so the caller reports the summary once.
    pub fn resync_tally(&self, anchor: &Anchor, tally: ResyncTally) -> Result<Option<ResyncRun>, StateError> {
        {
            let mut conn = self.lock();
            let tx = conn.transaction().map_err(|e| self.err(e))?;
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, '1')
                 ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
                [tally.key()],
            )
            .map_err(|e| self.err(e))?;
            tx.execute("UPDATE outbox SET resync = 0 WHERE anchor = ?1", [anchor]).map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
        }
        self.finish_resync_if_done()
    }

    /// Marks the run finished once none of its pushes is queued; returns it when it just did.
    pub fn finish_resync_if_done(&self) -> Result<Option<ResyncRun>, StateError> {
        // Asked after each of the run's pushes: whether one is still queued is an index probe,
        // where counting them (as the run's report does) would cost the queue's length each
        // time (50,000 users: 40 % of the daemon's CPU during a full password sync).
        let pending: bool = self
            .lock()
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM outbox WHERE resync = 1)")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        if pending {
            return Ok(None);
        }
        let Some(mut run) = self.resync_run()? else { return Ok(None) };
        if run.finished_at.is_some() || run.remaining > 0 {
            return Ok(None);
        }
        run.finished_at = Some(now_ms());
        let json = serde_json::to_string(&ResyncRun { remaining: 0, ..run.clone() }).unwrap_or_default();
        self.set_meta(META_RUN, &json)?;
        Ok(Some(run))
    }

    /// The current or last resync, with its counts and what is still queued.
    pub fn resync_run(&self) -> Result<Option<ResyncRun>, StateError> {
        let Some(json) = self.meta(META_RUN)? else { return Ok(None) };
        let Ok(mut run) = serde_json::from_str::<ResyncRun>(&json) else { return Ok(None) };
        for tally in ResyncTally::ALL {
            let n = self.meta(tally.key())?.and_then(|v| v.parse().ok()).unwrap_or(0);
            run.set(tally, n);
        }
        let conn = self.lock();
        let remaining: i64 = conn
            .query_row("SELECT COUNT(*) FROM outbox WHERE resync = 1", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?
            .unwrap_or(0);
        run.remaining = remaining.max(0) as u64;
        Ok(Some(run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(&dir.path().join("state.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn a_resync_counts_each_push_once_and_finishes() {
        let (_d, s) = store();
        let items = vec![("a".into(), "alice".to_owned(), 2), ("b".into(), "bob".to_owned(), 3)];
        let run = s.start_resync("test", &items, &[(ResyncTally::NotExported, 1)]).unwrap();
        assert_eq!((run.total, run.remaining, run.done(), run.not_exported), (3, 2, 1, 1));
        // Both pushes wait in the outbox, due now, behind live changes.
        let (due, _) = s.outbox_due(now_ms(), 10).unwrap();
        assert!(due.iter().all(|i| i.resync && i.backfill), "{due:?}");
        assert_eq!(s.resync_tally(&Anchor::from("a"), ResyncTally::Pushed).unwrap(), None);
        s.mark_acked(&Anchor::from("a"), 2, 1).unwrap();
        let done = s.resync_tally(&Anchor::from("b"), ResyncTally::Temporary).unwrap().expect("finished");
        assert_eq!((done.pushed, done.temporary_password, done.remaining), (1, 1, 0));
        assert!(done.finished_at.is_some());
        // Reported once.
        assert_eq!(s.finish_resync_if_done().unwrap(), None);
    }

    #[test]
    fn a_resync_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let s = State::open(&path).unwrap();
            s.start_resync("test", &[("a".into(), "alice".to_owned(), 2)], &[]).unwrap();
        }
        let s = State::open(&path).unwrap();
        let run = s.resync_run().unwrap().unwrap();
        assert_eq!((run.total, run.remaining), (1, 1));
        assert_eq!(s.outbox().unwrap().len(), 1);
    }
}
