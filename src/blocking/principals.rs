//! Blocking principal clients: their builders.

use super::Client;
use crate::clients::ClientBuilder;
use crate::clients::principal::{
    Agent, Bridge, MetricsBridge, Orchestrator, Service, Task, User, WorkflowEngine,
};
use crate::error::Result;

/// Blocking twin of [`crate::AgentClient`].
pub type AgentClient = Client<Agent>;
/// Blocking twin of [`crate::TaskClient`].
pub type TaskClient = Client<Task>;
/// Blocking twin of [`crate::UserClient`].
pub type UserClient = Client<User>;
/// Blocking twin of [`crate::OrchestratorClient`].
pub type OrchestratorClient = Client<Orchestrator>;
/// Blocking twin of [`crate::WorkflowEngineClient`].
pub type WorkflowEngineClient = Client<WorkflowEngine>;
/// Blocking twin of [`crate::MetricsBridgeClient`]: receive-only.
pub type MetricsBridgeClient = Client<MetricsBridge>;
/// Blocking twin of [`crate::ServiceClient`].
pub type ServiceClient = Client<Service>;
/// Blocking twin of [`crate::BridgeClient`].
pub type BridgeClient = Client<Bridge>;

impl Client<Agent> {
    /// A builder for an agent (see [`crate::AgentClient::builder`]).
    pub fn builder(
        workspace: &str,
        implementation: &str,
        specifier: &str,
    ) -> Result<ClientBuilder<Self>> {
        crate::AgentClient::builder(workspace, implementation, specifier)
            .map(ClientBuilder::retarget)
    }
}

impl Client<Task> {
    /// A builder for a unique task (see [`crate::TaskClient::builder`]).
    pub fn builder(
        workspace: &str,
        implementation: &str,
        unique_specifier: &str,
    ) -> Result<ClientBuilder<Self>> {
        crate::TaskClient::builder(workspace, implementation, unique_specifier)
            .map(ClientBuilder::retarget)
    }

    /// A builder for a pooled task (see [`crate::TaskClient::pooled`]).
    pub fn pooled(workspace: &str, implementation: &str) -> Result<ClientBuilder<Self>> {
        crate::TaskClient::pooled(workspace, implementation).map(ClientBuilder::retarget)
    }
}

impl Client<User> {
    /// A builder for a user window (see [`crate::UserClient::builder`]).
    pub fn builder(user_id: &str, window_id: &str) -> Result<ClientBuilder<Self>> {
        crate::UserClient::builder(user_id, window_id).map(ClientBuilder::retarget)
    }
}

impl Client<Orchestrator> {
    /// A builder for an orchestrator (see [`crate::OrchestratorClient::builder`]).
    pub fn builder(
        implementation: &str,
        specifier: &str,
        supported_profiles: Vec<String>,
    ) -> Result<ClientBuilder<Self>> {
        crate::OrchestratorClient::builder(implementation, specifier, supported_profiles)
            .map(ClientBuilder::retarget)
    }
}

impl Client<WorkflowEngine> {
    /// A builder for the workflow engine.
    pub fn builder() -> ClientBuilder<Self> {
        crate::WorkflowEngineClient::builder().retarget()
    }
}

impl Client<MetricsBridge> {
    /// A builder for the metrics bridge.
    pub fn builder() -> ClientBuilder<Self> {
        crate::MetricsBridgeClient::builder().retarget()
    }
}

impl Client<Service> {
    /// A builder for a service that also consumes pooled tasks.
    pub fn builder(implementation: &str, specifier: &str) -> Result<ClientBuilder<Self>> {
        crate::ServiceClient::builder(implementation, specifier).map(ClientBuilder::retarget)
    }

    /// A builder for a service that is never offered pooled tasks.
    pub fn builder_no_pool_consumer(
        implementation: &str,
        specifier: &str,
    ) -> Result<ClientBuilder<Self>> {
        crate::ServiceClient::builder_no_pool_consumer(implementation, specifier)
            .map(ClientBuilder::retarget)
    }
}

impl Client<Bridge> {
    /// A builder for a bridge.
    pub fn builder(implementation: &str, specifier: &str) -> Result<ClientBuilder<Self>> {
        crate::BridgeClient::builder(implementation, specifier).map(ClientBuilder::retarget)
    }
}
