//! The journal: one writer thread that applies queued mutation batches in
//! order, many at a time, one fsync per transaction.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use std::time::Instant;

use redb::Database;
use tokio::sync::{mpsc, oneshot};

use super::{Mutation, StoreError};
use crate::stats::Histogram;

/// Most batches folded into one transaction.
const MAX_GROUP: usize = 4096;

struct Job {
    batch: Vec<Mutation>,
    submitted: Instant,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The submitting side of the journal. Dropping it flushes what is queued
/// and waits for the writer thread, which releases the database file.
pub(super) struct Journal {
    tx: Option<mpsc::UnboundedSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Journal {
    /// Starts the writer; `latency` receives, per submission, the time
    /// from submission to its commit being on disk.
    pub(super) fn start(db: Arc<Database>, latency: Arc<Histogram>) -> Result<Journal, StoreError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("aether-journal".into())
            .spawn(move || writer(db, rx, &latency))
            .map_err(StoreError::from)?;
        Ok(Journal {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    pub(super) fn submit(&self, batch: Vec<Mutation>) -> Commit {
        let (done, rx) = oneshot::channel();
        match self.tx.as_ref().map(|tx| {
            tx.send(Job {
                batch,
                submitted: Instant::now(),
                done,
            })
        }) {
            Some(Ok(())) => Commit { rx: Some(rx) },
            _ => Commit::failed("the journal has stopped"),
        }
    }
}

fn writer(db: Arc<Database>, mut rx: mpsc::UnboundedReceiver<Job>, latency: &Histogram) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let result = apply(&db, &jobs);
        if let Err(e) = &result {
            tracing::error!(error = %e, batches = jobs.len(), "journal commit failed");
        }
        let committed = Instant::now();
        for job in jobs {
            latency.observe(committed.saturating_duration_since(job.submitted));
            let _ = job.done.send(result.clone());
        }
    }
}

fn apply(db: &Database, jobs: &[Job]) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(StoreError::from)?;
    {
        let mut tables = std::collections::HashMap::new();
        for m in jobs.iter().flat_map(|j| &j.batch) {
            let t = match tables.entry(m.table) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    txn.open_table(m.table.definition())
                        .map_err(StoreError::from)?,
                ),
            };
            match &m.value {
                Some(v) => {
                    t.insert(m.key.as_str(), v.as_slice())
                        .map_err(StoreError::from)?;
                }
                None => {
                    t.remove(m.key.as_str()).map_err(StoreError::from)?;
                }
            }
        }
    }
    txn.commit().map_err(StoreError::from)
}

/// Resolves when a submitted batch is on disk.
pub(crate) struct Commit {
    rx: Option<oneshot::Receiver<Result<(), StoreError>>>,
}

impl Commit {
    /// Already durable (or nothing to write).
    pub(crate) fn done() -> Commit {
        Commit { rx: None }
    }

    /// Already failed with `why`.
    pub(crate) fn failed(why: &str) -> Commit {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(StoreError::other(why)));
        Commit { rx: Some(rx) }
    }

    /// Whether this resolves at once with success (nothing was written, or
    /// the store is memory-only).
    pub(crate) fn is_done(&self) -> bool {
        self.rx.is_none()
    }
}

impl Future for Commit {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.rx {
            None => Poll::Ready(Ok(())),
            Some(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or_else(|_| Err(StoreError::other("the journal has stopped")))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Mutation, Store, Table};

    #[tokio::test]
    async fn batches_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let commits: Vec<_> = (0..100)
                .map(|i| {
                    store.submit(vec![Mutation::put(
                        Table::Kv,
                        format!("k{i:03}"),
                        vec![i as u8],
                    )])
                })
                .collect();
            for c in commits {
                c.await.unwrap();
            }
            store
                .submit(vec![Mutation::delete(Table::Kv, "k000")])
                .await
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let rows = store.load(Table::Kv).unwrap();
        assert_eq!(rows.len(), 99);
        store.close();
        assert!(
            store
                .submit(vec![Mutation::delete(Table::Kv, "k")])
                .await
                .is_err()
        );
        assert!(store.load(Table::Kv).is_err());
        let store = Store::open(dir.path()).unwrap();
        let rows = store.load(Table::Kv).unwrap();
        assert_eq!(rows[0], ("k001".to_string(), vec![1]));
        assert!(store.load(Table::Tasks).unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_memory_store_commits_at_once() {
        let store = Store::memory();
        assert!(!store.is_durable());
        store
            .submit(vec![Mutation::put(Table::Kv, "k", vec![1])])
            .await
            .unwrap();
        assert!(store.load(Table::Kv).unwrap().is_empty());
    }
}
