//! # aether-client
//!
//! The Rust SDK for the Aether control plane. Agents, tasks, users,
//! orchestrators, workflow engines, metrics bridges, services and bridges
//! connect to an Aether gateway over one bidirectional gRPC stream and
//! exchange typed messages.
//!
//! Every operation runs through a tower stack
//! (`trace -> timeout -> retry -> auth -> correlation -> multiplexer`) that
//! you can wrap with your own layers ([`ClientBuilder::layer`]).
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
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blocking;
mod clients;
pub mod connection;
pub mod coord;
mod error;
pub mod handlers;
mod message;
pub mod ops;
pub mod orchestrator;
pub mod proto;
pub mod tasks;

pub use clients::{
    AgentClient, BridgeClient, Client, ClientBuilder, DEFAULT_MAX_PAYLOAD, MetricsBridgeClient,
    OrchestratorClient, OutgoingMessage, PrincipalClient, ServiceClient, TaskClient, UserClient,
    WorkflowEngineClient,
};
pub use clients::{KvScope, KvStore};
pub use connection::{
    ConnectOptions, ConnectionState, Credentials, Pem, ReconnectPolicy, SessionInfo, TlsOptions,
};
pub use error::{Error, ErrorKind, Result};
pub use handlers::MessageStream;
pub use message::{Message, MessageType, MetricBuilder};
pub use ops::checkpoint::{Checkpoint, CheckpointTtl};
pub use ops::kv::KvPage;

/// Typed, validated identities and topics (from `aether-protocol`, shared
/// with the gateway).
pub use aether_protocol::identity;

/// The middleware crate the operation stacks are built from.
pub use aether_middleware as middleware;
