//! The KV methods, on the clients whose principal may use KV.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;

use super::ops::*;
use super::page::KvPage;
use super::scope::KvScope;
use crate::clients::Client;
use crate::clients::principal::UseKv;
use crate::error::{Error, Result};
use crate::stack::NoWait;

/// Page size `kv_list` walks with.
const LIST_PAGE: u32 = 500;

impl<P: UseKv> Client<P> {
    /// The value of `key`, or `None` when it is missing. The protocol
    /// cannot tell a missing key from an empty value: both are `None`.
    /// Errors are typed; see [`kv`](crate::kv#errors).
    pub async fn kv_get(&self, key: &str, scope: &KvScope) -> Result<Option<Bytes>> {
        self.run(KvGet::new(key, scope)?).await
    }

    /// Writes `key` (upsert), expiring after `ttl` if given (whole
    /// seconds, rounded up). A value over the gateway's quota fails
    /// with `ErrorKind::PayloadTooLarge`.
    pub async fn kv_put(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<()> {
        self.run(KvPut::new(key, value.into(), scope, ttl)?).await
    }

    /// One page of keys under `prefix`, with their values: at most
    /// `limit` keys (0 = the gateway's default, 100), after `cursor`.
    pub async fn kv_list_page(
        &self,
        prefix: &str,
        scope: &KvScope,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<KvPage> {
        self.run(KvList::new(prefix, scope, limit, cursor)?).await
    }

    /// Deletes `key` (deleting a missing key succeeds).
    pub async fn kv_delete(&self, key: &str, scope: &KvScope) -> Result<()> {
        self.run(KvDelete::new(key, scope)?).await
    }

    /// Adds one to the counter at `key` (missing = 0) and returns the
    /// new value; `ttl` applies only when the counter is created.
    pub async fn kv_increment(
        &self,
        key: &str,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<i64> {
        self.run(KvIncrement::new(key, scope, ttl)?).await
    }

    /// Subtracts one from the counter at `key` and returns the new value.
    pub async fn kv_decrement(&self, key: &str, scope: &KvScope) -> Result<i64> {
        self.run(KvDecrement::new(key, scope)?).await
    }

    /// Adds `delta` (at least 1) only if the result stays `<= ceiling`
    /// (a literal ceiling: there is no "0 = unguarded"); returns the
    /// (new or unchanged) value and whether it applied. `ttl` applies
    /// when the counter is created.
    pub async fn kv_increment_if(
        &self,
        key: &str,
        delta: i64,
        ceiling: i64,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<(i64, bool)> {
        self.run(KvIncrementIf::new(key, delta, ceiling, scope, ttl)?)
            .await
    }

    /// Subtracts `delta` (at least 1) only if the result stays `>= floor`;
    /// returns the (new or unchanged) value and whether it applied.
    pub async fn kv_decrement_if(
        &self,
        key: &str,
        delta: i64,
        floor: i64,
        scope: &KvScope,
    ) -> Result<(i64, bool)> {
        self.run(KvDecrementIf::new(key, delta, floor, scope)?)
            .await
    }

    /// Writes `key` only if it is absent; whether it was written.
    pub async fn kv_set_nx(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        self.run(KvSetNx::new(key, value.into(), scope, ttl)?).await
    }

    /// Replaces the value of `key` only if it is present and equals
    /// `expected`; whether it was replaced.
    pub async fn kv_compare_and_set(
        &self,
        key: &str,
        expected: impl Into<Bytes>,
        value: impl Into<Bytes>,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        self.run(KvCompareAndSet::new(
            key,
            expected.into(),
            value.into(),
            scope,
            ttl,
        )?)
        .await
    }

    /// Deletes `key` only if its value equals `expected`; whether it was deleted.
    pub async fn kv_compare_and_delete(
        &self,
        key: &str,
        expected: impl Into<Bytes>,
        scope: &KvScope,
    ) -> Result<bool> {
        self.run(KvCompareAndDelete::new(key, expected.into(), scope)?)
            .await
    }

    /// Adds `member` to the set at `key`; returns whether it was new and
    /// the set's cardinality. `ttl` is (re)applied when the member is new.
    pub async fn kv_set_add(
        &self,
        key: &str,
        member: &str,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<(bool, i64)> {
        self.run(KvSetAdd::new(key, member, scope, ttl)?).await
    }

    /// The cardinality of the set at `key` (0 when missing).
    pub async fn kv_set_card(&self, key: &str, scope: &KvScope) -> Result<i64> {
        self.run(KvSetCard::new(key, scope)?).await
    }

    /// Deletes another identity's global-exclusive keys (those under
    /// `prefix`, or all with `""`); returns how many were deleted.
    pub async fn kv_purge_identity(&self, target_identity: &str, prefix: &str) -> Result<u64> {
        self.run(KvPurgeIdentity::new(target_identity, prefix)?)
            .await
    }

    /// Queues a PUT without awaiting the reply (fails with
    /// `ErrorKind::QueueFull` instead of waiting for room); a refusal
    /// reaches `on_error`.
    ///
    /// Call it from within a tokio runtime.
    pub fn kv_put_nowait(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<()> {
        self.run_nowait(NoWait(KvPut::new(key, value.into(), scope, ttl)?))
    }

    /// Queues a DELETE without awaiting the reply.
    ///
    /// Call it from within a tokio runtime.
    pub fn kv_delete_nowait(&self, key: &str, scope: &KvScope) -> Result<()> {
        self.run_nowait(NoWait(KvDelete::new(key, scope)?))
    }

    /// Queues an INCREMENT without awaiting the reply.
    ///
    /// Call it from within a tokio runtime.
    pub fn kv_increment_nowait(
        &self,
        key: &str,
        scope: &KvScope,
        ttl: Option<Duration>,
    ) -> Result<()> {
        self.run_nowait(NoWait(KvIncrement::new(key, scope, ttl)?))
    }

    /// Queues a DECREMENT without awaiting the reply.
    ///
    /// Call it from within a tokio runtime.
    pub fn kv_decrement_nowait(&self, key: &str, scope: &KvScope) -> Result<()> {
        self.run_nowait(NoWait(KvDecrement::new(key, scope)?))
    }

    /// Every key under `prefix` (all pages; order unspecified).
    pub async fn kv_list(&self, prefix: &str, scope: &KvScope) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .kv_list_page(prefix, scope, LIST_PAGE, cursor.as_deref())
                .await?;
            keys.extend(page.keys);
            match page.next_cursor {
                None => return Ok(keys),
                Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                    return Err(stuck_cursor());
                }
                next => cursor = next,
            }
        }
    }

    /// Every `(key, value)` under `prefix` as a stream, fetched
    /// `page_size` keys at a time (0 = the gateway's default, 100),
    /// following the gateway's cursor. An error ends the stream.
    pub fn kv_list_stream(
        &self,
        prefix: &str,
        scope: &KvScope,
        page_size: u32,
    ) -> impl Stream<Item = Result<(String, Bytes)>> + Send + Unpin + 'static {
        let walk = Walk {
            client: self.clone(),
            prefix: prefix.to_string(),
            scope: scope.clone(),
            page_size,
            cursor: None,
            buffered: VecDeque::new(),
            done: false,
        };
        Box::pin(futures_util::stream::unfold(walk, Walk::next))
    }
}

fn stuck_cursor() -> Error {
    Error::protocol("kv_list: the gateway returned the same cursor twice")
}

/// The state of a listing walked as a stream.
struct Walk<P: UseKv> {
    client: Client<P>,
    prefix: String,
    scope: KvScope,
    page_size: u32,
    cursor: Option<String>,
    buffered: VecDeque<(String, Bytes)>,
    done: bool,
}

impl<P: UseKv> Walk<P> {
    async fn next(mut self) -> Option<(Result<(String, Bytes)>, Self)> {
        loop {
            if let Some(entry) = self.buffered.pop_front() {
                return Some((Ok(entry), self));
            }
            if self.done {
                return None;
            }
            let page = self
                .client
                .kv_list_page(
                    &self.prefix,
                    &self.scope,
                    self.page_size,
                    self.cursor.as_deref(),
                )
                .await;
            match page {
                Err(e) => {
                    self.done = true;
                    return Some((Err(e), self));
                }
                Ok(page) => {
                    let next = page.next_cursor.clone();
                    if next.is_some() && next == self.cursor {
                        self.done = true;
                        return Some((Err(stuck_cursor()), self));
                    }
                    self.done = next.is_none();
                    self.cursor = next;
                    self.buffered.extend(page.into_entries());
                }
            }
        }
    }
}
