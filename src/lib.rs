//! # aether-client
//!
//! The Rust SDK for the Aether control plane. Agents, tasks, users,
//! orchestrators, workflow engines, metrics bridges, services and bridges
//! connect to an Aether gateway over one bidirectional gRPC stream and
//! exchange typed messages, use a scoped KV store, save checkpoints, and
//! create and run tasks.
//!
//! ```no_run
//! use aether_client::{AgentClient, MessageType};
//!
//! # async fn demo() -> aether_client::Result<()> {
//! let agent = AgentClient::builder("demo", "echo", "one")?
//!     .gateway("http://127.0.0.1:50051")
//!     .build();
//! agent.on_chat_message(|msg| async move {
//!     println!("{} says {:?}", msg.source_topic(), msg.payload_str());
//! });
//! let session = agent.connect().await?; // returns after the ConnectionAck
//! println!("session {}", session.session_id);
//! agent.send_message_to_agent("demo", "echo", "two", "hello", MessageType::Chat).await?;
//! agent.close().await;
//! # Ok(()) }
//! ```
//!
//! # Design notes
//!
//! **Floors.** The crate is built in floors, each importing only the ones
//! below it:
//!
//! 1. [`connection`](crate::ConnectOptions) (private): the engine. One
//!    driver task owns the stream; a bounded outbound queue feeds it; the
//!    reader routes each frame to the call waiting for it (request id ->
//!    oneshot), to its stream (stream id -> bounded inbox: task events,
//!    HTTP responses, tunnels), or to the push subscribers (the handler
//!    dispatch task, message and frame streams, orchestrator runners).
//! 2. [`stack`]: the tower stack every operation runs through, and the
//!    [`Operation`](stack::Operation) trait: a request type that knows its
//!    frame and decodes its reply into a typed result.
//! 3. [`handlers`](crate::MessageStream) (private) and the client core,
//!    [`Client<P>`]: lifecycle, handlers, `run`/`call`.
//! 4. `ops` (private): one folder per operation family (message, kv,
//!    checkpoint, task, session) holding its operation types, their
//!    decoding, and the methods, async and blocking.
//! 5. [`blocking`], [`orchestrator`], [`coord`]: built on the above.
//!
//! **Principal clients are one generic type.** `AgentClient` is
//! `Client<Agent>`, `UserClient` is `Client<User>`, and so on. Each family
//! of methods is an `impl<P: Capability> Client<P>` block in its own
//! folder, so every method is written once, is inherent (no trait to
//! import, no prelude), and exists only where the principal may use it:
//! `UserClient::kv_get` does not compile (see [`principal`]). We chose
//! this over capability traits with a prelude (methods that need an
//! import to be found, and default bodies spread over traits) and over
//! thin inherent methods per client (eight copies of every method, or the
//! macros that used to generate them). The capabilities are also
//! useful bounds for your own generic code (`fn f<P: UseKv>(c: &Client<P>)`).
//!
//! **Nothing is lost silently.** Every consumer of pushed frames (handlers,
//! [`MessageStream`], [`FrameStream`], task subscriptions) has a bounded
//! queue; a full one slows the connection down (and so the gateway and the
//! sender) instead of dropping. To keep a consumer that awaits a reply from
//! deadlocking the connection, the reader lends full queues room from a
//! byte budget while calls await replies; past the budget, the loss is
//! reported in place as a [`Lagged`](ErrorKind::Lagged) error.
//!
//! **Every call, fire-and-forget included, goes through the same stack**,
//! so authorization stamping and your layers apply to `try_send` and the
//! `_nowait` methods as well.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(unreachable_pub)]

pub mod blocking;
mod clients;
mod connection;
pub mod coord;
mod error;
mod frames;
mod handlers;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
mod message;
mod ops;
pub mod orchestrator;
pub mod proto;
pub mod stack;

pub use clients::principal;
pub use clients::{
    AgentClient, BridgeClient, BuildClient, Client, ClientBuilder, DEFAULT_MAX_PAYLOAD,
    MetricsBridgeClient, OrchestratorClient, ServiceClient, TaskClient, UserClient,
    WorkflowEngineClient,
};
pub use connection::{
    ConnectOptions, ConnectionState, Credentials, Pem, ReconnectPolicy, SessionInfo, TlsOptions,
};
pub use error::{BoxError, Error, ErrorKind, Result, RpcCode};
pub use handlers::{FrameStream, MessageStream};
pub use message::{Message, MessageType, MetricBuilder};
pub use ops::admin;
pub use ops::checkpoint::{Checkpoint, CheckpointTtl};
pub use ops::http as proxy;
pub use ops::kv::{self, KvPage, KvScope, KvStore};
pub use ops::message::OutgoingMessage;
pub use ops::task as tasks;
pub use ops::tunnel;

/// Typed, validated identities and topics (from `aether-protocol`, shared
/// with the gateway).
pub use aether_protocol::identity;

/// The middleware crate the operation stacks are built from.
pub use aether_middleware as middleware;
