//! Pushes to a live session from anywhere in the gateway (task
//! assignments, progress updates, task events, hibernation notices).
//!
//! A [`Pusher`] holds a *weak* handle on the session's direct-reply queue,
//! so it never keeps a finished stream open. A push never waits: it goes
//! into the queue when there is room; otherwise it joins a per-session
//! overflow list drained in order by one helper task, so pushes keep their
//! order. Pushes to a session that is gone are dropped (`false`).

use std::collections::VecDeque;
use std::sync::Arc;

use aether_protocol::proto::DownstreamMessage;
use parking_lot::Mutex;
use tokio::sync::mpsc::{self, WeakSender, error::TrySendError};

use crate::outbound::Out;

/// Most pushes parked for one congested session; beyond it pushes are dropped.
const MAX_OVERFLOW: usize = 10_000;

/// The push side of one session's stream.
#[derive(Clone)]
pub(crate) struct Pusher {
    inner: Arc<Inner>,
}

struct Inner {
    tx: WeakSender<Out>,
    overflow: Mutex<Overflow>,
}

#[derive(Default)]
struct Overflow {
    queue: VecDeque<DownstreamMessage>,
    draining: bool,
}

impl Pusher {
    /// A pusher onto the stream fed by `tx`.
    pub(crate) fn new(tx: &mpsc::Sender<Out>) -> Self {
        Pusher {
            inner: Arc::new(Inner {
                tx: tx.downgrade(),
                overflow: Mutex::new(Overflow::default()),
            }),
        }
    }

    /// A pusher connected to nothing (every push is dropped).
    #[cfg(test)]
    pub(crate) fn detached() -> Self {
        let (tx, _) = mpsc::channel(1);
        Pusher::new(&tx)
    }

    /// Queues `msg` for the session; `false` when the session is gone (or
    /// hopelessly congested) and the message was dropped.
    pub(crate) fn push(&self, msg: DownstreamMessage) -> bool {
        let Some(tx) = self.inner.tx.upgrade() else {
            return false;
        };
        let mut of = self.inner.overflow.lock();
        if of.queue.is_empty() {
            match tx.try_send(Out::Msg(Box::new(msg))) {
                Ok(()) => return true,
                Err(TrySendError::Closed(_)) => return false,
                Err(TrySendError::Full(Out::Msg(m))) => of.queue.push_back(*m),
                Err(TrySendError::Full(_)) => return false,
            }
        } else if of.queue.len() >= MAX_OVERFLOW {
            tracing::warn!("session push overflow full; dropping a push");
            return false;
        } else {
            of.queue.push_back(msg);
        }
        if !of.draining {
            of.draining = true;
            let inner = self.inner.clone();
            tokio::spawn(drain(inner, tx));
        }
        true
    }

    /// Whether the session's stream still exists.
    pub(crate) fn is_open(&self) -> bool {
        self.inner.tx.upgrade().is_some_and(|tx| !tx.is_closed())
    }
}

/// Sends the overflow in order, waiting for room.
async fn drain(inner: Arc<Inner>, tx: mpsc::Sender<Out>) {
    loop {
        let next = {
            let mut of = inner.overflow.lock();
            match of.queue.pop_front() {
                Some(m) => m,
                None => {
                    of.draining = false;
                    return;
                }
            }
        };
        if tx.send(Out::Msg(Box::new(next))).await.is_err() {
            let mut of = inner.overflow.lock();
            of.queue.clear();
            of.draining = false;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: i32) -> DownstreamMessage {
        use aether_protocol::proto::{ErrorResponse, downstream_message::Payload};
        DownstreamMessage {
            payload: Some(Payload::Error(Box::new(ErrorResponse {
                retry_after_ms: n as i64,
                ..Default::default()
            }))),
            active_extensions: Vec::new(),
        }
    }

    fn n(out: Out) -> i64 {
        use aether_protocol::proto::downstream_message::Payload;
        match out {
            Out::Msg(m) => match m.payload {
                Some(Payload::Error(e)) => e.retry_after_ms,
                _ => -1,
            },
            _ => -1,
        }
    }

    #[tokio::test]
    async fn keeps_order_through_the_overflow() {
        let (tx, mut rx) = mpsc::channel(2);
        let p = Pusher::new(&tx);
        for i in 0..10 {
            assert!(p.push(msg(i)));
        }
        for i in 0..10 {
            assert_eq!(rx.recv().await.map(n), Some(i));
        }
    }

    #[tokio::test]
    async fn a_gone_session_drops_pushes() {
        let (tx, rx) = mpsc::channel(2);
        let p = Pusher::new(&tx);
        drop(tx);
        assert!(!p.push(msg(1)));
        assert!(!p.is_open());
        drop(rx);
        assert!(!Pusher::detached().push(msg(2)));
    }
}
