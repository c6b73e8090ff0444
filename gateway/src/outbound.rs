//! A session's response stream, written by hand (no extra task hop).
//!
//! It yields, in priority order: direct replies from the session task
//! (acks, errors, responses), then, taking turns, frames from the
//! session's proxy [`Lane`] and messages from the identity's mailbox.
//! It ends when the session task ends it (optionally with a final status)
//! or when the session is killed from outside (admin disconnect, takeover,
//! shutdown): then it yields the kill's signal, if any, and its status.
//! Mailbox messages are popped in batches, so tonic can gather many ready
//! items per poll; popped-but-unsent messages go back to the mailbox when
//! the stream ends.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use aether_protocol::proto::{DownstreamMessage, IncomingMessage, Signal, downstream_message};
use futures_util::Stream;
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tonic::Status;

use crate::lane::Lane;
use crate::mailbox::{Mailbox, Popped};
use crate::stats::Stats;

/// Largest batch moved out of a mailbox per lock.
const POP_BATCH: usize = 64;

static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

/// What the session task sends to its stream.
pub(crate) enum Out {
    /// A direct reply or push (boxed: a `DownstreamMessage` is large).
    Msg(Box<DownstreamMessage>),
    /// Start delivering from this mailbox (sent after the ack).
    Attach(Arc<Mailbox>),
    /// End the stream with this status.
    End(Status),
}

/// How a session is ended from outside.
pub(crate) struct Kill {
    pub(crate) signal: Option<Signal>,
    pub(crate) status: Status,
}

/// The part of a stream other tasks can reach: the kill switch and the
/// proxy lane.
pub(crate) struct Outlet {
    epoch: u64,
    killed: AtomicBool,
    kill: Mutex<Option<Kill>>,
    waker: AtomicWaker,
    /// HTTP-proxy and tunnel frames on their way to this stream.
    pub(crate) lane: Lane,
}

impl Outlet {
    fn new() -> Self {
        Outlet {
            epoch: NEXT_EPOCH.fetch_add(1, Ordering::Relaxed),
            killed: AtomicBool::new(false),
            kill: Mutex::new(None),
            waker: AtomicWaker::new(),
            lane: Lane::default(),
        }
    }

    /// Whether the stream was killed (one atomic load, no lock).
    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Ends the stream with `kill` (the first kill wins).
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
    }
}

/// The response stream of one `Connect` call.
pub(crate) struct OutboundStream {
    rx: mpsc::Receiver<Out>,
    outlet: Arc<Outlet>,
    stats: Arc<Stats>,
    mailbox: Option<Arc<Mailbox>>,
    buffer: VecDeque<IncomingMessage>,
    tail: VecDeque<Result<DownstreamMessage, Status>>,
    done: bool,
    /// Whether the lane goes before the mailbox next time.
    lane_turn: bool,
}

/// Creates a stream, its direct-reply sender and its kill switch.
pub(crate) fn channel(
    capacity: usize,
    stats: Arc<Stats>,
) -> (mpsc::Sender<Out>, Arc<Outlet>, OutboundStream) {
    let (tx, rx) = mpsc::channel(capacity);
    let outlet = Arc::new(Outlet::new());
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
    (tx, outlet, stream)
}

fn wrap(payload: downstream_message::Payload) -> DownstreamMessage {
    DownstreamMessage {
        payload: Some(payload),
        active_extensions: Vec::new(),
    }
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
    type Item = Result<DownstreamMessage, Status>;

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
                Poll::Ready(Some(Out::Msg(m))) => return Poll::Ready(Some(Ok(*m))),
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
                return Poll::Ready(Some(Ok(m)));
            }
            if let Some(m) = this.buffer.pop_front() {
                this.lane_turn = true;
                Stats::bump(&this.stats.messages_delivered);
                return Poll::Ready(Some(Ok(wrap(downstream_message::Payload::Msg(Box::new(
                    m,
                ))))));
            }
            if let Some(mb) = &this.mailbox {
                match mb.pop_into(
                    this.outlet.epoch,
                    &mut this.buffer,
                    POP_BATCH,
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
                return Poll::Ready(Some(Ok(m)));
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
