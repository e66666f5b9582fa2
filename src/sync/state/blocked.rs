//! Objects the tenant refused, one row each (see `sync/blocked.rs`).

use rusqlite::{OptionalExtension, params};

use super::{State, StateError, now_ms};
use crate::sync::anchor::Anchor;
use crate::sync::blocked::{BlockKind, Blocked};

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Blocked> {
    Ok(Blocked {
        object_type: r.get(0)?,
        anchor: r.get(1)?,
        name: r.get(2)?,
        digest: r.get(3)?,
        kind: BlockKind::parse(&r.get::<_, String>(4)?),
        reason: r.get(5)?,
        since: r.get(6)?,
    })
}

const COLUMNS: &str = "object_type, anchor, name, digest, kind, reason, since";

impl State {
    /// Records a refusal; returns whether it is new (not the same refusal of the same state,
    /// already recorded): only a new one is logged.
    pub fn record_block(
        &self,
        object_type: &str,
        anchor: &Anchor,
        name: &str,
        digest: &str,
        reason: &str,
    ) -> Result<(Blocked, bool), StateError> {
        let kind = BlockKind::classify(reason);
        let before = self.block(object_type, anchor)?;
        let new = before.as_ref().is_none_or(|b| b.digest != digest || b.reason != reason);
        let since = before.filter(|_| !new).map_or_else(now_ms, |b| b.since);
        self.lock()
            .execute(
                "INSERT INTO blocked(object_type, anchor, name, digest, kind, reason, since)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(object_type, anchor) DO UPDATE SET name = ?3, digest = ?4, kind = ?5, reason = ?6, since = ?7",
                params![object_type, anchor, name, digest, kind.as_str(), reason, since],
            )
            .map_err(|e| self.err(e))?;
        let blocked = Blocked {
            object_type: object_type.to_owned(),
            anchor: anchor.clone(),
            name: name.to_owned(),
            digest: digest.to_owned(),
            kind,
            reason: reason.to_owned(),
            since,
        };
        Ok((blocked, new))
    }

    pub fn block(&self, object_type: &str, anchor: &Anchor) -> Result<Option<Blocked>, StateError> {
        // Asked before every password push: the statement is prepared once.
        let conn = self.lock();
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM blocked WHERE object_type = ?1 AND anchor = ?2"))
            .and_then(|mut st| st.query_row(params![object_type, anchor], row).optional())
            .map_err(|e| self.err(e))
    }

    /// Every refused object, oldest first.
    pub fn blocked(&self) -> Result<Vec<Blocked>, StateError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare(&format!("SELECT {COLUMNS} FROM blocked ORDER BY since, name")).map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], row).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The tenant took the object (or it is gone): forget its refusal. A user's password that
    /// was skipped for the block is due again. Returns whether there was one.
    pub fn clear_block(&self, object_type: &str, anchor: &Anchor) -> Result<bool, StateError> {
        clear_block_in(&self.lock(), object_type, anchor).map_err(|e| self.err(e))
    }

    /// `sync --retry-blocked`: every refusal forgotten, so the next reconcile sends each object
    /// (and its password) once more. Returns how many there were.
    pub fn clear_blocks(&self) -> Result<usize, StateError> {
        let conn = self.lock();
        let n = conn.execute("DELETE FROM blocked", []).map_err(|e| self.err(e))?;
        conn.execute(
            "UPDATE passwords SET skipped_kvno = NULL, last_error = NULL
             WHERE skipped_temporary = 0 AND last_error LIKE 'blocked:%'",
            [],
        )
        .map_err(|e| self.err(e))?;
        Ok(n)
    }
}

/// [`State::clear_block`] on `conn` (inside a caller's transaction, or on its own).
pub(super) fn clear_block_in(
    conn: &rusqlite::Connection,
    object_type: &str,
    anchor: &Anchor,
) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached("DELETE FROM blocked WHERE object_type = ?1 AND anchor = ?2")?
        .execute(params![object_type, anchor])?;
    if n > 0 && object_type == "User" {
        conn.prepare_cached(
            "UPDATE passwords SET skipped_kvno = NULL, last_error = NULL
             WHERE anchor = ?1 AND skipped_temporary = 0 AND last_error LIKE 'blocked:%'",
        )?
        .execute([anchor])?;
    }
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_new_once_per_state_and_cleared_with_its_password_skip() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = State::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        let text = "InvalidSoftMatch: … (BlockSoftMatch).";
        let (b, new) =
            s.record_block("User", &Anchor::from("a"), "alice", "d1", text).unwrap_or_else(|e| panic!("{e}"));
        assert!(new && b.kind == BlockKind::SoftMatch);
        assert!(!s.record_block("User", &Anchor::from("a"), "alice", "d1", text).unwrap_or_else(|e| panic!("{e}")).1);
        assert!(s.record_block("User", &Anchor::from("a"), "alice", "d2", text).unwrap_or_else(|e| panic!("{e}")).1);
        s.mark_skipped(&Anchor::from("a"), "alice", 3, "blocked: soft-match").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.handled_kvnos().unwrap_or_else(|e| panic!("{e}"))["a"].skipped, 3);
        assert_eq!(s.blocked().unwrap_or_else(|e| panic!("{e}")).len(), 1);
        assert!(s.clear_block("User", &Anchor::from("a")).unwrap_or_else(|e| panic!("{e}")));
        assert!(s.block("User", &Anchor::from("a")).unwrap_or_else(|e| panic!("{e}")).is_none());
        assert_eq!(s.handled_kvnos().unwrap_or_else(|e| panic!("{e}"))["a"].skipped, 0);
        s.record_block("Group", &Anchor::from("g"), "staff", "d", "x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.clear_blocks().unwrap_or_else(|e| panic!("{e}")), 1);
    }
}
