//! The schema, as an ordered list of migrations.
//!
//! A database remembers the last migration applied in `schema_version`; opening it applies
//! the ones after that, each in its own transaction, so a database written by an older build
//! is upgraded in place and a failed migration leaves the previous version intact. Migrations
//! are append-only: a released one is never edited, a change is a new one.

use crate::StoreError;
use rusqlite::{Connection, OptionalExtension};

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Version reached once it is applied (1, 2, ...; contiguous).
    pub version: i64,
    /// What it does, for logs.
    pub description: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description:
            "incidents, investigations, entries, contexts, files, playbook runs, instances, content",
        sql: r#"
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL
);
CREATE TABLE investigations (
    id TEXT PRIMARY KEY,
    type INTEGER NOT NULL,
    user TEXT NOT NULL,
    created TEXT NOT NULL,
    incident_id TEXT REFERENCES incidents(id) ON DELETE CASCADE,
    incident TEXT
);
CREATE TABLE entries (
    investigation_id TEXT NOT NULL REFERENCES investigations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (investigation_id, seq)
) WITHOUT ROWID;
CREATE TABLE contexts (
    investigation_id TEXT PRIMARY KEY REFERENCES investigations(id) ON DELETE CASCADE,
    data TEXT NOT NULL
);
CREATE TABLE files (
    investigation_id TEXT NOT NULL REFERENCES investigations(id) ON DELETE CASCADE,
    file_id TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (investigation_id, file_id)
) WITHOUT ROWID;
CREATE TABLE playbook_runs (
    investigation_id TEXT PRIMARY KEY REFERENCES investigations(id) ON DELETE CASCADE,
    playbook_id TEXT NOT NULL,
    state TEXT NOT NULL,
    run TEXT,
    started TEXT NOT NULL,
    finished TEXT,
    updated TEXT NOT NULL,
    error TEXT
);
CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    brand TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    params TEXT NOT NULL,
    version INTEGER NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE content (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    file TEXT NOT NULL,
    text TEXT NOT NULL,
    uploaded TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
"#,
    },
    Migration {
        version: 2,
        description: "entry type column (backfilled) and an index of error entries",
        sql: r#"
ALTER TABLE entries ADD COLUMN type INTEGER NOT NULL DEFAULT 1;
UPDATE entries SET type = COALESCE(json_extract(data, '$.type'), 1);
CREATE INDEX entries_errors ON entries(investigation_id, seq) WHERE type = 4;
"#,
    },
    Migration {
        version: 3,
        description: "server configuration keys (/system/config)",
        sql: r#"
CREATE TABLE system_config (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
    },
];

/// The version a fully migrated database has.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The version recorded in the database (0 for a new one).
pub fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let v: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(v.unwrap_or(0))
}

/// Apply the migrations of `list` newer than the database. Returns the version found before.
pub fn migrate(conn: &mut Connection, list: &[Migration]) -> Result<i64, StoreError> {
    let found = current_version(conn)?;
    let supported = list.last().map_or(0, |m| m.version);
    if found > supported {
        return Err(StoreError::TooNew { found, supported });
    }
    for m in list.iter().filter(|m| m.version > found) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)
            .map_err(|source| StoreError::Migration {
                version: m.version,
                source,
            })?;
        tx.execute("DELETE FROM schema_version", [])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [m.version],
        )?;
        tx.commit()?;
        tracing::info!(
            version = m.version,
            description = m.description,
            "database migrated"
        );
    }
    Ok(found)
}
