//! KV methods of the principal clients that may use KV.
//!
//! The gateway lets only agents, tasks, services, the workflow engine and
//! the metrics bridge use KV; [`kv_methods!`] adds the `kv_*` methods to
//! exactly those clients (async and blocking), so a KV call from a user,
//! orchestrator or bridge client does not compile.
//!
//! Awaited methods resolve with the gateway's typed reply; a timeout is
//! [`ErrorKind::Timeout`], a refused operation [`ErrorKind::Rejected`]
//! (KV replies carry no reason: the gateway follows a refusal with an
//! `ErrorResponse{KV_ERROR}` naming it, which arrives after the call has
//! been resolved and so reaches `on_error` and `frames()` as an
//! uncorrelated push). `_nowait` methods queue a frame without a request
//! id and return at once; their failures reach `on_error` only.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;

use super::core::Client;
use crate::error::{Error, ErrorKind, Result};
pub use crate::ops::kv::KvScope;
use crate::ops::kv::{self as wire, KvCall, KvPage};

/// Page size `kv_list` walks with.
const LIST_PAGE: u32 = 500;

/// The gateway's code for a KV value over its size quota.
const QUOTA_CODE: &str = "ERR_QUOTA_001";

/// A KV value over the gateway's quota is a payload that is too large.
fn refine(e: Error) -> Error {
    if e.code() == Some(QUOTA_CODE) {
        let message = e.message().to_string();
        return Error::new(ErrorKind::PayloadTooLarge, message)
            .with_code(QUOTA_CODE)
            .with_source(e);
    }
    e
}

async fn send(c: &Client, call: KvCall) -> Result<crate::proto::KvResponse> {
    let name = call.name();
    let reply = c.call(call.awaited()).await.map_err(refine)?;
    wire::reply(name, reply)
}

fn send_nowait(c: &Client, call: KvCall) -> Result<()> {
    super::nowait::call_nowait(c, call.nowait())
}

pub(crate) async fn get(c: &Client, key: &str, scope: &KvScope) -> Result<Option<Bytes>> {
    let r = send(c, wire::get(key, scope)?).await?;
    Ok((!r.value.is_empty()).then_some(r.value))
}

pub(crate) async fn put(
    c: &Client,
    key: &str,
    value: impl Into<Bytes>,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<()> {
    send(c, wire::put(key, value.into(), scope, ttl)?)
        .await
        .map(drop)
}

pub(crate) fn put_nowait(
    c: &Client,
    key: &str,
    value: impl Into<Bytes>,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<()> {
    send_nowait(c, wire::put(key, value.into(), scope, ttl)?)
}

pub(crate) async fn list_page(
    c: &Client,
    prefix: &str,
    scope: &KvScope,
    limit: u32,
    cursor: Option<&str>,
) -> Result<KvPage> {
    KvPage::from_reply(send(c, wire::list(prefix, scope, limit, cursor)?).await?)
}

pub(crate) async fn list(c: &Client, prefix: &str, scope: &KvScope) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = list_page(c, prefix, scope, LIST_PAGE, cursor.as_deref()).await?;
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

fn stuck_cursor() -> Error {
    Error::new(
        ErrorKind::Protocol,
        "kv_list: the gateway returned the same cursor twice",
    )
}

/// The state of a listing walked as a stream.
struct Walk {
    client: Client,
    prefix: String,
    scope: KvScope,
    page_size: u32,
    cursor: Option<String>,
    buffered: VecDeque<(String, Bytes)>,
    done: bool,
}

pub(crate) fn list_stream(
    c: &Client,
    prefix: &str,
    scope: &KvScope,
    page_size: u32,
) -> impl Stream<Item = Result<(String, Bytes)>> + Send + Unpin + 'static {
    let walk = Walk {
        client: c.clone(),
        prefix: prefix.to_string(),
        scope: scope.clone(),
        page_size,
        cursor: None,
        buffered: VecDeque::new(),
        done: false,
    };
    Box::pin(futures_util::stream::unfold(walk, |mut w| async move {
        loop {
            if let Some(entry) = w.buffered.pop_front() {
                return Some((Ok(entry), w));
            }
            if w.done {
                return None;
            }
            let page = list_page(
                &w.client,
                &w.prefix,
                &w.scope,
                w.page_size,
                w.cursor.as_deref(),
            )
            .await;
            match page {
                Err(e) => {
                    w.done = true;
                    return Some((Err(e), w));
                }
                Ok(page) => {
                    let next = page.next_cursor.clone();
                    if next.is_some() && next == w.cursor {
                        w.done = true;
                        return Some((Err(stuck_cursor()), w));
                    }
                    w.done = next.is_none();
                    w.cursor = next;
                    w.buffered.extend(page.into_entries());
                }
            }
        }
    }))
}

pub(crate) async fn delete(c: &Client, key: &str, scope: &KvScope) -> Result<()> {
    send(c, wire::delete(key, scope)?).await.map(drop)
}

pub(crate) fn delete_nowait(c: &Client, key: &str, scope: &KvScope) -> Result<()> {
    send_nowait(c, wire::delete(key, scope)?)
}

pub(crate) async fn increment(
    c: &Client,
    key: &str,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<i64> {
    Ok(send(c, wire::increment(key, scope, ttl)?)
        .await?
        .counter_value)
}

pub(crate) fn increment_nowait(
    c: &Client,
    key: &str,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<()> {
    send_nowait(c, wire::increment(key, scope, ttl)?)
}

pub(crate) async fn decrement(c: &Client, key: &str, scope: &KvScope) -> Result<i64> {
    Ok(send(c, wire::decrement(key, scope)?).await?.counter_value)
}

pub(crate) fn decrement_nowait(c: &Client, key: &str, scope: &KvScope) -> Result<()> {
    send_nowait(c, wire::decrement(key, scope)?)
}

pub(crate) async fn increment_if(
    c: &Client,
    key: &str,
    delta: i64,
    ceiling: i64,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<(i64, bool)> {
    let r = send(c, wire::increment_if(key, delta, ceiling, scope, ttl)?).await?;
    Ok((r.counter_value, r.applied))
}

pub(crate) async fn decrement_if(
    c: &Client,
    key: &str,
    delta: i64,
    floor: i64,
    scope: &KvScope,
) -> Result<(i64, bool)> {
    let r = send(c, wire::decrement_if(key, delta, floor, scope)?).await?;
    Ok((r.counter_value, r.applied))
}

pub(crate) async fn set_nx(
    c: &Client,
    key: &str,
    value: impl Into<Bytes>,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<bool> {
    Ok(send(c, wire::set_nx(key, value.into(), scope, ttl)?)
        .await?
        .applied)
}

pub(crate) async fn compare_and_set(
    c: &Client,
    key: &str,
    expected: impl Into<Bytes>,
    value: impl Into<Bytes>,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<bool> {
    let call = wire::compare_and_set(key, expected.into(), value.into(), scope, ttl)?;
    Ok(send(c, call).await?.applied)
}

pub(crate) async fn compare_and_delete(
    c: &Client,
    key: &str,
    expected: impl Into<Bytes>,
    scope: &KvScope,
) -> Result<bool> {
    let call = wire::compare_and_delete(key, expected.into(), scope)?;
    Ok(send(c, call).await?.applied)
}

pub(crate) async fn set_add(
    c: &Client,
    key: &str,
    member: &str,
    scope: &KvScope,
    ttl: Option<Duration>,
) -> Result<(bool, i64)> {
    let r = send(c, wire::set_add(key, member, scope, ttl)?).await?;
    Ok((r.applied, r.counter_value))
}

pub(crate) async fn set_card(c: &Client, key: &str, scope: &KvScope) -> Result<i64> {
    Ok(send(c, wire::set_card(key, scope)?).await?.counter_value)
}

pub(crate) async fn purge_identity(c: &Client, target_identity: &str, prefix: &str) -> Result<u64> {
    let r = send(c, wire::purge_identity(target_identity, prefix)?).await?;
    Ok(u64::try_from(r.counter_value).unwrap_or(0))
}

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

/// `kv_methods!(async Type)` / `kv_methods!(blocking Type)` adds the
/// `kv_*` methods and a [`KvStore`] implementation to a principal client
/// whose `self.client` is the async core.
macro_rules! kv_methods {
    ($mode:tt $ty:ident) => {
        impl $ty {
            $crate::clients::kv::kv_fn!($mode,
                /// The value of `key`, or `None` when it is missing. The protocol
                /// cannot tell a missing key from an empty value: both are `None`.
                /// Errors are typed; see [`ops::kv`](crate::ops::kv#errors).
                fn kv_get(key: &str, scope: &$crate::KvScope) -> Option<bytes::Bytes> = get);
            $crate::clients::kv::kv_fn!($mode,
                /// Writes `key` (upsert), expiring after `ttl` if given (whole
                /// seconds, rounded up). A value over the gateway's quota fails
                /// with `ErrorKind::PayloadTooLarge`.
                fn kv_put(key: &str, value: impl Into<bytes::Bytes>, scope: &$crate::KvScope, ttl: Option<std::time::Duration>) -> () = put);
            $crate::clients::kv::kv_fn!(nowait $mode,
                /// Queues a PUT without awaiting the reply (fails with
                /// `ErrorKind::QueueFull` instead of waiting for room); a
                /// refusal reaches `on_error`.
                fn kv_put_nowait(key: &str, value: impl Into<bytes::Bytes>, scope: &$crate::KvScope, ttl: Option<std::time::Duration>) = put_nowait);
            $crate::clients::kv::kv_fn!($mode,
                /// Every key under `prefix` (all pages; order unspecified).
                fn kv_list(prefix: &str, scope: &$crate::KvScope) -> Vec<String> = list);
            $crate::clients::kv::kv_fn!($mode,
                /// One page of keys under `prefix`, with their values: at most
                /// `limit` keys (0 = the gateway's default, 100), after `cursor`.
                fn kv_list_page(prefix: &str, scope: &$crate::KvScope, limit: u32, cursor: Option<&str>) -> $crate::ops::kv::KvPage = list_page);
            $crate::clients::kv::kv_fn!($mode,
                /// Deletes `key` (deleting a missing key succeeds).
                fn kv_delete(key: &str, scope: &$crate::KvScope) -> () = delete);
            $crate::clients::kv::kv_fn!(nowait $mode,
                /// Queues a DELETE without awaiting the reply.
                fn kv_delete_nowait(key: &str, scope: &$crate::KvScope) = delete_nowait);
            $crate::clients::kv::kv_fn!($mode,
                /// Adds one to the counter at `key` (missing = 0) and returns the
                /// new value; `ttl` applies only when the counter is created.
                fn kv_increment(key: &str, scope: &$crate::KvScope, ttl: Option<std::time::Duration>) -> i64 = increment);
            $crate::clients::kv::kv_fn!(nowait $mode,
                /// Queues an INCREMENT without awaiting the reply.
                fn kv_increment_nowait(key: &str, scope: &$crate::KvScope, ttl: Option<std::time::Duration>) = increment_nowait);
            $crate::clients::kv::kv_fn!($mode,
                /// Subtracts one from the counter at `key` and returns the new value.
                fn kv_decrement(key: &str, scope: &$crate::KvScope) -> i64 = decrement);
            $crate::clients::kv::kv_fn!(nowait $mode,
                /// Queues a DECREMENT without awaiting the reply.
                fn kv_decrement_nowait(key: &str, scope: &$crate::KvScope) = decrement_nowait);
            $crate::clients::kv::kv_fn!($mode,
                /// Adds `delta` (at least 1) only if the result stays `<= ceiling`
                /// (a literal ceiling: there is no "0 = unguarded"); returns the
                /// (new or unchanged) value and whether it applied. `ttl` applies
                /// when the counter is created.
                fn kv_increment_if(key: &str, delta: i64, ceiling: i64, scope: &$crate::KvScope, ttl: Option<std::time::Duration>) -> (i64, bool) = increment_if);
            $crate::clients::kv::kv_fn!($mode,
                /// Subtracts `delta` (at least 1) only if the result stays `>= floor`;
                /// returns the (new or unchanged) value and whether it applied.
                fn kv_decrement_if(key: &str, delta: i64, floor: i64, scope: &$crate::KvScope) -> (i64, bool) = decrement_if);
            $crate::clients::kv::kv_fn!($mode,
                /// Writes `key` only if it is absent; whether it was written.
                fn kv_set_nx(key: &str, value: impl Into<bytes::Bytes>, scope: &$crate::KvScope, ttl: Option<std::time::Duration>) -> bool = set_nx);
            $crate::clients::kv::kv_fn!($mode,
                /// Replaces the value of `key` only if it is present and equals
                /// `expected`; whether it was replaced.
                fn kv_compare_and_set(key: &str, expected: impl Into<bytes::Bytes>, value: impl Into<bytes::Bytes>, scope: &$crate::KvScope, ttl: Option<std::time::Duration>) -> bool = compare_and_set);
            $crate::clients::kv::kv_fn!($mode,
                /// Deletes `key` only if its value equals `expected`; whether it was deleted.
                fn kv_compare_and_delete(key: &str, expected: impl Into<bytes::Bytes>, scope: &$crate::KvScope) -> bool = compare_and_delete);
            $crate::clients::kv::kv_fn!($mode,
                /// Adds `member` to the set at `key`; returns whether it was new and
                /// the set's cardinality. `ttl` is (re)applied when the member is new.
                fn kv_set_add(key: &str, member: &str, scope: &$crate::KvScope, ttl: Option<std::time::Duration>) -> (bool, i64) = set_add);
            $crate::clients::kv::kv_fn!($mode,
                /// The cardinality of the set at `key` (0 when missing).
                fn kv_set_card(key: &str, scope: &$crate::KvScope) -> i64 = set_card);
            $crate::clients::kv::kv_fn!($mode,
                /// Deletes another identity's global-exclusive keys (those under
                /// `prefix`, or all with `""`); returns how many were deleted.
                fn kv_purge_identity(target_identity: &str, prefix: &str) -> u64 = purge_identity);
        }
        $crate::clients::kv::kv_methods!(@stream $mode $ty);

        impl $crate::clients::kv::KvStore for $ty {
            fn get(&self, key: &str, scope: &$crate::KvScope) -> impl std::future::Future<Output = $crate::Result<Option<bytes::Bytes>>> + Send {
                $crate::clients::kv::get(&self.client, key, scope)
            }
            fn set_nx(&self, key: &str, value: bytes::Bytes, scope: &$crate::KvScope, ttl: Option<std::time::Duration>) -> impl std::future::Future<Output = $crate::Result<bool>> + Send {
                $crate::clients::kv::set_nx(&self.client, key, value, scope, ttl)
            }
            fn compare_and_set(&self, key: &str, expected: bytes::Bytes, value: bytes::Bytes, scope: &$crate::KvScope, ttl: Option<std::time::Duration>) -> impl std::future::Future<Output = $crate::Result<bool>> + Send {
                $crate::clients::kv::compare_and_set(&self.client, key, expected, value, scope, ttl)
            }
            fn compare_and_delete(&self, key: &str, expected: bytes::Bytes, scope: &$crate::KvScope) -> impl std::future::Future<Output = $crate::Result<bool>> + Send {
                $crate::clients::kv::compare_and_delete(&self.client, key, expected, scope)
            }
            fn increment(&self, key: &str, scope: &$crate::KvScope) -> impl std::future::Future<Output = $crate::Result<i64>> + Send {
                $crate::clients::kv::increment(&self.client, key, scope, None)
            }
        }
    };
    (@stream async $ty:ident) => {
        impl $ty {
            /// Every `(key, value)` under `prefix` as a stream, fetched
            /// `page_size` keys at a time (0 = the gateway's default, 100),
            /// following the gateway's cursor. An error ends the stream.
            pub fn kv_list_stream(
                &self,
                prefix: &str,
                scope: &$crate::KvScope,
                page_size: u32,
            ) -> impl futures_util::Stream<Item = $crate::Result<(String, bytes::Bytes)>> + Send + Unpin + 'static {
                $crate::clients::kv::list_stream(&self.client, prefix, scope, page_size)
            }
        }
    };
    (@stream blocking $ty:ident) => {
        impl $ty {
            /// Every `(key, value)` under `prefix` as an iterator, fetched
            /// `page_size` keys at a time (0 = the gateway's default, 100),
            /// following the gateway's cursor. An error ends the iteration.
            pub fn kv_list_iter(
                &self,
                prefix: &str,
                scope: &$crate::KvScope,
                page_size: u32,
            ) -> $crate::blocking::KvListIter {
                $crate::blocking::KvListIter::new(
                    (**self).clone(),
                    $crate::clients::kv::list_stream(&self.client, prefix, scope, page_size),
                )
            }
        }
    };
}

pub(crate) use kv_methods;

/// One KV method: async (awaits the reply), blocking (blocks on the
/// client's runtime), or `nowait` (queues the frame and returns).
macro_rules! kv_fn {
    (async, $(#[$m:meta])* fn $name:ident($($arg:ident : $t:ty),* $(,)?) -> $ret:ty = $imp:ident) => {
        $(#[$m])*
        pub async fn $name(&self, $($arg: $t),*) -> $crate::Result<$ret> {
            $crate::clients::kv::$imp(&self.client, $($arg),*).await
        }
    };
    (blocking, $(#[$m:meta])* fn $name:ident($($arg:ident : $t:ty),* $(,)?) -> $ret:ty = $imp:ident) => {
        $(#[$m])*
        pub fn $name(&self, $($arg: $t),*) -> $crate::Result<$ret> {
            self.block_on($crate::clients::kv::$imp(&self.client, $($arg),*))
        }
    };
    (nowait async, $(#[$m:meta])* fn $name:ident($($arg:ident : $t:ty),* $(,)?) = $imp:ident) => {
        $(#[$m])*
        ///
        /// Call it from within a tokio runtime.
        pub fn $name(&self, $($arg: $t),*) -> $crate::Result<()> {
            $crate::clients::kv::$imp(&self.client, $($arg),*)
        }
    };
    (nowait blocking, $(#[$m:meta])* fn $name:ident($($arg:ident : $t:ty),* $(,)?) = $imp:ident) => {
        $(#[$m])*
        pub fn $name(&self, $($arg: $t),*) -> $crate::Result<()> {
            self.block_on(async { $crate::clients::kv::$imp(&self.client, $($arg),*) })
        }
    };
}

pub(crate) use kv_fn;
