//! An in-memory [`KvStore`] for tests and single-process programs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::time::Instant;

use super::{KvScope, KvStore};
use crate::error::{Error, ErrorKind, Result};
use crate::kv::validate_key;

#[derive(Debug, Clone)]
struct Entry {
    value: Bytes,
    expires: Option<Instant>,
}

type Map = HashMap<(KvScope, String), Entry>;

/// A [`KvStore`] in memory with the gateway's semantics (TTLs honoured on
/// access, on tokio's clock, so tests with paused time work). Clones share
/// the data.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> aether_client::Result<()> {
/// use aether_client::coord::{MemoryKv, Mutex};
/// let kv = MemoryKv::new();
/// let guard = Mutex::new(kv.clone(), "job").lock().await?;
/// assert_eq!(guard.fencing_token(), 1);
/// assert!(Mutex::new(kv, "job").try_lock().await?.is_none());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryKv {
    map: Arc<Mutex<Map>>,
    unavailable: Arc<AtomicBool>,
}

impl MemoryKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `key` unconditionally (a test's way to interfere).
    pub fn put(&self, key: &str, value: impl Into<Bytes>, scope: &KvScope, ttl: Option<Duration>) {
        let entry = Entry {
            value: value.into(),
            expires: ttl.map(|t| Instant::now() + t),
        };
        self.map
            .lock()
            .insert((scope.clone(), key.to_string()), entry);
    }

    /// Deletes `key` unconditionally.
    pub fn remove(&self, key: &str, scope: &KvScope) {
        self.map.lock().remove(&(scope.clone(), key.to_string()));
    }

    /// While set, every operation fails with `ErrorKind::Unreachable` (to
    /// test how primitives ride out an outage).
    pub fn set_unavailable(&self, yes: bool) {
        self.unavailable.store(yes, Ordering::SeqCst);
    }

    /// Runs `f` on the live entry of `key` (expired entries are removed first).
    fn with<T>(
        &self,
        key: &str,
        scope: &KvScope,
        f: impl FnOnce(&mut Map, (KvScope, String), Option<Bytes>) -> T,
    ) -> Result<T> {
        validate_key(key)?;
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(Error::new(
                ErrorKind::Unreachable,
                "memory KV made unavailable",
            ));
        }
        let mut map = self.map.lock();
        let k = (scope.clone(), key.to_string());
        let now = Instant::now();
        if map
            .get(&k)
            .is_some_and(|e| e.expires.is_some_and(|t| t <= now))
        {
            map.remove(&k);
        }
        let current = map.get(&k).map(|e| e.value.clone());
        Ok(f(&mut map, k, current))
    }
}

fn entry(value: Bytes, ttl: Option<Duration>) -> Entry {
    Entry {
        value,
        // Whole seconds, rounded up, as on the wire.
        expires: ttl.map(|t| {
            Instant::now() + Duration::from_secs(crate::ops::kv::ttl_secs(Some(t)) as u64)
        }),
    }
}

impl KvStore for MemoryKv {
    async fn get(&self, key: &str, scope: &KvScope) -> Result<Option<Bytes>> {
        self.with(key, scope, |_, _, v| v.filter(|v| !v.is_empty()))
    }

    async fn set_nx(
        &self,
        key: &str,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        self.with(key, scope, |map, k, current| {
            current.is_none() && map.insert(k, entry(value, ttl)).is_none()
        })
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: Bytes,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        self.with(key, scope, |map, k, current| {
            let matches = current.is_some_and(|c| c == expected);
            if matches {
                map.insert(k, entry(value, ttl));
            }
            matches
        })
    }

    async fn compare_and_delete(
        &self,
        key: &str,
        expected: Bytes,
        scope: &KvScope,
    ) -> Result<bool> {
        self.with(key, scope, |map, k, current| {
            let matches = current.is_some_and(|c| c == expected);
            if matches {
                map.remove(&k);
            }
            matches
        })
    }

    async fn increment(&self, key: &str, scope: &KvScope) -> Result<i64> {
        self.with(key, scope, |map, k, current| {
            let n = match current {
                None => 0,
                Some(v) => std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| Error::new(ErrorKind::Rejected, "the value is not a counter"))?,
            };
            let next = n + 1;
            let expires = map.get(&k).and_then(|e| e.expires);
            map.insert(
                k,
                Entry {
                    value: Bytes::from(next.to_string()),
                    expires,
                },
            );
            Ok(next)
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn behaves_like_the_gateway() {
        let kv = MemoryKv::new();
        let g = KvScope::Global;
        assert!(
            kv.set_nx("k", "a".into(), &g, Some(Duration::from_millis(1500)))
                .await
                .unwrap()
        );
        assert!(!kv.set_nx("k", "b".into(), &g, None).await.unwrap());
        assert!(
            !kv.compare_and_set("k", "x".into(), "c".into(), &g, None)
                .await
                .unwrap()
        );
        assert!(
            kv.compare_and_set(
                "k",
                "a".into(),
                "a".into(),
                &g,
                Some(Duration::from_secs(1))
            )
            .await
            .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(999)).await;
        assert!(kv.get("k", &g).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(kv.get("k", &g).await.unwrap(), None);
        assert!(
            !kv.compare_and_set("k", "a".into(), "a".into(), &g, None)
                .await
                .unwrap()
        );
        assert_eq!(kv.increment("n", &g).await.unwrap(), 1);
        assert_eq!(kv.increment("n", &g).await.unwrap(), 2);
        assert!(!kv.compare_and_delete("n", "1".into(), &g).await.unwrap());
        assert!(kv.compare_and_delete("n", "2".into(), &g).await.unwrap());
        // Scopes are separate namespaces.
        kv.put("s", "v", &KvScope::Workspace, None);
        assert_eq!(kv.get("s", &g).await.unwrap(), None);
        assert_eq!(
            kv.get("", &g).await.unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        kv.set_unavailable(true);
        assert_eq!(
            kv.get("s", &g).await.unwrap_err().kind(),
            ErrorKind::Unreachable
        );
    }
}
