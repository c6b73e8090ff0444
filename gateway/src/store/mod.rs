//! Durable state: an embedded redb database under `--data-dir`, written
//! through a group-committing journal.
//!
//! The gateway keeps its working state (KV, checkpoints, tasks, registry,
//! offline mailboxes) in memory and mirrors every change into the database.
//! A component changes its in-memory state and submits the matching
//! [`Mutation`]s in the same critical section (so the journal sees changes
//! in the order memory saw them), then answers its caller only once the
//! returned [`Commit`] resolves, i.e. once the change is on disk. The
//! journal writer thread batches whatever is queued into one transaction
//! per fsync, so concurrent writers from any number of sessions share
//! commits instead of serializing the gateway behind one fsync each.
//!
//! Without a data directory the store is memory-only: commits resolve at
//! once and nothing survives a restart.
//!
//! Verified at start: the database is opened with redb's integrity check
//! (the checksum of every page of the committed trees is verified, so a
//! file altered or truncated since redb wrote it is refused instead of
//! trusted or panicking on), and every record is decoded by its loader,
//! which refuses the store rather than skip one. redb recovers from a
//! crash by falling back to the previous commit when the last one did not
//! reach the disk whole; after a *clean* shutdown such a fallback could
//! only hide corruption of acknowledged data, so it is refused too. A file
//! next to the database (`aether.redb.state`: `open` while a gateway has it
//! open or after a crash, `clean` after a clean shutdown) tells which, and
//! that the directory held a database: an empty or missing database file
//! there is refused rather than started afresh. Every refusal is a
//! [`StoreError`] that [`StoreError::is_corrupt`].

mod journal;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;
use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, StorageError, TableDefinition,
};

pub(crate) use journal::Commit;

use crate::stats::Histogram;
use journal::Journal;

/// The tables of the database: string keys, byte values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Table {
    /// KV entries, keyed by namespaced key.
    Kv,
    /// Checkpoints, keyed by `identity \0 key`.
    Checkpoints,
    /// Tasks, keyed by task id.
    Tasks,
    /// Messages waiting for offline identities, keyed by `topic \0 seq`.
    Mailboxes,
    /// The agent registry, keyed by implementation.
    Registry,
    /// Small bookkeeping values (sequence numbers, lineage, ...).
    Meta,
    /// Authorization: ACL rules, fallback policies, groups, roles,
    /// authority grants and requests (one key prefix per kind).
    Acl,
    /// Workspace metadata, keyed by workspace id.
    Workspaces,
    /// API tokens (their digests, never the secrets), keyed by token id.
    Tokens,
    /// The audit log, keyed by zero-padded audit id.
    Audit,
}

impl Table {
    fn definition(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name())
    }

    /// The table's name in the database.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Kv => "kv",
            Table::Checkpoints => "checkpoints",
            Table::Tasks => "tasks",
            Table::Mailboxes => "mailboxes",
            Table::Registry => "registry",
            Table::Meta => "meta",
            Table::Acl => "acl",
            Table::Workspaces => "workspaces",
            Table::Tokens => "tokens",
            Table::Audit => "audit",
        }
    }

    const ALL: [Table; 10] = [
        Table::Kv,
        Table::Checkpoints,
        Table::Tasks,
        Table::Mailboxes,
        Table::Registry,
        Table::Meta,
        Table::Acl,
        Table::Workspaces,
        Table::Tokens,
        Table::Audit,
    ];
}

/// One change to the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mutation {
    pub(crate) table: Table,
    pub(crate) key: String,
    /// `None` deletes the key.
    pub(crate) value: Option<Vec<u8>>,
}

impl Mutation {
    /// Writes `value` under `key`.
    pub(crate) fn put(table: Table, key: impl Into<String>, value: Vec<u8>) -> Self {
        Mutation {
            table,
            key: key.into(),
            value: Some(value),
        }
    }

    /// Deletes `key`.
    pub(crate) fn delete(table: Table, key: impl Into<String>) -> Self {
        Mutation {
            table,
            key: key.into(),
            value: None,
        }
    }
}

/// Why the store failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("store: {0}")]
pub(crate) struct StoreError(pub(crate) String, Corrupt);

/// Whether a [`StoreError`] says the stored data cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Corrupt(bool);

/// Why a closed store refuses work.
const CLOSED: &str = "the store is closed";

/// Name of the database file under the data directory.
pub(crate) const DB_FILE: &str = "aether.redb";
/// Next to the database: `open` or `clean` (see the module docs).
const STATE_FILE: &str = "aether.redb.state";
const STATE_OPEN: &str = "open";
const STATE_CLEAN: &str = "clean";

/// Replaces the state file's content (write and rename, so it is either
/// the old or the new one).
fn write_state(dir: &Path, state: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    std::fs::write(&tmp, state)?;
    std::fs::rename(&tmp, dir.join(STATE_FILE))
}

impl StoreError {
    /// An error that says nothing about the data's integrity.
    pub(crate) fn other(e: impl std::fmt::Display) -> Self {
        StoreError(e.to_string(), Corrupt(false))
    }

    fn from(e: impl std::fmt::Display) -> Self {
        StoreError::other(e)
    }

    /// A stored record its loader cannot read: the store is refused.
    pub(crate) fn unreadable(table: Table, key: &str, why: impl std::fmt::Display) -> Self {
        StoreError(
            format!(
                "unreadable record in table {}, key {:?}: {why}",
                table.name(),
                key.escape_debug().to_string()
            ),
            Corrupt(true),
        )
    }

    /// Whether the stored data is corrupted or truncated.
    pub(crate) fn is_corrupt(&self) -> bool {
        self.1.0
    }

    fn of_open(e: DatabaseError) -> Self {
        let corrupt = match &e {
            DatabaseError::RepairAborted => {
                return StoreError(
                    "its last commit is corrupted although it was closed cleanly; \
                     refusing to fall back to the previous commit, which would lose \
                     acknowledged changes silently"
                        .into(),
                    Corrupt(true),
                );
            }
            DatabaseError::UpgradeRequired(_) => false,
            DatabaseError::Storage(s) => storage_corrupt(s),
            _ => false,
        };
        StoreError(e.to_string(), Corrupt(corrupt))
    }
}

/// Whether a storage error means the file's content is bad.
fn storage_corrupt(e: &StorageError) -> bool {
    match e {
        StorageError::Corrupted(_) => true,
        StorageError::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// The durable store (or a memory-only stand-in).
#[derive(Clone)]
pub(crate) struct Store {
    inner: Option<Arc<Durable>>,
}

struct Durable {
    /// `None` once closed.
    open: RwLock<Option<Open>>,
    path: PathBuf,
    /// Submission to commit on disk, per submission.
    latency: Arc<Histogram>,
}

struct Open {
    // Field order matters: the journal (and its thread's handle on the
    // database) goes first.
    journal: Journal,
    db: Arc<Database>,
}

impl Store {
    /// A store that keeps nothing across restarts.
    pub(crate) fn memory() -> Store {
        Store { inner: None }
    }

    /// Opens (or creates) the database `aether.redb` under `dir`, checking
    /// its integrity (see the module docs).
    pub(crate) fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::from)?;
        let path = dir.join(DB_FILE);
        let state = std::fs::read_to_string(dir.join(STATE_FILE)).ok();
        let closed_cleanly = state.as_deref().map(str::trim) == Some(STATE_CLEAN);
        let db_len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if state.is_some() && db_len == 0 {
            return Err(StoreError(
                "the database file is missing or empty, but this data directory held one".into(),
                Corrupt(true),
            ));
        }
        let fell_back = Arc::new(AtomicBool::new(false));
        let db = {
            let fell_back = fell_back.clone();
            Database::builder()
                .set_check_integrity_on_open(true)
                .set_repair_callback(move |session| {
                    // Past the first scan only when the last commit failed
                    // its checksums and redb is about to fall back.
                    if (0.3..0.6).contains(&session.progress()) {
                        fell_back.store(true, Ordering::Relaxed);
                        if closed_cleanly {
                            session.abort();
                        }
                    }
                })
                .create(&path)
                .map_err(StoreError::of_open)?
        };
        if fell_back.load(Ordering::Relaxed) {
            tracing::warn!(
                path = %path.display(),
                "the last commit did not reach the disk whole (a crash): recovered the previous one"
            );
        }
        // Open: a crash from now on must not look like a clean shutdown.
        write_state(dir, STATE_OPEN).map_err(StoreError::from)?;
        // Create every table up front so readers never miss one.
        let txn = db.begin_write().map_err(StoreError::from)?;
        for t in Table::ALL {
            txn.open_table(t.definition()).map_err(StoreError::from)?;
        }
        txn.commit().map_err(StoreError::from)?;
        let db = Arc::new(db);
        let latency = Arc::new(Histogram::default());
        let journal = Journal::start(db.clone(), latency.clone())?;
        Ok(Store {
            inner: Some(Arc::new(Durable {
                open: RwLock::new(Some(Open { journal, db })),
                path,
                latency,
            })),
        })
    }

    /// How long durable commits took, submission to disk (`None` when
    /// memory-only).
    pub(crate) fn commit_latency(&self) -> Option<&Histogram> {
        self.inner.as_ref().map(|d| d.latency.as_ref())
    }

    /// Whether changes survive a restart.
    pub(crate) fn is_durable(&self) -> bool {
        self.inner.is_some()
    }

    /// Where the database lives, when durable.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.inner.as_ref().map(|d| d.path.as_path())
    }

    /// Every entry of `table` (used once, at startup).
    pub(crate) fn load(&self, table: Table) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let Some(d) = &self.inner else {
            return Ok(Vec::new());
        };
        let open = d.open.read();
        let db = &open.as_ref().ok_or_else(|| StoreError::other(CLOSED))?.db;
        let txn = db.begin_read().map_err(StoreError::from)?;
        let t = txn
            .open_table(table.definition())
            .map_err(StoreError::from)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::from)? {
            let (k, v) = row.map_err(StoreError::from)?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Queues `batch` for the journal. Call it inside the critical section
    /// that changed memory; await the returned [`Commit`] outside it, before
    /// acknowledging the change.
    pub(crate) fn submit(&self, batch: Vec<Mutation>) -> Commit {
        match &self.inner {
            Some(d) if !batch.is_empty() => match &*d.open.read() {
                Some(open) => open.journal.submit(batch),
                None => Commit::failed(CLOSED),
            },
            _ => Commit::done(),
        }
    }

    /// Releases the database without marking a clean shutdown (its content
    /// was refused).
    pub(crate) fn abandon(&self) {
        let open = self.inner.as_ref().and_then(|d| d.open.write().take());
        drop(open);
    }

    /// Flushes what is queued, stops the journal and releases the database
    /// file, so it can be opened again (also from this process), and marks
    /// the shutdown clean. Later submissions fail. Idempotent; blocks until
    /// the journal thread ends.
    pub(crate) fn close(&self) {
        let Some(d) = &self.inner else {
            return;
        };
        let Some(open) = d.open.write().take() else {
            return;
        };
        let Open { journal, db } = open;
        // The journal flushes and its thread lets go of the database.
        drop(journal);
        match Arc::try_unwrap(db) {
            Ok(db) => match db.close() {
                Ok(()) => {
                    if let Some(dir) = d.path.parent()
                        && let Err(e) = write_state(dir, STATE_CLEAN)
                    {
                        tracing::warn!(error = %e, "cannot mark the clean shutdown");
                    }
                }
                Err(e) => tracing::error!(error = %e, "closing the database failed"),
            },
            Err(_) => tracing::warn!("the database is still in use; not marking a clean shutdown"),
        }
    }
}
