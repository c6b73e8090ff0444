//! Blocking principal clients.

use crate::ClientBuilder;
use crate::clients::senders::senders;
use crate::error::Result;
use crate::identity::Principal;

macro_rules! blocking_client {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $ty {
            core: super::Client,
        }

        impl crate::clients::core::sealed::Sealed for $ty {}
        impl crate::PrincipalClient for $ty {
            type Output = Result<$ty>;
            fn build_from(builder: ClientBuilder<Self>) -> Result<$ty> {
                Ok($ty { core: super::Client::build(builder)? })
            }
        }

        impl std::ops::Deref for $ty {
            type Target = super::Client;
            fn deref(&self) -> &super::Client {
                &self.core
            }
        }
    };
}

blocking_client!(
    /// Blocking twin of [`crate::AgentClient`].
    AgentClient
);
impl AgentClient {
    /// A builder for an agent.
    pub fn builder(
        workspace: &str,
        implementation: &str,
        specifier: &str,
    ) -> Result<ClientBuilder<AgentClient>> {
        Ok(ClientBuilder::new(Principal::agent(
            workspace,
            implementation,
            specifier,
        )?))
    }
}
senders!(blocking AgentClient { agent, task, user_session, user_workspace, service, broadcasts, events, raw });

blocking_client!(
    /// Blocking twin of [`crate::TaskClient`].
    TaskClient
);
impl TaskClient {
    /// A builder for a unique task.
    pub fn builder(
        workspace: &str,
        implementation: &str,
        unique_specifier: &str,
    ) -> Result<ClientBuilder<TaskClient>> {
        Ok(ClientBuilder::new(Principal::unique_task(
            workspace,
            implementation,
            unique_specifier,
        )?))
    }
    /// A builder for a pooled task.
    pub fn pooled(workspace: &str, implementation: &str) -> Result<ClientBuilder<TaskClient>> {
        Ok(ClientBuilder::new(Principal::pooled_task(
            workspace,
            implementation,
        )?))
    }
    /// The server-assigned instance id of a pooled task.
    pub fn assigned_id(&self) -> Option<String> {
        self.session()
            .map(|s| s.assigned_id)
            .filter(|s| !s.is_empty())
    }
}
senders!(blocking TaskClient { agent, task, user_session, user_workspace, service, broadcasts, events, raw });

blocking_client!(
    /// Blocking twin of [`crate::UserClient`].
    UserClient
);
impl UserClient {
    /// A builder for a user window.
    pub fn builder(user_id: &str, window_id: &str) -> Result<ClientBuilder<UserClient>> {
        Ok(ClientBuilder::new(Principal::user(user_id, window_id)?))
    }
    /// Joins a workspace (replayed after a reconnect).
    pub fn switch_workspace(&self, workspace: &str) -> Result<()> {
        self.block_on(self.client.switch_workspace_raw(workspace))
    }
}
senders!(blocking UserClient { agent, task, user_session, user_workspace, service, broadcasts, raw });

blocking_client!(
    /// Blocking twin of [`crate::OrchestratorClient`].
    OrchestratorClient
);
impl OrchestratorClient {
    /// A builder for an orchestrator.
    pub fn builder(
        implementation: &str,
        specifier: &str,
        supported_profiles: Vec<String>,
    ) -> Result<ClientBuilder<OrchestratorClient>> {
        Ok(ClientBuilder::new(Principal::orchestrator(
            implementation,
            specifier,
            supported_profiles,
        )?))
    }
}
senders!(blocking OrchestratorClient { agent, task, status });

blocking_client!(
    /// Blocking twin of [`crate::WorkflowEngineClient`].
    WorkflowEngineClient
);
impl WorkflowEngineClient {
    /// A builder for the workflow engine.
    pub fn builder() -> ClientBuilder<WorkflowEngineClient> {
        ClientBuilder::new(Principal::workflow_engine())
    }
}
senders!(blocking WorkflowEngineClient { agent, task, user_session, user_workspace, user_broadcast, service, broadcasts, events, raw, commands });

blocking_client!(
    /// Blocking twin of [`crate::MetricsBridgeClient`]: receive-only.
    MetricsBridgeClient
);
impl MetricsBridgeClient {
    /// A builder for the metrics bridge.
    pub fn builder() -> ClientBuilder<MetricsBridgeClient> {
        ClientBuilder::new(Principal::metrics_bridge())
    }
}

blocking_client!(
    /// Blocking twin of [`crate::ServiceClient`].
    ServiceClient
);
impl ServiceClient {
    /// A builder for a service.
    pub fn builder(implementation: &str, specifier: &str) -> Result<ClientBuilder<ServiceClient>> {
        Ok(ClientBuilder::new(Principal::service(
            implementation,
            specifier,
            false,
        )?))
    }
    /// A builder for a service that is never offered pooled tasks.
    pub fn builder_no_pool_consumer(
        implementation: &str,
        specifier: &str,
    ) -> Result<ClientBuilder<ServiceClient>> {
        Ok(ClientBuilder::new(Principal::service(
            implementation,
            specifier,
            true,
        )?))
    }
}
senders!(blocking ServiceClient { agent, task, user_session, user_workspace, user_broadcast, service, broadcasts, events, raw });

blocking_client!(
    /// Blocking twin of [`crate::BridgeClient`].
    BridgeClient
);
impl BridgeClient {
    /// A builder for a bridge.
    pub fn builder(implementation: &str, specifier: &str) -> Result<ClientBuilder<BridgeClient>> {
        Ok(ClientBuilder::new(Principal::bridge(
            implementation,
            specifier,
        )?))
    }
}
senders!(blocking BridgeClient { agent, task, user_session, user_workspace, user_broadcast, service, broadcasts, events, raw });

// KV only on the principals the gateway lets use it (see `clients::kv`).
use crate::clients::kv::kv_methods;
kv_methods!(blocking AgentClient);
kv_methods!(blocking TaskClient);
kv_methods!(blocking ServiceClient);
kv_methods!(blocking WorkflowEngineClient);
kv_methods!(blocking MetricsBridgeClient);
