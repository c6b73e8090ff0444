//! Principal clients: one per principal type, thin compositions over the
//! shared [`Client`] core.

pub(crate) mod core;
mod principals;
pub(crate) mod senders;

pub use self::core::{
    Client, ClientBuilder, DEFAULT_MAX_PAYLOAD, OutgoingMessage, PrincipalClient,
};
pub use principals::{
    AgentClient, BridgeClient, MetricsBridgeClient, OrchestratorClient, ServiceClient, TaskClient,
    UserClient, WorkflowEngineClient,
};
