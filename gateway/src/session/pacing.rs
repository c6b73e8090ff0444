//! Pacing a sender without head-of-line blocking.
//!
//! When a send leaves its receiver's mailbox congested, the session paces
//! for that receiver: until the mailbox drains to a quarter, or
//! [`Limits::backpressure_wait`](crate::Limits::backpressure_wait) passes
//! (the receiver is then lagging and paces nobody). Meanwhile the session
//! goes on reading and serving everything else (KV, tasks, sessions, sends
//! to other targets); sends to the paced target are held, in order, and
//! routed when the pause ends. What is held is bounded by
//! [`HELD_MAX_BYTES`]: beyond it the session stops reading until the pause
//! ends, so a fast sender is slowed by HTTP/2 flow control and loses
//! nothing (a reader that keeps up paces it losslessly).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use aether_protocol::proto::UpstreamMessage;
use aether_protocol::proto::upstream_message::Payload;

use crate::mailbox::{Mailbox, Paced};
use crate::stats::Stats;

/// Most bytes of sends one session holds for a paused receiver.
pub(super) const HELD_MAX_BYTES: usize = 1024 * 1024;

/// One pause for a congested receiver.
pub(super) struct Pacing {
    /// The target topic, as the sender wrote it, whose sends are held.
    topic: String,
    wait: Pin<Box<dyn Future<Output = Paced> + Send + Sync>>,
    stats: Arc<Stats>,
}

impl Pacing {
    /// Starts pacing for `receiver`, reached through `topic`, for at most
    /// `max`.
    pub(super) fn start(
        topic: String,
        receiver: Arc<Mailbox>,
        max: Duration,
        stats: &Arc<Stats>,
    ) -> Self {
        Stats::bump(&stats.backpressure_waits);
        Stats::bump(&stats.senders_waiting);
        Pacing {
            topic,
            wait: Box::pin(async move { receiver.pace(max).await }),
            stats: stats.clone(),
        }
    }

    /// Whether `msg` must wait for this pause to end: a send to the paced
    /// target.
    pub(super) fn holds(&self, msg: &UpstreamMessage) -> bool {
        matches!(&msg.payload, Some(Payload::Send(s)) if s.target_topic == self.topic)
    }
}

impl Future for Pacing {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.wait.as_mut().poll(cx) {
            Poll::Ready(Paced::Lagging) => {
                Stats::bump(&self.stats.receivers_lagging);
                Poll::Ready(())
            }
            Poll::Ready(Paced::Drained) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Pacing {
    fn drop(&mut self) {
        self.stats.senders_waiting.fetch_sub(1, Ordering::Relaxed);
    }
}
