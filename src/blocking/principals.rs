//! Blocking principal clients.

use crate::ClientBuilder;
use crate::clients::senders::{builders, senders};
use crate::error::Result;

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
builders!(AgentClient agent);
senders!(blocking AgentClient { agent, task, user_session, user_workspace, service, broadcasts, events, raw });

blocking_client!(
    /// Blocking twin of [`crate::TaskClient`].
    TaskClient
);
builders!(TaskClient task);
impl TaskClient {
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
builders!(UserClient user);
impl UserClient {
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
builders!(OrchestratorClient orchestrator);
senders!(blocking OrchestratorClient { agent, task, status });

blocking_client!(
    /// Blocking twin of [`crate::WorkflowEngineClient`].
    WorkflowEngineClient
);
builders!(WorkflowEngineClient workflow_engine);
senders!(blocking WorkflowEngineClient { agent, task, user_session, user_workspace, user_broadcast, service, broadcasts, events, raw, commands });

blocking_client!(
    /// Blocking twin of [`crate::MetricsBridgeClient`]: receive-only.
    MetricsBridgeClient
);
builders!(MetricsBridgeClient metrics_bridge);

blocking_client!(
    /// Blocking twin of [`crate::ServiceClient`].
    ServiceClient
);
builders!(ServiceClient service);
senders!(blocking ServiceClient { agent, task, user_session, user_workspace, user_broadcast, service, broadcasts, events, raw });

blocking_client!(
    /// Blocking twin of [`crate::BridgeClient`].
    BridgeClient
);
builders!(BridgeClient bridge);
senders!(blocking BridgeClient { agent, task, user_session, user_workspace, user_broadcast, service, broadcasts, events, raw });

// KV only on the principals the gateway lets use it (see `clients::kv`).
use crate::clients::kv::kv_methods;
kv_methods!(blocking AgentClient);
kv_methods!(blocking TaskClient);
kv_methods!(blocking ServiceClient);
kv_methods!(blocking WorkflowEngineClient);
kv_methods!(blocking MetricsBridgeClient);
