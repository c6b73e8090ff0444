//! Principal clients: one per principal type, thin compositions over the
//! shared [`Client`] core.

mod checkpoint;
pub(crate) mod core;
pub(crate) mod kv;
mod metrics;
mod nowait;
mod principals;
pub(crate) mod senders;
mod tasks;

pub use self::core::{
    Client, ClientBuilder, DEFAULT_MAX_PAYLOAD, OutgoingMessage, PrincipalClient,
};
pub use kv::{KvScope, KvStore};
pub use principals::{
    AgentClient, BridgeClient, MetricsBridgeClient, OrchestratorClient, ServiceClient, TaskClient,
    UserClient, WorkflowEngineClient,
};
pub use tasks::TaskStream;
