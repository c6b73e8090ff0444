//! Synchronous twins of the async clients, for threaded programs (like
//! `reqwest::blocking`).
//!
//! Each blocking client runs its connection on a small tokio runtime of its
//! own, and runs your handlers on a dedicated handler thread, off the
//! reader: a handler may call any blocking method of the same client (say a
//! send, or a session lookup) without deadlocking, because the reply is
//! read by the runtime while the handler thread waits. Handlers run one at a
//! time, in arrival order.
//!
//! Do not use a blocking client from inside an async runtime; use the async
//! client there.
//!
//! ```no_run
//! use aether_client::blocking::AgentClient;
//! use aether_client::MessageType;
//!
//! # fn demo() -> aether_client::Result<()> {
//! let agent = AgentClient::builder("demo", "worker", "one")?.gateway("http://127.0.0.1:50051").build()?;
//! agent.on_chat_message(|msg| println!("got {:?}", msg.payload_str()));
//! agent.connect()?;
//! agent.send_message_to_agent("demo", "worker", "two", "hi", MessageType::Chat)?;
//! agent.close();
//! # Ok(()) }
//! ```

mod admin;
mod admin_access;
mod admin_acl;
mod admin_agents;
mod admin_audit;
mod admin_grants;
mod admin_sessions;
mod admin_tokens;
mod admin_workspaces;
mod checkpoint;
mod client;
mod handler_thread;
mod kv;
mod message;
mod orchestrator;
mod principals;
mod session;
mod tasks;

/// Runs blocking calls on behalf of a subject (see [`crate::stack::authority`]).
pub use crate::stack::authority::on_behalf_of_sync as on_behalf_of;
pub use admin::AdminClient;
pub use client::{Client, MessageIter};
pub use kv::KvListIter;
pub use orchestrator::OrchestratorRunner;
pub use principals::{
    AgentClient, BridgeClient, MetricsBridgeClient, OrchestratorClient, ServiceClient, TaskClient,
    UserClient, WorkflowEngineClient,
};
pub use tasks::{TaskHandle, TaskIter, TaskSubscription};
