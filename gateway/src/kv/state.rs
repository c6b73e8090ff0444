//! The KV data: an [`ExpiringMap`] of namespaces in memory, mirrored into
//! `Table::Kv`. A [`Space`] is a write view of one namespace that records
//! the database mutations matching every change it makes.

use bytes::Bytes;

use super::record;
use crate::expiring::{ExpiringMap, Slot};
use crate::store::{Mutation, Store, StoreError, Table};

/// Every KV entry, by namespace then key.
pub(crate) type KvMap = ExpiringMap<Bytes>;

/// Loads the entries in `store`; expired ones are dropped (and deleted).
pub(crate) fn load(store: &Store, now_ms: u64) -> Result<KvMap, StoreError> {
    let mut map = KvMap::default();
    let mut gone = Vec::new();
    for (k, v) in store.load(Table::Kv)? {
        let (Some((ns, key)), Some((value, expires))) =
            (record::split_db_key(&k), record::decode(&v))
        else {
            return Err(StoreError::unreadable(
                Table::Kv,
                &k,
                "not a stored KV entry",
            ));
        };
        if expires.is_some_and(|t| t <= now_ms) {
            gone.push(Mutation::delete(Table::Kv, k));
            continue;
        }
        map.insert(ns, key, value, expires);
    }
    // Best effort: a leftover expired record is dropped again next start.
    drop(store.submit(gone));
    Ok(map)
}

/// The database mutations deleting swept entries.
pub(crate) fn deletions(expired: Vec<(String, String)>) -> Vec<Mutation> {
    expired
        .into_iter()
        .map(|(ns, key)| Mutation::delete(Table::Kv, record::db_key(&ns, &key)))
        .collect()
}

/// A write view of one namespace.
pub(crate) struct Space<'a> {
    map: &'a mut KvMap,
    ns: &'a str,
    /// The time every expiry check of this operation uses.
    pub(crate) now_ms: u64,
    /// Whether to record mutations (false for a memory-only store).
    durable: bool,
    muts: Vec<Mutation>,
}

impl<'a> Space<'a> {
    /// A view of namespace `ns`.
    pub(super) fn new(map: &'a mut KvMap, ns: &'a str, now_ms: u64, durable: bool) -> Self {
        Space {
            map,
            ns,
            now_ms,
            durable,
            muts: Vec::new(),
        }
    }

    /// The live entry under `key`.
    pub(super) fn get(&self, key: &str) -> Option<&Slot<Bytes>> {
        self.map.get(self.ns, key, self.now_ms)
    }

    /// Stores `value` under `key`.
    pub(super) fn put(&mut self, key: &str, value: Bytes, expires_at_ms: Option<u64>) {
        if self.durable {
            self.muts.push(Mutation::put(
                Table::Kv,
                record::db_key(self.ns, key),
                record::encode(&value, expires_at_ms),
            ));
        }
        self.map.insert(self.ns, key, value, expires_at_ms);
    }

    /// Deletes `key`; whether a live entry was there.
    pub(super) fn delete(&mut self, key: &str) -> bool {
        let Some(old) = self.map.remove(self.ns, key) else {
            return false;
        };
        if self.durable {
            self.muts
                .push(Mutation::delete(Table::Kv, record::db_key(self.ns, key)));
        }
        old.is_live(self.now_ms)
    }

    /// Keys under `prefix` (live or not yet swept).
    pub(super) fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.map
            .scan(self.ns, prefix, None, 0)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The mutations recorded so far.
    pub(super) fn into_mutations(self) -> Vec<Mutation> {
        self.muts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_space_records_what_it_changes() {
        let mut map = KvMap::default();
        let mut s = Space::new(&mut map, "ns", 10, true);
        s.put("a", Bytes::from_static(b"1"), None);
        s.put("b", Bytes::from_static(b"2"), Some(5));
        assert!(s.get("b").is_none(), "already expired");
        assert!(s.delete("a"));
        assert!(!s.delete("b"), "expired entries are not live");
        assert!(!s.delete("c"));
        assert_eq!(s.into_mutations().len(), 4);
        let mut s = Space::new(&mut map, "ns", 10, false);
        s.put("a", Bytes::new(), None);
        assert!(s.into_mutations().is_empty());
    }

    #[tokio::test]
    async fn loading_skips_expired_records_and_refuses_unreadable_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rows = vec![
            Mutation::put(
                Table::Kv,
                record::db_key("ns", "live"),
                record::encode(b"1", Some(100)),
            ),
            Mutation::put(
                Table::Kv,
                record::db_key("ns", "dead"),
                record::encode(b"2", Some(50)),
            ),
        ];
        store.submit(rows).await.unwrap();
        let map = load(&store, 60).unwrap();
        assert_eq!(map.len(), 1);
        assert!(map.get("ns", "live", 60).is_some());
        store
            .submit(vec![Mutation::put(Table::Kv, "garbage", vec![9])])
            .await
            .unwrap();
        let Err(refused) = load(&store, 60) else {
            panic!("an unreadable record is refused");
        };
        assert!(refused.is_corrupt());
        assert!(
            refused.0.contains("table kv, key \"garbage\""),
            "{}",
            refused.0
        );
        store.close();
    }
}
