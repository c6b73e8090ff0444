//! The audit log (§6.8): connections, authentication failures, token
//! changes, administrative operations and client-submitted events,
//! recorded durably (`Table::Audit`, one row per entry) and queried with
//! `AuditQuery`.
//!
//! Domains record through the shared context: `cx.audit.record(
//! AuditEvent::new("acl", "grant").by(handle.actor())...)`. Recording
//! never blocks: the entry is numbered and kept in memory at once and its
//! row is journaled; [`Audit::record`] returns the [`Commit`], which a
//! caller that must not acknowledge before the entry is on disk awaits
//! (token changes do; connects do not).
//!
//! The log keeps the newest [`Limits::audit_max_entries`](crate::Limits)
//! entries (default 100 000); older ones are dropped, from memory and
//! disk, as new ones arrive. It knows nothing of sessions: gates are
//! decided by the caller ([`ops`]).

mod event;
mod filter;
pub(crate) mod ops;

use std::collections::VecDeque;

use aether_protocol::proto::{AuditEntry, AuditQuery};
use parking_lot::Mutex;
use prost::Message;

pub(crate) use event::{Actor, AuditEvent};

use crate::store::{Commit, Mutation, Store, StoreError, Table};

/// `AuditEntry.gateway_id` of every entry this gateway records.
const GATEWAY_ID: &str = "aether-rs-gateway";

/// The audit log.
pub(crate) struct Audit {
    log: Mutex<Log>,
    store: Store,
    max_entries: usize,
}

struct Log {
    /// Oldest first.
    entries: VecDeque<AuditEntry>,
    next_id: i64,
}

fn key(id: i64) -> String {
    format!("{id:020}")
}

fn unix_s() -> i64 {
    (crate::expiring::unix_ms() / 1000) as i64
}

impl Audit {
    /// Loads the log from `store` (keeping the newest `max_entries`), which
    /// it then writes through.
    pub(crate) fn load(store: Store, max_entries: usize) -> Result<Self, StoreError> {
        let max_entries = max_entries.max(1);
        let mut rows: Vec<AuditEntry> = store
            .load(Table::Audit)?
            .into_iter()
            .filter_map(|(k, v)| match AuditEntry::decode(v.as_slice()) {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::error!(key = %k, error = %e, "unreadable audit entry");
                    None
                }
            })
            .collect();
        rows.sort_by_key(|e| e.audit_id);
        let next_id = rows.last().map_or(1, |e| e.audit_id + 1);
        let excess = rows.len().saturating_sub(max_entries);
        if excess > 0 {
            let gone: Vec<Mutation> = rows
                .drain(..excess)
                .map(|e| Mutation::delete(Table::Audit, key(e.audit_id)))
                .collect();
            drop(store.submit(gone));
        }
        Ok(Audit {
            log: Mutex::new(Log {
                entries: rows.into(),
                next_id,
            }),
            store,
            max_entries,
        })
    }

    /// Records `event`; the returned commit resolves once it is on disk
    /// (dropping it does not cancel the write).
    pub(crate) fn record(&self, event: AuditEvent) -> Commit {
        let workspace = event
            .workspace
            .unwrap_or_else(|| event.actor.workspace.clone());
        let mut entry = AuditEntry {
            audit_id: 0,
            timestamp: unix_s(),
            event_type: event.event_type,
            actor_type: event.actor.actor_type,
            actor_id: event.actor.actor_id,
            resource_type: event.resource_type,
            resource_id: event.resource_id,
            operation: event.operation,
            workspace,
            session_id: event.actor.session_id,
            gateway_id: GATEWAY_ID.to_string(),
            success: event.success,
            error_message: event.error_message,
            metadata_json: crate::json::object(&event.metadata),
            subject_type: event.subject_type,
            subject_id: event.subject_id,
            authority_mode: event.authority_mode,
            authority_grant_id: event.authority_grant_id,
            source: event.source.name().to_string(),
            ..Default::default()
        };
        let mut log = self.log.lock();
        entry.audit_id = log.next_id;
        log.next_id += 1;
        let mut batch = vec![Mutation::put(
            Table::Audit,
            key(entry.audit_id),
            entry.encode_to_vec(),
        )];
        log.entries.push_back(entry);
        while log.entries.len() > self.max_entries {
            if let Some(old) = log.entries.pop_front() {
                batch.push(Mutation::delete(Table::Audit, key(old.audit_id)));
            }
        }
        // Submitted under the lock, so rows reach the journal in id order.
        self.store.submit(batch)
    }

    /// The page of entries `q` selects, newest first, and how many it
    /// selects in all.
    pub(crate) fn query(&self, q: &AuditQuery) -> (Vec<AuditEntry>, usize) {
        let (offset, limit) = filter::page(q);
        let log = self.log.lock();
        let mut total = 0;
        let mut page = Vec::new();
        for e in log.entries.iter().rev() {
            if filter::selects(q, e) {
                if total >= offset && page.len() < limit {
                    page.push(e.clone());
                }
                total += 1;
            }
        }
        (page, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(op: &str) -> AuditEvent {
        AuditEvent::new("token", op).resource("token", op)
    }

    #[tokio::test]
    async fn records_pages_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let audit = Audit::load(store.clone(), 3).unwrap();
            for op in ["a", "b", "c", "d"] {
                audit.record(ev(op)).await.unwrap();
            }
            let (page, total) = audit.query(&AuditQuery::default());
            assert_eq!(total, 3, "the oldest was dropped");
            let ops: Vec<_> = page.iter().map(|e| e.operation.as_str()).collect();
            assert_eq!(ops, ["d", "c", "b"]);
            assert_eq!(page[0].audit_id, 4);
            let (page, total) = audit.query(&AuditQuery {
                limit: 1,
                offset: 1,
                ..Default::default()
            });
            assert_eq!((page[0].operation.as_str(), total), ("c", 3));
            store.close();
        }
        let store = Store::open(dir.path()).unwrap();
        let audit = Audit::load(store.clone(), 2).unwrap();
        let (page, _) = audit.query(&AuditQuery::default());
        let ids: Vec<_> = page.iter().map(|e| e.audit_id).collect();
        assert_eq!(ids, [4, 3]);
        audit
            .record(ev("e").failed("no").meta("k", "v"))
            .await
            .unwrap();
        let (page, _) = audit.query(&AuditQuery {
            only_failures: true,
            ..Default::default()
        });
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].audit_id, 5);
        assert_eq!(page[0].metadata_json, r#"{"k":"v"}"#);
        assert_eq!(page[0].source, "gateway");
        store.close();
    }
}
