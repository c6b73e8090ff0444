//! A gateway that needs credentials, and clients that present them: the
//! admin key (superadmin sessions) or tokens an administrator minted.

use aether_client::admin::{AdminClient, TokenSpec};
use aether_client::{AgentClient, Credentials, OrchestratorClient, WorkflowEngineClient};
use aether_gateway::{GatewayConfig, RunningGateway};

/// The admin key of [`secured`] gateways.
pub const KEY: &str = "admin-secret";

/// A gateway outside dev mode, with the admin key [`KEY`].
pub async fn secured() -> RunningGateway {
    super::gateway_with(GatewayConfig::default().with_admin_key(KEY)).await
}

/// An agent `ag::{ws}::admin::{spec}` with the admin key: a superadmin
/// session.
pub async fn admin_agent(url: &str, ws: &str, spec: &str) -> AgentClient {
    let a = AgentClient::builder(ws, "admin", spec)
        .unwrap()
        .gateway(url)
        .credentials(Credentials::new().with_api_key(KEY))
        .build();
    a.connect().await.expect("admin agent connects");
    a
}

/// A token for principals of `ptype`, minted by an administrator.
pub async fn token(url: &str, ptype: &str) -> Credentials {
    let minter = admin_agent(url, "ops", &format!("minter-{}", uuid::Uuid::new_v4())).await;
    let minted = AdminClient::new(&minter)
        .create_token(TokenSpec::new(format!("{ptype} token"), ptype))
        .await
        .expect("token minted");
    minter.close().await;
    Credentials::new().with_api_key(minted.secret.expose())
}

/// The workflow engine with a token: system-level rights only.
pub async fn wfe(url: &str) -> WorkflowEngineClient {
    let c = WorkflowEngineClient::builder()
        .gateway(url)
        .credentials(token(url, "WorkflowEngine").await)
        .build();
    c.connect().await.expect("workflow engine connects");
    c
}

/// An orchestrator with a token: system-level rights only.
pub async fn orchestrator(url: &str, spec: &str) -> OrchestratorClient {
    let c = OrchestratorClient::builder("launcher", spec, vec!["local".into()])
        .unwrap()
        .gateway(url)
        .credentials(token(url, "Orchestrator").await)
        .build();
    c.connect().await.expect("orchestrator connects");
    c
}
