//! SQLite persistence for the xsoar-emu server.
//!
//! The server keeps its investigations in memory and writes every change here before it
//! answers, so a crash (even `kill -9`) loses nothing a client was told about: one command's
//! entries, context, incident changes and files go in one transaction.
//!
//! **One writer.** A single connection lives on a dedicated thread; every operation, reads
//! included, is a job sent to it. Jobs that arrive while a transaction is being written are
//! committed together (group commit), each inside its own savepoint so that one failing job
//! rolls back alone. Callers await the job's answer, which is only sent once the transaction
//! is committed. That keeps SQLite's single-writer rule out of the server's way, makes
//! in-memory databases (tests, `--in-memory`) work like files, and turns N concurrent
//! commands into far fewer commits.
//!
//! **Durability settings.** WAL journal with `synchronous=NORMAL`: a commit survives a process
//! crash; only a power loss can lose the last transactions (they are in the WAL, not yet
//! synced), which is the usual trade-off for a local tool.
//!
//! **Crash recovery.** A playbook run still `inprogress` when the database is opened was
//! interrupted by a stop; [`Store::open`] marks it `interrupted` (and says how many it marked)
//! so the API can report it as failed with an explanation and let the user start it again.
//!
//! **Schema.** Versioned migrations ([`schema::MIGRATIONS`]), applied at open.

mod perms;
mod records;
pub mod schema;

pub use perms::{prepare_data_dir, DataDirReport};

pub use records::{
    entry_seq, Commit, ContentRecord, IncidentRecord, InvestigationRecord, JsonText,
    LoadedInvestigation, RunRecord, RunStatus, Snapshot, StoredInstance,
};

use records::EntryRow;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;
use xsoar_engine::{Entry, InstanceSpec, Investigation, PlaybookRun};

/// The largest number of jobs committed in one transaction.
const MAX_BATCH: usize = 512;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or configured.
    #[error("cannot open the database {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// An SQLite error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer build.
    #[error("the database has schema version {found}, newer than this build supports ({supported}); use a newer xsoar-emu or another data directory")]
    TooNew {
        /// Version in the file.
        found: i64,
        /// Latest version known here.
        supported: i64,
    },
    /// A migration failed (the database stays at the previous version).
    #[error("schema migration {version} failed: {source}")]
    Migration {
        /// The migration.
        version: i64,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A stored value could not be read back.
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt {
        /// What was being read.
        what: String,
        /// The decoding error.
        detail: String,
    },
    /// A value could not be encoded.
    #[error("cannot encode {what}: {detail}")]
    Encode {
        /// What was being written.
        what: &'static str,
        /// The encoding error.
        detail: String,
    },
    /// An entry id without a sequence number.
    #[error("invalid entry id '{0}' (expected <number>@<investigation>)")]
    BadEntryId(String),
    /// The investigation does not exist.
    #[error("no investigation '{0}'")]
    NoInvestigation(String),
    /// The transaction holding this operation could not be committed.
    #[error("the transaction could not be committed: {0}")]
    Commit(String),
    /// The writer thread is gone (the store was closed).
    #[error("the store is closed")]
    Closed,
    /// The data directory or a database file could not be created or restricted.
    /// (The I/O error is part of the message, not a `source`: reported as a chain, it would
    /// be said twice.)
    #[error("cannot create or restrict access to {path}: {error}")]
    Permissions {
        /// The directory or file.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

/// Sends a job's answer once its transaction is settled (`Some`: the commit failed).
type Completer = Box<dyn FnOnce(Option<&str>) + Send>;
/// A job: runs on the writer connection inside the batch transaction.
type Job = Box<dyn FnOnce(&Connection) -> Completer + Send>;

/// What [`Store::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Schema version before opening (0: a new database).
    pub previous_version: i64,
    /// Schema version now.
    pub version: i64,
    /// Playbook runs that were in progress and are now marked interrupted.
    pub interrupted_runs: usize,
}

struct Inner {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    location: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer loop once it has committed what it holds.
        if let Ok(mut s) = self.sender.lock() {
            s.take();
        }
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            if h.join().is_err() {
                tracing::error!("the database writer thread panicked");
            }
        }
    }
}

/// The store: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.inner.location)
            .finish()
    }
}

fn now() -> String {
    xsoar_engine::rfc3339(SystemTime::now())
}

fn encode<T: serde::Serialize + ?Sized>(what: &'static str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Encode {
        what,
        detail: e.to_string(),
    })
}

fn decode<T: serde::de::DeserializeOwned>(what: impl Into<String>, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what.into(),
        detail: e.to_string(),
    })
}

impl Store {
    /// Open (or create) the database file, migrate it and mark interrupted runs.
    ///
    /// The database holds instance secrets, so on Unix it and its `-wal`/`-shm` files are
    /// created readable by the owner only (0600), and existing ones that are looser are
    /// tightened with a warning.
    pub fn open(path: &Path) -> Result<(Self, OpenReport)> {
        Self::open_with_migrations(path, schema::MIGRATIONS)
    }

    /// A database that lives in memory and disappears with the store (tests, `--in-memory`).
    pub fn open_in_memory() -> Result<(Self, OpenReport)> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: ":memory:".into(),
            source,
        })?;
        Self::start(conn, ":memory:".into(), schema::MIGRATIONS)
    }

    /// Open with a given migration list (tests of upgrades use a prefix of the real list).
    pub fn open_with_migrations(
        path: &Path,
        migrations: &[schema::Migration],
    ) -> Result<(Self, OpenReport)> {
        let shown = path.display().to_string();
        perms::create_private_file(path)?;
        perms::secure_database_files(path)?;
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: shown.clone(),
            source,
        })?;
        let opened = Self::start(conn, shown, migrations)?;
        // WAL mode created the -wal and -shm files by now.
        perms::secure_database_files(path)?;
        Ok(opened)
    }

    fn start(
        mut conn: Connection,
        location: String,
        migrations: &[schema::Migration],
    ) -> Result<(Self, OpenReport)> {
        let configure = |conn: &Connection| -> rusqlite::Result<()> {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            Ok(())
        };
        configure(&conn).map_err(|source| StoreError::Open {
            path: location.clone(),
            source,
        })?;
        let previous_version = schema::migrate(&mut conn, migrations)?;
        let version = schema::current_version(&conn)?;
        let interrupted_runs = conn.execute(
            "UPDATE playbook_runs SET state = 'interrupted', updated = ?1, \
             error = 'the server stopped while this playbook was running (started ' || started || ')' \
             WHERE state = 'inprogress'",
            [now()],
        )?;
        if interrupted_runs > 0 {
            tracing::warn!(
                interrupted_runs,
                "playbook runs were interrupted by the last stop"
            );
        }
        let (sender, receiver) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("xsoar-store-writer".into())
            .spawn(move || writer_loop(conn, receiver))
            .map_err(|e| StoreError::Commit(format!("cannot start the writer thread: {e}")))?;
        let store = Store {
            inner: Arc::new(Inner {
                sender: Mutex::new(Some(sender)),
                thread: Mutex::new(Some(thread)),
                location,
            }),
        };
        Ok((
            store,
            OpenReport {
                previous_version,
                version,
                interrupted_runs,
            },
        ))
    }

    /// Where the database lives (`:memory:` or the file path).
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// Run `f` on the writer connection, inside a savepoint of the current batch; the answer
    /// arrives once the batch is committed.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn: &Connection| {
            let result = (|| {
                conn.prepare_cached("SAVEPOINT job")?.execute([])?;
                match f(conn) {
                    Ok(v) => {
                        conn.prepare_cached("RELEASE job")?.execute([])?;
                        Ok(v)
                    }
                    Err(e) => {
                        let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                        Err(e)
                    }
                }
            })();
            Box::new(move |commit_error: Option<&str>| {
                let answer = match commit_error {
                    Some(msg) => Err(StoreError::Commit(msg.to_owned())),
                    None => result,
                };
                let _ = tx.send(answer);
            })
        });
        {
            let guard = self.inner.sender.lock().map_err(|_| StoreError::Closed)?;
            let sender = guard.as_ref().ok_or(StoreError::Closed)?;
            sender.send(job).map_err(|_| StoreError::Closed)?;
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }

    // ----- investigations and incidents -------------------------------------------------

    /// Create an investigation (and its incident, when it has one) with an empty context.
    /// `playground_incident` is the incident root of a playground (no incident row).
    pub async fn create_investigation(
        &self,
        record: InvestigationRecord,
        incident: Option<IncidentRecord>,
        playground_incident: Option<Value>,
    ) -> Result<()> {
        let incident_text = incident
            .as_ref()
            .map(|i| encode("incident", &i.data))
            .transpose()?;
        let root_text = playground_incident
            .as_ref()
            .map(|v| encode("incident", v))
            .transpose()?;
        self.call(move |conn| {
            if let (Some(i), Some(text)) = (&incident, &incident_text) {
                conn.execute(
                    "INSERT OR REPLACE INTO incidents (id, seq, data, created, modified) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![i.id, i.seq, text, i.created, i.modified],
                )?;
            }
            conn.execute(
                "INSERT INTO investigations (id, type, user, created, incident_id, incident) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![record.id, record.kind, record.user, record.created, record.incident_id, root_text],
            )?;
            conn.execute(
                "INSERT OR REPLACE INTO contexts (investigation_id, data) VALUES (?1, '{}')",
                [&record.id],
            )?;
            Ok(())
        })
        .await
    }

    /// Replace an incident object (close, edits outside a command).
    pub async fn update_incident(&self, id: &str, data: &Value) -> Result<()> {
        let text = encode("incident", data)?;
        let id = id.to_owned();
        self.call(move |conn| {
            let n = conn.execute(
                "UPDATE incidents SET data = ?2, modified = ?3 WHERE id = ?1",
                params![id, text, now()],
            )?;
            if n == 0 {
                return Err(StoreError::NoInvestigation(id));
            }
            Ok(())
        })
        .await
    }

    /// Delete investigations (and their incidents, entries, context, files and runs).
    /// Returns how many investigations were deleted.
    pub async fn delete_investigations(&self, ids: Vec<String>) -> Result<usize> {
        self.call(move |conn| {
            let mut n = 0;
            for id in &ids {
                n += conn.execute("DELETE FROM investigations WHERE id = ?1", [id])?;
                conn.execute("DELETE FROM incidents WHERE id = ?1", [id])?;
            }
            Ok(n)
        })
        .await
    }

    /// Write what a command (or a playbook pass) changed, in one transaction.
    pub async fn commit(&self, commit: Commit) -> Result<()> {
        // Encode on the caller's thread: the writer thread only executes SQL.
        let inv = commit.investigation_id.clone();
        let mut entries = Vec::with_capacity(commit.entries.len());
        for e in &commit.entries {
            let seq = entry_seq(&e.id).ok_or_else(|| StoreError::BadEntryId(e.id.to_string()))?;
            entries.push((seq, e.entry_type, encode("entry", e)?));
        }
        let context = commit.context.map(|c| c.0);
        let incident = commit
            .incident
            .as_ref()
            .map(|i| encode("incident", i))
            .transpose()?;
        let run = commit.run.as_ref().map(encode_run).transpose()?;
        let files = commit.files;
        self.call(move |conn| {
            let exists: Option<i64> = conn
                .prepare_cached("SELECT 1 FROM investigations WHERE id = ?1")?
                .query_row([&inv], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::NoInvestigation(inv));
            }
            {
                let mut stmt = conn.prepare_cached(
                    "INSERT OR REPLACE INTO entries (investigation_id, seq, data, type) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (seq, kind, data) in &entries {
                    stmt.execute(params![inv, seq, data, kind])?;
                }
            }
            if let Some(c) = &context {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO contexts (investigation_id, data) VALUES (?1, ?2)",
                )?
                .execute(params![inv, c])?;
            }
            if let Some(i) = &incident {
                conn.prepare_cached(
                    "UPDATE incidents SET data = ?2, modified = ?3 WHERE id = (SELECT incident_id FROM investigations WHERE id = ?1)",
                )?
                .execute(params![inv, i, now()])?;
                conn.prepare_cached(
                    "UPDATE investigations SET incident = ?2 WHERE id = ?1 AND incident_id IS NULL",
                )?
                .execute(params![inv, i])?;
            }
            for (file_id, bytes) in &files {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO files (investigation_id, file_id, data) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![inv, file_id, bytes])?;
            }
            if let Some(r) = &run {
                write_run(conn, r)?;
            }
            Ok(())
        })
        .await
    }

    /// Write a playbook run record alone.
    pub async fn save_run(&self, run: &RunRecord) -> Result<()> {
        let r = encode_run(run)?;
        self.call(move |conn| write_run(conn, &r)).await
    }

    /// The stored run of an investigation.
    pub async fn run(&self, investigation_id: &str) -> Result<Option<RunRecord>> {
        let id = investigation_id.to_owned();
        self.call(move |conn| {
            conn.query_row(
                "SELECT investigation_id, playbook_id, state, run, started, finished, updated, error FROM playbook_runs WHERE investigation_id = ?1",
                [&id],
                run_columns,
            )
            .optional()?
            .map(decode_run)
            .transpose()
        })
        .await
    }

    /// One entry by id.
    pub async fn entry(&self, investigation_id: &str, seq: i64) -> Result<Option<Entry>> {
        let id = investigation_id.to_owned();
        self.call(move |conn| {
            let text: Option<String> = conn
                .query_row(
                    "SELECT data FROM entries WHERE investigation_id = ?1 AND seq = ?2",
                    params![id, seq],
                    |r| r.get(0),
                )
                .optional()?;
            text.map(|t| decode::<EntryRow>(format!("entry {seq}@{id}"), &t).map(Entry::from))
                .transpose()
        })
        .await
    }

    /// Entries of an investigation, oldest first, from sequence `from` (1-based), at most `limit`.
    pub async fn entries(
        &self,
        investigation_id: &str,
        from: i64,
        limit: i64,
    ) -> Result<Vec<Entry>> {
        let id = investigation_id.to_owned();
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, data FROM entries WHERE investigation_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![id, from, limit], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, text) = row?;
                out.push(Entry::from(decode::<EntryRow>(
                    format!("entry {seq}@{id}"),
                    &text,
                )?));
            }
            Ok(out)
        })
        .await
    }

    /// Number of entries (of one investigation, or of all).
    pub async fn count_entries(&self, investigation_id: Option<&str>) -> Result<i64> {
        let id = investigation_id.map(str::to_owned);
        self.call(move |conn| {
            Ok(match &id {
                Some(id) => conn.query_row(
                    "SELECT COUNT(*) FROM entries WHERE investigation_id = ?1",
                    [id],
                    |r| r.get(0),
                )?,
                None => conn.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))?,
            })
        })
        .await
    }

    /// Number of error entries (type 4) of an investigation.
    pub async fn count_error_entries(&self, investigation_id: &str) -> Result<i64> {
        let id = investigation_id.to_owned();
        self.call(move |conn| {
            Ok(conn.query_row(
                "SELECT COUNT(*) FROM entries WHERE investigation_id = ?1 AND type = 4",
                [id],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// The stored context of an investigation.
    pub async fn context(&self, investigation_id: &str) -> Result<Option<Value>> {
        let id = investigation_id.to_owned();
        self.call(move |conn| {
            let text: Option<String> = conn
                .query_row(
                    "SELECT data FROM contexts WHERE investigation_id = ?1",
                    [&id],
                    |r| r.get(0),
                )
                .optional()?;
            text.map(|t| decode(format!("context of {id}"), &t))
                .transpose()
        })
        .await
    }

    /// A stored file.
    pub async fn file(&self, investigation_id: &str, file_id: &str) -> Result<Option<Vec<u8>>> {
        let id = investigation_id.to_owned();
        let file_id = file_id.to_owned();
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT data FROM files WHERE investigation_id = ?1 AND file_id = ?2",
                    params![id, file_id],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    // ----- instances and content --------------------------------------------------------

    /// Create or replace an instance (by id).
    pub async fn save_instance(&self, instance: &StoredInstance) -> Result<()> {
        let params_text = encode("instance parameters", &instance.spec.params)?;
        let extra = encode("instance fields", &instance.extra)?;
        let i = instance.clone();
        self.call(move |conn| {
            conn.execute("DELETE FROM instances WHERE name = ?1 AND id <> ?2", params![i.spec.name, i.id])?;
            conn.execute(
                "INSERT OR REPLACE INTO instances (id, name, brand, enabled, params, version, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![i.id, i.spec.name, i.spec.brand, i.spec.enabled, params_text, i.version, extra],
            )?;
            Ok(())
        })
        .await
    }

    /// Delete an instance by id; whether it existed.
    pub async fn delete_instance(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.call(move |conn| Ok(conn.execute("DELETE FROM instances WHERE id = ?1", [id])? > 0))
            .await
    }

    /// Store uploaded content (replacing the same kind and id).
    pub async fn save_content(&self, records: Vec<ContentRecord>) -> Result<()> {
        self.call(move |conn| {
            for r in &records {
                conn.execute(
                    "INSERT OR REPLACE INTO content (kind, id, file, text, uploaded) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![r.kind, r.id, r.file, r.text, r.uploaded],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Delete one stored content item; whether it existed.
    pub async fn delete_content(&self, kind: &str, id: &str) -> Result<bool> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        self.call(move |conn| {
            Ok(conn.execute(
                "DELETE FROM content WHERE kind = ?1 AND id = ?2",
                params![kind, id],
            )? > 0)
        })
        .await
    }

    /// The server configuration keys set through the API (`/system/config`), by key.
    pub async fn system_config(&self) -> Result<Map<String, Value>> {
        self.call(|conn| {
            let mut stmt = conn.prepare("SELECT key, value FROM system_config ORDER BY key")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Map::new();
            for row in rows {
                let (key, text) = row?;
                out.insert(
                    key.clone(),
                    decode(format!("server configuration key {key}"), &text)?,
                );
            }
            Ok(out)
        })
        .await
    }

    /// Set server configuration keys (a `null` value removes the key).
    pub async fn set_system_config(&self, values: Map<String, Value>) -> Result<()> {
        let mut rows = Vec::with_capacity(values.len());
        for (k, v) in &values {
            let text = if v.is_null() {
                None
            } else {
                Some(encode("server configuration value", v)?)
            };
            rows.push((k.clone(), text));
        }
        self.call(move |conn| {
            for (key, text) in &rows {
                match text {
                    Some(t) => conn.execute(
                        "INSERT OR REPLACE INTO system_config (key, value) VALUES (?1, ?2)",
                        params![key, t],
                    )?,
                    None => conn.execute("DELETE FROM system_config WHERE key = ?1", [key])?,
                };
            }
            Ok(())
        })
        .await
    }

    /// Uploaded content of one kind (all kinds when `None`), in upload order.
    pub async fn content(&self, kind: Option<&str>) -> Result<Vec<ContentRecord>> {
        let kind = kind.map(str::to_owned);
        self.call(move |conn| read_content(conn, kind.as_deref()))
            .await
    }

    // ----- loading ----------------------------------------------------------------------

    /// Everything, for the server's start.
    pub async fn load(&self) -> Result<Snapshot> {
        self.call(load_snapshot).await
    }
}

fn writer_loop(conn: Connection, receiver: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // No batch transaction: each job's savepoint then commits on its own.
            tracing::warn!(error = %e, "cannot begin a batch transaction; committing jobs one by one");
            for job in batch.drain(..) {
                let completer = job(&conn);
                completer(None);
            }
            continue;
        }
        let completers: Vec<Completer> = batch.drain(..).map(|job| job(&conn)).collect();
        let commit_error = conn.execute_batch("COMMIT").err().map(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(error = %e, "a transaction could not be committed");
            e.to_string()
        });
        for c in completers {
            c(commit_error.as_deref());
        }
    }
    // Channel closed: fold the WAL back into the database file before closing.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the database failed");
    }
}

struct RunText {
    investigation_id: String,
    playbook_id: String,
    state: &'static str,
    run: Option<String>,
    started: String,
    finished: Option<String>,
    updated: String,
    error: Option<String>,
}

fn encode_run(r: &RunRecord) -> Result<RunText> {
    Ok(RunText {
        investigation_id: r.investigation_id.clone(),
        playbook_id: r.playbook_id.clone(),
        state: r.status.as_str(),
        run: r
            .run
            .as_ref()
            .map(|x| encode("playbook run", x))
            .transpose()?,
        started: r.started.clone(),
        finished: r.finished.clone(),
        updated: r.updated.clone(),
        error: r.error.clone(),
    })
}

fn write_run(conn: &Connection, r: &RunText) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO playbook_runs (investigation_id, playbook_id, state, run, started, finished, updated, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        r.investigation_id,
        r.playbook_id,
        r.state,
        r.run,
        r.started,
        r.finished,
        r.updated,
        r.error
    ])?;
    Ok(())
}

type RunColumns = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    String,
    Option<String>,
);

fn run_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunColumns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn decode_run(c: RunColumns) -> Result<RunRecord> {
    let (investigation_id, playbook_id, state, run, started, finished, updated, error) = c;
    let status = RunStatus::parse(&state).ok_or_else(|| StoreError::Corrupt {
        what: format!("playbook run state of {investigation_id}"),
        detail: format!("unknown state '{state}'"),
    })?;
    let run = run
        .map(|t| decode::<PlaybookRun>(format!("playbook run of {investigation_id}"), &t))
        .transpose()?;
    Ok(RunRecord {
        investigation_id,
        playbook_id,
        status,
        run,
        started,
        finished,
        updated,
        error,
    })
}

fn read_content(conn: &Connection, kind: Option<&str>) -> Result<Vec<ContentRecord>> {
    let mut stmt = conn.prepare(
        "SELECT kind, id, file, text, uploaded FROM content WHERE ?1 IS NULL OR kind = ?1 ORDER BY uploaded, rowid",
    )?;
    let rows = stmt.query_map([kind], |r| {
        Ok(ContentRecord {
            kind: r.get(0)?,
            id: r.get(1)?,
            file: r.get(2)?,
            text: r.get(3)?,
            uploaded: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn load_snapshot(conn: &Connection) -> Result<Snapshot> {
    let mut snap = Snapshot::default();
    // Incidents.
    {
        let mut stmt =
            conn.prepare("SELECT id, seq, data, created, modified FROM incidents ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        for row in rows {
            let (id, seq, data, created, modified) = row?;
            let data = decode(format!("incident {id}"), &data)?;
            snap.incidents.push(IncidentRecord {
                id,
                seq,
                data,
                created,
                modified,
            });
        }
    }
    let incidents: BTreeMap<&str, &Value> = snap
        .incidents
        .iter()
        .map(|i| (i.id.as_str(), &i.data))
        .collect();
    // Investigations with their context, entries and files.
    let mut stmt = conn.prepare(
        "SELECT i.id, i.type, i.user, i.created, i.incident_id, i.incident, c.data FROM investigations i LEFT JOIN contexts c ON c.investigation_id = i.id ORDER BY i.created, i.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    let mut entries_stmt =
        conn.prepare("SELECT seq, data FROM entries WHERE investigation_id = ?1 ORDER BY seq")?;
    let mut files_stmt =
        conn.prepare("SELECT file_id, data FROM files WHERE investigation_id = ?1")?;
    let mut loaded = Vec::new();
    for row in rows {
        let (id, kind, user, created, incident_id, root, context) = row?;
        let incident = match (&incident_id, root) {
            (Some(iid), _) => incidents.get(iid.as_str()).map(|v| (*v).clone()),
            (None, Some(text)) => Some(decode(format!("incident of {id}"), &text)?),
            (None, None) => None,
        }
        .unwrap_or_else(|| Value::Object(Map::new()));
        let mut inv = Investigation::new(id.clone(), incident);
        inv.user = user.clone();
        if let Some(text) = context {
            inv.context = decode(format!("context of {id}"), &text)?;
        }
        let entry_rows =
            entries_stmt.query_map([&id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in entry_rows {
            let (seq, text) = row?;
            let entry: Entry = decode::<EntryRow>(format!("entry {seq}@{id}"), &text)?.into();
            // Entry N is entries[N-1]: a gap (never expected) is filled so ids stay aligned.
            while (inv.entries.len() as i64) < seq - 1 {
                let n = inv.entries.len() + 1;
                inv.entries.push(Box::new(placeholder_entry(&id, n)));
            }
            inv.entries.push(Box::new(entry));
        }
        let file_rows = files_stmt.query_map([&id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        for row in file_rows {
            let (file_id, bytes) = row?;
            inv.files.insert(file_id, bytes);
        }
        loaded.push(LoadedInvestigation {
            record: InvestigationRecord {
                id,
                kind,
                user,
                created,
                incident_id,
            },
            investigation: inv,
        });
    }
    drop(entries_stmt);
    drop(files_stmt);
    drop(stmt);
    snap.investigations = loaded;
    // Runs.
    {
        let mut stmt = conn.prepare(
            "SELECT investigation_id, playbook_id, state, run, started, finished, updated, error FROM playbook_runs ORDER BY started",
        )?;
        let rows = stmt.query_map([], run_columns)?;
        for row in rows {
            snap.runs.push(decode_run(row?)?);
        }
    }
    // Instances.
    {
        let mut stmt = conn.prepare(
            "SELECT id, name, brand, enabled, params, version, extra FROM instances ORDER BY rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        for row in rows {
            let (id, name, brand, enabled, params, version, extra) = row?;
            let params: Map<String, Value> =
                decode(format!("parameters of instance {name}"), &params)?;
            let extra = decode(format!("fields of instance {name}"), &extra)?;
            snap.instances.push(StoredInstance {
                id,
                version,
                spec: InstanceSpec {
                    name,
                    brand,
                    enabled,
                    params,
                    simulated: false,
                },
                extra,
            });
        }
    }
    snap.content = read_content(conn, None)?;
    Ok(snap)
}

fn placeholder_entry(inv: &str, n: usize) -> Entry {
    Entry {
        category: "deleted".into(),
        ..Entry::new(
            format!("{n}@{inv}").into(),
            inv.into(),
            1,
            Value::String(String::new()),
            "0001-01-01T00:00:00Z".into(),
        )
    }
}

/// Default database file name inside a data directory.
pub const DB_FILE: &str = "xsoar-emu.db";

/// The database path for a data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}
