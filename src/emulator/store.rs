//! The tenant's SQLite file (or an in-memory database without `--data`). Only `tenant.rs`
//! calls this, under the tenant lock, so there is exactly one writer.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::model::{Attribute, CloudState, ObjectType, StoredCredential, SyncObject};

/// A failure of the tenant database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the tenant database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the tenant database holds an unreadable row for object {id}: {reason}")]
    Corrupt { id: String, reason: String },
}

const SCHEMA_VERSION: i64 = 2;

pub(crate) struct Store {
    conn: Connection,
}

/// A registered client certificate (client credentials with a certificate assertion).
#[derive(Debug, Clone)]
pub(crate) struct CertificateRow {
    pub client_id: String,
    pub der: Vec<u8>,
    pub roles: Vec<String>,
}

/// A refresh token as stored: only its SHA-256, never the token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshRow {
    pub client_id: String,
    pub grant: String,
    pub expires_at: i64,
}

impl Store {
    /// Opens `DIR/tenant.db` (created on first use), or an in-memory database.
    pub(crate) fn open(dir: Option<&Path>) -> Result<Store, StoreError> {
        let conn = match dir {
            Some(dir) => {
                let conn = Connection::open(dir.join("tenant.db"))?;
                // WAL without fsync per commit: survives a process restart (what tests need)
                // while a write costs microseconds.
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn
            }
            None => Connection::open_in_memory()?,
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version < 1 {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS objects (
                     object_id TEXT PRIMARY KEY,
                     object_type TEXT NOT NULL,
                     source_anchor TEXT,
                     attributes TEXT NOT NULL,
                     members TEXT NOT NULL,
                     created_at_ms INTEGER NOT NULL,
                     seq INTEGER NOT NULL,
                     credential TEXT);
                 CREATE TABLE IF NOT EXISTS certificates (
                     client_id TEXT NOT NULL,
                     der BLOB NOT NULL,
                     roles TEXT NOT NULL,
                     PRIMARY KEY (client_id, der));
                 CREATE TABLE IF NOT EXISTS refresh_tokens (
                     token_sha256 TEXT PRIMARY KEY,
                     client_id TEXT NOT NULL,
                     grant_json TEXT NOT NULL,
                     expires_at INTEGER NOT NULL);
                 PRAGMA user_version = 1;",
            )?;
        }
        if version < SCHEMA_VERSION {
            // 2: the cloud-side state of objects (roles, immutable id, cloud management).
            conn.execute_batch("ALTER TABLE objects ADD COLUMN cloud TEXT; PRAGMA user_version = 2;")?;
        }
        Ok(Store { conn })
    }

    pub(crate) fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    pub(crate) fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2")?
            .execute(params![key, value])?;
        Ok(())
    }

    pub(crate) fn load_objects(&self) -> Result<Vec<SyncObject>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT object_id, object_type, source_anchor, attributes, members, created_at_ms, credential, seq, cloud
             FROM objects",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, kind, source_anchor, attributes, members, created_at_ms, credential, seq, cloud) = row?;
            let corrupt = |reason: String| StoreError::Corrupt { id: id.clone(), reason };
            let object_id = Uuid::parse_str(&id).map_err(|e| corrupt(e.to_string()))?;
            let object_type = ObjectType::parse(&kind).ok_or_else(|| corrupt(format!("unknown type {kind:?}")))?;
            let attributes: Vec<Attribute> = serde_json::from_str(&attributes).map_err(|e| corrupt(e.to_string()))?;
            let members: Vec<Uuid> = serde_json::from_str(&members).map_err(|e| corrupt(e.to_string()))?;
            let credential: Option<StoredCredential> = match credential {
                Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?),
                None => None,
            };
            let cloud: CloudState = match cloud {
                Some(text) => serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?,
                None => CloudState::default(),
            };
            let attributes: BTreeMap<String, Attribute> =
                attributes.into_iter().map(|a| (a.key.to_ascii_lowercase(), a)).collect();
            out.push(SyncObject {
                object_id,
                object_type,
                source_anchor,
                attributes,
                members,
                created_at_ms,
                seq: u64::try_from(seq).unwrap_or(0),
                credential,
                cloud,
            });
        }
        Ok(out)
    }

    /// Writes the changed and deleted objects of one call in one transaction.
    pub(crate) fn persist<'a>(
        &mut self,
        changed: impl IntoIterator<Item = &'a SyncObject>,
        deleted: &[Uuid],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT OR REPLACE INTO objects
                 (object_id, object_type, source_anchor, attributes, members, created_at_ms, credential, seq, cloud)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for object in changed {
                let attributes: Vec<&Attribute> = object.attributes.values().collect();
                let attributes = serde_json::to_string(&attributes).unwrap_or_else(|_| "[]".to_owned());
                let members = serde_json::to_string(&object.members).unwrap_or_else(|_| "[]".to_owned());
                let credential = object.credential.as_ref().and_then(|c| serde_json::to_string(c).ok());
                upsert.execute(params![
                    object.object_id.to_string(),
                    object.object_type.as_str(),
                    object.source_anchor,
                    attributes,
                    members,
                    object.created_at_ms,
                    credential,
                    i64::try_from(object.seq).unwrap_or(i64::MAX),
                    serde_json::to_string(&object.cloud).ok()
                ])?;
            }
            let mut delete = tx.prepare_cached("DELETE FROM objects WHERE object_id = ?1")?;
            for id in deleted {
                delete.execute([id.to_string()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Writes only the credentials of these objects (a password push changes nothing else),
    /// in one transaction.
    pub(crate) fn persist_credentials<'a>(
        &mut self,
        objects: impl IntoIterator<Item = &'a SyncObject>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut update = tx.prepare_cached("UPDATE objects SET credential = ?2 WHERE object_id = ?1")?;
            for object in objects {
                let credential = object.credential.as_ref().and_then(|c| serde_json::to_string(c).ok());
                update.execute(params![object.object_id.to_string(), credential])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn certificates(&self) -> Result<Vec<CertificateRow>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT client_id, der, roles FROM certificates")?;
        let rows =
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, String>(2)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (client_id, der, roles) = row?;
            let roles = serde_json::from_str(&roles).unwrap_or_default();
            out.push(CertificateRow { client_id, der, roles });
        }
        Ok(out)
    }

    pub(crate) fn add_certificate(&self, row: &CertificateRow) -> Result<(), StoreError> {
        let roles = serde_json::to_string(&row.roles).unwrap_or_else(|_| "[]".to_owned());
        self.conn.execute(
            "INSERT OR REPLACE INTO certificates (client_id, der, roles) VALUES (?1, ?2, ?3)",
            params![row.client_id, row.der, roles],
        )?;
        Ok(())
    }

    pub(crate) fn add_refresh_token(&self, token_sha256: &str, row: &RefreshRow) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO refresh_tokens (token_sha256, client_id, grant_json, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![token_sha256, row.client_id, row.grant, row.expires_at],
        )?;
        Ok(())
    }

    pub(crate) fn refresh_token(&self, token_sha256: &str) -> Result<Option<RefreshRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT client_id, grant_json, expires_at FROM refresh_tokens WHERE token_sha256 = ?1",
                [token_sha256],
                |r| Ok(RefreshRow { client_id: r.get(0)?, grant: r.get(1)?, expires_at: r.get(2)? }),
            )
            .optional()?)
    }

    pub(crate) fn remove_refresh_token(&self, token_sha256: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM refresh_tokens WHERE token_sha256 = ?1", [token_sha256])?;
        Ok(())
    }

    /// Drops refresh tokens that expired before `now_secs`.
    pub(crate) fn prune_refresh_tokens(&self, now_secs: i64) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM refresh_tokens WHERE expires_at < ?1", [now_secs])?;
        Ok(())
    }
}
