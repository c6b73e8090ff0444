//! Inboxes: where the reader leaves what it read for someone else (the
//! handler dispatch task, message streams, reply streams).
//!
//! An inbox is bounded in items and in bytes. The reader never drops what
//! fits; when an inbox is full it decides (see `Reader::deliver` in the
//! driver) whether to wait for room, to lend the inbox room from the
//! client's overflow budget, or, as a last resort, to record a loss, which
//! the receiver then sees in order, as [`Slot::Lost`], where the lost item
//! would have been.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::sync::{Notify, mpsc};

/// Bytes lent to inboxes beyond their own bounds, shared by every inbox of
/// one client, so that the reader can keep reading replies while a
/// consumer is behind.
#[derive(Debug)]
pub(crate) struct OverflowBudget {
    left: AtomicUsize,
}

impl OverflowBudget {
    pub(crate) fn new(bytes: usize) -> Arc<Self> {
        Arc::new(OverflowBudget {
            left: AtomicUsize::new(bytes),
        })
    }

    fn take(&self, bytes: usize) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(bytes)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.left.fetch_add(bytes, Ordering::AcqRel);
    }
}

/// What a receiver takes out of an inbox.
#[derive(Debug)]
pub(crate) enum Slot<T> {
    /// The next item.
    Item(T),
    /// Items were lost here (the consumer fell further behind than the
    /// overflow budget allows while calls were waiting for replies).
    Lost(u64),
}

enum Entry<T> {
    Item {
        item: T,
        bytes: usize,
        /// Bytes borrowed from the overflow budget for this item.
        borrowed: usize,
    },
    Lost,
}

struct Shared {
    len: AtomicUsize,
    bytes: AtomicUsize,
    capacity: usize,
    max_bytes: usize,
    /// Losses not yet reported to the receiver.
    lost: AtomicU64,
    /// Whether a `Lost` marker is queued and not yet taken.
    marker_queued: AtomicBool,
    /// Woken when the receiver takes an item, if someone waits for room.
    room: Notify,
    room_waiters: AtomicUsize,
    budget: Arc<OverflowBudget>,
}

/// The reader's end of an inbox.
pub(crate) struct InboxSender<T> {
    tx: mpsc::UnboundedSender<Entry<T>>,
    shared: Arc<Shared>,
}

impl<T> Clone for InboxSender<T> {
    fn clone(&self) -> Self {
        InboxSender {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }
}

/// The consumer's end of an inbox.
pub(crate) struct InboxReceiver<T> {
    rx: mpsc::UnboundedReceiver<Entry<T>>,
    shared: Arc<Shared>,
}

/// A new inbox holding at most `capacity` items and `max_bytes` bytes (an
/// empty inbox takes one item of any size).
pub(crate) fn inbox<T>(
    capacity: usize,
    max_bytes: usize,
    budget: Arc<OverflowBudget>,
) -> (InboxSender<T>, InboxReceiver<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        len: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
        capacity: capacity.max(1),
        max_bytes: max_bytes.max(1),
        lost: AtomicU64::new(0),
        marker_queued: AtomicBool::new(false),
        room: Notify::new(),
        room_waiters: AtomicUsize::new(0),
        budget,
    });
    (
        InboxSender {
            tx,
            shared: shared.clone(),
        },
        InboxReceiver { rx, shared },
    )
}

impl<T> InboxSender<T> {
    /// Queues `item` if it fits; gives it back if the inbox is full.
    #[inline]
    pub(crate) fn try_push(&self, item: T, bytes: usize) -> Result<(), T> {
        let s = &*self.shared;
        let len = s.len.load(Ordering::Acquire);
        let used = s.bytes.load(Ordering::Acquire);
        if len > 0 && (len >= s.capacity || used.saturating_add(bytes) > s.max_bytes) {
            return Err(item);
        }
        self.enqueue(item, bytes, 0);
        Ok(())
    }

    /// Queues `item` beyond the inbox's bounds if the overflow budget can
    /// lend its bytes; gives it back otherwise.
    pub(crate) fn push_borrowed(&self, item: T, bytes: usize) -> Result<(), T> {
        let borrowed = bytes.max(1);
        if !self.shared.budget.take(borrowed) {
            return Err(item);
        }
        self.enqueue(item, bytes, borrowed);
        Ok(())
    }

    /// Queues `item` whatever the bounds (small lifecycle events and the
    /// terminal error of a stream, which must never be lost).
    pub(crate) fn push_always(&self, item: T) {
        self.enqueue(item, 0, 0);
    }

    #[inline]
    fn enqueue(&self, item: T, bytes: usize, borrowed: usize) {
        let s = &*self.shared;
        s.len.fetch_add(1, Ordering::AcqRel);
        s.bytes.fetch_add(bytes, Ordering::AcqRel);
        let entry = Entry::Item {
            item,
            bytes,
            borrowed,
        };
        if let Err(mpsc::error::SendError(entry)) = self.tx.send(entry) {
            // The receiver is gone: undo the accounting, return what was lent.
            s.len.fetch_sub(1, Ordering::AcqRel);
            s.bytes.fetch_sub(bytes, Ordering::AcqRel);
            if let Entry::Item { borrowed, .. } = entry {
                s.budget.give_back(borrowed);
            }
        }
    }

    /// Records that one item could not be kept. The receiver sees a
    /// [`Slot::Lost`] at this point of the sequence.
    pub(crate) fn record_loss(&self) {
        let s = &*self.shared;
        s.lost.fetch_add(1, Ordering::AcqRel);
        if !s.marker_queued.swap(true, Ordering::AcqRel) && self.tx.send(Entry::Lost).is_err() {
            s.marker_queued.store(false, Ordering::Release);
        }
    }

    /// Waits until the receiver takes something (or goes away).
    pub(crate) async fn room(&self) {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let s = &*self.shared;
        // SeqCst with the receiver's take: one of the two sees the other.
        s.room_waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&s.room_waiters);
        let notified = s.room.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.has_room() || self.is_closed() {
            return;
        }
        tokio::select! {
            _ = notified => {}
            _ = self.tx.closed() => {}
        }
    }

    /// Whether `try_push` of an item of `bytes` would succeed now (and, the
    /// reader being the only producer, still will when it pushes).
    #[inline]
    pub(crate) fn fits(&self, bytes: usize) -> bool {
        let s = &*self.shared;
        let len = s.len.load(Ordering::Acquire);
        len == 0
            || (len < s.capacity
                && s.bytes.load(Ordering::Acquire).saturating_add(bytes) <= s.max_bytes)
    }

    fn has_room(&self) -> bool {
        let s = &*self.shared;
        let len = s.len.load(Ordering::SeqCst);
        len == 0 || (len < s.capacity && s.bytes.load(Ordering::Acquire) < s.max_bytes)
    }

    /// Whether the receiver was dropped.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<T> InboxReceiver<T> {
    /// Polls for the next slot; `None` once every sender is gone and the
    /// inbox is empty.
    #[inline]
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Slot<T>>> {
        let entry = match self.rx.poll_recv(cx) {
            Poll::Ready(Some(entry)) => entry,
            Poll::Ready(None) => return Poll::Ready(self.take_lost().map(Slot::Lost)),
            Poll::Pending => return Poll::Pending,
        };
        Poll::Ready(Some(self.open(entry)))
    }

    /// The next slot; `None` once every sender is gone and the inbox is empty.
    pub(crate) async fn recv(&mut self) -> Option<Slot<T>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    #[inline]
    fn open(&mut self, entry: Entry<T>) -> Slot<T> {
        let s = &*self.shared;
        match entry {
            Entry::Item {
                item,
                bytes,
                borrowed,
            } => {
                s.len.fetch_sub(1, Ordering::SeqCst);
                s.bytes.fetch_sub(bytes, Ordering::AcqRel);
                if borrowed > 0 {
                    s.budget.give_back(borrowed);
                }
                // Waking costs a lock: only when the reader waits for room.
                if s.room_waiters.load(Ordering::SeqCst) > 0 {
                    s.room.notify_waiters();
                }
                Slot::Item(item)
            }
            Entry::Lost => {
                s.marker_queued.store(false, Ordering::Release);
                Slot::Lost(s.lost.swap(0, Ordering::AcqRel))
            }
        }
    }

    fn take_lost(&self) -> Option<u64> {
        let n = self.shared.lost.swap(0, Ordering::AcqRel);
        (n > 0).then_some(n)
    }

    /// Items queued right now.
    pub(crate) fn len(&self) -> usize {
        self.shared.len.load(Ordering::Acquire)
    }
}

impl<T> Drop for InboxReceiver<T> {
    fn drop(&mut self) {
        // Return what queued items borrowed, and wake a reader waiting for
        // room (it sees the inbox closed).
        self.rx.close();
        while let Ok(entry) = self.rx.try_recv() {
            if let Entry::Item { borrowed, .. } = entry
                && borrowed > 0
            {
                self.shared.budget.give_back(borrowed);
            }
        }
        self.shared.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(s: Option<Slot<u32>>) -> Option<u32> {
        match s {
            Some(Slot::Item(x)) => Some(x),
            _ => None,
        }
    }

    #[tokio::test]
    async fn bounded_by_count_and_bytes_but_an_empty_inbox_takes_anything() {
        let budget = OverflowBudget::new(0);
        let (tx, mut rx) = inbox::<u32>(2, 100, budget);
        assert!(tx.try_push(1, 1000).is_ok(), "empty: any size fits");
        assert_eq!(tx.try_push(2, 1), Err(2), "over the byte bound");
        assert_eq!(slot(rx.recv().await), Some(1));
        assert!(tx.try_push(2, 10).is_ok());
        assert!(tx.try_push(3, 10).is_ok());
        assert_eq!(tx.try_push(4, 10), Err(4), "over the count bound");
        assert_eq!(rx.len(), 2);
    }

    #[tokio::test]
    async fn borrowed_room_is_returned_when_taken_or_dropped() {
        let budget = OverflowBudget::new(100);
        let (tx, mut rx) = inbox::<u32>(1, 1000, budget.clone());
        tx.try_push(1, 10).unwrap();
        tx.push_borrowed(2, 60).unwrap();
        assert_eq!(tx.push_borrowed(3, 60), Err(3), "budget exhausted");
        assert_eq!(slot(rx.recv().await), Some(1));
        assert_eq!(slot(rx.recv().await), Some(2));
        assert_eq!(budget.left.load(Ordering::Acquire), 100);
        tx.push_borrowed(4, 60).unwrap();
        drop(rx);
        assert_eq!(budget.left.load(Ordering::Acquire), 100);
        assert!(tx.is_closed());
    }

    #[tokio::test]
    async fn a_loss_is_reported_in_order_and_coalesced() {
        let (tx, mut rx) = inbox::<u32>(8, 1000, OverflowBudget::new(0));
        tx.try_push(1, 1).unwrap();
        tx.record_loss();
        tx.record_loss();
        tx.try_push(2, 1).unwrap();
        assert_eq!(slot(rx.recv().await), Some(1));
        assert!(matches!(rx.recv().await, Some(Slot::Lost(2))));
        assert_eq!(slot(rx.recv().await), Some(2));
        drop(tx);
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn room_wakes_when_the_receiver_takes_or_leaves() {
        let (tx, mut rx) = inbox::<u32>(1, 1000, OverflowBudget::new(0));
        tx.try_push(1, 1).unwrap();
        let waiter = tokio::spawn({
            let tx = tx.clone();
            async move { tx.room().await }
        });
        tokio::task::yield_now().await;
        assert_eq!(slot(rx.recv().await), Some(1));
        waiter.await.unwrap();
        tx.try_push(2, 1).unwrap();
        let waiter = tokio::spawn({
            let tx = tx.clone();
            async move { tx.room().await }
        });
        tokio::task::yield_now().await;
        drop(rx);
        waiter.await.unwrap();
    }
}
