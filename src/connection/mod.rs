//! The connection engine: one driver task per client owns the bidirectional
//! stream; a bounded outbound queue feeds it; a pending map keyed by request
//! id routes correlated replies; everything else goes to the dispatch task.
//!
//! * `connect()` returns only after the `ConnectionAck`, or with a typed
//!   error (unauthenticated, duplicate identity, invalid argument,
//!   unreachable).
//! * The reader never awaits user code, so handlers may call any operation.
//! * A cancelled or timed-out call removes its pending entry (drop guard),
//!   and a frame whose caller gave up before it was written is never sent.
//! * Request ids are unique across reconnects (a process-wide prefix and
//!   counter).
//! * When the stream dies, every call in flight fails at once with
//!   `ConnectionLost`, saying whether its request may have been sent; the
//!   driver reconnects with backoff and jitter, resuming the session
//!   (`resume_session_id`) and replaying the user's workspace. A clean end of
//!   stream counts as a loss. Statuses that cannot succeed stop it, as does
//!   a forced disconnect.

mod credentials;
mod driver;
mod multiplexer;
mod options;
mod outbound;
mod pending;
mod state;
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use credentials::Credentials;
pub use multiplexer::{Multiplexer, MuxFuture};
pub use options::{ConnectOptions, ReconnectPolicy};
pub use state::{ConnectionState, SessionInfo};
pub use tls::{Pem, TlsOptions};

pub(crate) use outbound::Frame;

use crate::error::{Error, ErrorKind, Result};
use crate::handlers::Dispatcher;
use crate::identity::Principal;
use outbound::OutboundQueue;
use pending::PendingMap;

/// Everything the driver, the multiplexer and the client handles share.
pub(crate) struct Shared {
    pub(crate) options: ConnectOptions,
    pub(crate) principal: Principal,
    pub(crate) pending: Arc<PendingMap>,
    pub(crate) out_tx: mpsc::Sender<Frame>,
    queue: Arc<OutboundQueue>,
    pub(crate) state: watch::Sender<ConnectionState>,
    last_session: Mutex<Option<SessionInfo>>,
    /// The user's current workspace, replayed after a reconnect.
    pub(crate) workspace: Mutex<Option<String>>,
    pub(crate) dispatch: Dispatcher,
    shutdown: CancellationToken,
    started: AtomicBool,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl Shared {
    pub(crate) fn new(
        principal: Principal,
        options: ConnectOptions,
        dispatch: Dispatcher,
    ) -> Arc<Self> {
        let (out_tx, queue) = OutboundQueue::new(options.outbound_queue);
        let (state, _) = watch::channel(ConnectionState::Idle);
        Arc::new(Shared {
            options,
            principal,
            pending: Arc::new(PendingMap::default()),
            out_tx,
            queue,
            state,
            last_session: Mutex::new(None),
            workspace: Mutex::new(None),
            dispatch,
            shutdown: CancellationToken::new(),
            started: AtomicBool::new(false),
            driver: Mutex::new(None),
        })
    }

    /// Starts the driver and waits for the first `ConnectionAck`.
    pub(crate) async fn connect(self: &Arc<Self>) -> Result<SessionInfo> {
        if self.started.swap(true, Ordering::AcqRel) {
            return match &*self.state.borrow() {
                ConnectionState::Connected(s) => Ok(s.clone()),
                ConnectionState::Closed { reason } => {
                    Err(Error::new(ErrorKind::Closed, reason.clone()))
                }
                _ => Err(Error::invalid("connect() was already called")),
            };
        }
        self.state.send_replace(ConnectionState::Connecting);
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(driver::run(self.clone(), tx));
        *self.driver.lock() = Some(handle);
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::Closed,
                "the connection driver stopped",
            )),
        }
    }

    /// Whether `connect()` was called.
    pub(crate) fn started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// The latest session (from the last ack), if any.
    pub(crate) fn session(&self) -> Option<SessionInfo> {
        self.last_session.lock().clone()
    }

    pub(crate) fn set_session(&self, s: SessionInfo) {
        *self.last_session.lock() = Some(s);
    }

    /// Closes the client: flushes queued frames, ends the stream cleanly and
    /// stops the driver. Idempotent.
    pub(crate) async fn close(&self) {
        self.shutdown.cancel();
        let handle = self.driver.lock().take();
        if let Some(handle) = handle {
            let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
        }
        let was_closed = self.state.borrow().is_closed();
        if !was_closed {
            self.state.send_replace(ConnectionState::Closed {
                reason: "closed by the client".into(),
            });
        }
        self.pending
            .fail_all_with(|| Error::new(ErrorKind::Closed, "the client was closed"));
    }

    /// Signals the driver to stop without waiting (used on drop).
    pub(crate) fn close_in_background(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the client is closed for good (not merely reconnecting).
    pub(crate) async fn wait_until_closed(&self) {
        let mut rx = self.state.subscribe();
        let _ = rx.wait_for(|s| s.is_closed()).await;
    }
}
