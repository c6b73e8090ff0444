//! The eight principal clients: thin compositions over [`Client`], each with
//! the send helpers its principal type may use.

use super::senders::{builders, principal_client, senders};
use crate::error::Result;

principal_client!(
    /// An agent: `ag::{workspace}::{implementation}::{specifier}`.
    ///
    /// ```no_run
    /// # async fn demo() -> aether_client::Result<()> {
    /// use aether_client::{AgentClient, MessageType};
    /// let agent = AgentClient::builder("ws", "echo", "one")?.gateway("http://127.0.0.1:50051").build();
    /// agent.on_chat_message(|m| async move { println!("chat from {}", m.source_topic()) });
    /// agent.connect().await?;
    /// agent.send_message_to_agent("ws", "echo", "two", "hello", MessageType::Chat).await?;
    /// agent.close().await;
    /// # Ok(()) }
    /// ```
    AgentClient
);
builders!(AgentClient agent);

senders!(async AgentClient {
    agent,
    task,
    user_session,
    user_workspace,
    service,
    broadcasts,
    events,
    raw
});

principal_client!(
    /// A task: unique (`tu::`) with a specifier of your choosing, or pooled
    /// (`ta::`) with an instance id the gateway assigns (see
    /// [`SessionInfo::assigned_id`](crate::SessionInfo::assigned_id)).
    TaskClient
);
builders!(TaskClient task);

impl TaskClient {
    /// The server-assigned instance id of a pooled task (after connect).
    pub fn assigned_id(&self) -> Option<String> {
        self.client
            .session()
            .map(|s| s.assigned_id)
            .filter(|s| !s.is_empty())
    }
}
senders!(async TaskClient {
    agent,
    task,
    user_session,
    user_workspace,
    service,
    broadcasts,
    events,
    raw
});

principal_client!(
    /// A user window: `us::{user_id}::{window_id}`. Users start without a
    /// workspace; [`switch_workspace`](UserClient::switch_workspace) joins one.
    UserClient
);
builders!(UserClient user);

impl UserClient {
    /// Joins a workspace: the window then receives `gu::{ws}` and
    /// `uw::{user}::{ws}` messages. The gateway sends no reply; the choice
    /// is remembered and replayed after a reconnect.
    pub async fn switch_workspace(&self, workspace: &str) -> Result<()> {
        self.client.switch_workspace_raw(workspace).await
    }

    /// The workspace last switched to.
    pub fn workspace(&self) -> Option<String> {
        self.client.current_workspace()
    }
}
senders!(async UserClient {
    agent,
    task,
    user_session,
    user_workspace,
    service,
    broadcasts,
    raw
});

principal_client!(
    /// An orchestrator: launches agents for the profiles it serves. It has no
    /// topic; the gateway reaches it with task assignments (`agent_startup`
    /// tasks, see [`on_task_assignment`](crate::Client::on_task_assignment)).
    /// Run an [`Orchestrator`](crate::orchestrator::Orchestrator) over it
    /// with [`run_orchestrator`](crate::orchestrator::run_orchestrator). It
    /// may send only to agents and tasks.
    OrchestratorClient
);
builders!(OrchestratorClient orchestrator);

senders!(async OrchestratorClient {
    agent,
    task,
    status
});

principal_client!(
    /// The workflow engine: receives every EVENT (`send_event` from anyone,
    /// task completion events) through [`on_event`](crate::Client::on_event);
    /// may send to anyone, including commands (`send_command_to_agent`,
    /// `send_command_to_task`) and user broadcasts.
    WorkflowEngineClient
);
builders!(WorkflowEngineClient workflow_engine);

senders!(async WorkflowEngineClient {
    agent,
    task,
    user_session,
    user_workspace,
    user_broadcast,
    service,
    broadcasts,
    events,
    raw,
    commands
});

principal_client!(
    /// The metrics bridge: receives every metric, typed with
    /// [`on_metric_payload`](MetricsBridgeClient::on_metric_payload) (or raw
    /// with `on_metric` and [`Message::decode_metric`](crate::Message::decode_metric)).
    /// It is receive-only: it has no send methods at all (the reference
    /// SDK's `send_acknowledgment` is refused by every gateway, so it is
    /// left out). Base operations (tasks, KV...) remain available.
    MetricsBridgeClient
);
builders!(MetricsBridgeClient metrics_bridge);

principal_client!(
    /// A service: `sv::{implementation}::{specifier}`, workspace-less.
    ServiceClient
);
builders!(ServiceClient service);

impl ServiceClient {}
senders!(async ServiceClient {
    agent,
    task,
    user_session,
    user_workspace,
    user_broadcast,
    service,
    broadcasts,
    events,
    raw
});

principal_client!(
    /// A bridge: `br::{implementation}::{specifier}`, connecting another
    /// messaging system to Aether; it may send to anyone, user broadcasts
    /// included. The Python SDK has no bridge client (the Go and
    /// TypeScript SDKs do).
    BridgeClient
);
builders!(BridgeClient bridge);

senders!(async BridgeClient {
    agent,
    task,
    user_session,
    user_workspace,
    user_broadcast,
    service,
    broadcasts,
    events,
    raw
});

// KV only on the principals the gateway lets use it (see `clients::kv`).
use super::kv::kv_methods;
kv_methods!(async AgentClient);
kv_methods!(async TaskClient);
kv_methods!(async ServiceClient);
kv_methods!(async WorkflowEngineClient);
kv_methods!(async MetricsBridgeClient);
