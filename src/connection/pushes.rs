//! Push subscriptions: what the gateway sends unasked (messages,
//! assignments, signals, events) goes to every subscriber whose filter
//! matches, each through a bounded inbox of its own: the handler dispatch
//! task, message streams, frame streams, an orchestrator runner.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use futures_util::Stream;
use parking_lot::RwLock;

use super::inbox::{InboxReceiver, InboxSender, OverflowBudget, Slot, inbox};
use super::state::SessionInfo;
use crate::message::Message;
use crate::proto::downstream_message::Payload as Down;

/// One thing pushed to subscribers.
#[derive(Debug, Clone)]
pub(crate) enum Push {
    /// A message delivered to this client.
    Message(Message),
    /// A frame from the gateway that is not a reply (nor a message).
    Frame(Down),
    /// The connection came up (boxed: pushes move through queues, and a
    /// session is large).
    Connected(Box<SessionInfo>),
    /// The connection went down, with the reason.
    Disconnected(String),
}

/// Which pushes a subscriber wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushFilter {
    /// Every frame and lifecycle event (the handler dispatch task).
    Everything,
    /// Incoming messages.
    Messages,
    /// Every frame but messages.
    Frames,
    /// Task assignments.
    TaskAssignments,
    /// HTTP requests for this client (a terminator), with their request
    /// body chunks, in order.
    ProxyRequests,
    /// Frames of tunnels this client did not dial (a listener), in order.
    Tunnels,
}

/// What kind of push something is, as far as filters care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushClass {
    Message,
    Assignment,
    OtherFrame,
    Lifecycle,
    /// An HTTP request to serve, or a chunk of its body.
    Proxy,
    /// A frame of a tunnel this client was dialled on.
    Tunnel,
}

impl PushClass {
    pub(crate) fn of(push: &Push) -> Self {
        match push {
            Push::Message(_) => PushClass::Message,
            Push::Frame(Down::TaskAssignment(_)) => PushClass::Assignment,
            Push::Frame(Down::ProxyHttpRequest(_)) => PushClass::Proxy,
            Push::Frame(Down::ProxyHttpBodyChunk(c)) if c.is_request => PushClass::Proxy,
            Push::Frame(Down::TunnelData(_) | Down::TunnelAck(_) | Down::TunnelClose(_)) => {
                PushClass::Tunnel
            }
            Push::Frame(_) => PushClass::OtherFrame,
            Push::Connected(_) | Push::Disconnected(_) => PushClass::Lifecycle,
        }
    }
}

impl PushFilter {
    /// HTTP and tunnel frames go only to their own consumers: handlers
    /// have no use for them, and they can be large.
    fn wants(self, class: PushClass) -> bool {
        matches!(
            (self, class),
            (
                PushFilter::Everything,
                PushClass::Message
                    | PushClass::Assignment
                    | PushClass::OtherFrame
                    | PushClass::Lifecycle
            ) | (PushFilter::Messages, PushClass::Message)
                | (
                    PushFilter::Frames,
                    PushClass::Assignment | PushClass::OtherFrame
                )
                | (PushFilter::TaskAssignments, PushClass::Assignment)
                | (PushFilter::ProxyRequests, PushClass::Proxy)
                | (PushFilter::Tunnels, PushClass::Tunnel)
        )
    }
}

#[derive(Clone)]
pub(crate) struct Subscriber {
    id: u64,
    filter: PushFilter,
    pub(crate) tx: InboxSender<Push>,
}

impl Subscriber {
    pub(crate) fn wants(&self, class: PushClass) -> bool {
        self.filter.wants(class)
    }
}

/// The subscribers of one client, copy-on-write so the reader reads them
/// without contention.
pub(crate) struct Subscribers {
    list: RwLock<Arc<Vec<Subscriber>>>,
    version: AtomicU64,
    next_id: AtomicU64,
    budget: Arc<OverflowBudget>,
}

impl Subscribers {
    pub(crate) fn new(budget: Arc<OverflowBudget>) -> Arc<Self> {
        Arc::new(Subscribers {
            list: RwLock::new(Arc::new(Vec::new())),
            version: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            budget,
        })
    }

    /// A new subscriber holding at most `capacity` pushes and `max_bytes`.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        filter: PushFilter,
        capacity: usize,
        max_bytes: usize,
    ) -> PushReceiver {
        let (tx, rx) = inbox(capacity, max_bytes, self.budget.clone());
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.update(|list| list.push(Subscriber { id, filter, tx }));
        PushReceiver {
            rx,
            id,
            subscribers: Arc::downgrade(self),
        }
    }

    /// The current list and its version.
    pub(crate) fn snapshot(&self) -> (u64, Arc<Vec<Subscriber>>) {
        let list = self.list.read().clone();
        (self.version.load(Ordering::Acquire), list)
    }

    /// The current version (changes whenever the list does).
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Subscribers right now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.list.read().len()
    }

    /// Ends every subscription (the client stopped for good): each
    /// subscriber reads what was queued, then the end.
    pub(crate) fn close_all(&self) {
        self.update(Vec::clear);
    }

    fn remove(&self, id: u64) {
        self.update(|list| list.retain(|s| s.id != id));
    }

    fn update(&self, f: impl FnOnce(&mut Vec<Subscriber>)) {
        let mut guard = self.list.write();
        let mut next = (**guard).clone();
        f(&mut next);
        *guard = Arc::new(next);
        self.version.fetch_add(1, Ordering::AcqRel);
    }
}

/// One subscriber's pushes, in arrival order; unsubscribes when dropped.
pub(crate) struct PushReceiver {
    rx: InboxReceiver<Push>,
    id: u64,
    /// Weak: a subscriber must not keep its own sender alive.
    subscribers: Weak<Subscribers>,
}

impl PushReceiver {
    /// The next push (or the count of pushes lost here); `None` when the
    /// client is gone.
    pub(crate) async fn recv(&mut self) -> Option<Slot<Push>> {
        self.rx.recv().await
    }
}

impl Stream for PushReceiver {
    type Item = Slot<Push>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Slot<Push>>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for PushReceiver {
    fn drop(&mut self) {
        if let Some(subscribers) = self.subscribers.upgrade() {
            subscribers.remove(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_pick_their_pushes() {
        let msg = PushClass::of(&Push::Message(
            crate::proto::IncomingMessage::default().into(),
        ));
        let assignment = PushClass::of(&Push::Frame(Down::TaskAssignment(Box::default())));
        let up = PushClass::of(&Push::Disconnected("x".into()));
        assert!(PushFilter::Everything.wants(up));
        assert!(PushFilter::Messages.wants(msg));
        assert!(!PushFilter::Messages.wants(assignment));
        assert!(PushFilter::Frames.wants(assignment));
        assert!(!PushFilter::Frames.wants(msg));
        assert!(!PushFilter::Frames.wants(up));
        assert!(PushFilter::TaskAssignments.wants(assignment));
        let request = PushClass::of(&Push::Frame(Down::ProxyHttpRequest(Box::default())));
        let tunnel = PushClass::of(&Push::Frame(Down::TunnelData(Box::default())));
        assert!(PushFilter::ProxyRequests.wants(request));
        assert!(PushFilter::Tunnels.wants(tunnel));
        assert!(!PushFilter::Everything.wants(request) && !PushFilter::Everything.wants(tunnel));
        assert!(!PushFilter::Frames.wants(tunnel));
    }

    #[test]
    fn dropping_a_receiver_unsubscribes() {
        let subs = Subscribers::new(OverflowBudget::new(0));
        let a = subs.subscribe(PushFilter::Messages, 4, 1024);
        let b = subs.subscribe(PushFilter::Frames, 4, 1024);
        let v = subs.version();
        assert_eq!(subs.len(), 2);
        drop(a);
        assert_eq!(subs.len(), 1);
        assert!(subs.version() > v);
        drop(b);
        assert_eq!(subs.len(), 0);
    }

    #[tokio::test]
    async fn a_subscription_ends_when_the_subscribers_go_or_close() {
        let subs = Subscribers::new(OverflowBudget::new(0));
        let mut a = subs.subscribe(PushFilter::Messages, 4, 1024);
        subs.close_all();
        assert!(a.recv().await.is_none());
        let mut b = subs.subscribe(PushFilter::Messages, 4, 1024);
        drop(subs);
        assert!(b.recv().await.is_none(), "no cycle keeps the sender alive");
    }
}
