//! [`KvStore`]: the KV operations the coordination primitives need, as a
//! trait every KV-capable client implements.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::scope::KvScope;
use crate::clients::principal::UseKv;
use crate::error::Result;

/// The KV operations the [coordination primitives](crate::coord) are built
/// on. Every client whose principal may use KV implements it (async and
/// blocking twins alike: the futures run on the client's runtime), and so
/// can any store of your own, such as
/// [`MemoryKv`](crate::coord::MemoryKv) for tests.
///
/// TTLs are whole seconds on the wire, rounded up.
pub trait KvStore: Clone + Send + Sync + 'static {
    /// The value of `key`, `None` when missing (or empty).
    fn get(&self, key: &str, scope: &KvScope)
    -> impl Future<Output = Result<Option<Bytes>>> + Send;
    /// Writes `value` only if `key` is absent; whether it was written.
    fn set_nx(
        &self,
        key: &str,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Replaces the value only if it equals `expected` (a missing key never
    /// matches), resetting the TTL; whether it was replaced.
    fn compare_and_set(
        &self,
        key: &str,
        expected: Bytes,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Deletes `key` only if its value equals `expected`; whether it was deleted.
    fn compare_and_delete(
        &self,
        key: &str,
        expected: Bytes,
        scope: &KvScope,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Adds one to the counter at `key` (missing = 0); the new value.
    fn increment(&self, key: &str, scope: &KvScope) -> impl Future<Output = Result<i64>> + Send;
}

impl<P: UseKv> KvStore for crate::Client<P> {
    fn get(
        &self,
        key: &str,
        scope: &KvScope,
    ) -> impl Future<Output = Result<Option<Bytes>>> + Send {
        self.kv_get(key, scope)
    }
    fn set_nx(
        &self,
        key: &str,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.kv_set_nx(key, value, scope, ttl)
    }
    fn compare_and_set(
        &self,
        key: &str,
        expected: Bytes,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.kv_compare_and_set(key, expected, value, scope, ttl)
    }
    fn compare_and_delete(
        &self,
        key: &str,
        expected: Bytes,
        scope: &KvScope,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.kv_compare_and_delete(key, expected, scope)
    }
    fn increment(&self, key: &str, scope: &KvScope) -> impl Future<Output = Result<i64>> + Send {
        self.kv_increment(key, scope, None)
    }
}
