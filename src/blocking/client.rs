//! The blocking client core.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::runtime::Runtime;

use super::handler_thread::HandlerThread;
use crate::connection::{ConnectionState, SessionInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::handlers::MessageStream;
use crate::identity::Principal;
use crate::message::Message;
use crate::ops::{OpRequest, OpResponse};
use crate::proto;

/// The principal-independent blocking client core; principal clients
/// dereference to it.
#[derive(Clone)]
pub struct Client {
    pub(crate) client: crate::Client,
    rt: Arc<Runtime>,
    handlers: Arc<HandlerThread>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Client")
            .field("client", &self.client)
            .finish()
    }
}

macro_rules! blocking_handler {
    ($(#[$doc:meta])* $name:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $name<F>(&self, f: F) -> &Self
        where
            F: Fn($ty) + Send + Sync + 'static,
        {
            let f = Arc::new(f);
            let threads = self.handlers.clone();
            self.client.$name(move |arg| {
                let f = f.clone();
                let threads = threads.clone();
                async move { threads.run(stringify!($name), move || f(arg)).await }
            });
            self
        }
    };
}

impl Client {
    pub(crate) fn build<C: crate::PrincipalClient>(
        builder: crate::ClientBuilder<C>,
    ) -> Result<Self> {
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
            builder.build_client()
        };
        Ok(Client {
            client,
            rt: Arc::new(rt),
            handlers: Arc::new(HandlerThread::default()),
        })
    }

    /// Runs a future of the async API on this client's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The async client underneath, for mixing styles.
    pub fn as_async(&self) -> &crate::Client {
        &self.client
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

    /// Incoming messages as a blocking iterator (any number of them).
    pub fn messages(&self) -> MessageIter {
        MessageIter {
            stream: self.client.messages(),
            rt: self.rt.clone(),
        }
    }

    /// Runs one raw operation through the stack.
    pub fn call(&self, req: OpRequest) -> Result<OpResponse> {
        self.block_on(self.client.call(req))
    }

    /// Lists the gateway's sessions.
    pub fn list_sessions(
        &self,
        filter: proto::ConnectionFilter,
    ) -> Result<Vec<proto::ConnectionInfo>> {
        self.block_on(self.client.list_sessions(filter))
    }

    /// One session by id.
    pub fn get_session(&self, session_id: &str) -> Result<proto::ConnectionInfo> {
        self.block_on(self.client.get_session(session_id))
    }

    /// Disconnects a session.
    pub fn disconnect_session(&self, session_id: &str) -> Result<()> {
        self.block_on(self.client.disconnect_session(session_id))
    }

    /// Whether a principal is connected right now.
    pub fn connection_status(&self, principal_type: &str, principal_id: &str) -> Result<bool> {
        self.block_on(self.client.connection_status(principal_type, principal_id))
    }

    blocking_handler!(
        /// Every message, after its typed handler.
        on_message, Message
    );
    blocking_handler!(
        /// CHAT messages.
        on_chat_message, Message
    );
    blocking_handler!(
        /// CONTROL messages.
        on_control_message, Message
    );
    blocking_handler!(
        /// TOOL_CALL messages.
        on_tool_call, Message
    );
    blocking_handler!(
        /// EVENT messages.
        on_event, Message
    );
    blocking_handler!(
        /// METRIC messages.
        on_metric, Message
    );
    blocking_handler!(
        /// The `ConfigSnapshot` pushed after the ack.
        on_config, proto::ConfigSnapshot
    );
    blocking_handler!(
        /// Signals.
        on_signal, proto::Signal
    );
    blocking_handler!(
        /// Gateway errors not tied to a call.
        on_error, Error
    );
    blocking_handler!(
        /// The connection came up.
        on_connect, SessionInfo
    );
    blocking_handler!(
        /// The connection went down.
        on_disconnect, String
    );
    blocking_handler!(
        /// Task assignments.
        on_task_assignment, proto::TaskAssignment
    );
    blocking_handler!(
        /// Progress updates.
        on_progress, proto::ProgressUpdate
    );
    blocking_handler!(
        /// Task subscription events.
        on_task_event, proto::TaskEvent
    );
}

/// A blocking iterator over incoming messages; ends when the client closes.
pub struct MessageIter {
    stream: MessageStream,
    rt: Arc<Runtime>,
}

impl MessageIter {
    /// Messages skipped because this subscriber lagged.
    pub fn missed(&self) -> u64 {
        self.stream.missed()
    }

    /// Waits at most `timeout` for the next message.
    pub fn next_timeout(&mut self, timeout: std::time::Duration) -> Option<Message> {
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
    type Item = Message;
    fn next(&mut self) -> Option<Message> {
        let stream = &mut self.stream;
        self.rt.block_on(stream.next())
    }
}

impl std::fmt::Debug for MessageIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageIter").finish_non_exhaustive()
    }
}
