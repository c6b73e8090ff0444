//! Where the reader sends each frame: a reply to the call waiting for it,
//! a stream frame to its stream, anything else to the push subscribers.
//!
//! # Delivery policy
//!
//! Every destination is a bounded inbox. What fits is queued. When an
//! inbox is full:
//!
//! * while no call waits for a reply, the reader waits for room: the
//!   connection stops reading, HTTP/2 flow control slows the gateway, and
//!   the gateway slows the sender. Nothing is lost.
//! * while calls wait for replies, waiting could deadlock (a consumer that
//!   awaits a reply before it reads on). The reader then lends the inbox
//!   room from the client's overflow budget (bytes, shared by all inboxes)
//!   and reads on. Only when the budget is spent and the inbox has not
//!   moved for `stall` is an item lost; the loss is counted and reported
//!   to the consumer in place (an error item, or `on_error` for handlers).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::inbox::InboxSender;
use super::outbound::Frame;
use super::pending::{Entry, PendingMap};
use super::pushes::{Push, PushClass, Subscriber, Subscribers};
use super::streams;
use super::streams::StreamTable;
use crate::error::Error;
use crate::frames;
use crate::proto;
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use tokio::sync::mpsc;

/// Bytes a lifecycle event is counted as.
const EVENT_BYTES: usize = 64;

/// What the reader hands the router: a frame, or a push it has already
/// made of one (an incoming message).
pub(super) enum Routable {
    Frame(Down),
    Push(Push),
}

/// Roughly what a push holds in memory, for the byte bounds of inboxes.
fn push_size(push: &Push) -> usize {
    match push {
        Push::Frame(f) => frames::approx_size(f),
        Push::Message(m) => frames::FRAME_OVERHEAD + m.approx_size(),
        Push::Connected(_) | Push::Disconnected(_) => EVENT_BYTES,
    }
}

/// What happened to one item.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Delivered,
    /// The consumer is gone.
    Closed,
    /// The item could not be kept (reported to the consumer).
    Lost,
}

pub(super) struct Router {
    pending: Arc<PendingMap>,
    /// For the engine's own cleanup frames (never waited for).
    outbound: mpsc::Sender<Frame>,
    streams: Arc<StreamTable>,
    subscribers: Arc<Subscribers>,
    stall: Duration,
    lost: Arc<AtomicU64>,
    cached: (u64, Arc<Vec<Subscriber>>),
}

impl Router {
    pub(super) fn new(
        pending: Arc<PendingMap>,
        outbound: mpsc::Sender<Frame>,
        streams: Arc<StreamTable>,
        subscribers: Arc<Subscribers>,
        stall: Duration,
        lost: Arc<AtomicU64>,
    ) -> Self {
        let cached = subscribers.snapshot();
        Router {
            pending,
            outbound,
            streams,
            subscribers,
            stall,
            lost,
            cached,
        }
    }

    /// Routes one item at once if that needs no waiting and no decision
    /// (a reply; a push every subscriber has room for: the common case),
    /// without building the state of the asynchronous path. Gives the item
    /// back, untouched, when [`route`](Self::route) must handle it.
    #[inline]
    pub(super) fn route_now(&mut self, item: Routable) -> Option<Routable> {
        let push = match item {
            Routable::Push(push) => push,
            Routable::Frame(payload) => {
                if let Some(id) = frames::downstream_request_id(&payload) {
                    // A reply nobody waits for any more is the slow path's.
                    let Some(entry) = self.pending.take(id) else {
                        return Some(Routable::Frame(payload));
                    };
                    self.resolve(entry, payload);
                    return None;
                }
                if streams::stream_key(&payload).is_some() {
                    return Some(Routable::Frame(payload));
                }
                Push::Frame(payload)
            }
        };
        self.push_now(push).map(Routable::Push)
    }

    /// Pushes at once when every subscriber has room; else hands it back.
    #[inline]
    pub(super) fn push_now(&mut self, push: Push) -> Option<Push> {
        let subs = self.subscribers();
        let bytes = push_size(&push);
        let class = PushClass::of(&push);
        let mut targets = subs.iter().filter(|s| s.wants(class));
        if !targets.clone().all(|s| s.tx.fits(bytes)) {
            return Some(push);
        }
        let Some(mut current) = targets.next() else {
            self.unserved(push);
            return None;
        };
        for next in targets {
            // Room was checked, and only the reader adds to these inboxes.
            let _ = current.tx.try_push(push.clone(), bytes);
            current = next;
        }
        let _ = current.tx.try_push(push, bytes);
        None
    }

    /// Routes one item. Waits only as the delivery policy says.
    pub(super) async fn route(&mut self, item: Routable) {
        let payload = match item {
            Routable::Push(push) => return self.push(push).await,
            Routable::Frame(payload) => payload,
        };
        let correlated = match frames::downstream_request_id(&payload) {
            None => false,
            Some(id) => match self.pending.take(id) {
                None => true,
                Some(entry) => {
                    self.resolve(entry, payload);
                    return;
                }
            },
        };
        if let Some(key) = streams::stream_key(&payload)
            && let Some(tx) = self.streams.get(&key)
        {
            // Handlers see every task event too (`on_task_event`).
            let also_pushed = matches!(payload, Down::TaskEvent(_)).then(|| payload.clone());
            let bytes = frames::approx_size(&payload);
            let item = match payload {
                Down::Error(e) => Err(Error::from_error_response(&e)),
                frame => Ok(frame),
            };
            self.deliver(&tx, item, bytes).await;
            if let Some(copy) = also_pushed {
                self.push(Push::Frame(copy)).await;
            }
            return;
        }
        if correlated
            && let Some(streams::StreamKey::Subscription(id)) = streams::opened_stream_key(&payload)
        {
            // The reply to a subscription whose caller gave up: nobody
            // will read it, so end it on the gateway too.
            self.end_abandoned_subscription(id);
        }
        self.push(Push::Frame(payload)).await;
    }

    fn end_abandoned_subscription(&self, subscription_id: String) {
        tracing::debug!(%subscription_id, "ending a subscription whose caller gave up");
        let unsubscribe = Up::TaskSubscriptionOp(Box::new(proto::TaskSubscriptionOperation {
            op: proto::task_subscription_operation::OpType::Unsubscribe as i32,
            subscription_id,
            ..Default::default()
        }));
        let frame = Frame {
            msg: proto::UpstreamMessage {
                payload: Some(unsubscribe),
                active_extensions: Vec::new(),
            },
            flag: None,
        };
        if self.outbound.try_send(frame).is_err() {
            tracing::debug!(
                "outbound queue full: the abandoned subscription ends with the session"
            );
        }
    }

    /// A pushed frame nobody takes. A request that waits for an answer (an
    /// HTTP request, a tunnel's open) is refused at once, so its caller
    /// does not wait for its timeout; anything else is dropped.
    fn unserved(&self, push: Push) {
        let refusal = match push {
            Push::Frame(Down::ProxyHttpRequest(r)) if !r.request_id.is_empty() => {
                Up::ProxyHttpResponse(Box::new(proto::ProxyHttpResponse {
                    request_id: r.request_id,
                    error: Some(proto::ProxyError {
                        kind: proto::proxy_error::Kind::SidecarUnavailable as i32,
                        message: "this client does not serve HTTP".to_string(),
                    }),
                    ..Default::default()
                }))
            }
            Push::Frame(Down::TunnelData(d)) if d.seq == 0 && !d.tunnel_id.is_empty() => {
                Up::TunnelClose(Box::new(proto::TunnelClose {
                    tunnel_id: d.tunnel_id,
                    reason: proto::tunnel_close::Reason::PeerReset as i32,
                    detail: "this client does not accept tunnels".to_string(),
                }))
            }
            _ => {
                tracing::debug!("pushed frame with no subscriber dropped");
                return;
            }
        };
        let frame = Frame {
            msg: proto::UpstreamMessage {
                payload: Some(refusal),
                active_extensions: Vec::new(),
            },
            flag: None,
        };
        if self.outbound.try_send(frame).is_err() {
            tracing::debug!("outbound queue full: an unserved request waits for its timeout");
        }
    }

    /// Hands a reply to the call waiting for it; a reply that opens a
    /// stream keys that stream before the next frame is read.
    fn resolve(&self, entry: Entry, payload: Down) {
        let result = match payload {
            Down::Error(e) => Err(Error::from_error_response(&e)),
            reply => {
                if let Some(opener) = entry.opener
                    && let Some(key) = streams::opened_stream_key(&reply)
                {
                    opener.key_as(key, None);
                }
                Ok(reply)
            }
        };
        let _ = entry.tx.send(result);
    }

    /// A lifecycle event for the subscribers that take everything; never
    /// lost, never waited for.
    pub(super) fn event(&mut self, push: Push) {
        let subs = self.subscribers();
        let class = PushClass::of(&push);
        for sub in subs.iter().filter(|s| s.wants(class)) {
            sub.tx.push_always(push.clone());
        }
    }

    fn subscribers(&mut self) -> Arc<Vec<Subscriber>> {
        if self.cached.0 != self.subscribers.version() {
            self.cached = self.subscribers.snapshot();
        }
        self.cached.1.clone()
    }

    async fn push(&mut self, push: Push) {
        let subs = self.subscribers();
        let bytes = push_size(&push);
        let class = PushClass::of(&push);
        let targets = subs.iter().filter(|s| s.wants(class)).count();
        if targets == 0 {
            self.unserved(push);
            return;
        }
        let mut push = Some(push);
        let mut seen = 0;
        for sub in subs.iter() {
            if push.is_none() {
                break;
            }
            if !sub.wants(class) {
                continue;
            }
            seen += 1;
            let item = if seen == targets {
                push.take()
            } else {
                push.clone()
            };
            if let Some(item) = item {
                self.deliver(&sub.tx, item, bytes).await;
            }
        }
    }

    async fn deliver<T>(&self, tx: &InboxSender<T>, item: T, bytes: usize) -> Delivery {
        let mut item = item;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            item = match tx.try_push(item, bytes) {
                Ok(()) => return Delivery::Delivered,
                Err(item) => item,
            };
            if tx.is_closed() {
                return Delivery::Closed;
            }
            if self.pending.len() == 0 {
                deadline = None;
                tokio::select! {
                    _ = tx.room() => {}
                    _ = self.pending.call_started() => {}
                }
                continue;
            }
            item = match tx.push_borrowed(item, bytes) {
                Ok(()) => return Delivery::Delivered,
                Err(item) => item,
            };
            let at = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + self.stall);
            if tokio::time::timeout_at(at, tx.room()).await.is_err() {
                tx.record_loss();
                let total = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    lost_total = total,
                    "a consumer fell behind while calls awaited replies and the overflow \
                     budget is spent: an item was lost (reported to the consumer)"
                );
                return Delivery::Lost;
            }
        }
    }
}
