//! Principal types and what each may do, checked at compile time.
//!
//! A client is a [`Client<P>`](crate::Client) whose `P` is one of the
//! principal types below. Each principal type implements the capability
//! traits of what the gateway lets it do, and each family of operations is
//! offered only where its capability holds: `kv_*` methods exist on
//! `Client<P: UseKv>`, `send_message_to_agent` on `Client<P:
//! SendToAgents>`, and so on. A call the gateway would refuse does not
//! compile:
//!
//! ```compile_fail
//! # async fn demo(user: aether_client::UserClient) {
//! use aether_client::KvScope;
//! let _ = user.kv_get("k", &KvScope::Global).await; // users may not use KV
//! # }
//! ```
//!
//! ```compile_fail
//! # async fn demo(bridge: aether_client::MetricsBridgeClient) {
//! use aether_client::MessageType;
//! // the metrics bridge is receive-only
//! let _ = bridge.send_message_to_agent("ws", "i", "s", "hi", MessageType::Chat).await;
//! # }
//! ```
//!
//! ```compile_fail
//! # async fn demo(orchestrator: aether_client::OrchestratorClient) {
//! let _ = orchestrator.send_event("done").await; // only agents, tasks, services... emit events
//! # }
//! ```
//!
//! ```compile_fail
//! # async fn demo(agent: aether_client::AgentClient) {
//! let _ = agent.send_command_to_agent("ws", "i", "s", "stop").await; // commands are the workflow engine's
//! # }
//! ```
//!
//! Code generic over what a principal may do names the capability:
//!
//! ```
//! use aether_client::principal::UseKv;
//! use aether_client::{Client, KvScope, Result};
//!
//! async fn bump<P: UseKv>(client: &Client<P>) -> Result<i64> {
//!     client.kv_increment("visits", &KvScope::Global, None).await
//! }
//! ```
//!
//! | principal | agents | tasks | users | user broadcast | services | broadcasts | events, metrics | `send` | status | commands | KV |
//! |---|---|---|---|---|---|---|---|---|---|---|---|
//! | [`Agent`], [`Task`] | yes | yes | yes | | yes | yes | yes | yes | | | yes |
//! | [`User`] | yes | yes | yes | | yes | yes | | yes | | | |
//! | [`Orchestrator`] | yes | yes | | | | | | | yes | | |
//! | [`WorkflowEngine`] | yes | yes | yes | yes | yes | yes | yes | yes | | yes | yes |
//! | [`MetricsBridge`] | | | | | | | | | | | yes |
//! | [`Service`] | yes | yes | yes | yes | yes | yes | yes | yes | | | yes |
//! | [`Bridge`] | yes | yes | yes | yes | yes | yes | yes | yes | | | |
//!
//! Every principal may use checkpoints, tasks, sessions and handlers.

mod sealed {
    pub trait Sealed {}
}

/// A principal type: what the `P` of [`Client<P>`](crate::Client) can be.
/// Sealed.
pub trait PrincipalType: sealed::Sealed + Send + Sync + 'static {
    /// The principal's name, for logs and `Debug`.
    const NAME: &'static str;
}

/// May use the KV store (`kv_*`).
pub trait UseKv: PrincipalType {}

/// May message agents (`send_message_to_agent`).
pub trait SendToAgents: PrincipalType {}

/// May message tasks (`send_message_to_task`,
/// `send_message_to_pooled_task`, `send_broadcast_to_tasks`).
pub trait SendToTasks: PrincipalType {}

/// May message user windows (`send_message_to_user_session`,
/// `send_message_to_user_workspace`).
pub trait SendToUsers: PrincipalType {}

/// May message every window of a user (`send_message_to_user_broadcast`).
pub trait SendToUserBroadcast: PrincipalType {}

/// May message services and bridges (`send_message_to_service`,
/// `send_message_to_any_service`, `send_message_to_bridge`).
pub trait SendToServices: PrincipalType {}

/// May broadcast to a workspace's agents and users
/// (`send_broadcast_to_agents`, `send_broadcast_to_users`).
pub trait SendBroadcasts: PrincipalType {}

/// May emit events and metrics (`send_event`, `send_metric`).
pub trait SendEvents: PrincipalType {}

/// May send a built [`OutgoingMessage`](crate::OutgoingMessage) to any
/// topic its principal may reach (`send`, `try_send`).
pub trait SendMessages: PrincipalType {}

/// May send status (CONTROL) messages to agents and tasks
/// (`send_status_to_agent`, `send_status_to_task`).
pub trait SendStatus: PrincipalType {}

/// May send commands (`send_command_to_agent`, `send_command_to_task`,
/// `send_message_to_user`).
pub trait SendCommands: PrincipalType {}

/// An agent: `ag::{workspace}::{implementation}::{specifier}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agent {}
impl sealed::Sealed for Agent {}
impl PrincipalType for Agent {
    const NAME: &'static str = "agent";
}
impl UseKv for Agent {}
impl SendToAgents for Agent {}
impl SendToTasks for Agent {}
impl SendToUsers for Agent {}
impl SendToServices for Agent {}
impl SendBroadcasts for Agent {}
impl SendEvents for Agent {}
impl SendMessages for Agent {}

/// A task, unique (`tu::`) or pooled (`ta::`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {}
impl sealed::Sealed for Task {}
impl PrincipalType for Task {
    const NAME: &'static str = "task";
}
impl UseKv for Task {}
impl SendToAgents for Task {}
impl SendToTasks for Task {}
impl SendToUsers for Task {}
impl SendToServices for Task {}
impl SendBroadcasts for Task {}
impl SendEvents for Task {}
impl SendMessages for Task {}

/// A user window: `us::{user_id}::{window_id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum User {}
impl sealed::Sealed for User {}
impl PrincipalType for User {
    const NAME: &'static str = "user";
}
impl SendToAgents for User {}
impl SendToTasks for User {}
impl SendToUsers for User {}
impl SendToServices for User {}
impl SendBroadcasts for User {}
impl SendMessages for User {}

/// An orchestrator: launches agents; may message agents and tasks only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Orchestrator {}
impl sealed::Sealed for Orchestrator {}
impl PrincipalType for Orchestrator {
    const NAME: &'static str = "orchestrator";
}
impl SendToAgents for Orchestrator {}
impl SendToTasks for Orchestrator {}
impl SendStatus for Orchestrator {}

/// The workflow engine (a singleton): may message anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkflowEngine {}
impl sealed::Sealed for WorkflowEngine {}
impl PrincipalType for WorkflowEngine {
    const NAME: &'static str = "workflow_engine";
}
impl UseKv for WorkflowEngine {}
impl SendToAgents for WorkflowEngine {}
impl SendToTasks for WorkflowEngine {}
impl SendToUsers for WorkflowEngine {}
impl SendToUserBroadcast for WorkflowEngine {}
impl SendToServices for WorkflowEngine {}
impl SendBroadcasts for WorkflowEngine {}
impl SendEvents for WorkflowEngine {}
impl SendMessages for WorkflowEngine {}
impl SendCommands for WorkflowEngine {}

/// The metrics bridge (a singleton): receive-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricsBridge {}
impl sealed::Sealed for MetricsBridge {}
impl PrincipalType for MetricsBridge {
    const NAME: &'static str = "metrics_bridge";
}
impl UseKv for MetricsBridge {}

/// A service: `sv::{implementation}::{specifier}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {}
impl sealed::Sealed for Service {}
impl PrincipalType for Service {
    const NAME: &'static str = "service";
}
impl UseKv for Service {}
impl SendToAgents for Service {}
impl SendToTasks for Service {}
impl SendToUsers for Service {}
impl SendToUserBroadcast for Service {}
impl SendToServices for Service {}
impl SendBroadcasts for Service {}
impl SendEvents for Service {}
impl SendMessages for Service {}

/// A bridge: `br::{implementation}::{specifier}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bridge {}
impl sealed::Sealed for Bridge {}
impl PrincipalType for Bridge {
    const NAME: &'static str = "bridge";
}
impl SendToAgents for Bridge {}
impl SendToTasks for Bridge {}
impl SendToUsers for Bridge {}
impl SendToUserBroadcast for Bridge {}
impl SendToServices for Bridge {}
impl SendBroadcasts for Bridge {}
impl SendEvents for Bridge {}
impl SendMessages for Bridge {}

/// A principal known only at run time (see
/// [`ClientBuilder::for_principal`](crate::ClientBuilder::for_principal)
/// and [`Client::erase`](crate::Client::erase)): it offers the operations
/// every principal may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnyPrincipal {}
impl sealed::Sealed for AnyPrincipal {}
impl PrincipalType for AnyPrincipal {
    const NAME: &'static str = "any";
}
