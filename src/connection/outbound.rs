//! The outbound side: a bounded frame queue that outlives connections, and
//! the per-connection stream tonic pulls frames from.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::pending::FrameFlag;
use crate::proto::UpstreamMessage;

/// One queued upstream frame, with the flag of the call waiting for its
/// reply (none for fire-and-forget frames).
pub(crate) struct Frame {
    pub(crate) msg: UpstreamMessage,
    pub(crate) flag: Option<Arc<FrameFlag>>,
}

/// State shared by the queue's producers, the driver and the streams.
pub(crate) struct OutboundQueue {
    rx: Mutex<mpsc::Receiver<Frame>>,
    /// Bumped when a connection ends; a stream of an older epoch stops.
    epoch: AtomicU64,
    /// Set by `close()`: the current stream drains the queue, then ends.
    closing: AtomicBool,
    waker: AtomicWaker,
}

impl OutboundQueue {
    pub(crate) fn new(capacity: usize) -> (mpsc::Sender<Frame>, Arc<Self>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let q = OutboundQueue {
            rx: Mutex::new(rx),
            epoch: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        };
        (tx, Arc::new(q))
    }

    /// A stream for a new connection: `first` frames (the handshake and any
    /// replayed state) go out before anything queued.
    pub(crate) fn stream(self: &Arc<Self>, first: Vec<UpstreamMessage>) -> OutboundStream {
        OutboundStream {
            queue: self.clone(),
            epoch: self.epoch.load(Ordering::Acquire),
            first: first.into(),
        }
    }

    /// Ends the current connection's stream (the connection was lost).
    pub(crate) fn end_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.waker.wake();
    }

    /// Asks the current stream to flush what is queued and end.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// The request stream of one connection.
pub(crate) struct OutboundStream {
    queue: Arc<OutboundQueue>,
    epoch: u64,
    first: VecDeque<UpstreamMessage>,
}

impl Stream for OutboundStream {
    type Item = UpstreamMessage;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<UpstreamMessage>> {
        let this = self.get_mut();
        if let Some(msg) = this.first.pop_front() {
            return Poll::Ready(Some(msg));
        }
        let q = &*this.queue;
        if q.epoch.load(Ordering::Acquire) != this.epoch {
            return Poll::Ready(None);
        }
        let closing = q.closing.load(Ordering::Acquire);
        let mut rx = q.rx.lock();
        loop {
            let polled = if closing {
                match rx.try_recv() {
                    Ok(frame) => Poll::Ready(Some(frame)),
                    Err(_) => Poll::Ready(None),
                }
            } else {
                rx.poll_recv(cx)
            };
            match polled {
                Poll::Ready(Some(frame)) => {
                    if let Some(flag) = &frame.flag {
                        if flag.is_cancelled() {
                            continue;
                        }
                        flag.mark_sent();
                    }
                    return Poll::Ready(Some(frame.msg));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    drop(rx);
                    // Register for `end_epoch`/`close`, then re-check: either
                    // we see their flag now, or their wake reaches us.
                    q.waker.register(cx.waker());
                    if q.epoch.load(Ordering::Acquire) != this.epoch {
                        return Poll::Ready(None);
                    }
                    if q.closing.load(Ordering::Acquire) {
                        cx.waker().wake_by_ref();
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}
