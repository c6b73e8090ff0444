//! Principal clients: one per principal type, thin compositions over the
//! shared [`Client`] core.

pub(crate) mod core;
mod metrics;
mod principals;
pub(crate) mod senders;
mod tasks;

pub use self::core::{
    Client, ClientBuilder, DEFAULT_MAX_PAYLOAD, OutgoingMessage, PrincipalClient,
};
pub use principals::{
    AgentClient, BridgeClient, MetricsBridgeClient, OrchestratorClient, ServiceClient, TaskClient,
    UserClient, WorkflowEngineClient,
};
pub use tasks::TaskStream;
