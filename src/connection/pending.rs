//! The pending map: request id -> waiter, with a drop guard so that a
//! cancelled or timed-out call leaves nothing behind.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot};

use super::streams::StreamOpener;
use crate::error::{Error, Result};
use crate::proto::downstream_message::Payload as Downstream;

/// Shared between a queued frame, its pending entry and its guard: whether
/// the frame was handed to the transport, and whether its caller gave up.
#[derive(Debug, Default)]
pub(crate) struct FrameFlag {
    sent: AtomicBool,
    cancelled: AtomicBool,
}

impl FrameFlag {
    pub(crate) fn mark_sent(&self) {
        self.sent.store(true, Ordering::Release);
    }
    pub(crate) fn was_sent(&self) -> bool {
        self.sent.load(Ordering::Acquire)
    }
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }
}

/// A call waiting for its reply.
pub(crate) struct Entry {
    pub(crate) tx: oneshot::Sender<Result<Downstream>>,
    flag: Arc<FrameFlag>,
    /// For a call whose reply opens a stream: keys that stream.
    pub(crate) opener: Option<StreamOpener>,
}

/// Request id -> waiter.
#[derive(Default)]
pub(crate) struct PendingMap {
    entries: Mutex<HashMap<String, Entry>>,
    /// Woken when a call registers while the reader waits for room.
    started: Notify,
    watchers: AtomicUsize,
}

impl PendingMap {
    /// Registers a waiter for `id`. The returned guard removes the entry when
    /// dropped, unless the reply arrived first.
    pub(crate) fn register(
        self: &Arc<Self>,
        id: String,
        opener: Option<StreamOpener>,
    ) -> (
        oneshot::Receiver<Result<Downstream>>,
        PendingGuard,
        Arc<FrameFlag>,
    ) {
        let (tx, rx) = oneshot::channel();
        let flag = Arc::new(FrameFlag::default());
        self.entries.lock().insert(
            id.clone(),
            Entry {
                tx,
                flag: flag.clone(),
                opener,
            },
        );
        if self.watchers.load(Ordering::Acquire) > 0 {
            self.started.notify_waiters();
        }
        let guard = PendingGuard {
            map: self.clone(),
            id,
            flag: flag.clone(),
            armed: true,
        };
        (rx, guard, flag)
    }

    /// Takes the waiter of `id`, if any (none for a late reply to a
    /// cancelled call, or for an uncorrelated frame).
    pub(crate) fn take(&self, id: &str) -> Option<Entry> {
        self.entries.lock().remove(id)
    }

    /// Waits until a call registers (for a reader that waits for room only
    /// while no call waits for a reply).
    pub(crate) async fn call_started(&self) {
        struct Watching<'a>(&'a AtomicUsize);
        impl Drop for Watching<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.watchers.fetch_add(1, Ordering::AcqRel);
        let _watching = Watching(&self.watchers);
        let notified = self.started.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.len() == 0 {
            notified.await;
        }
    }

    /// Fails every waiter with `ConnectionLost`, saying for each whether its
    /// request may have been sent. Unsent frames are cancelled so they are
    /// not written after a reconnect.
    pub(crate) fn fail_all(&self, why: &str) -> usize {
        let drained: Vec<Entry> = self.entries.lock().drain().map(|(_, e)| e).collect();
        let n = drained.len();
        for entry in drained {
            entry.flag.cancel();
            let _ = entry
                .tx
                .send(Err(Error::connection_lost(entry.flag.was_sent(), why)));
        }
        n
    }

    /// Fails every waiter with a clone of `make()`.
    pub(crate) fn fail_all_with(&self, make: impl Fn() -> Error) {
        let drained: Vec<Entry> = self.entries.lock().drain().map(|(_, e)| e).collect();
        for entry in drained {
            entry.flag.cancel();
            let _ = entry.tx.send(Err(make()));
        }
    }

    /// Number of calls waiting for a reply.
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().len()
    }

    fn remove(&self, id: &str) {
        self.entries.lock().remove(id);
    }
}

/// Removes its pending entry when dropped and marks the frame cancelled, so
/// a frame still queued is never written.
pub(crate) struct PendingGuard {
    map: Arc<PendingMap>,
    id: String,
    flag: Arc<FrameFlag>,
    armed: bool,
}

impl PendingGuard {
    /// The reply arrived: the entry is already gone.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if self.armed {
            self.flag.cancel();
            self.map.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn dropping_the_guard_removes_the_entry() {
        let map = Arc::new(PendingMap::default());
        let (_rx, guard, flag) = map.register("a".into(), None);
        assert_eq!(map.len(), 1);
        drop(guard);
        assert_eq!(map.len(), 0);
        assert!(flag.is_cancelled());
    }

    #[tokio::test]
    async fn fail_all_says_whether_sent() {
        let map = Arc::new(PendingMap::default());
        let (rx1, _g1, f1) = map.register("1".into(), None);
        let (rx2, _g2, _f2) = map.register("2".into(), None);
        f1.mark_sent();
        assert_eq!(map.fail_all("test"), 2);
        let e1 = rx1.await.unwrap().unwrap_err();
        let e2 = rx2.await.unwrap().unwrap_err();
        assert_eq!(
            e1.kind(),
            ErrorKind::ConnectionLost {
                may_have_been_sent: true
            }
        );
        assert_eq!(
            e2.kind(),
            ErrorKind::ConnectionLost {
                may_have_been_sent: false
            }
        );
        assert_eq!(map.len(), 0);
    }
}
