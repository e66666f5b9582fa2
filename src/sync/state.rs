//! The daemon's durable state in SQLite. This module is the only one that opens the file.
//!
//! What is kept: which objects this installation exported (ownership, so only those are ever
//! deleted) with a digest of the attributes last sent; per user the password change counter
//! (msDS-KeyVersionNumber) seen, pushed and acknowledged, with timestamps; the outbox of pending
//! password pushes; deletes held back by the threshold; recent errors. What is never kept: an NT
//! hash, a credential, or anything derived from either.
//!
//! WAL mode with `synchronous=NORMAL`: a commit survives a crash of the daemon (kill -9); the
//! schema evolves through `PRAGMA user_version` migrations.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};

use super::anchor::Anchor;
use super::model::ObjectType;

/// Schema migrations, in order; `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE objects (
        object_type TEXT NOT NULL,
        anchor TEXT NOT NULL,
        dn TEXT NOT NULL,
        name TEXT NOT NULL,
        digest TEXT NOT NULL,
        cloud_anchor TEXT,
        exported_at INTEGER NOT NULL,
        last_error TEXT,
        PRIMARY KEY (object_type, anchor)
    );
    CREATE TABLE passwords (
        anchor TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        seen_kvno INTEGER,
        seen_at INTEGER,
        pushed_kvno INTEGER,
        pushed_at INTEGER,
        acked_kvno INTEGER,
        acked_at INTEGER,
        latency_us INTEGER,
        skipped_kvno INTEGER,
        last_error TEXT
    );
    CREATE INDEX passwords_by_account ON passwords(account);
    CREATE TABLE outbox (
        anchor TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        kvno INTEGER NOT NULL,
        noticed_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT
    );
    CREATE TABLE held_deletes (
        object_type TEXT NOT NULL,
        anchor TEXT NOT NULL,
        name TEXT NOT NULL,
        held_since INTEGER NOT NULL,
        PRIMARY KEY (object_type, anchor)
    );
    CREATE TABLE latencies (at INTEGER NOT NULL, latency_us INTEGER NOT NULL);
    CREATE INDEX latencies_by_time ON latencies(at);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 2: the initial sync's password pushes (backfill) queue behind live changes.
    "ALTER TABLE outbox ADD COLUMN backfill INTEGER NOT NULL DEFAULT 0;",
    // 3: the pusher asks for the few pushes due next, in order, tens of thousands of times during
    // an initial sync: without these, each ask sorted the whole outbox (quadratic in its size).
    "CREATE INDEX outbox_by_order ON outbox(backfill, noticed_at);
    CREATE INDEX outbox_by_retry ON outbox(next_attempt_at);",
    // 4: held deletes say which rule holds them (only the threshold's can be approved); an
    // approval names the exact set it releases and expires; a skip remembers whether it was for
    // a temporary password (which must be pushed once the password becomes a normal one).
    "ALTER TABLE held_deletes ADD COLUMN reason TEXT NOT NULL DEFAULT '';
    ALTER TABLE held_deletes ADD COLUMN approvable INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE delete_approvals (
        object_type TEXT NOT NULL,
        anchor TEXT NOT NULL,
        digest TEXT NOT NULL,
        approved_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (object_type, anchor)
    );
    ALTER TABLE passwords ADD COLUMN skipped_temporary INTEGER NOT NULL DEFAULT 0;",
    // 5: whether the acknowledged push carried ForcePasswordChangeOnLogon, so a password pushed
    // as a normal one that later turns temporary (pwdLastSet=0 at the same key version) is
    // noticed and acted on once.
    "ALTER TABLE passwords ADD COLUMN acked_temporary INTEGER NOT NULL DEFAULT 0;",
    // 6: a full password resync (`sync --all-passwords`, password hash sync turned back on)
    // marks its pushes, so it reports progress and resumes after a restart; each user's
    // password events (never a hash) for `[state] password_history`.
    "ALTER TABLE outbox ADD COLUMN resync INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX outbox_by_resync ON outbox(resync);
    CREATE TABLE password_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        anchor TEXT NOT NULL,
        account TEXT NOT NULL,
        at INTEGER NOT NULL,
        event TEXT NOT NULL,
        kvno INTEGER,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX password_history_by_account ON password_history(account COLLATE NOCASE, at);
    CREATE INDEX password_history_by_time ON password_history(at);",
    // 7: objects the tenant refused one by one (sync/blocked.rs): not sent again until they
    // change on-premises (`digest`) or an administrator asks (`sync --retry-blocked`).
    "CREATE TABLE blocked (
        object_type TEXT NOT NULL,
        anchor TEXT NOT NULL,
        name TEXT NOT NULL,
        digest TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (object_type, anchor)
    );",
];

mod blocked;
mod history;
mod resync;
pub use history::{HistoryEntry, PasswordEvent};
pub use resync::{ResyncRun, ResyncTally};

/// How many recent events (errors, warnings) are kept.
const EVENTS_KEPT: i64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state database {path} has schema version {found}, newer than this build understands ({known})")]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("cannot prepare the state directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Milliseconds since the Unix epoch (the unit of every timestamp in the state DB).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Microseconds since the Unix epoch (used where latencies are measured).
pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// Object types are stored as their names (`User`, `Group`...), read back typed: a row with
/// a name this build does not know fails the read instead of being skipped unnoticed.
impl ToSql for ObjectType {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ObjectType {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        ObjectType::parse(text).ok_or_else(|| FromSqlError::Other(format!("unknown object type {text:?}").into()))
    }
}

/// One exported object as the state remembers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedObject {
    pub object_type: ObjectType,
    pub anchor: Anchor,
    pub dn: String,
    pub name: String,
    pub digest: String,
    pub cloud_anchor: Option<String>,
    pub exported_at: i64,
    pub last_error: Option<String>,
}

/// What [`State::each_exported`] hands out: an exported object's key, name and digest, borrowed
/// from the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportedKey<'a> {
    pub object_type: ObjectType,
    pub anchor: &'a str,
    pub name: &'a str,
    pub digest: &'a str,
    /// The last export failed (`last_error` is set).
    pub failed: bool,
}

/// A user's password sync record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PasswordRecord {
    pub anchor: String,
    pub account: String,
    pub seen_kvno: Option<u32>,
    pub seen_at: Option<i64>,
    pub pushed_kvno: Option<u32>,
    pub pushed_at: Option<i64>,
    pub acked_kvno: Option<u32>,
    pub acked_at: Option<i64>,
    pub latency_us: Option<i64>,
    pub last_error: Option<String>,
    pub skipped_kvno: Option<u32>,
}

/// What became of a user's password key versions (see [`State::handled_kvnos`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handled {
    pub acked: u32,
    pub skipped: u32,
    /// The skip was for a temporary password.
    pub skipped_temporary: bool,
}

impl Handled {
    /// The newest key version that needs no push, given whether the password is temporary now:
    /// a temporary-password skip stops counting once the password is a normal one.
    pub fn key_version(&self, temporary_now: bool) -> u32 {
        if self.skipped_temporary && !temporary_now { self.acked } else { self.acked.max(self.skipped) }
    }
}

/// A pending password push. It names the user and the key version; the hash itself is read
/// from sam.ldb again when the push is (re)tried, so the newest password always wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    pub anchor: Anchor,
    pub account: String,
    pub kvno: u32,
    /// When the change was noticed (µs since the epoch): the start of the latency clock.
    pub noticed_at_us: i64,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    /// Found by a reconcile rather than a live change: pushed after live changes, bulk lane.
    pub backfill: bool,
    /// Part of a full password resync: its outcome is counted in the resync's summary.
    pub resync: bool,
}

/// A delete held back by a safety rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldDelete {
    pub object_type: ObjectType,
    pub anchor: Anchor,
    pub name: String,
    /// The rule that holds it, as the plan words it.
    pub reason: String,
    /// Held by the deletion threshold (`approve-deletes` can release it), not by a scope guard.
    pub approvable: bool,
    pub held_since: i64,
}

/// An administrator's approval of one held set of deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteApproval {
    pub digest: String,
    /// (object type, anchor) of every delete it releases.
    pub objects: Vec<(ObjectType, Anchor)>,
    pub approved_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: i64,
    pub kind: String,
    pub subject: String,
    pub message: String,
}

/// Handle to the state DB; cheap to clone. Calls are short (single statements or small
/// transactions), so callers may make them from async code directly.
#[derive(Clone)]
pub struct State {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl State {
    /// Opens (creating if needed, mode 0600) and migrates the state DB.
    pub fn open(path: &Path) -> Result<State, StateError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io { path: dir.to_path_buf(), source })?;
        }
        // Create the file 0600 before SQLite does (SQLite would honour the umask instead).
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|source| StateError::Io { path: path.to_path_buf(), source })?;
        }
        let sql = |source| StateError::Sqlite { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(sql)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sql)?;
        let state = State { conn: Arc::new(Mutex::new(conn)), path: path.to_path_buf() };
        state.migrate()?;
        Ok(state)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, source: rusqlite::Error) -> StateError {
        StateError::Sqlite { path: self.path.clone(), source }
    }

    fn migrate(&self) -> Result<(), StateError> {
        let mut conn = self.lock();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| self.err(e))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StateError::TooNew { path: self.path.clone(), found: version, known });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(|e| self.err(e))?;
            tx.execute_batch(sql).map_err(|e| self.err(e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// SQLite's `PRAGMA quick_check`: "ok", or what is damaged.
    pub fn quick_check(&self) -> Result<String, StateError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("PRAGMA quick_check").map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        let lines = rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))?;
        Ok(lines.join("; "))
    }

    pub fn schema_version(&self) -> Result<i64, StateError> {
        self.lock().query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    // ---- meta ----

    pub fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        self.lock()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StateError> {
        self.lock()
            .execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                [key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    // ---- exported objects ----

    pub fn record_export(&self, o: &ExportedObject) -> Result<(), StateError> {
        record_export_in(&self.lock(), o).map_err(|e| self.err(e))
    }

    /// Objects the tenant accepted in one call, in one transaction: each recorded as exported
    /// and its refusal, if any, forgotten ([`State::clear_block`]). Returns, for each, whether
    /// it had been refused.
    pub fn record_accepted(&self, objects: &[ExportedObject]) -> Result<Vec<bool>, StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut was_blocked = Vec::with_capacity(objects.len());
        for o in objects {
            was_blocked.push(blocked::clear_block_in(&tx, o.object_type.as_str(), &o.anchor).map_err(|e| self.err(e))?);
            record_export_in(&tx, o).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(was_blocked)
    }

    pub fn record_export_error(&self, object_type: ObjectType, anchor: &Anchor, error: &str) -> Result<(), StateError> {
        self.lock()
            .execute(
                "UPDATE objects SET last_error = ?3 WHERE object_type = ?1 AND anchor = ?2",
                params![object_type, anchor, error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn forget_export(&self, object_type: ObjectType, anchor: &Anchor) -> Result<(), StateError> {
        let conn = self.lock();
        conn.execute("DELETE FROM objects WHERE object_type = ?1 AND anchor = ?2", params![object_type, anchor])
            .and_then(|_| {
                conn.execute(
                    "DELETE FROM held_deletes WHERE object_type = ?1 AND anchor = ?2",
                    params![object_type, anchor],
                )
            })
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn exported(&self) -> Result<Vec<ExportedObject>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT object_type, anchor, dn, name, digest, cloud_anchor, exported_at, last_error
                 FROM objects ORDER BY object_type, anchor",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], exported_row).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Hands every exported object's key to `each`, in key order (object type, then anchor: the
    /// primary key's order, so SQLite sorts nothing), one row at a time: a full run compares the
    /// domain with the state without holding every row. `each` must not call the state DB (its
    /// connection is held meanwhile).
    pub fn each_exported(&self, mut each: impl FnMut(ExportedKey<'_>)) -> Result<(), StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT object_type, anchor, name, digest, last_error IS NOT NULL FROM objects
                 ORDER BY object_type, anchor",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let key = exported_key(r).map_err(|e| self.err(e))?;
            each(key);
        }
        Ok(())
    }

    /// Like [`State::handled_kvnos`], one row at a time (see [`State::each_exported`]).
    pub fn each_handled(&self, mut each: impl FnMut(&str, Handled)) -> Result<(), StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT anchor, COALESCE(acked_kvno, 0), COALESCE(skipped_kvno, 0), skipped_temporary FROM passwords",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let row = handled_row(r).map_err(|e| self.err(e))?;
            each(row.0, row.1);
        }
        Ok(())
    }

    /// One exported object, if this installation exported it.
    pub fn exported_object(
        &self,
        object_type: ObjectType,
        anchor: &Anchor,
    ) -> Result<Option<ExportedObject>, StateError> {
        self.lock()
            .query_row(
                "SELECT object_type, anchor, dn, name, digest, cloud_anchor, exported_at, last_error
                 FROM objects WHERE object_type = ?1 AND anchor = ?2",
                params![object_type, anchor],
                exported_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn exported_count(&self) -> Result<i64, StateError> {
        self.lock().query_row("SELECT COUNT(*) FROM objects", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    // ---- passwords ----

    pub fn password(&self, anchor: &Anchor) -> Result<Option<PasswordRecord>, StateError> {
        self.password_where("anchor = ?1", anchor)
    }

    pub fn password_by_account(&self, account: &str) -> Result<Option<PasswordRecord>, StateError> {
        self.password_where("account = ?1 COLLATE NOCASE", account)
    }

    fn password_where(&self, cond: &str, arg: &str) -> Result<Option<PasswordRecord>, StateError> {
        let sql = format!(
            "SELECT anchor, account, seen_kvno, seen_at, pushed_kvno, pushed_at, acked_kvno, acked_at, latency_us,
             last_error, skipped_kvno FROM passwords WHERE {cond} ORDER BY acked_at DESC LIMIT 1"
        );
        self.lock()
            .query_row(&sql, [arg], |r| {
                Ok(PasswordRecord {
                    anchor: r.get(0)?,
                    account: r.get(1)?,
                    seen_kvno: r.get(2)?,
                    seen_at: r.get(3)?,
                    pushed_kvno: r.get(4)?,
                    pushed_at: r.get(5)?,
                    acked_kvno: r.get(6)?,
                    acked_at: r.get(7)?,
                    latency_us: r.get(8)?,
                    last_error: r.get(9)?,
                    skipped_kvno: r.get(10)?,
                })
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Per anchor, the key versions that need no push any more (acknowledged or deliberately
    /// skipped), for comparing a directory scan against.
    pub fn handled_kvnos(&self) -> Result<std::collections::HashMap<Anchor, Handled>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT anchor, COALESCE(acked_kvno, 0), COALESCE(skipped_kvno, 0), skipped_temporary FROM passwords",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, Handled { acked: r.get(1)?, skipped: r.get(2)?, skipped_temporary: r.get(3)? }))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// A change was noticed: durably queue a push, unless that key version (or a newer one) was
    /// already acknowledged or deliberately skipped. Coalesces with a pending push for the same
    /// user: the newer key version wins, the older noticed time keeps the latency honest.
    /// Returns whether anything was queued.
    pub fn enqueue_push(
        &self,
        anchor: &Anchor,
        account: &str,
        kvno: u32,
        noticed_at_us: i64,
    ) -> Result<bool, StateError> {
        self.enqueue(anchor, account, kvno, noticed_at_us, false)
    }

    /// Queues a push found by a reconcile (not a live change): it waits behind live changes and
    /// takes the bulk lane of the write budget, so a backlog of thousands never delays a user
    /// who just changed a password.
    pub fn enqueue_backfill(&self, anchor: &Anchor, account: &str, kvno: u32, at_us: i64) -> Result<bool, StateError> {
        self.enqueue(anchor, account, kvno, at_us, true)
    }

    fn enqueue(
        &self,
        anchor: &Anchor,
        account: &str,
        kvno: u32,
        noticed_at_us: i64,
        backfill: bool,
    ) -> Result<bool, StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let queued = enqueue_in(&tx, anchor, account, kvno, noticed_at_us, backfill).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(queued)
    }

    /// A reconcile's password pushes (see [`State::enqueue_backfill`]) in one transaction: a
    /// commit per user cost more than the rest of queueing it. A temporary password's skip is
    /// released first where it became a normal one, and each push queued gets its `changeSeen`
    /// event with `detail`. Returns how many were queued; on an error nothing is.
    pub fn enqueue_backfills(&self, items: &[Backfill<'_>], detail: &str) -> Result<usize, StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut queued = 0;
        for b in items {
            if b.release_temporary_skip {
                release_temporary_skip_in(&tx, b.anchor).map_err(|e| self.err(e))?;
            }
            if enqueue_in(&tx, b.anchor, b.account, b.kvno, b.at_us, true).map_err(|e| self.err(e))? {
                history::insert_event(&tx, b.anchor, b.account, PasswordEvent::ChangeSeen, Some(b.kvno), detail)
                    .map_err(|e| self.err(e))?;
                queued += 1;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(queued)
    }

    /// A change that is deliberately not pushed (a user out of scope, no password):
    /// remembered so the safety net does not queue it again.
    pub fn mark_skipped(&self, anchor: &Anchor, account: &str, kvno: u32, why: &str) -> Result<(), StateError> {
        self.skip(anchor, account, kvno, why, false)
    }

    /// A temporary password (must change at next logon) kept on-premises: like a skip, until
    /// the password becomes a normal one without a new key version
    /// ([`State::release_temporary_skip`]).
    pub fn mark_temporary_skipped(
        &self,
        anchor: &Anchor,
        account: &str,
        kvno: u32,
        why: &str,
    ) -> Result<(), StateError> {
        self.skip(anchor, account, kvno, why, true)
    }

    fn skip(&self, anchor: &Anchor, account: &str, kvno: u32, why: &str, temporary: bool) -> Result<(), StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO passwords(anchor, account, skipped_kvno, last_error, skipped_temporary)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(anchor) DO UPDATE SET account = ?2, skipped_kvno = ?3, last_error = ?4, skipped_temporary = ?5",
            params![anchor, account, kvno, why, temporary],
        )
        .map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM outbox WHERE anchor = ?1 AND kvno <= ?2", params![anchor, kvno])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// The user's password is no longer temporary (an administrator cleared "must change at
    /// next logon", pwdLastSet 0 -> -1, without setting a new one): a temporary-password skip
    /// no longer counts as handled, so the same key version is pushed. Returns whether a skip
    /// was released.
    pub fn release_temporary_skip(&self, anchor: &Anchor) -> Result<bool, StateError> {
        release_temporary_skip_in(&self.lock(), anchor).map_err(|e| self.err(e))
    }

    /// The acknowledged key version and whether it went to Entra as a temporary password
    /// (with ForcePasswordChangeOnLogon); `None` when nothing was acknowledged.
    pub fn acknowledged_as(&self, anchor: &Anchor) -> Result<Option<(u32, bool)>, StateError> {
        self.lock()
            .query_row(
                "SELECT acked_kvno, acked_temporary FROM passwords WHERE anchor = ?1 AND acked_kvno IS NOT NULL",
                [anchor],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Queues a live push of a key version Entra already acknowledged: the password turned
    /// temporary after it was pushed as a normal one, so what Entra holds must change.
    pub fn requeue_acknowledged(
        &self,
        anchor: &Anchor,
        account: &str,
        kvno: u32,
        noticed_at_us: i64,
    ) -> Result<(), StateError> {
        self.lock()
            .execute(
                "INSERT INTO outbox(anchor, account, kvno, noticed_at, attempts, next_attempt_at, backfill)
                 VALUES (?1, ?2, ?3, ?4, 0, 0, 0)
                 ON CONFLICT(anchor) DO UPDATE SET account = ?2, kvno = MAX(kvno, ?3), next_attempt_at = 0, backfill = 0",
                params![anchor, account, kvno, noticed_at_us],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Anchors whose last skip was for a temporary password.
    pub fn temporary_skips(&self) -> Result<std::collections::HashSet<String>, StateError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT anchor FROM passwords WHERE skipped_temporary = 1").map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Pending pushes, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT anchor, account, kvno, noticed_at, attempts, next_attempt_at, last_error, backfill, resync
                 FROM outbox ORDER BY backfill, noticed_at",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], outbox_item).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// At most `limit` pushes that are due at `now_ms` (live changes first, then the backfill,
    /// oldest first), and when the next of the others falls due. The pusher asks this on every
    /// turn, so it must not read the whole outbox: a first sync queues one push per user.
    pub fn outbox_due(&self, now_ms: i64, limit: usize) -> Result<(Vec<OutboxItem>, Option<i64>), StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT anchor, account, kvno, noticed_at, attempts, next_attempt_at, last_error, backfill, resync
                 FROM outbox WHERE next_attempt_at <= ?1 ORDER BY backfill, noticed_at LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params![now_ms, limit as i64], outbox_item).map_err(|e| self.err(e))?;
        let due = rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))?;
        let next: Option<i64> = conn
            .query_row("SELECT MIN(next_attempt_at) FROM outbox WHERE next_attempt_at > ?1", [now_ms], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok((due, next))
    }

    pub fn outbox_len(&self) -> Result<i64, StateError> {
        self.lock().query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// The push of `kvno` was sent: recorded with its `pushed` event (`detail`), in one commit.
    pub fn mark_pushed(&self, anchor: &Anchor, account: &str, kvno: u32, detail: &str) -> Result<(), StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.prepare_cached("UPDATE passwords SET pushed_kvno = ?2, pushed_at = ?3 WHERE anchor = ?1")
            .and_then(|mut st| st.execute(params![anchor, kvno, now_ms()]))
            .and_then(|_| history::insert_event(&tx, anchor, account, PasswordEvent::Pushed, Some(kvno), detail))
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Entra acknowledged `kvno`: the outbox entry goes (unless a newer change queued meanwhile)
    /// and the latency is recorded.
    pub fn mark_acked(&self, anchor: &Anchor, kvno: u32, latency_us: i64) -> Result<(), StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        acked_in(&tx, anchor, kvno, latency_us).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// The password path's [`State::mark_acked`]: also whether the push was a temporary
    /// password (with ForcePasswordChangeOnLogon) and the `acknowledged` event, in one commit
    /// (a commit costs more than the statements in it).
    pub fn acknowledge_push(
        &self,
        anchor: &Anchor,
        account: &str,
        kvno: u32,
        latency_us: i64,
        temporary: bool,
    ) -> Result<(), StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        acked_in(&tx, anchor, kvno, latency_us)
            .and_then(|()| {
                tx.prepare_cached("UPDATE passwords SET acked_temporary = ?2 WHERE anchor = ?1")?
                    .execute(params![anchor, temporary])
            })
            .and_then(|_| history::insert_event(&tx, anchor, account, PasswordEvent::Acknowledged, Some(kvno), ""))
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// The user was created again in Entra (it was deleted there), without a password: what
    /// Entra acknowledged before no longer holds. A deliberate skip still does.
    pub fn forget_acknowledged(&self, anchor: &Anchor) -> Result<(), StateError> {
        self.lock()
            .execute("UPDATE passwords SET acked_kvno = NULL, acked_at = NULL WHERE anchor = ?1", [anchor])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// A push attempt failed; retry after `retry_at` (ms since the epoch).
    pub fn mark_push_failed(&self, anchor: &Anchor, error: &str, retry_at: i64) -> Result<(), StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE anchor = ?1",
            params![anchor, retry_at, error],
        )
        .map_err(|e| self.err(e))?;
        tx.execute("UPDATE passwords SET last_error = ?2 WHERE anchor = ?1", params![anchor, error])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Drops a pending push that must not happen (the user is gone or out of scope).
    pub fn drop_push(&self, anchor: &Anchor, why: &str) -> Result<(), StateError> {
        let conn = self.lock();
        conn.execute("DELETE FROM outbox WHERE anchor = ?1", [anchor]).map_err(|e| self.err(e))?;
        conn.execute("UPDATE passwords SET last_error = ?2 WHERE anchor = ?1", params![anchor, why])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Password latencies (µs) acknowledged in the last hour, sorted.
    pub fn recent_latencies(&self) -> Result<Vec<i64>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT latency_us FROM latencies WHERE at >= ?1 ORDER BY latency_us")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([now_ms() - 3_600_000], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    // ---- held deletes and their approval ----

    /// Replaces the held set with what the latest full run held (a delete that is no longer
    /// planned is no longer held); an object held before keeps its `held_since`.
    pub fn replace_held_deletes(&self, held: &[HeldDelete]) -> Result<(), StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let since: std::collections::HashMap<(ObjectType, Anchor), i64> = {
            let mut stmt =
                tx.prepare("SELECT object_type, anchor, held_since FROM held_deletes").map_err(|e| self.err(e))?;
            let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?))).map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?
        };
        tx.execute("DELETE FROM held_deletes", []).map_err(|e| self.err(e))?;
        for h in held {
            let held_since = since.get(&(h.object_type, h.anchor.clone())).copied().unwrap_or(h.held_since);
            tx.execute(
                "INSERT OR REPLACE INTO held_deletes(object_type, anchor, name, reason, approvable, held_since)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![h.object_type, h.anchor, h.name, h.reason, h.approvable, held_since],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    pub fn held_deletes(&self) -> Result<Vec<HeldDelete>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT object_type, anchor, name, reason, approvable, held_since FROM held_deletes
                 ORDER BY object_type, anchor",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(HeldDelete {
                    object_type: r.get(0)?,
                    anchor: r.get(1)?,
                    name: r.get(2)?,
                    reason: r.get(3)?,
                    approvable: r.get(4)?,
                    held_since: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Records an approval; it replaces any earlier one (one approval at a time).
    pub fn record_delete_approval(&self, approval: &DeleteApproval) -> Result<(), StateError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM delete_approvals", []).map_err(|e| self.err(e))?;
        for (t, a) in &approval.objects {
            tx.execute(
                "INSERT INTO delete_approvals(object_type, anchor, digest, approved_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t, a, approval.digest, approval.approved_at, approval.expires_at],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// The approval in force at `now_ms`, if any (an expired one is dropped).
    pub fn delete_approval(&self, now_ms: i64) -> Result<Option<DeleteApproval>, StateError> {
        let conn = self.lock();
        conn.execute("DELETE FROM delete_approvals WHERE expires_at <= ?1", [now_ms]).map_err(|e| self.err(e))?;
        let mut stmt = conn
            .prepare("SELECT object_type, anchor, digest, approved_at, expires_at FROM delete_approvals")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, ObjectType>(0)?, r.get::<_, Anchor>(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(|e| self.err(e))?;
        let mut approval: Option<DeleteApproval> = None;
        for row in rows {
            let (t, a, digest, approved_at, expires_at) = row.map_err(|e| self.err(e))?;
            approval
                .get_or_insert_with(|| DeleteApproval { digest, objects: Vec::new(), approved_at, expires_at })
                .objects
                .push((t, a));
        }
        Ok(approval)
    }

    /// An approval is good for one full run: the first run planned after it uses it up, whether
    /// its deletes were still due or not (a changed set needs a new approval).
    pub fn consume_delete_approval(&self, approved_before_ms: i64) -> Result<(), StateError> {
        self.lock()
            .execute("DELETE FROM delete_approvals WHERE approved_at <= ?1", [approved_before_ms])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    // ---- events ----

    /// Records an error or warning for `status` (the newest EVENTS_KEPT are kept).
    pub fn record_event(&self, kind: &str, subject: &str, message: &str) -> Result<(), StateError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO events(at, kind, subject, message) VALUES (?1, ?2, ?3, ?4)",
            params![now_ms(), kind, subject, message],
        )
        .map_err(|e| self.err(e))?;
        conn.execute("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?1", [EVENTS_KEPT])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn recent_events(&self, limit: usize) -> Result<Vec<Event>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT at, kind, subject, message FROM events ORDER BY id DESC LIMIT ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(Event { at: r.get(0)?, kind: r.get(1)?, subject: r.get(2)?, message: r.get(3)? })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

/// A text column, borrowed from the row.
fn text_at<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

/// A row of `SELECT object_type, anchor, name, digest, last_error IS NOT NULL`.
fn exported_key<'r>(r: &'r rusqlite::Row<'_>) -> rusqlite::Result<ExportedKey<'r>> {
    Ok(ExportedKey {
        object_type: r.get(0)?,
        anchor: text_at(r, 1)?,
        name: text_at(r, 2)?,
        digest: text_at(r, 3)?,
        failed: r.get(4)?,
    })
}

/// A row of `SELECT anchor, acked, skipped, skipped_temporary` from passwords.
fn handled_row<'r>(r: &'r rusqlite::Row<'_>) -> rusqlite::Result<(&'r str, Handled)> {
    Ok((text_at(r, 0)?, Handled { acked: r.get(1)?, skipped: r.get(2)?, skipped_temporary: r.get(3)? }))
}

/// An objects row, as `SELECT object_type, anchor, dn, name, digest, cloud_anchor,
/// exported_at, last_error` returns it.
fn exported_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExportedObject> {
    Ok(ExportedObject {
        object_type: r.get(0)?,
        anchor: r.get(1)?,
        dn: r.get(2)?,
        name: r.get(3)?,
        digest: r.get(4)?,
        cloud_anchor: r.get(5)?,
        exported_at: r.get(6)?,
        last_error: r.get(7)?,
    })
}

/// An outbox row, as `SELECT anchor, account, kvno, noticed_at, attempts, next_attempt_at,
/// last_error, backfill` returns it.
fn outbox_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxItem> {
    Ok(OutboxItem {
        anchor: r.get(0)?,
        account: r.get(1)?,
        kvno: r.get(2)?,
        noticed_at_us: r.get(3)?,
        attempts: r.get(4)?,
        next_attempt_at: r.get(5)?,
        last_error: r.get(6)?,
        backfill: r.get(7)?,
        resync: r.get(8)?,
    })
}

/// The value at quantile `q` (0..=1) of sorted `values`.
pub fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(idx.min(sorted.len() - 1)).copied()
}

fn record_export_in(conn: &Connection, o: &ExportedObject) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO objects(object_type, anchor, dn, name, digest, cloud_anchor, exported_at, last_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(object_type, anchor) DO UPDATE SET dn = ?3, name = ?4, digest = ?5,
           cloud_anchor = COALESCE(?6, cloud_anchor), exported_at = ?7, last_error = ?8",
    )?
    .execute(params![o.object_type, o.anchor, o.dn, o.name, o.digest, o.cloud_anchor, o.exported_at, o.last_error])
    .map(|_| ())
}

/// Entra acknowledged `kvno` (see [`State::mark_acked`]), inside `tx`.
fn acked_in(tx: &Connection, anchor: &Anchor, kvno: u32, latency_us: i64) -> rusqlite::Result<()> {
    let now = now_ms();
    tx.prepare_cached(
        "UPDATE passwords SET acked_kvno = ?2, acked_at = ?3, latency_us = ?4, last_error = NULL WHERE anchor = ?1",
    )?
    .execute(params![anchor, kvno, now, latency_us])?;
    tx.prepare_cached("DELETE FROM outbox WHERE anchor = ?1 AND kvno <= ?2")?.execute(params![anchor, kvno])?;
    tx.prepare_cached("INSERT INTO latencies(at, latency_us) VALUES (?1, ?2)")?.execute(params![now, latency_us])?;
    tx.prepare_cached("DELETE FROM latencies WHERE at < ?1")?.execute(params![now - 3_600_000])?;
    Ok(())
}

/// Queues one push inside `tx` (see [`State::enqueue_push`]); whether anything was queued.
fn enqueue_in(
    tx: &Connection,
    anchor: &Anchor,
    account: &str,
    kvno: u32,
    noticed_at_us: i64,
    backfill: bool,
) -> rusqlite::Result<bool> {
    let handled: Option<u32> = tx
        .prepare_cached(
            "SELECT MAX(COALESCE(acked_kvno, 0), COALESCE(skipped_kvno, 0)) FROM passwords WHERE anchor = ?1",
        )?
        .query_row([anchor], |r| r.get(0))
        .optional()?;
    if handled.is_some_and(|h| h >= kvno) {
        return Ok(false);
    }
    // A live change turns a queued backfill item into a live one.
    tx.prepare_cached(
        "INSERT INTO outbox(anchor, account, kvno, noticed_at, attempts, next_attempt_at, backfill)
             VALUES (?1, ?2, ?3, ?4, 0, 0, ?5)
             ON CONFLICT(anchor) DO UPDATE SET account = ?2, kvno = MAX(kvno, ?3), next_attempt_at = 0,
                 backfill = MIN(backfill, ?5)",
    )?
    .execute(params![anchor, account, kvno, noticed_at_us, backfill])?;
    tx.prepare_cached(
        "INSERT INTO passwords(anchor, account, seen_kvno, seen_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(anchor) DO UPDATE SET account = ?2, seen_kvno = MAX(COALESCE(seen_kvno, 0), ?3), seen_at = ?4",
    )?
    .execute(params![anchor, account, kvno, noticed_at_us / 1000])?;
    Ok(true)
}

fn release_temporary_skip_in(conn: &Connection, anchor: &Anchor) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "UPDATE passwords SET skipped_kvno = NULL, skipped_temporary = 0 WHERE anchor = ?1 AND skipped_temporary = 1",
    )?
    .execute([anchor])
    .map(|n| n > 0)
}

/// One push [`State::enqueue_backfills`] queues.
#[derive(Clone, Copy, Debug)]
pub struct Backfill<'a> {
    pub anchor: &'a Anchor,
    pub account: &'a str,
    pub kvno: u32,
    /// When the change was seen (µs since the epoch).
    pub at_us: i64,
    /// A skipped temporary password became a normal one: the skip goes first.
    pub release_temporary_skip: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn open() -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = State::open(&dir.path().join("sub/state.db")).unwrap_or_else(|e| panic!("{e}"));
        (dir, s)
    }

    #[test]
    fn created_private_and_migrated() {
        let (dir, s) = open();
        let mode = std::fs::metadata(dir.path().join("sub/state.db")).map(|m| m.permissions().mode()).unwrap_or(0);
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(s.schema_version().ok(), Some(MIGRATIONS.len() as i64));
        // Reopening is a no-op migration.
        drop(s);
        let s = State::open(&dir.path().join("sub/state.db")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.schema_version().ok(), Some(MIGRATIONS.len() as i64));
    }

    #[test]
    fn newer_schema_is_refused() {
        let (dir, s) = open();
        s.lock().pragma_update(None, "user_version", 99).unwrap_or_else(|e| panic!("{e}"));
        drop(s);
        let e = State::open(&dir.path().join("sub/state.db")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("schema version 99"), "{e}");
    }

    #[test]
    fn outbox_coalesces_and_survives_reopen() {
        let (dir, s) = open();
        s.enqueue_push(&Anchor::from("A1"), "alice", 3, 1_000).unwrap_or_else(|e| panic!("{e}"));
        s.enqueue_push(&Anchor::from("A1"), "alice", 5, 2_000).unwrap_or_else(|e| panic!("{e}"));
        s.enqueue_push(&Anchor::from("B1"), "bob", 2, 1_500).unwrap_or_else(|e| panic!("{e}"));
        drop(s);
        let s = State::open(&dir.path().join("sub/state.db")).unwrap_or_else(|e| panic!("{e}"));
        let items = s.outbox().unwrap_or_default();
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].account.as_str(), items[0].kvno, items[0].noticed_at_us), ("alice", 5, 1_000));
        // An ack of an older version keeps the newer pending push.
        s.mark_acked(&Anchor::from("A1"), 4, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.outbox_len().ok(), Some(2));
        s.mark_acked(&Anchor::from("A1"), 5, 120).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.outbox_len().ok(), Some(1));
        let rec = s.password_by_account("ALICE").ok().flatten().unwrap_or_default();
        assert_eq!((rec.acked_kvno, rec.latency_us), (Some(5), Some(120)));
        assert_eq!(s.recent_latencies().unwrap_or_default(), vec![100, 120]);
        // The safety net does not queue what was acknowledged or skipped already.
        assert_eq!(s.enqueue_push(&Anchor::from("A1"), "alice", 5, 3_000).ok(), Some(false));
        s.mark_skipped(&Anchor::from("C1"), "carol", 7, "temporary password").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.enqueue_push(&Anchor::from("C1"), "carol", 7, 3_000).ok(), Some(false));
        assert_eq!(s.enqueue_push(&Anchor::from("C1"), "carol", 8, 3_000).ok(), Some(true));
        s.mark_acked(&Anchor::from("C1"), 8, 5).unwrap_or_else(|e| panic!("{e}"));
        s.mark_push_failed(&Anchor::from("B1"), "HTTP 503", 99).unwrap_or_else(|e| panic!("{e}"));
        let b = &s.outbox().unwrap_or_default()[0];
        assert_eq!((b.attempts, b.next_attempt_at, b.last_error.as_deref()), (1, 99, Some("HTTP 503")));
    }

    #[test]
    fn live_changes_go_ahead_of_the_backfill() {
        let (_dir, s) = open();
        s.enqueue_backfill(&Anchor::from("A1"), "alice", 2, 1_000).unwrap_or_else(|e| panic!("{e}"));
        s.enqueue_backfill(&Anchor::from("B1"), "bob", 2, 1_001).unwrap_or_else(|e| panic!("{e}"));
        s.enqueue_push(&Anchor::from("C1"), "carol", 3, 5_000).unwrap_or_else(|e| panic!("{e}"));
        // A live change of a user still in the backfill makes that item live.
        s.enqueue_push(&Anchor::from("B1"), "bob", 3, 6_000).unwrap_or_else(|e| panic!("{e}"));
        let order: Vec<(String, bool)> =
            s.outbox().unwrap_or_default().into_iter().map(|i| (i.account, i.backfill)).collect();
        assert_eq!(order, vec![("bob".to_string(), false), ("carol".to_string(), false), ("alice".to_string(), true)]);
    }

    #[test]
    fn a_reconciles_pushes_are_queued_together_with_their_events_and_skips_kept() {
        let (_d, s) = open();
        let ok = |r: Result<(), StateError>| r.unwrap_or_else(|e| panic!("{e}"));
        let (a, b, c, d) = (Anchor::from("A"), Anchor::from("B"), Anchor::from("C"), Anchor::from("D"));
        s.enqueue_push(&b, "b", 2, 1).unwrap_or_else(|e| panic!("{e}"));
        ok(s.mark_acked(&b, 2, 1));
        ok(s.mark_temporary_skipped(&c, "c", 3, "temporary"));
        ok(s.mark_temporary_skipped(&d, "d", 4, "temporary"));
        let item = |anchor, account, kvno, release_temporary_skip| Backfill {
            anchor,
            account,
            kvno,
            at_us: 5_000,
            release_temporary_skip,
        };
        let items = [item(&a, "a", 1, false), item(&b, "b", 2, false), item(&c, "c", 3, true), item(&d, "d", 4, false)];
        // A: new; B: acknowledged already; C: its temporary password became a normal one; D: still
        // a temporary password, skipped.
        assert_eq!(s.enqueue_backfills(&items, "found by a reconcile").ok(), Some(2));
        let (due, _) = s.outbox_due(i64::MAX, 10).unwrap_or_else(|e| panic!("{e}"));
        let mut queued: Vec<&str> = due.iter().map(|i| i.anchor.as_str()).collect();
        queued.sort_unstable();
        assert_eq!(queued, ["A", "C"]);
        assert!(due.iter().all(|i| i.backfill));
        for (account, events) in [("a", 1), ("b", 0), ("c", 1), ("d", 0)] {
            let seen = s.password_history(account).unwrap_or_else(|e| panic!("{e}"));
            let seen = seen.iter().filter(|e| e.event == "changeSeen" && e.detail == "found by a reconcile").count();
            assert_eq!(seen, events, "{account}");
        }
    }

    #[test]
    fn outbox_due_reads_only_what_can_start() {
        let (_d, s) = open();
        for i in 0..50 {
            s.enqueue_push(&Anchor::from(format!("A{i}")), &format!("u{i}"), 1, 1_000 + i)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        s.mark_push_failed(&Anchor::from("A0"), "later", 5_000).unwrap_or_else(|e| panic!("{e}"));
        let (due, next) = s.outbox_due(4_000, 10).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(due.len(), 10);
        assert_eq!(due[0].anchor, "A1", "oldest due first; A0 waits for its retry time");
        assert_eq!(next, Some(5_000));
        let (due, next) = s.outbox_due(6_000, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((due.len(), next), (50, None));
    }

    #[test]
    fn exported_rows_stream_in_key_order() {
        let (_d, s) = open();
        for (t, a) in [(ObjectType::User, "b="), (ObjectType::Group, "z="), (ObjectType::User, "a=")] {
            let o = ExportedObject {
                object_type: t,
                anchor: a.into(),
                dn: format!("CN={a}"),
                name: format!("n{a}"),
                digest: format!("d{a}"),
                cloud_anchor: None,
                exported_at: 1,
                last_error: None,
            };
            s.record_export(&o).unwrap_or_else(|e| panic!("{e}"));
        }
        s.record_export_error(ObjectType::User, &Anchor::from("b="), "refused").unwrap_or_else(|e| panic!("{e}"));
        let mut seen = Vec::new();
        s.each_exported(|k| seen.push(format!("{}/{}/{}/{}/{}", k.object_type, k.anchor, k.name, k.digest, k.failed)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seen, ["Group/z=/nz=/dz=/false", "User/a=/na=/da=/false", "User/b=/nb=/db=/true"]);
        s.enqueue_push(&Anchor::from("a="), "a", 3, 1).unwrap_or_else(|e| panic!("{e}"));
        s.mark_acked(&Anchor::from("a="), 3, 5).unwrap_or_else(|e| panic!("{e}"));
        let mut handled = Vec::new();
        s.each_handled(|a, h| handled.push((a.to_string(), h.acked))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(handled, [("a=".to_string(), 3)]);
        assert_eq!(s.handled_kvnos().unwrap_or_default().get("a=").map(|h| h.acked), Some(3));
    }

    #[test]
    fn exports_and_held_deletes() {
        let (_d, s) = open();
        let o = ExportedObject {
            object_type: ObjectType::User,
            anchor: "AAA=".into(),
            dn: "CN=a".into(),
            name: "a".into(),
            digest: "d1".into(),
            cloud_anchor: Some("User_1".into()),
            exported_at: 1,
            last_error: None,
        };
        s.record_export(&o).unwrap_or_else(|e| panic!("{e}"));
        s.record_export(&ExportedObject { digest: "d2".into(), cloud_anchor: None, ..o.clone() })
            .unwrap_or_else(|e| panic!("{e}"));
        let all = s.exported().unwrap_or_default();
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].digest.as_str(), all[0].cloud_anchor.as_deref()), ("d2", Some("User_1")));
        let held = HeldDelete {
            object_type: ObjectType::User,
            anchor: "AAA=".into(),
            name: "a".into(),
            reason: "held: over the deletion threshold".into(),
            approvable: true,
            held_since: 5,
        };
        s.replace_held_deletes(std::slice::from_ref(&held)).unwrap_or_else(|e| panic!("{e}"));
        // A second run that holds it again keeps the time it was first held.
        s.replace_held_deletes(&[HeldDelete { held_since: 9, ..held.clone() }]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.held_deletes().unwrap_or_default(), vec![held]);
        s.forget_export(ObjectType::User, &Anchor::from("AAA=")).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.exported().unwrap_or_default().is_empty());
        assert!(s.held_deletes().unwrap_or_default().is_empty());
    }

    #[test]
    fn held_sets_are_replaced_and_approvals_expire_and_are_used_once() {
        let (_d, s) = open();
        let held = |a: &str| HeldDelete {
            object_type: ObjectType::User,
            anchor: a.into(),
            name: a.into(),
            reason: "held".into(),
            approvable: true,
            held_since: 1,
        };
        s.replace_held_deletes(&[held("A"), held("B")]).unwrap_or_else(|e| panic!("{e}"));
        s.replace_held_deletes(&[held("B")]).unwrap_or_else(|e| panic!("{e}"));
        let anchors: Vec<Anchor> = s.held_deletes().unwrap_or_default().into_iter().map(|h| h.anchor).collect();
        assert_eq!(anchors, vec![Anchor::from("B")], "a delete no longer planned is no longer held");
        let approval = DeleteApproval {
            digest: "d".into(),
            objects: vec![(ObjectType::User, "B".into())],
            approved_at: 100,
            expires_at: 1_000,
        };
        s.record_delete_approval(&approval).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.delete_approval(500).ok().flatten(), Some(approval.clone()));
        // A run planned before the approval does not use it up.
        s.consume_delete_approval(99).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.delete_approval(500).ok().flatten().is_some());
        s.consume_delete_approval(100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.delete_approval(500).ok().flatten(), None);
        s.record_delete_approval(&approval).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.delete_approval(1_000).ok().flatten(), None, "expired");
    }

    #[test]
    fn a_temporary_skip_is_released_when_the_password_becomes_normal() {
        let (_d, s) = open();
        s.mark_temporary_skipped(&Anchor::from("T1"), "tom", 4, "temporary").unwrap_or_else(|e| panic!("{e}"));
        s.mark_skipped(&Anchor::from("O1"), "olga", 4, "out of scope").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.enqueue_push(&Anchor::from("T1"), "tom", 4, 1).ok(), Some(false));
        assert_eq!(s.temporary_skips().unwrap_or_default().into_iter().collect::<Vec<_>>(), vec!["T1".to_string()]);
        assert_eq!(
            s.release_temporary_skip(&Anchor::from("O1")).ok(),
            Some(false),
            "only temporary skips are released"
        );
        assert_eq!(s.release_temporary_skip(&Anchor::from("T1")).ok(), Some(true));
        assert_eq!(
            s.enqueue_push(&Anchor::from("T1"), "tom", 4, 1).ok(),
            Some(true),
            "the same key version is pushed now"
        );
        assert_eq!(s.enqueue_push(&Anchor::from("O1"), "olga", 4, 1).ok(), Some(false));
    }

    #[test]
    fn events_are_capped() {
        let (_d, s) = open();
        for i in 0..(EVENTS_KEPT + 10) {
            s.record_event("error", "x", &format!("e{i}")).unwrap_or_else(|e| panic!("{e}"));
        }
        let ev = s.recent_events(1000).unwrap_or_default();
        assert_eq!(ev.len() as i64, EVENTS_KEPT);
        assert_eq!(ev[0].message, format!("e{}", EVENTS_KEPT + 9));
    }

    #[test]
    fn quantiles() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(51));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
