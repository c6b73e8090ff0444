//! A session's proxy lane: the ordered queue of HTTP-proxy and tunnel
//! frames on their way to that session's stream, bounded in bytes.
//!
//! Every frame routed to a session (forwarded requests, responses, body
//! chunks, tunnel data, acks and closes, and the gateway's own notices
//! about those flows) goes through its lane, so the frames of one request
//! or tunnel reach it in the order they were pushed. The outbound stream
//! pops from the lane.
//!
//! A lane starts *pending*: nothing can be routed to it until the session
//! has finished its handshake ([`Lane::open`]), so no proxy frame overtakes
//! the `ConnectionAck`. It is *closed* when the session or its stream ends;
//! what it still holds is dropped and later pushes fail.
//!
//! Room: a forwarded frame is accepted while the lane holds less than its
//! byte bound (a larger frame only into an empty lane). When it has no
//! room the sender's waiter ([`Notify`]) is registered and notified once
//! the lane has drained to half its bound, so the sender retries in
//! batches. The gateway's own notices are pushed regardless of room
//! ([`Lane::force`]); there are at most a few per flow, and flows are
//! bounded.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};

use aether_protocol::proto::DownstreamMessage;
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::stats::Stats;

/// Where a lane is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The session is still in its handshake.
    Pending,
    Open,
    Closed,
}

struct State {
    phase: Phase,
    queue: VecDeque<(DownstreamMessage, usize)>,
    bytes: usize,
    cap: usize,
    /// Senders to notify when there is room again.
    waiters: Vec<Arc<Notify>>,
    stats: Option<Arc<Stats>>,
}

impl State {
    fn add(&mut self, msg: DownstreamMessage, size: usize) {
        self.bytes += size;
        if let Some(s) = &self.stats {
            s.proxy_queued_bytes.fetch_add(size as u64, Relaxed);
        }
        self.queue.push_back((msg, size));
    }

    fn has_room(&self, size: usize) -> bool {
        self.queue.is_empty() || self.bytes + size <= self.cap
    }
}

/// The outcome of [`Lane::push`].
#[derive(Debug, PartialEq)]
pub(crate) enum Pushed {
    /// The frame is queued.
    Queued,
    /// No room: the frame (given back) was not queued and the waiter will
    /// be notified.
    Full(DownstreamMessage),
    /// The lane is not open (handshake not finished, or the session ended).
    Closed,
}

/// One session's proxy lane.
pub(crate) struct Lane {
    state: Mutex<State>,
    reader: AtomicWaker,
}

impl Default for Lane {
    fn default() -> Self {
        Lane {
            state: Mutex::new(State {
                phase: Phase::Pending,
                queue: VecDeque::new(),
                bytes: 0,
                cap: 0,
                waiters: Vec::new(),
                stats: None,
            }),
            reader: AtomicWaker::new(),
        }
    }
}

impl Lane {
    /// Opens the lane with a bound of `cap` bytes (a pending lane only).
    pub(crate) fn open(&self, cap: usize, stats: Arc<Stats>) {
        let mut st = self.state.lock();
        if st.phase == Phase::Pending {
            st.phase = Phase::Open;
            st.cap = cap.max(1);
            st.stats = Some(stats);
        }
    }

    /// Whether frames can be routed to this lane.
    pub(crate) fn is_open(&self) -> bool {
        self.state.lock().phase == Phase::Open
    }

    /// Closes the lane: what it holds is dropped, waiting senders are woken
    /// (their pushes now fail) and later pushes fail.
    pub(crate) fn close(&self) {
        let waiters = {
            let mut st = self.state.lock();
            st.phase = Phase::Closed;
            if let Some(s) = &st.stats {
                s.proxy_queued_bytes.fetch_sub(st.bytes as u64, Relaxed);
            }
            st.bytes = 0;
            st.queue.clear();
            std::mem::take(&mut st.waiters)
        };
        for w in waiters {
            w.notify_one();
        }
        self.reader.wake();
    }

    /// Queues a forwarded frame of `size` bytes if there is room; otherwise
    /// registers `waiter` to be notified when there is.
    pub(crate) fn push(&self, msg: DownstreamMessage, size: usize, waiter: &Arc<Notify>) -> Pushed {
        {
            let mut st = self.state.lock();
            if st.phase != Phase::Open {
                return Pushed::Closed;
            }
            if !st.has_room(size) {
                if !st.waiters.iter().any(|w| Arc::ptr_eq(w, waiter)) {
                    st.waiters.push(waiter.clone());
                }
                return Pushed::Full(msg);
            }
            st.add(msg, size);
        }
        self.reader.wake();
        Pushed::Queued
    }

    /// Queues a frame whatever the room (the gateway's own notices);
    /// `false` when the lane is not open.
    pub(crate) fn force(&self, msg: DownstreamMessage, size: usize) -> bool {
        {
            let mut st = self.state.lock();
            if st.phase != Phase::Open {
                return false;
            }
            st.add(msg, size);
        }
        self.reader.wake();
        true
    }

    /// The next frame, registering the stream's waker when there is none.
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<DownstreamMessage> {
        if let Some(m) = self.pop() {
            return Poll::Ready(m);
        }
        self.reader.register(cx.waker());
        match self.pop() {
            Some(m) => Poll::Ready(m),
            None => Poll::Pending,
        }
    }

    fn pop(&self) -> Option<DownstreamMessage> {
        let (msg, waiters) = {
            let mut st = self.state.lock();
            let (msg, size) = st.queue.pop_front()?;
            st.bytes -= size;
            if let Some(s) = &st.stats {
                s.proxy_queued_bytes.fetch_sub(size as u64, Relaxed);
            }
            let drained = st.bytes <= st.cap / 2 || st.queue.is_empty();
            let waiters = if drained && !st.waiters.is_empty() {
                std::mem::take(&mut st.waiters)
            } else {
                Vec::new()
            };
            (msg, waiters)
        };
        for w in waiters {
            w.notify_one();
        }
        Some(msg)
    }

    /// Bytes queued right now.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.state.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aether_protocol::proto::{ErrorResponse, downstream_message::Payload};

    fn msg(n: i64) -> DownstreamMessage {
        DownstreamMessage {
            payload: Some(Payload::Error(Box::new(ErrorResponse {
                retry_after_ms: n,
                ..Default::default()
            }))),
            active_extensions: Vec::new(),
        }
    }

    fn n(m: DownstreamMessage) -> i64 {
        match m.payload {
            Some(Payload::Error(e)) => e.retry_after_ms,
            _ => -1,
        }
    }

    fn pop(lane: &Lane) -> Option<i64> {
        match lane.poll_pop(&mut Context::from_waker(std::task::Waker::noop())) {
            Poll::Ready(m) => Some(n(m)),
            Poll::Pending => None,
        }
    }

    #[test]
    fn nothing_gets_in_before_open_or_after_close() {
        let lane = Lane::default();
        let w = Arc::new(Notify::new());
        assert_eq!(lane.push(msg(1), 1, &w), Pushed::Closed);
        assert!(!lane.force(msg(1), 1));
        lane.open(10, Arc::new(Stats::default()));
        assert_eq!(lane.push(msg(1), 1, &w), Pushed::Queued);
        lane.close();
        assert_eq!(pop(&lane), None);
        assert_eq!(lane.push(msg(2), 1, &w), Pushed::Closed);
        assert!(!lane.is_open());
    }

    #[tokio::test]
    async fn full_lanes_refuse_and_wake_the_sender_at_half() {
        let stats = Arc::new(Stats::default());
        let lane = Lane::default();
        lane.open(100, stats.clone());
        let w = Arc::new(Notify::new());
        for i in 0..4 {
            assert_eq!(lane.push(msg(i), 25, &w), Pushed::Queued);
        }
        assert_eq!(lane.push(msg(9), 25, &w), Pushed::Full(msg(9)));
        assert!(lane.force(msg(4), 25), "notices ignore the bound");
        assert_eq!(stats.proxy_queued_bytes.load(Relaxed), 125);
        assert_eq!(pop(&lane), Some(0));
        assert_eq!(pop(&lane), Some(1));
        let early = tokio::time::timeout(std::time::Duration::from_millis(5), w.notified()).await;
        assert!(early.is_err(), "not woken above half");
        assert_eq!(pop(&lane), Some(2));
        w.notified().await;
        assert_eq!(pop(&lane), Some(3));
        assert_eq!(pop(&lane), Some(4));
        assert_eq!(pop(&lane), None);
        assert_eq!(lane.bytes(), 0);
        assert_eq!(stats.proxy_queued_bytes.load(Relaxed), 0);
        assert_eq!(
            lane.push(msg(5), 1000, &w),
            Pushed::Queued,
            "an empty lane takes a big frame"
        );
    }
}
