//! Checkpoints (§4): opaque state saved per caller identity and key, with
//! an optional TTL, answered with `CheckpointResponse` (request id always
//! echoed; failures are `success=false` with `error`, never an
//! `ErrorResponse`).
//!
//! Like KV, data lives in memory behind one lock and every change is
//! journaled (`Table::Checkpoints`) inside the critical section; a SAVE or
//! DELETE answers once its commit is on disk.

mod record;

use aether_protocol::proto::{
    CheckpointOperation, CheckpointResponse, DownstreamMessage, checkpoint_operation::OpType,
    downstream_message::Payload,
};
use bytes::Bytes;
use parking_lot::RwLock;

use crate::answer::{Answer, frame};
use crate::expiring::{ExpiringMap, deadline, unix_ms};
use crate::store::{Commit, Mutation, Store, StoreError, Table};

/// The key used when a request names none.
const DEFAULT_KEY: &str = "default";

/// One saved checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Saved {
    pub(crate) data: Bytes,
    /// Unix seconds.
    pub(crate) saved_at: i64,
}

/// The gateway's checkpoints, by identity then key.
pub(crate) struct Checkpoints {
    map: RwLock<ExpiringMap<Saved>>,
    store: Store,
    max_bytes: usize,
}

fn respond(request_id: String, resp: CheckpointResponse) -> Vec<DownstreamMessage> {
    vec![frame(Payload::Checkpoint(Box::new(CheckpointResponse {
        request_id,
        ..resp
    })))]
}

fn failed(error: String) -> CheckpointResponse {
    CheckpointResponse {
        success: false,
        error,
        ..Default::default()
    }
}

fn ok() -> CheckpointResponse {
    CheckpointResponse {
        success: true,
        ..Default::default()
    }
}

impl Checkpoints {
    /// The store's checkpoints; SAVEs above `max_bytes` are refused.
    pub(crate) fn load(store: Store, max_bytes: usize) -> Result<Checkpoints, StoreError> {
        let now = unix_ms();
        let mut map = ExpiringMap::default();
        let mut gone = Vec::new();
        for (k, v) in store.load(Table::Checkpoints)? {
            let (Some((identity, key)), Some((saved, expires))) =
                (record::split_db_key(&k), record::decode(&v))
            else {
                return Err(StoreError::unreadable(
                    Table::Checkpoints,
                    &k,
                    "not a stored checkpoint",
                ));
            };
            if expires.is_some_and(|t| t <= now) {
                gone.push(Mutation::delete(Table::Checkpoints, k));
                continue;
            }
            map.insert(identity, key, saved, expires);
        }
        drop(store.submit(gone));
        Ok(Checkpoints {
            map: RwLock::new(map),
            store,
            max_bytes,
        })
    }

    /// Runs `op` for the session whose identity string is `identity`.
    pub(crate) fn handle(&self, identity: &str, op: CheckpointOperation) -> Answer {
        let rid = op.request_id.clone();
        let key = if op.key.is_empty() {
            DEFAULT_KEY
        } else {
            op.key.as_str()
        };
        let now = unix_ms();
        let resp = match OpType::try_from(op.op) {
            Ok(OpType::Load) => match self.map.read().get(identity, key, now) {
                Some(s) => CheckpointResponse {
                    data: s.value.data.clone(),
                    saved_at: s.value.saved_at,
                    ..ok()
                },
                None => ok(),
            },
            Ok(OpType::List) => CheckpointResponse {
                keys: self
                    .map
                    .read()
                    .scan(identity, "", None, now)
                    .map(|(k, _)| k.clone())
                    .collect(),
                ..ok()
            },
            Ok(OpType::Save) if op.data.len() > self.max_bytes => failed(format!(
                "checkpoint too large: {} bytes exceeds the limit of {} bytes",
                op.data.len(),
                self.max_bytes
            )),
            Ok(OpType::Save) => {
                let saved = Saved {
                    data: op.data,
                    saved_at: (now / 1000) as i64,
                };
                let saved_at = saved.saved_at;
                // ttl < 0 is the server default (none); 0 is none too.
                let expires = deadline(now, op.ttl);
                let muts = self.journaled(|| {
                    Mutation::put(
                        Table::Checkpoints,
                        record::db_key(identity, key),
                        record::encode(&saved, expires),
                    )
                });
                let mut map = self.map.write();
                map.insert(identity, key, saved, expires);
                let commit = self.store.submit(muts);
                drop(map);
                return self.after(commit, rid, CheckpointResponse { saved_at, ..ok() });
            }
            Ok(OpType::Delete) => {
                let mut map = self.map.write();
                if map.remove(identity, key).is_none() {
                    drop(map);
                    return Answer::Now(respond(rid, ok()));
                }
                let muts = self.journaled(|| {
                    Mutation::delete(Table::Checkpoints, record::db_key(identity, key))
                });
                let commit = self.store.submit(muts);
                drop(map);
                return self.after(commit, rid, ok());
            }
            Err(_) => failed("unknown checkpoint operation".into()),
        };
        Answer::Now(respond(rid, resp))
    }

    /// `[m()]` when the store is durable; nothing otherwise.
    fn journaled(&self, m: impl FnOnce() -> Mutation) -> Vec<Mutation> {
        if self.store.is_durable() {
            vec![m()]
        } else {
            Vec::new()
        }
    }

    fn after(&self, commit: Commit, rid: String, resp: CheckpointResponse) -> Answer {
        let on_fail = rid.clone();
        Answer::after(commit, respond(rid, resp), move |e| {
            respond(on_fail, failed(e.to_string()))
        })
    }

    /// Removes expired checkpoints (and journals their deletion).
    pub(crate) fn sweep(&self, now_ms: u64) {
        let mut map = self.map.write();
        let expired = map.take_expired(now_ms);
        if !expired.is_empty() && self.store.is_durable() {
            let muts = expired
                .into_iter()
                .map(|(id, key)| Mutation::delete(Table::Checkpoints, record::db_key(&id, &key)))
                .collect();
            drop(self.store.submit(muts));
        }
    }
}

#[cfg(test)]
mod tests;
