//! The blocking client: the async client, its own runtime, and a handler
//! thread.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::runtime::Runtime;

use super::handler_thread::HandlerThread;
use crate::clients::principal::{AnyPrincipal, PrincipalType};
use crate::clients::{BuildClient, ClientBuilder};
use crate::connection::{ConnectionState, OpRequest, Reply, SessionInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::handlers::MessageStream;
use crate::identity::Principal;
use crate::message::Message;
use crate::proto;
use crate::stack::Operation;

/// The blocking twin of [`crate::Client<P>`]: every method blocks on the
/// client's own runtime, and handlers run on a handler thread.
pub struct Client<P: PrincipalType = AnyPrincipal> {
    client: crate::Client<P>,
    rt: Arc<Runtime>,
    handlers: Arc<HandlerThread>,
}

impl<P: PrincipalType> Clone for Client<P> {
    fn clone(&self) -> Self {
        Client {
            client: self.client.clone(),
            rt: self.rt.clone(),
            handlers: self.handlers.clone(),
        }
    }
}

impl<P: PrincipalType> std::fmt::Debug for Client<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Client")
            .field("client", &self.client)
            .finish()
    }
}

impl<P: PrincipalType> crate::clients::sealed::Sealed for Client<P> {}

impl<P: PrincipalType> BuildClient for Client<P> {
    type Output = Result<Client<P>>;
    fn build_from(builder: ClientBuilder<Self>) -> Result<Client<P>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("aether-blocking")
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Closed,
                    format!("cannot start the client runtime: {e}"),
                )
                .with_source(e)
            })?;
        let client = {
            let _guard = rt.enter();
            builder.build_async()
        };
        Ok(Client {
            client,
            rt: Arc::new(rt),
            handlers: Arc::new(HandlerThread::default()),
        })
    }
}

impl<P: PrincipalType> Client<P> {
    /// Runs a future of the async API on this client's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The async client underneath, for mixing styles.
    pub fn as_async(&self) -> &crate::Client<P> {
        &self.client
    }

    /// The same client, typed as a principal known only at run time.
    pub fn erase(&self) -> Client<AnyPrincipal> {
        Client {
            client: self.client.erase(),
            rt: self.rt.clone(),
            handlers: self.handlers.clone(),
        }
    }

    /// Connects and waits for the `ConnectionAck`.
    pub fn connect(&self) -> Result<SessionInfo> {
        self.block_on(self.client.connect())
    }

    /// Closes the client (idempotent).
    pub fn close(&self) {
        self.block_on(self.client.close())
    }

    /// Blocks until the client is closed for good.
    pub fn wait_until_disconnected(&self) {
        self.block_on(self.client.wait_until_disconnected())
    }

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.client.state()
    }

    /// Whether the client is connected right now.
    pub fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    /// The latest session information.
    pub fn session(&self) -> Option<SessionInfo> {
        self.client.session()
    }

    /// Who this client connects as.
    pub fn principal(&self) -> &Principal {
        self.client.principal()
    }

    /// This client's identity topic, once known.
    pub fn topic(&self) -> Option<String> {
        self.client.topic()
    }

    /// Pushed frames lost because a consumer fell behind (see
    /// [`crate::Client::dropped_pushes`]).
    pub fn dropped_pushes(&self) -> u64 {
        self.client.dropped_pushes()
    }

    /// Incoming messages as a blocking iterator (any number of them;
    /// lossless like [`MessageStream`]).
    pub fn messages(&self) -> MessageIter {
        MessageIter {
            stream: self.client.messages(),
            rt: self.rt.clone(),
        }
    }

    /// Sends one raw operation through the stack.
    pub fn call(&self, req: OpRequest) -> Result<Reply> {
        self.block_on(self.client.call(req))
    }

    /// Runs one typed operation through the stack.
    pub fn run<O: Operation>(&self, op: O) -> Result<O::Output> {
        self.block_on(self.client.run(op))
    }

    fn wrap<T: Send + 'static>(
        &self,
        name: &'static str,
        f: impl Fn(T) + Send + Sync + 'static,
    ) -> impl Fn(T) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync + 'static {
        let f = Arc::new(f);
        let threads = self.handlers.clone();
        move |arg| {
            let f = f.clone();
            let threads = threads.clone();
            Box::pin(async move { threads.run(name, move || f(arg)).await })
        }
    }

    /// Every message, after its typed handler. Runs on the handler thread.
    pub fn on_message<F>(&self, f: F) -> &Self
    where
        F: Fn(Message) + Send + Sync + 'static,
    {
        self.client.on_message(self.wrap("on_message", f));
        self
    }

    /// CHAT messages. Runs on the handler thread.
    pub fn on_chat_message<F>(&self, f: F) -> &Self
    where
        F: Fn(Message) + Send + Sync + 'static,
    {
        self.client.on_chat_message(self.wrap("on_chat_message", f));
        self
    }

    /// CONTROL messages. Runs on the handler thread.
    pub fn on_control_message<F>(&self, f: F) -> &Self
    where
        F: Fn(Message) + Send + Sync + 'static,
    {
        self.client
            .on_control_message(self.wrap("on_control_message", f));
        self
    }

    /// TOOL_CALL messages. Runs on the handler thread.
    pub fn on_tool_call<F>(&self, f: F) -> &Self
    where
        F: Fn(Message) + Send + Sync + 'static,
    {
        self.client.on_tool_call(self.wrap("on_tool_call", f));
        self
    }

    /// EVENT messages. Runs on the handler thread.
    pub fn on_event<F>(&self, f: F) -> &Self
    where
        F: Fn(Message) + Send + Sync + 'static,
    {
        self.client.on_event(self.wrap("on_event", f));
        self
    }

    /// METRIC messages. Runs on the handler thread.
    pub fn on_metric<F>(&self, f: F) -> &Self
    where
        F: Fn(Message) + Send + Sync + 'static,
    {
        self.client.on_metric(self.wrap("on_metric", f));
        self
    }

    /// The `ConfigSnapshot` pushed after the ack. Runs on the handler thread.
    pub fn on_config<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::ConfigSnapshot) + Send + Sync + 'static,
    {
        self.client.on_config(self.wrap("on_config", f));
        self
    }

    /// Signals. Runs on the handler thread.
    pub fn on_signal<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::Signal) + Send + Sync + 'static,
    {
        self.client.on_signal(self.wrap("on_signal", f));
        self
    }

    /// Gateway errors not tied to a call, and lost pushes. Runs on the handler thread.
    pub fn on_error<F>(&self, f: F) -> &Self
    where
        F: Fn(Error) + Send + Sync + 'static,
    {
        self.client.on_error(self.wrap("on_error", f));
        self
    }

    /// The connection came up. Runs on the handler thread.
    pub fn on_connect<F>(&self, f: F) -> &Self
    where
        F: Fn(SessionInfo) + Send + Sync + 'static,
    {
        self.client.on_connect(self.wrap("on_connect", f));
        self
    }

    /// The connection went down. Runs on the handler thread.
    pub fn on_disconnect<F>(&self, f: F) -> &Self
    where
        F: Fn(String) + Send + Sync + 'static,
    {
        self.client.on_disconnect(self.wrap("on_disconnect", f));
        self
    }

    /// Task assignments. Runs on the handler thread.
    pub fn on_task_assignment<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::TaskAssignment) + Send + Sync + 'static,
    {
        self.client
            .on_task_assignment(self.wrap("on_task_assignment", f));
        self
    }

    /// Progress updates. Runs on the handler thread.
    pub fn on_progress<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::ProgressUpdate) + Send + Sync + 'static,
    {
        self.client.on_progress(self.wrap("on_progress", f));
        self
    }

    /// Task subscription events. Runs on the handler thread.
    pub fn on_task_event<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::TaskEvent) + Send + Sync + 'static,
    {
        self.client.on_task_event(self.wrap("on_task_event", f));
        self
    }

    /// A task of this client was hibernated. Runs on the handler thread.
    pub fn on_task_hibernated<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::TaskHibernated) + Send + Sync + 'static,
    {
        self.client
            .on_task_hibernated(self.wrap("on_task_hibernated", f));
        self
    }

    /// Authority request lifecycle events. Runs on the handler thread.
    pub fn on_authority_request_event<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::AuthorityRequestEvent) + Send + Sync + 'static,
    {
        self.client
            .on_authority_request_event(self.wrap("on_authority_request_event", f));
        self
    }

    /// Revoked authority grants. Runs on the handler thread.
    pub fn on_authority_grant_revocation<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::AuthorityGrantRevocation) + Send + Sync + 'static,
    {
        self.client
            .on_authority_grant_revocation(self.wrap("on_authority_grant_revocation", f));
        self
    }

    /// Workflow operations forwarded to this client. Runs on the handler
    /// thread.
    pub fn on_workflow_op<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::WorkflowOperation) + Send + Sync + 'static,
    {
        self.client.on_workflow_op(self.wrap("on_workflow_op", f));
        self
    }

    /// The reference SDK's name for `on_task_event`.
    pub fn register_task_event_handler<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::TaskEvent) + Send + Sync + 'static,
    {
        self.on_task_event(f)
    }
}

impl Client<crate::principal::MetricsBridge> {
    /// METRIC messages with their payload decoded, on the handler thread
    /// (the same slot as `on_metric`). Payloads that are not a `Metric`
    /// are logged and skipped.
    pub fn on_metric_payload<F>(&self, f: F) -> &Self
    where
        F: Fn(proto::Metric, Message) + Send + Sync + 'static,
    {
        self.on_metric(move |msg| match msg.decode_metric() {
            Some(metric) => f(metric, msg),
            None => tracing::warn!(
                source = %msg.source_topic(),
                "METRIC message whose payload is not a Metric skipped"
            ),
        });
        self
    }
}

impl Client<crate::principal::Task> {
    /// The server-assigned instance id of a pooled task.
    pub fn assigned_id(&self) -> Option<String> {
        self.client.assigned_id()
    }
}

/// A blocking iterator over incoming messages; ends when the client closes.
/// A [`Lagged`](crate::ErrorKind::Lagged) error item reports messages lost
/// (see [`MessageStream`]).
pub struct MessageIter {
    stream: MessageStream,
    rt: Arc<Runtime>,
}

impl MessageIter {
    /// Waits at most `timeout` for the next message.
    pub fn next_timeout(&mut self, timeout: std::time::Duration) -> Option<Result<Message>> {
        let stream = &mut self.stream;
        self.rt.block_on(async {
            tokio::time::timeout(timeout, stream.next())
                .await
                .ok()
                .flatten()
        })
    }
}

impl Iterator for MessageIter {
    type Item = Result<Message>;
    fn next(&mut self) -> Option<Result<Message>> {
        let stream = &mut self.stream;
        self.rt.block_on(stream.next())
    }
}

impl std::fmt::Debug for MessageIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageIter").finish_non_exhaustive()
    }
}
