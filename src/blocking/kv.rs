//! Blocking twins of the KV methods, and listings as iterators.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::Client;
use crate::clients::principal::UseKv;
use crate::error::Result;
use crate::ops::kv::{KvPage, KvScope, KvStore};

impl<P: UseKv> Client<P> {
    /// The value of `key`, or `None` when it is missing. The protocol
    /// cannot tell a missing key from an empty value: both are `None`.
    /// Errors are typed; see [`kv`](crate::kv#errors).
    pub fn kv_get(&self, key: &str, scope: &KvScope) -> Result<Option<Bytes>> {
        self.block_on(self.as_async().kv_get(key, scope))
    }

    /// Writes `key` (upsert), expiring after `ttl` if given (whole
    /// seconds, rounded up). A value over the gateway's quota fails
    /// with `ErrorKind::PayloadTooLarge`.
    pub fn kv_put(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<()> {
        self.block_on(self.as_async().kv_put(key, value, scope, ttl))
    }

    /// One page of keys under `prefix`, with their values: at most
    /// `limit` keys (0 = the gateway's default, 100), after `cursor`.
    pub fn kv_list_page(
        &self,
        prefix: &str,
        scope: &KvScope,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<KvPage> {
        self.block_on(self.as_async().kv_list_page(prefix, scope, limit, cursor))
    }

    /// Deletes `key` (deleting a missing key succeeds).
    pub fn kv_delete(&self, key: &str, scope: &KvScope) -> Result<()> {
        self.block_on(self.as_async().kv_delete(key, scope))
    }

    /// Adds one to the counter at `key` (missing = 0) and returns the
    /// new value; `ttl` applies only when the counter is created.
    pub fn kv_increment(&self, key: &str, scope: &KvScope, ttl: Option<Duration>) -> Result<i64> {
        self.block_on(self.as_async().kv_increment(key, scope, ttl))
    }

    /// Subtracts one from the counter at `key` and returns the new value.
    pub fn kv_decrement(&self, key: &str, scope: &KvScope) -> Result<i64> {
        self.block_on(self.as_async().kv_decrement(key, scope))
    }

    /// Adds `delta` (at least 1) only if the result stays `<= ceiling`
    /// (a literal ceiling: there is no "0 = unguarded"); returns the
    /// (new or unchanged) value and whether it applied. `ttl` applies
    /// when the counter is created.
    pub fn kv_increment_if(
        &self,
        key: &str,
        delta: i64,
        ceiling: i64,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<(i64, bool)> {
        self.block_on(
            self.as_async()
                .kv_increment_if(key, delta, ceiling, scope, ttl),
        )
    }

    /// Subtracts `delta` (at least 1) only if the result stays `>= floor`;
    /// returns the (new or unchanged) value and whether it applied.
    pub fn kv_decrement_if(
        &self,
        key: &str,
        delta: i64,
        floor: i64,
        scope: &KvScope,
    ) -> Result<(i64, bool)> {
        self.block_on(self.as_async().kv_decrement_if(key, delta, floor, scope))
    }

    /// Writes `key` only if it is absent; whether it was written.
    pub fn kv_set_nx(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        self.block_on(self.as_async().kv_set_nx(key, value, scope, ttl))
    }

    /// Replaces the value of `key` only if it is present and equals
    /// `expected`; whether it was replaced.
    pub fn kv_compare_and_set(
        &self,
        key: &str,
        expected: impl Into<Bytes>,
        value: impl Into<Bytes>,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        self.block_on(
            self.as_async()
                .kv_compare_and_set(key, expected, value, scope, ttl),
        )
    }

    /// Deletes `key` only if its value equals `expected`; whether it was deleted.
    pub fn kv_compare_and_delete(
        &self,
        key: &str,
        expected: impl Into<Bytes>,
        scope: &KvScope,
    ) -> Result<bool> {
        self.block_on(self.as_async().kv_compare_and_delete(key, expected, scope))
    }

    /// Adds `member` to the set at `key`; returns whether it was new and
    /// the set's cardinality. `ttl` is (re)applied when the member is new.
    pub fn kv_set_add(
        &self,
        key: &str,
        member: &str,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<(bool, i64)> {
        self.block_on(self.as_async().kv_set_add(key, member, scope, ttl))
    }

    /// The cardinality of the set at `key` (0 when missing).
    pub fn kv_set_card(&self, key: &str, scope: &KvScope) -> Result<i64> {
        self.block_on(self.as_async().kv_set_card(key, scope))
    }

    /// Deletes another identity's global-exclusive keys (those under
    /// `prefix`, or all with `""`); returns how many were deleted.
    pub fn kv_purge_identity(&self, target_identity: &str, prefix: &str) -> Result<u64> {
        self.block_on(self.as_async().kv_purge_identity(target_identity, prefix))
    }

    /// Queues a PUT without awaiting the reply (fails with
    /// `ErrorKind::QueueFull` instead of waiting for room); a refusal
    /// reaches `on_error`.
    pub fn kv_put_nowait(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<()> {
        self.block_on(async { self.as_async().kv_put_nowait(key, value, scope, ttl) })
    }

    /// Queues a DELETE without awaiting the reply.
    pub fn kv_delete_nowait(&self, key: &str, scope: &KvScope) -> Result<()> {
        self.block_on(async { self.as_async().kv_delete_nowait(key, scope) })
    }

    /// Queues an INCREMENT without awaiting the reply.
    pub fn kv_increment_nowait(
        &self,
        key: &str,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<()> {
        self.block_on(async { self.as_async().kv_increment_nowait(key, scope, ttl) })
    }

    /// Queues a DECREMENT without awaiting the reply.
    pub fn kv_decrement_nowait(&self, key: &str, scope: &KvScope) -> Result<()> {
        self.block_on(async { self.as_async().kv_decrement_nowait(key, scope) })
    }

    /// Every key under `prefix` (all pages; order unspecified).
    pub fn kv_list(&self, prefix: &str, scope: &KvScope) -> Result<Vec<String>> {
        self.block_on(self.as_async().kv_list(prefix, scope))
    }

    /// Every `(key, value)` under `prefix` as an iterator, fetched
    /// `page_size` keys at a time (0 = the gateway's default, 100),
    /// following the gateway's cursor. An error ends the iteration.
    pub fn kv_list_iter(&self, prefix: &str, scope: &KvScope, page_size: u32) -> KvListIter {
        let entries = self.as_async().kv_list_stream(prefix, scope, page_size);
        KvListIter {
            client: self.erase(),
            entries: Box::pin(entries),
        }
    }
}

type Entries = Pin<Box<dyn Stream<Item = Result<(String, Bytes)>> + Send>>;

/// Every `(key, value)` of a KV listing, fetched a page at a time on the
/// client's runtime; returned by `kv_list_iter`. An error ends it.
pub struct KvListIter {
    client: Client,
    entries: Entries,
}

impl Iterator for KvListIter {
    type Item = Result<(String, Bytes)>;
    fn next(&mut self) -> Option<Self::Item> {
        let entries = &mut self.entries;
        self.client.block_on(entries.next())
    }
}

impl std::fmt::Debug for KvListIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvListIter").finish_non_exhaustive()
    }
}

/// A blocking client's futures run on whichever runtime polls them (the
/// coordination primitives' own tasks).
impl<P: UseKv> KvStore for Client<P> {
    fn get(
        &self,
        key: &str,
        scope: &KvScope,
    ) -> impl Future<Output = Result<Option<Bytes>>> + Send {
        self.as_async().kv_get(key, scope)
    }
    fn set_nx(
        &self,
        key: &str,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.as_async().kv_set_nx(key, value, scope, ttl)
    }
    fn compare_and_set(
        &self,
        key: &str,
        expected: Bytes,
        value: Bytes,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.as_async()
            .kv_compare_and_set(key, expected, value, scope, ttl)
    }
    fn compare_and_delete(
        &self,
        key: &str,
        expected: Bytes,
        scope: &KvScope,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.as_async().kv_compare_and_delete(key, expected, scope)
    }
    fn increment(&self, key: &str, scope: &KvScope) -> impl Future<Output = Result<i64>> + Send {
        self.as_async().kv_increment(key, scope, None)
    }
}
