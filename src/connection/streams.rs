//! Stream correlation: replies that span many frames (task events of a
//! subscription, HTTP response chunks, tunnel frames) go to one bounded,
//! ordered inbox per id.
//!
//! The table has the pending map's guarantee: a [`ReplyStream`] removes
//! its entry when dropped, whenever that happens (before its first frame,
//! mid-stream, after the connection was lost), so abandoned streams leave
//! nothing behind. A stream keyed by its first reply (a subscription id
//! the gateway picks) is keyed by the reader itself, before it reads the
//! next frame, so no frame of the stream can slip past it.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use futures_util::Stream;
use parking_lot::Mutex;

use super::inbox::{InboxReceiver, InboxSender, OverflowBudget, Slot, inbox};
use super::pending::FrameFlag;
use crate::error::{Error, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;

/// What identifies the frames of one stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum StreamKey {
    /// Frames echoing a request id (HTTP responses and body chunks).
    Request(String),
    /// Task events of one subscription.
    Subscription(String),
    /// Frames of one tunnel.
    Tunnel(String),
}

/// The stream a downstream frame belongs to, if it is part of one (task
/// events, HTTP responses and body chunks, tunnel frames), or an error
/// answering a request that may be a stream's.
pub(super) fn stream_key(p: &Down) -> Option<StreamKey> {
    let key = match p {
        Down::TaskEvent(x) => StreamKey::Subscription(x.subscription_id.clone()),
        Down::ProxyHttpResponse(x) => StreamKey::Request(x.request_id.clone()),
        Down::ProxyHttpBodyChunk(x) => StreamKey::Request(x.request_id.clone()),
        Down::Error(x) => StreamKey::Request(x.request_id.clone()),
        Down::TunnelData(x) => StreamKey::Tunnel(x.tunnel_id.clone()),
        Down::TunnelAck(x) => StreamKey::Tunnel(x.tunnel_id.clone()),
        Down::TunnelClose(x) => StreamKey::Tunnel(x.tunnel_id.clone()),
        _ => return None,
    };
    match &key {
        StreamKey::Request(id) | StreamKey::Subscription(id) | StreamKey::Tunnel(id)
            if id.is_empty() =>
        {
            None
        }
        _ => Some(key),
    }
}

/// The stream a successful reply opens, for calls whose reply names it
/// (a task subscription's id).
pub(super) fn opened_stream_key(p: &Down) -> Option<StreamKey> {
    match p {
        Down::TaskSubscriptionResponse(r) if r.success && !r.subscription_id.is_empty() => {
            Some(StreamKey::Subscription(r.subscription_id.clone()))
        }
        _ => None,
    }
}

/// The stream an upstream request opens under its correlation id.
pub(super) fn request_stream_key(p: &Up, id: String) -> StreamKey {
    match p {
        Up::TunnelOpen(_) => StreamKey::Tunnel(id),
        _ => StreamKey::Request(id),
    }
}

/// How much a stream may hold before the reader slows down.
///
/// ```
/// use aether_client::stack::StreamBounds;
/// let bounds = StreamBounds::new(64, 1 << 20);
/// assert_eq!(bounds.capacity, 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamBounds {
    /// Frames held before the reader waits.
    pub capacity: usize,
    /// Bytes held before the reader waits.
    pub max_bytes: usize,
}

impl StreamBounds {
    /// At most `capacity` frames and `max_bytes` bytes.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        StreamBounds {
            capacity: capacity.max(1),
            max_bytes: max_bytes.max(1),
        }
    }
}

impl Default for StreamBounds {
    /// 256 frames, 4 MiB.
    fn default() -> Self {
        StreamBounds::new(256, 4 * 1024 * 1024)
    }
}

pub(crate) type StreamItem = Result<Down>;

struct Entry {
    serial: u64,
    tx: InboxSender<StreamItem>,
    /// The flag of the frame that opened the stream, if any: cancelled when
    /// the connection is lost, so the frame is not written afterwards.
    flag: Option<Arc<FrameFlag>>,
}

/// Stream id -> inbox.
pub(crate) struct StreamTable {
    entries: Mutex<HashMap<StreamKey, Entry>>,
    serial: AtomicU64,
    budget: Arc<OverflowBudget>,
}

impl StreamTable {
    pub(crate) fn new(budget: Arc<OverflowBudget>) -> Arc<Self> {
        Arc::new(StreamTable {
            entries: Mutex::new(HashMap::new()),
            serial: AtomicU64::new(1),
            budget,
        })
    }

    /// Opens a stream under `key`, known now.
    pub(crate) fn open_keyed(
        self: &Arc<Self>,
        key: StreamKey,
        bounds: StreamBounds,
        flag: Option<Arc<FrameFlag>>,
    ) -> Result<ReplyStream> {
        let (opener, stream) = self.open_unkeyed(bounds);
        if !opener.key_as(key, flag) {
            return Err(Error::protocol("a stream with this id is already open"));
        }
        Ok(stream)
    }

    /// Opens a stream whose key the first reply will tell; the reader keys
    /// it with [`StreamOpener::key_as`].
    pub(crate) fn open_unkeyed(
        self: &Arc<Self>,
        bounds: StreamBounds,
    ) -> (StreamOpener, ReplyStream) {
        let (tx, rx) = inbox(bounds.capacity, bounds.max_bytes, self.budget.clone());
        let slot = Arc::new(Mutex::new(KeySlot::default()));
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let opener = StreamOpener {
            table: self.clone(),
            tx,
            slot: slot.clone(),
            serial,
        };
        let stream = ReplyStream {
            rx,
            guard: StreamGuard {
                table: Arc::downgrade(self),
                slot,
                serial,
            },
        };
        (opener, stream)
    }

    /// The inbox of `key`, if a stream is open under it.
    pub(crate) fn get(&self, key: &StreamKey) -> Option<InboxSender<StreamItem>> {
        self.entries.lock().get(key).map(|e| e.tx.clone())
    }

    /// Ends every stream with `make()` (the connection was lost): each
    /// consumer reads what was queued, then the error, then the end.
    pub(crate) fn fail_all(&self, make: impl Fn() -> Error) {
        let drained: Vec<Entry> = self.entries.lock().drain().map(|(_, e)| e).collect();
        for entry in drained {
            if let Some(flag) = &entry.flag {
                flag.cancel();
            }
            entry.tx.push_always(Err(make()));
        }
    }

    /// Open streams.
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().len()
    }

    fn remove(&self, key: &StreamKey, serial: u64) {
        let mut entries = self.entries.lock();
        if entries.get(key).is_some_and(|e| e.serial == serial) {
            let entry = entries.remove(key);
            drop(entries);
            if let Some(flag) = entry.and_then(|e| e.flag) {
                flag.cancel();
            }
        }
    }
}

#[derive(Default)]
struct KeySlot {
    key: Option<StreamKey>,
    dropped: bool,
}

/// Keys a stream opened before its key was known.
pub(crate) struct StreamOpener {
    table: Arc<StreamTable>,
    tx: InboxSender<StreamItem>,
    slot: Arc<Mutex<KeySlot>>,
    serial: u64,
}

impl StreamOpener {
    /// Registers the stream under `key`; false if the consumer is already
    /// gone or the key is taken.
    pub(crate) fn key_as(self, key: StreamKey, flag: Option<Arc<FrameFlag>>) -> bool {
        let mut slot = self.slot.lock();
        if slot.dropped {
            return false;
        }
        let mut entries = self.table.entries.lock();
        if entries.contains_key(&key) {
            return false;
        }
        entries.insert(
            key.clone(),
            Entry {
                serial: self.serial,
                tx: self.tx,
                flag,
            },
        );
        slot.key = Some(key);
        true
    }
}

/// Removes a stream's entry when its consumer goes away.
struct StreamGuard {
    /// Weak: a stream must not keep its own sender alive.
    table: Weak<StreamTable>,
    slot: Arc<Mutex<KeySlot>>,
    serial: u64,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let key = {
            let mut slot = self.slot.lock();
            slot.dropped = true;
            slot.key.take()
        };
        if let Some(key) = key
            && let Some(table) = self.table.upgrade()
        {
            table.remove(&key, self.serial);
        }
    }
}

/// The frames of one correlated stream, in arrival order, as a
/// `Stream<Item = Result<Down>>`.
///
/// Bounded: when it holds its [`StreamBounds`], the connection stops
/// reading (the gateway's sender is slowed, nothing is dropped). Only
/// while other calls wait for replies may it fall behind further, by
/// borrowing from the client's overflow budget; past that, the frames it
/// could not keep are reported in place as one error item of kind
/// [`Lagged`](crate::ErrorKind::Lagged). After a connection loss it yields
/// a [`ConnectionLost`](crate::ErrorKind::ConnectionLost) error, then ends.
/// Dropping it ends the stream on this side at once.
pub struct ReplyStream {
    rx: InboxReceiver<StreamItem>,
    guard: StreamGuard,
}

impl ReplyStream {
    /// The id its frames are correlated by (a request or tunnel id, or a
    /// subscription id), once known.
    pub fn id(&self) -> Option<String> {
        self.guard.slot.lock().key.as_ref().map(|key| match key {
            StreamKey::Request(id) | StreamKey::Subscription(id) | StreamKey::Tunnel(id) => {
                id.clone()
            }
        })
    }

    /// Frames queued and not yet read.
    pub fn queued(&self) -> usize {
        self.rx.len()
    }
}

impl Stream for ReplyStream {
    type Item = Result<Down>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Slot::Item(item))) => Poll::Ready(Some(item)),
            Poll::Ready(Some(Slot::Lost(n))) => Poll::Ready(Some(Err(Error::lagged(n)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl std::fmt::Debug for ReplyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyStream")
            .field("serial", &self.guard.serial)
            .field("queued", &self.rx.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn table() -> Arc<StreamTable> {
        StreamTable::new(OverflowBudget::new(0))
    }

    fn frame() -> Down {
        Down::TaskEvent(Box::default())
    }

    #[tokio::test]
    async fn dropping_a_stream_removes_its_entry_in_every_state() {
        let t = table();
        // Keyed up front, dropped unread.
        let s = t
            .open_keyed(
                StreamKey::Request("a".into()),
                StreamBounds::default(),
                None,
            )
            .unwrap();
        assert_eq!(t.len(), 1);
        drop(s);
        assert_eq!(t.len(), 0);
        // Keyed later, dropped before the key was known: the opener refuses.
        let (opener, s) = t.open_unkeyed(StreamBounds::default());
        drop(s);
        assert!(!opener.key_as(StreamKey::Subscription("x".into()), None));
        assert_eq!(t.len(), 0);
        // Keyed later, dropped after: removed.
        let (opener, s) = t.open_unkeyed(StreamBounds::default());
        assert!(opener.key_as(StreamKey::Subscription("y".into()), None));
        assert_eq!(t.len(), 1);
        drop(s);
        assert_eq!(t.len(), 0);
    }

    #[tokio::test]
    async fn a_late_guard_does_not_remove_a_newer_stream_under_the_same_key() {
        let t = table();
        let key = StreamKey::Tunnel("t".into());
        let old = t
            .open_keyed(key.clone(), StreamBounds::default(), None)
            .unwrap();
        t.fail_all(|| Error::protocol("lost"));
        let new = t
            .open_keyed(key.clone(), StreamBounds::default(), None)
            .unwrap();
        drop(old);
        assert_eq!(t.len(), 1, "the newer stream stays");
        drop(new);
        assert_eq!(t.len(), 0);
    }

    #[tokio::test]
    async fn fail_all_delivers_what_was_queued_then_the_error_then_the_end() {
        let t = table();
        let key = StreamKey::Request("r".into());
        let flag = Arc::new(FrameFlag::default());
        let mut s = t
            .open_keyed(key.clone(), StreamBounds::default(), Some(flag.clone()))
            .unwrap();
        t.get(&key).unwrap().try_push(Ok(frame()), 1).unwrap();
        t.fail_all(|| Error::protocol("lost"));
        assert!(
            flag.is_cancelled(),
            "the opening frame is not written later"
        );
        assert!(s.next().await.unwrap().is_ok());
        assert!(s.next().await.unwrap().is_err());
        assert!(s.next().await.is_none());
        assert_eq!(t.len(), 0);
    }

    #[tokio::test]
    async fn a_taken_key_is_refused() {
        let t = table();
        let key = StreamKey::Request("dup".into());
        let _a = t
            .open_keyed(key.clone(), StreamBounds::default(), None)
            .unwrap();
        assert!(t.open_keyed(key, StreamBounds::default(), None).is_err());
        assert_eq!(t.len(), 1);
    }
}
