//! A session's response stream, written by hand (no extra task hop).
//!
//! It yields, in priority order: direct replies from the session task
//! (acks, errors, responses) and pushes from elsewhere in the gateway, then,
//! taking turns, frames from the session's proxy [`Lane`] and messages from
//! the identity's mailbox.
//!
//! What waits to be yielded is bounded in items and bytes ([`QueueLimits`]):
//! the session task waits for room before queuing a reply (its own client
//! is not reading: flow control is right), and a push that would go beyond
//! the push bound ends the session as a *slow consumer*
//! (`RESOURCE_EXHAUSTED`, counted), since a push must never wait and must
//! never be dropped silently. Mailbox messages are popped in batches of at
//! most [`POP_BATCH`] messages and [`POP_BYTES`] bytes; proxy frames are
//! bounded by their lane.
//! It ends when the session task ends it (optionally with a final status)
//! or when the session is killed from outside (admin disconnect, takeover,
//! shutdown): then it yields the kill's signal, if any, and its status.
//! Mailbox messages are popped in batches, so tonic can gather many ready
//! items per poll; popped-but-unsent messages go back to the mailbox when
//! the stream ends.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use aether_protocol::frames::Downstream;
use aether_protocol::proto::{DownstreamMessage, Signal, downstream_message};
use aether_protocol::shared::SharedIncoming;
use futures_util::Stream;
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use prost::Message;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::lane::Lane;
use crate::mailbox::{Mailbox, Popped};
use crate::stats::Stats;

/// Most messages moved out of a mailbox per lock.
const POP_BATCH: usize = 64;
/// Most bytes moved out of a mailbox per lock (at least one message).
const POP_BYTES: usize = 256 * 1024;

static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

/// What goes to a session's stream.
pub(crate) enum Out {
    /// A reply or push (boxed: a `DownstreamMessage` is large) and the
    /// bytes it is accounted for.
    Msg(Box<DownstreamMessage>, usize),
    /// Start delivering from this mailbox (sent after the ack).
    Attach(Arc<Mailbox>),
    /// End the stream with this status.
    End(Status),
}

/// Bounds of what waits in a session's outbound queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueLimits {
    /// The session task waits before queuing a reply while this many
    /// items are queued...
    pub(crate) reply_items: usize,
    /// ... or this many bytes (a larger reply goes alone).
    pub(crate) reply_bytes: usize,
    /// A push that would make more items wait ends the session.
    pub(crate) push_items: usize,
    /// A push that would make more bytes wait ends the session.
    pub(crate) push_bytes: usize,
}

/// The stream is gone (the client left or the session was ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gone;

/// How a session is ended from outside.
pub(crate) struct Kill {
    pub(crate) signal: Option<Signal>,
    pub(crate) status: Status,
}

/// The part of a stream other tasks can reach: the kill switch and the
/// proxy lane and the accounting of what waits in its queue.
pub(crate) struct Outlet {
    epoch: u64,
    killed: AtomicBool,
    kill: Mutex<Option<Kill>>,
    waker: AtomicWaker,
    /// HTTP-proxy and tunnel frames on their way to this stream.
    pub(crate) lane: Lane,
    /// Cancelled with the kill: the session task stops.
    cancel: CancellationToken,
    limits: QueueLimits,
    /// Items and bytes queued and not yet yielded.
    items: AtomicUsize,
    bytes: AtomicUsize,
    /// The session task waiting for room.
    room: Notify,
    room_waiters: AtomicUsize,
    stats: Arc<Stats>,
}

impl Outlet {
    fn new(limits: QueueLimits, stats: Arc<Stats>) -> Self {
        Outlet {
            epoch: NEXT_EPOCH.fetch_add(1, Ordering::Relaxed),
            killed: AtomicBool::new(false),
            kill: Mutex::new(None),
            waker: AtomicWaker::new(),
            lane: Lane::default(),
            cancel: CancellationToken::new(),
            limits,
            items: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            room: Notify::new(),
            room_waiters: AtomicUsize::new(0),
            stats,
        }
    }

    /// Whether the stream was killed (one atomic load, no lock).
    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// The token cancelled when the stream is killed.
    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Ends the stream with `kill` (the first kill wins) and cancels the
    /// session task.
    pub(crate) fn kill(&self, kill: Kill) {
        {
            let mut slot = self.kill.lock();
            if self.killed.load(Ordering::Acquire) {
                return;
            }
            *slot = Some(kill);
            self.killed.store(true, Ordering::Release);
        }
        self.waker.wake();
        self.cancel.cancel();
        // A session task waiting for room stops waiting.
        self.room.notify_waiters();
    }

    /// Items and bytes waiting in the queue.
    pub(crate) fn queued(&self) -> (usize, usize) {
        (
            self.items.load(Ordering::SeqCst),
            self.bytes.load(Ordering::SeqCst),
        )
    }

    fn reply_fits(&self, size: usize) -> bool {
        let (items, bytes) = self.queued();
        items == 0
            || (items < self.limits.reply_items
                && bytes.saturating_add(size) <= self.limits.reply_bytes)
    }

    /// Accounts a push of `size` bytes, unless it would go beyond the push
    /// bound.
    fn admit_push(&self, size: usize) -> bool {
        let items = self.items.fetch_add(1, Ordering::SeqCst);
        let bytes = self.bytes.fetch_add(size, Ordering::SeqCst);
        if items > 0
            && (items >= self.limits.push_items
                || bytes.saturating_add(size) > self.limits.push_bytes)
        {
            self.yielded(size);
            return false;
        }
        true
    }

    /// One item of `size` bytes left the queue.
    fn yielded(&self, size: usize) {
        self.items.fetch_sub(1, Ordering::SeqCst);
        self.bytes.fetch_sub(size, Ordering::SeqCst);
        if self.room_waiters.load(Ordering::SeqCst) > 0 {
            self.room.notify_waiters();
        }
    }

    /// Ends the session: pushes to it backed up beyond their bound.
    fn slow_consumer(&self, size: usize) {
        if self.is_killed() {
            return;
        }
        let (items, bytes) = self.queued();
        let l = self.limits;
        tracing::warn!(
            items,
            bytes,
            "slow consumer: pushes backed up beyond their bound; ending the session"
        );
        Stats::bump(&self.stats.slow_consumers);
        self.kill(Kill {
            signal: None,
            status: Status::resource_exhausted(format!(
                "slow consumer: {items} items ({bytes} bytes) wait for this stream and a \
                 {size}-byte push would exceed the bound ({} items, {} bytes); read your \
                 stream, then reconnect",
                l.push_items, l.push_bytes
            )),
        });
    }
}

/// The session task's side of its stream: replies wait for room.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Out>,
    outlet: Arc<Outlet>,
}

impl Outbox {
    /// Queues `msg`, first waiting while the queue is at its reply bound;
    /// [`Gone`] when the stream is gone or killed.
    pub(crate) async fn reply(&self, msg: DownstreamMessage) -> Result<(), Gone> {
        let size = msg.encoded_len();
        let o = &self.outlet;
        if !o.reply_fits(size) {
            o.room_waiters.fetch_add(1, Ordering::SeqCst);
            let waited = async {
                loop {
                    let room = o.room.notified();
                    tokio::pin!(room);
                    room.as_mut().enable();
                    if o.is_killed() || self.tx.is_closed() {
                        return Err(Gone);
                    }
                    if o.reply_fits(size) {
                        return Ok(());
                    }
                    room.await;
                }
            }
            .await;
            o.room_waiters.fetch_sub(1, Ordering::SeqCst);
            waited?;
        }
        o.items.fetch_add(1, Ordering::SeqCst);
        o.bytes.fetch_add(size, Ordering::SeqCst);
        self.tx.send(Out::Msg(Box::new(msg), size)).map_err(|_| {
            o.yielded(size);
            Gone
        })
    }

    /// Resolves when the stream is gone (the client left, or the stream
    /// was released after a kill).
    pub(crate) async fn closed(&self) {
        self.tx.closed().await
    }

    /// Queues a control item (no accounting, never waits).
    pub(crate) fn control(&self, out: Out) -> Result<(), Gone> {
        self.tx.send(out).map_err(|_| Gone)
    }

    /// A weak handle for pushes from elsewhere: it never keeps the stream
    /// open.
    pub(crate) fn pushes(&self) -> PushSide {
        PushSide {
            tx: self.tx.downgrade(),
            outlet: self.outlet.clone(),
        }
    }
}

/// The push side of a stream (held weakly; see [`Outbox::pushes`]).
pub(crate) struct PushSide {
    tx: mpsc::WeakUnboundedSender<Out>,
    outlet: Arc<Outlet>,
}

impl PushSide {
    /// Queues `msg` without waiting; `false` when the stream is gone or the
    /// push would go beyond the push bound, in which case the session is
    /// ended as a slow consumer.
    pub(crate) fn push(&self, msg: DownstreamMessage) -> bool {
        let Some(tx) = self.tx.upgrade() else {
            return false;
        };
        if self.outlet.is_killed() {
            return false;
        }
        let size = msg.encoded_len();
        if !self.outlet.admit_push(size) {
            self.outlet.slow_consumer(size);
            return false;
        }
        match tx.send(Out::Msg(Box::new(msg), size)) {
            Ok(()) => true,
            Err(_) => {
                self.outlet.yielded(size);
                false
            }
        }
    }

    /// Whether the stream still exists.
    pub(crate) fn is_open(&self) -> bool {
        self.tx
            .upgrade()
            .is_some_and(|tx| !tx.is_closed() && !self.outlet.is_killed())
    }
}

/// The response stream of one `Connect` call.
pub(crate) struct OutboundStream {
    rx: mpsc::UnboundedReceiver<Out>,
    outlet: Arc<Outlet>,
    stats: Arc<Stats>,
    mailbox: Option<Arc<Mailbox>>,
    buffer: VecDeque<SharedIncoming>,
    tail: VecDeque<Result<Downstream, Status>>,
    done: bool,
    /// Whether the lane goes before the mailbox next time.
    lane_turn: bool,
}

/// Creates a stream, its reply side and its kill switch.
pub(crate) fn channel(
    limits: QueueLimits,
    stats: Arc<Stats>,
) -> (Outbox, Arc<Outlet>, OutboundStream) {
    let (tx, rx) = mpsc::unbounded_channel();
    let outlet = Arc::new(Outlet::new(limits, stats.clone()));
    let stream = OutboundStream {
        rx,
        outlet: outlet.clone(),
        stats,
        mailbox: None,
        buffer: VecDeque::new(),
        tail: VecDeque::new(),
        done: false,
        lane_turn: true,
    };
    let outbox = Outbox {
        tx,
        outlet: outlet.clone(),
    };
    (outbox, outlet, stream)
}

fn wrap(payload: downstream_message::Payload) -> Downstream {
    Downstream::Frame(DownstreamMessage {
        payload: Some(payload),
        active_extensions: Vec::new(),
    })
}

impl OutboundStream {
    /// Stops delivering: unsent messages go back, the mailbox is released,
    /// the lane is closed.
    fn release(&mut self) {
        self.outlet.lane.close();
        if let Some(mb) = self.mailbox.take() {
            mb.unpop(&mut self.buffer);
            mb.detach(self.outlet.epoch);
        }
        self.buffer.clear();
        // Whatever is still queued will never be yielded: free it now.
        self.rx.close();
        while let Ok(out) = self.rx.try_recv() {
            match out {
                Out::Msg(_, size) => self.outlet.yielded(size),
                Out::Attach(_) | Out::End(_) => {}
            }
        }
    }

    fn finish(&mut self, last: Option<Status>) {
        self.release();
        if let Some(status) = last {
            self.tail.push_back(Err(status));
        }
        self.done = true;
    }

    fn take_kill(&mut self) {
        let kill = self.outlet.kill.lock().take();
        self.release();
        if let Some(kill) = kill {
            if let Some(signal) = kill.signal {
                self.tail
                    .push_back(Ok(wrap(downstream_message::Payload::Signal(Box::new(
                        signal,
                    )))));
            }
            self.tail.push_back(Err(kill.status));
        }
        self.done = true;
    }
}

impl Stream for OutboundStream {
    /// Mailbox messages go out as [`Downstream::Message`]: their topics
    /// are the sender's, shared, and are written without a copy per
    /// message into an `IncomingMessage`.
    type Item = Result<Downstream, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.tail.pop_front() {
                return Poll::Ready(Some(item));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if this.outlet.killed.load(Ordering::Acquire) {
                this.take_kill();
                continue;
            }
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(Out::Msg(m, size))) => {
                    this.outlet.yielded(size);
                    return Poll::Ready(Some(Ok(Downstream::Frame(*m))));
                }
                Poll::Ready(Some(Out::Attach(mb))) => {
                    mb.attach(this.outlet.epoch);
                    this.mailbox = Some(mb);
                    continue;
                }
                Poll::Ready(Some(Out::End(status))) => {
                    this.finish(Some(status));
                    continue;
                }
                Poll::Ready(None) => {
                    this.finish(None);
                    continue;
                }
                Poll::Pending => {}
            }
            if this.lane_turn
                && let Poll::Ready(m) = this.outlet.lane.poll_pop(cx)
            {
                this.lane_turn = false;
                return Poll::Ready(Some(Ok(Downstream::Frame(m))));
            }
            if let Some(m) = this.buffer.pop_front() {
                this.lane_turn = true;
                this.stats.messages_delivered.bump();
                return Poll::Ready(Some(Ok(Downstream::Message(m))));
            }
            if let Some(mb) = &this.mailbox {
                match mb.pop_into(
                    this.outlet.epoch,
                    &mut this.buffer,
                    POP_BATCH,
                    POP_BYTES,
                    cx.waker(),
                    &this.stats,
                ) {
                    Popped::Some => continue,
                    Popped::Empty => {}
                    Popped::NotOwner => {
                        // Another session took the identity over; it killed
                        // us first, so the kill is (about to be) visible.
                        this.mailbox = None;
                        continue;
                    }
                }
            }
            if let Poll::Ready(m) = this.outlet.lane.poll_pop(cx) {
                this.lane_turn = false;
                return Poll::Ready(Some(Ok(Downstream::Frame(m))));
            }
            this.outlet.waker.register(cx.waker());
            if this.outlet.killed.load(Ordering::Acquire) {
                continue;
            }
            return Poll::Pending;
        }
    }
}

impl Drop for OutboundStream {
    fn drop(&mut self) {
        self.release();
    }
}
