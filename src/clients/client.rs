//! [`Client<P>`]: one connection, its operation stack and its handlers,
//! typed by the principal it connects as.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::watch;

use super::principal::{AnyPrincipal, PrincipalType};
use crate::connection::{
    Connection, ConnectionState, Expect, OpRequest, PushFilter, PushReceiver, Reply, SessionInfo,
};
use crate::error::{Error, ErrorKind, Result};
use crate::handlers::{Dispatcher, FrameStream, MessageStream};
use crate::identity::Principal;
use crate::stack::{Operation, OperationService, Stack};

/// A client of the gateway, connecting as a principal of type `P`
/// ([`AgentClient`](crate::AgentClient) is `Client<Agent>`, and so on).
///
/// Every principal has the lifecycle, handlers, checkpoints, tasks and
/// sessions; the rest depends on what `P` may do (see
/// [`principal`](crate::principal)). Cheap to clone; the connection closes
/// when the last clone is dropped (or on [`close`](Self::close)).
///
/// Handlers that capture a clone of their own client keep it alive;
/// capture what they need instead, or call `close()` explicitly.
pub struct Client<P: PrincipalType = AnyPrincipal> {
    pub(crate) core: Arc<Core>,
    principal: PhantomData<fn() -> P>,
}

/// What every clone of one client shares.
pub(crate) struct Core {
    pub(crate) connection: Connection,
    pub(crate) ops: Stack,
    pub(crate) dispatch: Dispatcher,
    pub(crate) max_payload: usize,
}

impl Drop for Core {
    fn drop(&mut self) {
        self.connection.close_in_background();
    }
}

impl<P: PrincipalType> Clone for Client<P> {
    fn clone(&self) -> Self {
        Client::from_core(self.core.clone())
    }
}

impl<P: PrincipalType> std::fmt::Debug for Client<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("type", &P::NAME)
            .field("principal", self.core.connection.principal())
            .field("state", &self.core.connection.state())
            .finish()
    }
}

impl<P: PrincipalType> Client<P> {
    pub(crate) fn from_core(core: Arc<Core>) -> Self {
        Client {
            core,
            principal: PhantomData,
        }
    }

    /// The same client, typed as a principal known only at run time: what
    /// code that serves any principal holds (task handles, orchestrator
    /// runners, a list of mixed clients).
    pub fn erase(&self) -> Client<AnyPrincipal> {
        Client::from_core(self.core.clone())
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.core.connection
    }

    /// Connects and waits for the gateway's `ConnectionAck`.
    ///
    /// Fails with a typed error: `Unauthenticated`, `DuplicateIdentity`,
    /// `InvalidArgument`, `Unreachable`, `Timeout`, ...
    pub async fn connect(&self) -> Result<SessionInfo> {
        self.core.connection.connect().await
    }

    /// Closes the client: flushes queued frames, ends the stream cleanly
    /// and stops reconnecting. Idempotent.
    pub async fn close(&self) {
        self.core.connection.close().await;
    }

    /// Waits until the client is closed for good (not while it reconnects).
    pub async fn wait_until_disconnected(&self) {
        self.core.connection.wait_until_closed().await;
    }

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.core.connection.state()
    }

    /// A watch of the connection state, to await transitions.
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.core.connection.watch_state()
    }

    /// Whether the client is connected right now.
    pub fn is_connected(&self) -> bool {
        self.core.connection.is_connected()
    }

    /// The latest session information (from the last `ConnectionAck`).
    pub fn session(&self) -> Option<SessionInfo> {
        self.core.connection.session()
    }

    /// Who this client connects as.
    pub fn principal(&self) -> &Principal {
        self.core.connection.principal()
    }

    /// This client's identity topic, once known (a pooled task's depends on
    /// the id the gateway assigns).
    pub fn topic(&self) -> Option<String> {
        let assigned = self.session().map(|s| s.assigned_id);
        self.principal().topic_with(assigned.as_deref())
    }

    /// Pushed frames this client could not keep because a consumer (a
    /// handler, a stream) fell behind while calls awaited replies (see
    /// [`ConnectOptions::overflow_budget`](crate::ConnectOptions::overflow_budget));
    /// each loss was also reported to that consumer.
    pub fn dropped_pushes(&self) -> u64 {
        self.core.connection.lost()
    }

    /// Calls awaiting a reply right now.
    pub fn pending_calls(&self) -> usize {
        self.core.connection.pending_calls()
    }

    /// Correlated streams open right now (task subscriptions, HTTP
    /// responses, tunnels).
    pub fn open_streams(&self) -> usize {
        self.core.connection.open_streams()
    }

    /// A new stream of incoming messages (any number of them, each seeing
    /// every message from now on). Lossless: a stream that is not read
    /// slows the connection down, as a slow handler does; see
    /// [`MessageStream`].
    pub fn messages(&self) -> MessageStream {
        MessageStream::new(self.subscribe(PushFilter::Messages))
    }

    /// A new stream of every uncorrelated frame other than messages (task
    /// events, assignments, progress updates, signals, errors...), for
    /// building streams of your own; lossless like [`messages`](Self::messages).
    pub fn frames(&self) -> FrameStream {
        FrameStream::new(self.subscribe(PushFilter::Frames))
    }

    pub(crate) fn subscribe(&self, filter: PushFilter) -> PushReceiver {
        self.core.connection.subscribe(filter)
    }

    /// The operation stack, to call raw operations or compose further.
    pub fn operations(&self) -> OperationService {
        self.core.ops.service()
    }

    /// Sends one raw operation through the stack.
    pub fn call(&self, req: OpRequest) -> impl Future<Output = Result<Reply>> + Send + 'static {
        self.core.ops.call(req)
    }

    /// Runs one typed operation through the stack and decodes its reply.
    /// The request is built at once; it is sent on the first poll.
    pub fn run<O: Operation>(
        &self,
        op: O,
    ) -> impl Future<Output = Result<O::Output>> + Send + 'static {
        let call = self.core.ops.call(op.into_request());
        async move { O::decode(call.await?) }
    }

    /// Runs a fire-and-forget operation without waiting: it goes through
    /// the stack (so every layer applies) if the frame can be queued right
    /// now; otherwise it fails with [`ErrorKind::QueueFull`] and nothing is
    /// sent. Call it from within a tokio runtime.
    pub fn run_nowait<O: Operation>(&self, op: O) -> Result<()> {
        let req = op.into_request();
        if req.expect() != Expect::Nothing {
            return Err(Error::invalid(format!(
                "{}: only fire-and-forget operations can run without waiting",
                O::NAME
            )));
        }
        match self.core.ops.call_small(req).now_or_never() {
            Some(result) => result.map(drop),
            None => Err(Error::new(
                ErrorKind::QueueFull,
                format!("{}: the outbound queue is full", O::NAME),
            )),
        }
    }
}
