//! The principal-independent client: connection lifecycle, handlers,
//! streams, the operation stack, and operations every principal may use.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::connection::{
    ConnectOptions, ConnectionState, Credentials, Multiplexer, ReconnectPolicy, SessionInfo,
    Shared, TlsOptions,
};
use crate::error::{Error, ErrorKind, Result};
use crate::handlers::{Dispatcher, MessageStream, handler};
use crate::identity::{Principal, Topic};
use crate::message::{Message, MessageType};
use crate::ops::{self, OpRequest, OpResponse, OperationService, StackConfig};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{self, AuthorizationContext};

/// Largest message payload the gateway accepts by default.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// A message to send, with every option of `SendMessage`.
///
/// ```
/// use aether_client::{OutgoingMessage, MessageType, identity::Topic};
/// let msg = OutgoingMessage::new(Topic::agent("ws", "echo", "one").unwrap(), "hi")
///     .message_type(MessageType::Chat)
///     .app_workspace("ws");
/// assert_eq!(msg.topic(), "ag::ws::echo::one");
/// ```
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    topic: String,
    payload: Bytes,
    message_type: MessageType,
    app_workspace: String,
    authorization: Option<AuthorizationContext>,
}

impl OutgoingMessage {
    /// A message to a typed topic (type OPAQUE unless set).
    pub fn new(topic: Topic, payload: impl Into<Bytes>) -> Self {
        Self::raw(topic.to_string(), payload)
    }

    /// A message to an already validated wire topic (see `wire_topic`).
    pub(crate) fn raw(topic: String, payload: impl Into<Bytes>) -> Self {
        OutgoingMessage {
            topic,
            payload: payload.into(),
            message_type: MessageType::Opaque,
            app_workspace: String::new(),
            authorization: None,
        }
    }

    /// A message to a topic given as a string; it is parsed and validated.
    pub fn to(topic: &str, payload: impl Into<Bytes>) -> Result<Self> {
        let t: Topic = topic.parse()?;
        Ok(Self::new(t, payload))
    }

    /// Sets the message type.
    pub fn message_type(mut self, t: MessageType) -> Self {
        self.message_type = t;
        self
    }

    /// Declares the application workspace the message belongs to.
    pub fn app_workspace(mut self, ws: impl Into<String>) -> Self {
        self.app_workspace = ws.into();
        self
    }

    /// Sends on behalf of a subject (needs a gateway with an ACL engine).
    pub fn authorization(mut self, ctx: AuthorizationContext) -> Self {
        self.authorization = Some(ctx);
        self
    }

    /// The target topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    fn into_request(self) -> OpRequest {
        OpRequest::fire_and_forget(
            "send",
            Up::Send(Box::new(proto::SendMessage {
                target_topic: self.topic,
                payload: self.payload,
                message_type: self.message_type as i32,
                authorization: self.authorization.map(Box::new),
                app_workspace: self.app_workspace,
                checked_access: None,
                authority_continuation: None,
            })),
        )
    }
}

/// Builds a client of any principal type. Principal clients wrap this;
/// reach it through e.g. [`AgentClient::builder`](crate::AgentClient::builder).
pub struct ClientBuilder<C = Client> {
    principal: Principal,
    options: ConnectOptions,
    stack: StackConfig,
    max_payload: usize,
    _client: std::marker::PhantomData<fn() -> C>,
}

impl<C> Clone for ClientBuilder<C> {
    fn clone(&self) -> Self {
        ClientBuilder {
            principal: self.principal.clone(),
            options: self.options.clone(),
            stack: self.stack.clone(),
            max_payload: self.max_payload,
            _client: std::marker::PhantomData,
        }
    }
}

impl<C> std::fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("principal", &self.principal)
            .field("gateway", &self.options.gateway)
            .finish_non_exhaustive()
    }
}

/// A client type built by [`ClientBuilder::build`]. Sealed.
pub trait PrincipalClient: sealed::Sealed + Sized {
    /// What `build()` returns: the client, or for blocking clients a
    /// `Result` (they start a runtime of their own).
    type Output;
    #[doc(hidden)]
    fn build_from(builder: ClientBuilder<Self>) -> Self::Output;
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

impl sealed::Sealed for Client {}
impl PrincipalClient for Client {
    type Output = Client;
    fn build_from(builder: ClientBuilder<Self>) -> Client {
        builder.build_client()
    }
}

impl ClientBuilder<Client> {
    /// A builder for a client of any principal.
    pub fn for_principal(principal: Principal) -> Self {
        ClientBuilder::new(principal)
    }
}

impl<C: PrincipalClient> ClientBuilder<C> {
    pub(crate) fn new(principal: Principal) -> Self {
        let options = ConnectOptions::default();
        let stack = StackConfig::new(options.request_timeout);
        ClientBuilder {
            principal,
            options,
            stack,
            max_payload: DEFAULT_MAX_PAYLOAD,
            _client: std::marker::PhantomData,
        }
    }

    /// Builds the client (not yet connected). Async clients need to be
    /// built inside a tokio runtime; blocking clients start their own.
    pub fn build(self) -> C::Output {
        C::build_from(self)
    }

    /// The gateway URL (`http://host:port`, `https://host:port`, or bare `host:port`).
    pub fn gateway(mut self, url: impl Into<String>) -> Self {
        self.options.gateway = url.into();
        self
    }

    /// Handshake credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.options.credentials = credentials;
        self
    }

    /// TLS / mTLS settings.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.options.tls = Some(tls);
        self
    }

    /// The reconnection policy.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.options.reconnect = policy;
        self
    }

    /// How long `connect()` may take.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.options.connect_timeout = t;
        self
    }

    /// Default timeout of awaited operations.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.options.request_timeout = t;
        self.stack.timeout = t;
        self
    }

    /// Capacity of the outbound queue.
    pub fn outbound_queue(mut self, n: usize) -> Self {
        self.options.outbound_queue = n;
        self
    }

    /// Capacity of the inbound push queue served to handlers.
    pub fn dispatch_queue(mut self, n: usize) -> Self {
        self.options.dispatch_queue = n;
        self
    }

    /// HTTP/2 keepalive interval (`None` disables it; at least 10 s).
    pub fn keepalive(mut self, every: Option<Duration>) -> Self {
        self.options.keepalive = every;
        self
    }

    /// Declares an extension in the handshake.
    pub fn extension(mut self, ext: proto::ExtensionDeclaration) -> Self {
        self.options.extensions.push(ext);
        self
    }

    /// Largest payload `send_*` accepts before sending (default 1 MiB, the
    /// gateway's limit).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// An authorization context stamped on every operation that carries one.
    pub fn authorization(mut self, ctx: AuthorizationContext) -> Self {
        self.stack.authorization = Some(ctx);
        self
    }

    /// Retries of idempotent operations: attempts (1 = no retry) and backoff.
    pub fn retry(mut self, max_attempts: u32, backoff: aether_middleware::retry::Backoff) -> Self {
        self.stack.retry_attempts = max_attempts.max(1);
        self.stack.retry_backoff = backoff;
        self
    }

    /// Replaces the request-id source (ids must be unique per client).
    pub fn request_ids(
        mut self,
        make: impl aether_middleware::correlation::MakeRequestId + Send + 'static,
    ) -> Self {
        self.stack.request_ids = ops::stack_request_ids(make);
        self
    }

    /// Wraps every operation stack in a tower layer of yours (outermost).
    ///
    /// ```no_run
    /// # use aether_client::AgentClient;
    /// let agent = AgentClient::builder("ws", "impl", "spec")
    ///     .unwrap()
    ///     .layer(tower::limit::ConcurrencyLimitLayer::new(64))
    ///     .build();
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<OperationService> + Send + Sync + 'static,
        L::Service: tower::Service<OpRequest, Response = OpResponse, Error = Error>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<OpRequest>>::Future: Send + 'static,
    {
        self.stack
            .layers
            .push(Arc::new(move |svc| OperationService::new(layer.layer(svc))));
        self
    }

    /// Every connection setting at once.
    pub fn options(mut self, options: ConnectOptions) -> Self {
        self.stack.timeout = options.request_timeout;
        self.options = options;
        self
    }

    pub(crate) fn build_client(self) -> Client {
        let dispatch = Dispatcher::spawn(self.options.dispatch_queue, self.options.stream_capacity);
        let shared = Shared::new(self.principal, self.options, dispatch);
        let ops = ops::build(Multiplexer::new(shared.clone()), &self.stack);
        Client {
            inner: Arc::new(Inner {
                shared,
                ops,
                max_payload: self.max_payload,
            }),
        }
    }
}

/// The principal-independent client core. Cheap to clone; the connection
/// closes when the last clone is dropped (or on [`close`](Self::close)).
///
/// Handlers that capture a clone of their own client keep it alive; capture
/// what they need instead, or call `close()` explicitly.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    ops: OperationService,
    max_payload: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close_in_background();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("principal", &self.inner.shared.principal)
            .field("state", &*self.inner.shared.state.borrow())
            .finish()
    }
}

macro_rules! message_handler {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name<F, Fut>(&self, f: F) -> &Self
        where
            F: Fn(Message) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = ()> + Send + 'static,
        {
            let h = handler(f);
            self.inner.shared.dispatch.update(|hs| hs.$name = Some(h));
            self
        }
    };
}

macro_rules! push_handler {
    ($(#[$doc:meta])* $name:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $name<F, Fut>(&self, f: F) -> &Self
        where
            F: Fn($ty) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = ()> + Send + 'static,
        {
            let h = handler(f);
            self.inner.shared.dispatch.update(|hs| hs.$name = Some(h));
            self
        }
    };
}

impl Client {
    /// Connects and waits for the gateway's `ConnectionAck`.
    ///
    /// Fails with a typed error: `Unauthenticated`, `DuplicateIdentity`,
    /// `InvalidArgument`, `Unreachable`, `Timeout`, ...
    pub async fn connect(&self) -> Result<SessionInfo> {
        self.inner.shared.connect().await
    }

    /// Closes the client: flushes queued frames, ends the stream cleanly
    /// and stops reconnecting. Idempotent.
    pub async fn close(&self) {
        self.inner.shared.close().await;
    }

    /// Waits until the client is closed for good (not while it reconnects).
    pub async fn wait_until_disconnected(&self) {
        self.inner.shared.wait_until_closed().await;
    }

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.inner.shared.state.borrow().clone()
    }

    /// A watch of the connection state, to await transitions.
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.shared.state.subscribe()
    }

    /// Whether the client is connected right now.
    pub fn is_connected(&self) -> bool {
        self.inner.shared.state.borrow().is_connected()
    }

    /// The latest session information (from the last `ConnectionAck`).
    pub fn session(&self) -> Option<SessionInfo> {
        self.inner.shared.session()
    }

    /// Who this client connects as.
    pub fn principal(&self) -> &Principal {
        &self.inner.shared.principal
    }

    /// This client's identity topic, once known (a pooled task's depends on
    /// the id the gateway assigns).
    pub fn topic(&self) -> Option<String> {
        let assigned = self.session().map(|s| s.assigned_id);
        self.principal().topic_with(assigned.as_deref())
    }

    /// Pushed frames dropped because handlers fell behind.
    pub fn dropped_pushes(&self) -> u64 {
        self.inner.shared.dispatch.dropped()
    }

    /// Calls awaiting a reply right now.
    pub fn pending_calls(&self) -> usize {
        self.inner.shared.pending.len()
    }

    /// A new stream of incoming messages (any number of subscribers).
    pub fn messages(&self) -> MessageStream {
        MessageStream::new(self.inner.shared.dispatch.subscribe())
    }

    /// Every uncorrelated frame other than messages (task events,
    /// assignments, progress updates, signals, errors...), as a broadcast
    /// receiver: for building streams of your own. Frames arriving while no
    /// receiver exists are not kept.
    pub fn frames(&self) -> tokio::sync::broadcast::Receiver<Arc<Down>> {
        self.inner.shared.dispatch.subscribe_frames()
    }

    /// The operation stack, to call raw operations or compose further.
    pub fn operations(&self) -> OperationService {
        self.inner.ops.clone()
    }

    /// Runs one operation through the stack.
    pub async fn call(&self, req: OpRequest) -> Result<OpResponse> {
        self.inner.ops.clone().oneshot(req).await
    }

    async fn call_for_reply(&self, req: OpRequest) -> Result<Down> {
        let name = req.name();
        self.call(req)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Protocol, format!("{name}: no reply")))
    }

    message_handler!(
        /// Every message, after its typed handler (if any).
        on_message
    );
    message_handler!(
        /// CHAT messages.
        on_chat_message
    );
    message_handler!(
        /// CONTROL messages.
        on_control_message
    );
    message_handler!(
        /// TOOL_CALL messages.
        on_tool_call
    );
    message_handler!(
        /// EVENT messages.
        on_event
    );
    message_handler!(
        /// METRIC messages.
        on_metric
    );
    push_handler!(
        /// The `ConfigSnapshot` pushed after the ack (agents and tasks).
        on_config,
        proto::ConfigSnapshot
    );
    push_handler!(
        /// Signals (forced or graceful disconnects).
        on_signal,
        proto::Signal
    );
    push_handler!(
        /// Gateway errors not tied to a call (e.g. a rejected send).
        on_error,
        Error
    );
    push_handler!(
        /// The connection came up (once per transition).
        on_connect,
        SessionInfo
    );
    push_handler!(
        /// The connection went down, with the reason (once per transition).
        on_disconnect,
        String
    );
    push_handler!(
        /// Task assignments pushed to this client.
        on_task_assignment,
        proto::TaskAssignment
    );
    push_handler!(
        /// Progress updates.
        on_progress,
        proto::ProgressUpdate
    );
    push_handler!(
        /// Task subscription events.
        on_task_event,
        proto::TaskEvent
    );

    /// Sends a message; waits only for room in the outbound queue. Success
    /// means queued: the protocol has no delivery acknowledgement, and a
    /// gateway-side rejection arrives at `on_error`.
    pub(crate) async fn send(&self, msg: OutgoingMessage) -> Result<()> {
        self.check_payload(&msg)?;
        self.call(msg.into_request()).await.map(|_| ())
    }

    /// Sends without waiting: fails with `QueueFull` when the outbound
    /// queue has no room.
    pub(crate) fn try_send(&self, msg: OutgoingMessage) -> Result<()> {
        self.check_payload(&msg)?;
        let shared = &self.inner.shared;
        if !shared.started() {
            return Err(Error::new(
                ErrorKind::NotConnected,
                "call connect() before using the client",
            ));
        }
        if shared.state.borrow().is_closed() {
            return Err(Error::new(ErrorKind::Closed, "the client is closed"));
        }
        let (payload, _) = msg.into_request().into_parts();
        let frame = crate::connection::Frame {
            msg: proto::UpstreamMessage {
                payload: Some(payload),
                active_extensions: Vec::new(),
            },
            flag: None,
        };
        shared.out_tx.try_send(frame).map_err(|e| match e {
            tokio::sync::mpsc::error::TrySendError::Full(_) => {
                Error::new(ErrorKind::QueueFull, "the outbound queue is full")
            }
            tokio::sync::mpsc::error::TrySendError::Closed(_) => {
                Error::new(ErrorKind::Closed, "the client is closed")
            }
        })
    }

    fn check_payload(&self, msg: &OutgoingMessage) -> Result<()> {
        if msg.payload.len() > self.inner.max_payload {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "payload is {} bytes; the limit is {}",
                    msg.payload.len(),
                    self.inner.max_payload
                ),
            )
            .with_code("ERR_PAYLOAD_TOO_LARGE"));
        }
        Ok(())
    }

    pub(crate) fn current_workspace(&self) -> Option<String> {
        self.inner.shared.workspace.lock().clone()
    }

    pub(crate) fn set_workspace(&self, ws: Option<String>) {
        *self.inner.shared.workspace.lock() = ws;
    }

    /// Switches the (user's) workspace; the choice is replayed after a reconnect.
    pub(crate) async fn switch_workspace_raw(&self, ws: &str) -> Result<()> {
        crate::identity::Segment::new(ws)?;
        self.set_workspace(Some(ws.to_string()));
        let req = OpRequest::fire_and_forget(
            "switch_workspace",
            Up::SwitchWorkspace(Box::new(proto::SwitchWorkspace {
                new_workspace_id: ws.to_string(),
            })),
        );
        self.call(req).await.map(|_| ())
    }

    /// Lists the gateway's sessions, optionally filtered.
    pub async fn list_sessions(
        &self,
        filter: proto::ConnectionFilter,
    ) -> Result<Vec<proto::ConnectionInfo>> {
        let resp = self
            .session_op(
                proto::session_operation::OpType::List,
                String::new(),
                Some(filter),
            )
            .await?;
        Ok(resp.connections)
    }

    /// One session by id.
    pub async fn get_session(&self, session_id: &str) -> Result<proto::ConnectionInfo> {
        let resp = self
            .session_op(
                proto::session_operation::OpType::Get,
                session_id.to_string(),
                None,
            )
            .await?;
        resp.connection.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("session {session_id} not found"),
            )
        })
    }

    /// Disconnects a session (it receives FORCE_DISCONNECT).
    pub async fn disconnect_session(&self, session_id: &str) -> Result<()> {
        self.session_op(
            proto::session_operation::OpType::Disconnect,
            session_id.to_string(),
            None,
        )
        .await?;
        Ok(())
    }

    async fn session_op(
        &self,
        op: proto::session_operation::OpType,
        session_id: String,
        filter: Option<proto::ConnectionFilter>,
    ) -> Result<proto::SessionOperationResponse> {
        let idempotent = op != proto::session_operation::OpType::Disconnect;
        let req = OpRequest::awaited(
            "session_op",
            Up::SessionOp(Box::new(proto::SessionOperation {
                op: op as i32,
                session_id,
                filter,
                ..Default::default()
            })),
        )
        .idempotent(idempotent);
        match self.call_for_reply(req).await? {
            Down::SessionResponse(r) if r.success => Ok(*r),
            Down::SessionResponse(r) => Err(rejected("session_op", &r.error)),
            other => Err(unexpected("session_op", &other)),
        }
    }

    /// Whether a principal (by type and identity string, e.g. `"agent"`,
    /// `"ag::ws::impl::spec"`) is connected to the gateway right now.
    pub async fn connection_status(
        &self,
        principal_type: &str,
        principal_id: &str,
    ) -> Result<bool> {
        let req = OpRequest::awaited(
            "connection_status",
            Up::ConnectionStatusRequest(Box::new(proto::ConnectionStatusRequest {
                request_id: String::new(),
                principal: Some(proto::PrincipalRef {
                    principal_type: principal_type.to_string(),
                    principal_id: principal_id.to_string(),
                }),
            })),
        )
        .idempotent(true);
        match self.call_for_reply(req).await? {
            Down::ConnectionStatusResponse(r) if r.ok => Ok(r.connected),
            Down::ConnectionStatusResponse(r) => Err(rejected("connection_status", &r.error)),
            other => Err(unexpected("connection_status", &other)),
        }
    }
}

pub(crate) fn rejected(op: &str, error: &str) -> Error {
    let kind = if error.contains("not found") {
        ErrorKind::NotFound
    } else {
        ErrorKind::Rejected
    };
    Error::new(kind, format!("{op} rejected by the gateway: {error}"))
}

pub(crate) fn unexpected(op: &str, got: &Down) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!(
            "{op}: unexpected reply {}",
            crate::ops::ids::downstream_name(got)
        ),
    )
}
