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

mod journal;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

pub(crate) use journal::Commit;
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
    /// API tokens (their digests, never the secrets), keyed by token id.
    Tokens,
    /// The audit log, keyed by zero-padded audit id.
    Audit,
}

impl Table {
    fn definition(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(match self {
            Table::Kv => "kv",
            Table::Checkpoints => "checkpoints",
            Table::Tasks => "tasks",
            Table::Mailboxes => "mailboxes",
            Table::Registry => "registry",
            Table::Meta => "meta",
            Table::Tokens => "tokens",
            Table::Audit => "audit",
        })
    }

    const ALL: [Table; 8] = [
        Table::Kv,
        Table::Checkpoints,
        Table::Tasks,
        Table::Mailboxes,
        Table::Registry,
        Table::Meta,
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
pub(crate) struct StoreError(pub(crate) String);

/// Why a closed store refuses work.
const CLOSED: &str = "the store is closed";

impl StoreError {
    fn from(e: impl std::fmt::Display) -> Self {
        StoreError(e.to_string())
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

    /// Opens (or creates) the database `aether.redb` under `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::from)?;
        let path = dir.join("aether.redb");
        let db = Database::create(&path).map_err(StoreError::from)?;
        // Create every table up front so readers never miss one.
        let txn = db.begin_write().map_err(StoreError::from)?;
        for t in Table::ALL {
            txn.open_table(t.definition()).map_err(StoreError::from)?;
        }
        txn.commit().map_err(StoreError::from)?;
        let db = Arc::new(db);
        let journal = Journal::start(db.clone())?;
        Ok(Store {
            inner: Some(Arc::new(Durable {
                open: RwLock::new(Some(Open { journal, db })),
                path,
            })),
        })
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
        let db = &open.as_ref().ok_or_else(|| StoreError(CLOSED.into()))?.db;
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

    /// Flushes what is queued, stops the journal and releases the database
    /// file, so it can be opened again (also from this process). Later
    /// submissions fail. Idempotent; blocks until the journal thread ends.
    pub(crate) fn close(&self) {
        let open = self.inner.as_ref().and_then(|d| d.open.write().take());
        drop(open);
    }
}
