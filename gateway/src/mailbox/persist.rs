//! How messages waiting for offline identities are stored
//! (`Table::Mailboxes`): key `topic NUL sequence` (20 zero-padded digits,
//! so keys sort in arrival order), value a version byte, the enqueue time
//! (unix ms, big-endian) and the prost-encoded `IncomingMessage`.

use std::sync::atomic::{AtomicU64, Ordering};

use aether_protocol::shared::SharedIncoming;
use prost::bytes::Bytes;

use crate::store::{Mutation, Store, StoreError, Table};

const VERSION: u8 = 1;

/// One stored message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stored {
    pub(crate) topic: String,
    pub(crate) seq: u64,
    pub(crate) enqueued_unix_ms: u64,
    pub(crate) msg: SharedIncoming,
}

/// The database key of message `seq` of `topic`.
pub(crate) fn db_key(topic: &str, seq: u64) -> String {
    format!("{topic}\0{seq:020}")
}

fn encode(msg: &SharedIncoming, enqueued_unix_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + msg.encoded_len());
    out.push(VERSION);
    out.extend_from_slice(&enqueued_unix_ms.to_be_bytes());
    msg.encode_raw(&mut out);
    out
}

fn decode(key: &str, value: &[u8]) -> Option<Stored> {
    let (topic, seq) = key.split_once('\0')?;
    let (&version, rest) = value.split_first()?;
    if version != VERSION || rest.len() < 8 {
        return None;
    }
    let (at, body) = rest.split_at(8);
    Some(Stored {
        topic: topic.to_string(),
        seq: seq.parse().ok()?,
        enqueued_unix_ms: u64::from_be_bytes(at.try_into().ok()?),
        msg: SharedIncoming::decode(Bytes::copy_from_slice(body)).ok()?,
    })
}

/// Every stored message, by topic then arrival.
pub(crate) fn load(store: &Store) -> Result<Vec<Stored>, StoreError> {
    let mut out = Vec::new();
    for (k, v) in store.load(Table::Mailboxes)? {
        match decode(&k, &v) {
            Some(s) => out.push(s),
            None => {
                return Err(StoreError::unreadable(
                    Table::Mailboxes,
                    &k,
                    "not a stored message",
                ));
            }
        }
    }
    Ok(out)
}

/// Writes mailbox changes to the store; shared by every mailbox.
pub(crate) struct Persister {
    store: Store,
    next_seq: AtomicU64,
}

impl Persister {
    /// A persister whose sequence numbers start after `last_seq`.
    pub(super) fn new(store: Store, last_seq: u64) -> Self {
        Persister {
            store,
            next_seq: AtomicU64::new(last_seq.saturating_add(1)),
        }
    }

    /// A fresh sequence number (increasing across the whole gateway).
    pub(super) fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Stores `msg` of `topic` under `seq`.
    pub(super) fn put(
        topic: &str,
        seq: u64,
        msg: &SharedIncoming,
        enqueued_unix_ms: u64,
    ) -> Mutation {
        Mutation::put(
            Table::Mailboxes,
            db_key(topic, seq),
            encode(msg, enqueued_unix_ms),
        )
    }

    /// Deletes message `seq` of `topic`.
    pub(super) fn delete(topic: &str, seq: u64) -> Mutation {
        Mutation::delete(Table::Mailboxes, db_key(topic, seq))
    }

    /// Queues `muts` for the journal. Nobody waits for a mailbox commit:
    /// sends have no acknowledgement (a later acknowledged change of the
    /// same session implies it, since the journal commits in order).
    pub(super) fn submit(&self, muts: Vec<Mutation>) {
        if !muts.is_empty() {
            drop(self.store.submit(muts));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn records_round_trip_in_order() {
        let msg = SharedIncoming {
            source_topic: "ag::w::i::s".into(),
            payload: Bytes::from_static(b"hi"),
            ..Default::default()
        };
        let m = Persister::put("ag::w::i::t", 7, &msg, 99);
        let (key, value) = (m.key, m.value.unwrap_or_default());
        let s = decode(&key, &value).unwrap();
        assert_eq!(
            (s.topic.as_str(), s.seq, s.enqueued_unix_ms),
            ("ag::w::i::t", 7, 99)
        );
        assert_eq!(s.msg, msg);
        assert!(db_key("t", 9) < db_key("t", 10));
        assert!(decode("no-separator", &value).is_none());
        assert!(decode(&key, &[2]).is_none());
    }
}
