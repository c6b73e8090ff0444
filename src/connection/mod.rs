//! The connection engine: one driver task per client owns the
//! bidirectional stream; a bounded outbound queue feeds it; the reader
//! routes what it reads (see [`router`]) to one of three places:
//!
//! * a **reply** to the call waiting for it (request id -> oneshot, the
//!   pending map);
//! * a **stream frame** to its stream (stream id -> bounded inbox, the
//!   stream table): task events, HTTP responses, tunnel frames;
//! * anything else, a **push**, to every push subscriber that wants it
//!   (the handler dispatch task, message streams, frame streams,
//!   orchestrator runners), each through a bounded inbox of its own.
//!
//! Guarantees:
//!
//! * `connect()` returns only after the `ConnectionAck`, or with a typed
//!   error (unauthenticated, duplicate identity, invalid argument,
//!   unreachable).
//! * The reader never runs user code, so handlers may call any operation.
//! * A cancelled or timed-out call removes its pending entry, a dropped
//!   stream its stream entry, a dropped subscriber its subscription (drop
//!   guards), and a frame whose caller gave up before it was written is
//!   never sent.
//! * Request ids are unique across reconnects (a process-wide prefix and
//!   counter).
//! * When the stream dies, every call in flight fails at once with
//!   `ConnectionLost`, saying whether its request may have been sent, and
//!   every open stream ends with that error; the driver reconnects with
//!   backoff and jitter, resuming the session (`resume_session_id`) and
//!   replaying the user's workspace. A clean end of stream counts as a
//!   loss. Statuses that cannot succeed stop it, as does a forced
//!   disconnect.
//!
//! Everything the engine shares between its tasks stays in this module;
//! the rest of the crate holds a [`Connection`] handle.

mod call;
mod credentials;
mod driver;

mod inbox;
mod multiplexer;
mod options;
mod outbound;
mod pending;
mod pushes;
mod router;
mod state;
mod streams;
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use call::{Expect, OpRequest, Reply};
pub use credentials::Credentials;
pub(crate) use inbox::Slot;
pub(crate) use multiplexer::Multiplexer;
pub use options::{ConnectOptions, ReconnectPolicy};
pub(crate) use pushes::{Push, PushFilter, PushReceiver};
pub use state::{ConnectionState, SessionInfo};
pub use streams::{ReplyStream, StreamBounds};
pub use tls::{Pem, TlsOptions};

use crate::error::{Error, ErrorKind, Result};
use crate::identity::Principal;
use inbox::OverflowBudget;
use outbound::{Frame, OutboundQueue};
use pending::PendingMap;
use pushes::Subscribers;
use streams::StreamTable;

/// Everything the driver, the multiplexer and the handles share.
struct Shared {
    options: ConnectOptions,
    principal: Principal,
    pending: Arc<PendingMap>,
    streams: Arc<StreamTable>,
    subscribers: Arc<Subscribers>,
    out_tx: mpsc::Sender<Frame>,
    queue: Arc<OutboundQueue>,
    state: watch::Sender<ConnectionState>,
    last_session: Mutex<Option<SessionInfo>>,
    /// The user's current workspace, replayed after a reconnect.
    workspace: Mutex<Option<String>>,
    /// Items lost by inboxes (see the router's delivery policy).
    lost: Arc<AtomicU64>,
    shutdown: CancellationToken,
    /// Set with `shutdown`: the reader checks it per frame without a lock.
    closing: AtomicBool,
    /// Set when the state becomes `Closed`: calls check it without a lock.
    closed: AtomicBool,
    started: AtomicBool,
    driver: Mutex<Option<JoinHandle<()>>>,
}

/// A handle on one client's connection. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Connection {
    shared: Arc<Shared>,
}

impl Connection {
    /// A connection (not started) for `principal`.
    pub(crate) fn new(principal: Principal, options: ConnectOptions) -> Self {
        let (out_tx, queue) = OutboundQueue::new(options.outbound_queue);
        let (state, _) = watch::channel(ConnectionState::Idle);
        let budget = OverflowBudget::new(options.overflow_budget);
        Connection {
            shared: Arc::new(Shared {
                pending: Arc::new(PendingMap::default()),
                streams: StreamTable::new(budget.clone()),
                subscribers: Subscribers::new(budget),
                out_tx,
                queue,
                state,
                last_session: Mutex::new(None),
                workspace: Mutex::new(None),
                lost: Arc::new(AtomicU64::new(0)),
                shutdown: CancellationToken::new(),
                closing: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                started: AtomicBool::new(false),
                driver: Mutex::new(None),
                options,
                principal,
            }),
        }
    }

    /// Starts the driver and waits for the first `ConnectionAck`.
    pub(crate) async fn connect(&self) -> Result<SessionInfo> {
        let shared = &self.shared;
        if shared.started.swap(true, Ordering::AcqRel) {
            return match &*shared.state.borrow() {
                ConnectionState::Connected(s) => Ok(s.clone()),
                ConnectionState::Closed { reason } => {
                    Err(Error::new(ErrorKind::Closed, reason.clone()))
                }
                _ => Err(Error::invalid("connect() was already called")),
            };
        }
        shared.state.send_replace(ConnectionState::Connecting);
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(driver::run(shared.clone(), tx));
        *shared.driver.lock() = Some(handle);
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::Closed,
                "the connection driver stopped",
            )),
        }
    }

    /// Closes the connection: flushes queued frames, ends the stream
    /// cleanly and stops the driver. Idempotent.
    pub(crate) async fn close(&self) {
        let shared = &self.shared;
        shared.closing.store(true, Ordering::Release);
        shared.shutdown.cancel();
        let handle = shared.driver.lock().take();
        if let Some(handle) = handle {
            let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
        }
        if !shared.state.borrow().is_closed() {
            shared.closed.store(true, Ordering::Release);
            shared.state.send_replace(ConnectionState::Closed {
                reason: "closed by the client".into(),
            });
        }
        let closed = || Error::new(ErrorKind::Closed, "the client was closed");
        shared.pending.fail_all_with(closed);
        shared.streams.fail_all(closed);
    }

    /// Signals the driver to stop without waiting (used on drop).
    pub(crate) fn close_in_background(&self) {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.shutdown.cancel();
    }

    /// Waits until the connection is closed for good (not merely
    /// reconnecting).
    pub(crate) async fn wait_until_closed(&self) {
        let mut rx = self.shared.state.subscribe();
        let _ = rx.wait_for(|s| s.is_closed()).await;
    }

    /// The current state.
    pub(crate) fn state(&self) -> ConnectionState {
        self.shared.state.borrow().clone()
    }

    /// Whether the connection is up right now.
    pub(crate) fn is_connected(&self) -> bool {
        self.shared.state.borrow().is_connected()
    }

    /// A watch of the state.
    pub(crate) fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.shared.state.subscribe()
    }

    /// The latest session (from the last ack), if any.
    pub(crate) fn session(&self) -> Option<SessionInfo> {
        self.shared.last_session.lock().clone()
    }

    /// Who connects.
    pub(crate) fn principal(&self) -> &Principal {
        &self.shared.principal
    }

    /// The workspace replayed after a reconnect.
    pub(crate) fn workspace(&self) -> Option<String> {
        self.shared.workspace.lock().clone()
    }

    /// Sets the workspace replayed after a reconnect.
    pub(crate) fn set_workspace(&self, ws: Option<String>) {
        *self.shared.workspace.lock() = ws;
    }

    /// Calls waiting for a reply.
    pub(crate) fn pending_calls(&self) -> usize {
        self.shared.pending.len()
    }

    /// Streams open in the stream table.
    pub(crate) fn open_streams(&self) -> usize {
        self.shared.streams.len()
    }

    /// Items inboxes could not keep (see the router's delivery policy).
    pub(crate) fn lost(&self) -> u64 {
        self.shared.lost.load(Ordering::Relaxed)
    }

    /// The innermost service of the operation stacks.
    pub(crate) fn multiplexer(&self) -> Multiplexer {
        Multiplexer::new(self.clone())
    }

    /// A new push subscriber (its inbox bounded by the options' stream
    /// capacity and inbox bytes, or the dispatch queue for `Everything`).
    pub(crate) fn subscribe(&self, filter: PushFilter) -> PushReceiver {
        let o = &self.shared.options;
        let capacity = match filter {
            PushFilter::Everything => o.dispatch_queue,
            _ => o.stream_capacity,
        };
        let rx = self
            .shared
            .subscribers
            .subscribe(filter, capacity, o.max_inbox_bytes);
        if self.shared.state.borrow().is_closed() {
            // Nothing will come any more: end it at once.
            self.shared.subscribers.close_all();
        }
        rx
    }

    /// Why the connection cannot take calls now, if it cannot.
    fn unusable(&self) -> Option<Error> {
        if !self.shared.started.load(Ordering::Acquire) {
            return Some(Error::new(
                ErrorKind::NotConnected,
                "call connect() before using the client",
            ));
        }
        if !self.shared.closed.load(Ordering::Acquire) {
            return None;
        }
        match &*self.shared.state.borrow() {
            ConnectionState::Closed { reason } => Some(Error::new(
                ErrorKind::Closed,
                format!("the client is closed: {reason}"),
            )),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("principal", &self.shared.principal)
            .field("state", &*self.shared.state.borrow())
            .finish()
    }
}

/// A stream not registered anywhere, for unit tests of stream consumers.
#[cfg(test)]
pub(crate) fn test_stream() -> (streams::StreamOpener, ReplyStream) {
    StreamTable::new(OverflowBudget::new(0)).open_unkeyed(StreamBounds::default())
}
