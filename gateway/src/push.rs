//! Pushes to a live session from anywhere in the gateway (task
//! assignments, progress updates, task events, hibernation notices).
//!
//! A [`Pusher`] holds a *weak* handle on the session's outbound queue, so
//! it never keeps a finished stream open. A push never waits and is never
//! dropped silently: it is queued in order with the session's replies, or,
//! when it would go beyond the session's push bound (items or bytes, see
//! [`QueueLimits`](crate::outbound::QueueLimits)), the session is ended as
//! a slow consumer (`RESOURCE_EXHAUSTED`), which its client sees and can
//! reconnect from. A push to a session that is gone returns `false`.

use std::sync::Arc;

use aether_protocol::proto::DownstreamMessage;

use crate::outbound::{Outbox, PushSide};

/// The push side of one session's stream.
#[derive(Clone)]
pub(crate) struct Pusher {
    side: Arc<PushSide>,
}

impl Pusher {
    /// A pusher onto the stream fed by `out`.
    pub(crate) fn new(out: &Outbox) -> Self {
        Pusher {
            side: Arc::new(out.pushes()),
        }
    }

    /// A pusher connected to nothing (every push is dropped).
    #[cfg(test)]
    pub(crate) fn detached() -> Self {
        let stats = Arc::new(crate::stats::Stats::default());
        let (out, _, _) = crate::outbound::channel(tests::LIMITS, stats);
        Pusher::new(&out)
    }

    /// Queues `msg` for the session; `false` when the session is gone or
    /// was just ended as a slow consumer.
    pub(crate) fn push(&self, msg: DownstreamMessage) -> bool {
        self.side.push(msg)
    }

    /// Whether the session's stream still exists.
    pub(crate) fn is_open(&self) -> bool {
        self.side.is_open()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::{QueueLimits, channel};
    use crate::stats::Stats;
    use futures_util::StreamExt;

    pub(super) const LIMITS: QueueLimits = QueueLimits {
        reply_items: 4,
        reply_bytes: 1024,
        push_items: 8,
        push_bytes: 1024,
    };

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

    fn n(m: aether_protocol::frames::Downstream) -> i64 {
        use aether_protocol::proto::downstream_message::Payload;
        match DownstreamMessage::from(m).payload {
            Some(Payload::Error(e)) => e.retry_after_ms,
            _ => -1,
        }
    }

    #[tokio::test]
    async fn pushes_keep_their_order_with_replies() {
        let stats = Arc::new(Stats::default());
        let (out, _outlet, mut stream) = channel(LIMITS, stats);
        let p = Pusher::new(&out);
        for i in 0..3 {
            assert!(p.push(msg(i)));
        }
        out.reply(msg(3)).await.unwrap();
        assert!(p.push(msg(4)), "pushes never wait");
        for i in 0..5 {
            assert_eq!(stream.next().await.unwrap().map(n).unwrap(), i);
        }
    }

    #[tokio::test]
    async fn a_push_beyond_the_bound_ends_the_session_as_a_slow_consumer() {
        let stats = Arc::new(Stats::default());
        let (out, outlet, mut stream) = channel(LIMITS, stats.clone());
        let p = Pusher::new(&out);
        for i in 0..8 {
            assert!(p.push(msg(i)), "push {i} fits");
        }
        assert!(!p.push(msg(8)), "the ninth does not");
        assert!(outlet.is_killed() && outlet.cancel_token().is_cancelled());
        assert_eq!(stats.snapshot().slow_consumers, 1);
        assert!(!p.push(msg(9)));
        assert!(!p.is_open());
        // The stream ends with the reason; what was queued is freed.
        let status = loop {
            match stream.next().await {
                Some(Err(s)) => break s,
                Some(Ok(_)) => continue,
                None => panic!("ended without a status"),
            }
        };
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(status.message().contains("slow consumer"), "{status:?}");
        assert_eq!(outlet.queued(), (0, 0));
        assert_eq!(stats.snapshot().slow_consumers, 1, "counted once");
    }

    #[tokio::test]
    async fn the_byte_bound_counts_too() {
        let stats = Arc::new(Stats::default());
        let (out, outlet, _stream) = channel(LIMITS, stats);
        let p = Pusher::new(&out);
        let big = |n: i32| {
            let mut m = msg(n);
            if let Some(aether_protocol::proto::downstream_message::Payload::Error(e)) =
                &mut m.payload
            {
                e.message = "x".repeat(600);
            }
            m
        };
        assert!(p.push(big(0)));
        assert!(!p.push(big(1)), "1200 bytes > 1024");
        assert!(outlet.is_killed());
    }

    #[tokio::test]
    async fn replies_wait_for_room_and_a_large_one_goes_alone() {
        let stats = Arc::new(Stats::default());
        let (out, outlet, mut stream) = channel(LIMITS, stats);
        for i in 0..4 {
            out.reply(msg(i)).await.unwrap();
        }
        let waiting = tokio::spawn({
            let out = out.clone();
            async move { out.reply(msg(4)).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "four items wait: no room");
        assert_eq!(stream.next().await.unwrap().map(n).unwrap(), 0);
        waiting.await.unwrap().unwrap();
        for i in 1..5 {
            assert_eq!(stream.next().await.unwrap().map(n).unwrap(), i);
        }
        assert_eq!(outlet.queued(), (0, 0));
        // Larger than the byte bound: queued when nothing else waits.
        let mut huge = msg(5);
        if let Some(aether_protocol::proto::downstream_message::Payload::Error(e)) =
            &mut huge.payload
        {
            e.message = "x".repeat(4096);
        }
        out.reply(huge).await.unwrap();
        assert_eq!(stream.next().await.unwrap().map(n).unwrap(), 5);
    }

    #[tokio::test]
    async fn a_gone_session_drops_pushes() {
        let stats = Arc::new(Stats::default());
        let (out, _outlet, stream) = channel(LIMITS, stats);
        let p = Pusher::new(&out);
        drop(out);
        assert!(!p.push(msg(1)));
        assert!(!p.is_open());
        drop(stream);
        assert!(!Pusher::detached().push(msg(2)));
    }
}
