//! Principal clients: one generic [`Client<P>`] over one connection, typed
//! by its principal, with one module per principal for what is its own
//! (its builder, its extras).

mod agent;
mod bridge;
mod builder;
mod client;
mod handlers;
mod metrics_bridge;
mod orchestrator;
pub mod principal;
mod service;
mod task;
mod user;
mod workflow_engine;

pub use agent::AgentClient;
pub use bridge::BridgeClient;
pub(crate) use builder::sealed;
pub use builder::{BuildClient, ClientBuilder, DEFAULT_MAX_PAYLOAD};
pub use client::Client;
pub use metrics_bridge::MetricsBridgeClient;
pub use orchestrator::OrchestratorClient;
pub use service::ServiceClient;
pub use task::TaskClient;
pub use user::UserClient;
pub use workflow_engine::WorkflowEngineClient;
