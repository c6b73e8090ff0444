//! The dispatch task: serves pushes to handlers in order, off the reader.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use futures_util::FutureExt;
use parking_lot::RwLock;
use std::time::Duration;

use tokio::sync::{Notify, broadcast, mpsc};

use super::{Handler, Handlers};
use crate::connection::SessionInfo;
use crate::message::Message;
use crate::proto::downstream_message::Payload;

/// Something for the handlers.
pub(crate) enum Push {
    /// A message.
    Message(Message),
    /// Another frame from the gateway that no call was waiting for.
    Frame(Box<Payload>),
    /// The connection came up.
    Connected(SessionInfo),
    /// The connection went down, with the reason.
    Disconnected(String),
}

/// The reader's side of dispatch: hand over and never wait.
#[derive(Clone)]
pub(crate) struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::UnboundedSender<Push>,
    queued: AtomicUsize,
    capacity: usize,
    dropped: AtomicU64,
    /// Signalled when the dispatch task takes a push off a full queue.
    room: Notify,
    room_waiters: AtomicUsize,
    handlers: RwLock<Arc<Handlers>>,
    messages: broadcast::Sender<Message>,
    frames: broadcast::Sender<Arc<Payload>>,
}

impl Dispatcher {
    /// Starts the dispatch task on the current runtime.
    pub(crate) fn spawn(capacity: usize, stream_capacity: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (messages, _) = broadcast::channel(stream_capacity.max(1));
        let (frames, _) = broadcast::channel(stream_capacity.max(1));
        let inner = Arc::new(Inner {
            tx,
            queued: AtomicUsize::new(0),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
            room: Notify::new(),
            room_waiters: AtomicUsize::new(0),
            handlers: RwLock::new(Arc::new(Handlers::default())),
            messages,
            frames,
        });
        let task_inner = Arc::downgrade(&inner);
        tokio::spawn(run(task_inner, rx));
        Dispatcher { inner }
    }

    /// Hands a frame over. When the queue is full the reader waits for room
    /// (so HTTP/2 flow control slows the gateway, and the gateway slows the
    /// sender: nothing is lost) — unbounded while no call awaits a reply,
    /// since then no handler can be waiting for a frame behind this one;
    /// otherwise at most `stall`, after which the frame is dropped and
    /// counted so that a reply a handler waits for can still be read.
    pub(crate) async fn frame(
        &self,
        payload: Payload,
        calls_pending: impl Fn() -> bool,
        stall: Duration,
    ) {
        let push = match payload {
            Payload::Msg(m) => {
                let msg = Message::from(m);
                if self.inner.messages.receiver_count() > 0 {
                    let _ = self.inner.messages.send(msg.clone());
                }
                Push::Message(msg)
            }
            other => {
                if self.inner.frames.receiver_count() > 0 {
                    let _ = self.inner.frames.send(Arc::new(other.clone()));
                }
                Push::Frame(Box::new(other))
            }
        };
        if self.inner.queued.load(Ordering::Acquire) >= self.inner.capacity
            && !self.wait_for_room(calls_pending, stall).await
        {
            let n = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                dropped_total = n,
                "dispatch queue full while calls await replies: a pushed frame was dropped \
                 (a handler may be waiting for a reply behind it)"
            );
            return;
        }
        self.inner.queued.fetch_add(1, Ordering::AcqRel);
        if self.inner.tx.send(push).is_err() {
            self.inner.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Waits until the queue has room; false if it stalled (see `frame`).
    async fn wait_for_room(&self, calls_pending: impl Fn() -> bool, stall: Duration) -> bool {
        let inner = &self.inner;
        inner.room_waiters.fetch_add(1, Ordering::AcqRel);
        let mut deadline: Option<tokio::time::Instant> = None;
        let ok = loop {
            let notified = inner.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if inner.queued.load(Ordering::Acquire) < inner.capacity {
                break true;
            }
            if calls_pending() {
                let at = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + stall);
                if tokio::time::timeout_at(at, notified).await.is_err() {
                    break false;
                }
            } else {
                deadline = None;
                // Re-check now and then: a call may start while we wait.
                let _ = tokio::time::timeout(stall, notified).await;
            }
        };
        inner.room_waiters.fetch_sub(1, Ordering::AcqRel);
        ok
    }

    /// Hands a lifecycle event over (never dropped).
    pub(crate) fn event(&self, push: Push) {
        self.inner.queued.fetch_add(1, Ordering::AcqRel);
        if self.inner.tx.send(push).is_err() {
            self.inner.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Frames dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Changes the handlers.
    pub(crate) fn update(&self, f: impl FnOnce(&mut Handlers)) {
        let mut guard = self.inner.handlers.write();
        let mut next = (**guard).clone();
        f(&mut next);
        *guard = Arc::new(next);
    }

    /// A new message subscriber.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Message> {
        self.inner.messages.subscribe()
    }

    /// A new subscriber to every other uncorrelated frame (task events,
    /// assignments, progress, signals, errors...), for components that
    /// build their own streams (e.g. task subscriptions).
    pub(crate) fn subscribe_frames(&self) -> broadcast::Receiver<Arc<Payload>> {
        self.inner.frames.subscribe()
    }
}

async fn call<T>(name: &'static str, h: &Handler<T>, arg: T) {
    if let Err(panic) = AssertUnwindSafe(h(arg)).catch_unwind().await {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(handler = name, panic = %what, "handler panicked; dispatch continues");
    }
}

async fn run(inner: std::sync::Weak<Inner>, mut rx: mpsc::UnboundedReceiver<Push>) {
    while let Some(push) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { break };
        inner.queued.fetch_sub(1, Ordering::AcqRel);
        if inner.room_waiters.load(Ordering::Acquire) > 0 {
            inner.room.notify_waiters();
        }
        let handlers = inner.handlers.read().clone();
        drop(inner);
        serve(&handlers, push).await;
    }
}

async fn serve(h: &Handlers, push: Push) {
    match push {
        Push::Connected(info) => {
            if let Some(f) = &h.on_connect {
                call("on_connect", f, info).await;
            }
        }
        Push::Disconnected(reason) => {
            if let Some(f) = &h.on_disconnect {
                call("on_disconnect", f, reason).await;
            }
        }
        Push::Message(msg) => match (h.typed_for(&msg), &h.on_message) {
            (Some(typed), Some(all)) => {
                call("typed message handler", typed, msg.clone()).await;
                call("on_message", all, msg).await;
            }
            (Some(typed), None) => call("typed message handler", typed, msg).await,
            (None, Some(all)) => call("on_message", all, msg).await,
            (None, None) => {}
        },
        Push::Frame(frame) => serve_frame(h, *frame).await,
    }
}

async fn serve_frame(h: &Handlers, frame: Payload) {
    match frame {
        Payload::Config(c) => {
            if let Some(f) = &h.on_config {
                call("on_config", f, *c).await;
            }
        }
        Payload::Signal(s) => {
            if let Some(f) = &h.on_signal {
                call("on_signal", f, *s).await;
            }
        }
        Payload::Error(e) => match &h.on_error {
            Some(f) => call("on_error", f, crate::Error::from_error_response(&e)).await,
            None => tracing::warn!(code = %e.code, message = %e.message, "gateway error"),
        },
        Payload::TaskAssignment(a) => {
            if let Some(f) = &h.on_task_assignment {
                call("on_task_assignment", f, *a).await;
            }
        }
        Payload::ProgressUpdate(p) => {
            if let Some(f) = &h.on_progress {
                call("on_progress", f, *p).await;
            }
        }
        Payload::TaskEvent(e) => {
            if let Some(f) = &h.on_task_event {
                call("on_task_event", f, *e).await;
            }
        }
        other => {
            if let Some(f) = &h.on_other {
                call("on_other", f, other).await;
            } else {
                tracing::debug!("uncorrelated frame with no handler: {}", frame_name(&other));
            }
        }
    }
}

fn frame_name(p: &Payload) -> &'static str {
    crate::ops::ids::downstream_name(p)
}
