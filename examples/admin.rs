//! Administration: an in-process gateway with an admin key; the
//! administrator mints an API token for an agent, which connects with it;
//! the administrator grants the agent access to another workspace, the
//! agent checks and uses it, the administrator revokes it and the agent
//! is refused; then a subject lends its rights to the agent with an
//! authority grant (on behalf of), and revokes that too. Exits 0.
//!
//! ```text
//! cargo run --example admin
//! ```

use aether_client::admin::{
    AccessLevel, AccessRequest, AclPrincipal, AclResource, AdminClient, GrantRequest, TokenSpec,
};
use aether_client::tasks::TaskSpec;
use aether_client::{AgentClient, Credentials, ErrorKind};
use aether_gateway::GatewayConfig;

const ADMIN_KEY: &str = "example-admin-key";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. A gateway outside dev mode: only the admin key administers.
    let gateway = aether_gateway::start(GatewayConfig::default().with_admin_key(ADMIN_KEY)).await?;
    let url = gateway.url();
    println!("gateway: {url}");

    // 2. The administrator: any client connected with the admin key.
    let ops = AgentClient::builder("ops", "admin", "root")?
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(ADMIN_KEY))
        .build();
    ops.connect().await?;
    let admin = AdminClient::new(&ops);

    // 3. A token for the worker agent (shown once), and the agent
    //    connecting with it: it may work in its own workspace only.
    let minted = admin
        .create_token(TokenSpec::new("worker", "Agent").workspace_patterns(["ops-team"]))
        .await?;
    println!("minted token {} for agents of ops-team", minted.token.id);
    let worker = AgentClient::builder("ops-team", "worker", "w1")?
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(minted.secret.expose()))
        .build();
    worker.connect().await?;
    let me = AclPrincipal::agent("ops-team", "worker", "w1");
    let finance = AclResource::workspace("finance");
    let as_worker = AdminClient::new(&worker);

    let refused = worker
        .create_task(TaskSpec::new("report").workspace("finance"))
        .await
        .expect_err("no rights yet");
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied);
    println!("before the grant: {refused}");

    // 4. Grant READ_WRITE on the workspace, check it, use it.
    let rule = admin
        .grant_access(me.clone(), finance.clone(), AccessLevel::ReadWrite)
        .await?;
    println!(
        "granted: rule {} ({:?} on {})",
        rule.id, rule.level, rule.resource.id
    );
    let decision = as_worker
        .check_access(AccessRequest::new(finance.clone(), AccessLevel::ReadWrite))
        .await?;
    assert!(decision.allowed);
    println!(
        "access check: {} at {:?}",
        decision.decision, decision.level
    );
    let task = worker
        .create_task(TaskSpec::new("report").workspace("finance"))
        .await?;
    println!("task created in finance: {}", task.task_id);

    // 5. Revoke it: refused again.
    admin.revoke_rule(&rule.id).await?;
    let refused = worker
        .create_task(TaskSpec::new("report").workspace("finance"))
        .await
        .expect_err("revoked");
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied);
    println!("after the revocation: {refused}");

    // 6. On behalf of: an agent of finance lends its rights to the worker.
    let alice = AgentClient::builder("finance", "admin", "alice")?
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(ADMIN_KEY))
        .build();
    // (Alice's session has the admin key, but lending decides with her
    // rights as a plain agent of finance.)
    alice.connect().await?;
    let lender = AdminClient::new(&alice);
    let grant = lender
        .exchange_authority_grant(GrantRequest::to(me.clone()).workspaces(["finance"]))
        .await?;
    let task = worker
        .create_task(
            TaskSpec::new("report")
                .workspace("finance")
                .authorization(grant.context()),
        )
        .await?;
    println!("task created on behalf of alice: {}", task.task_id);
    lender.revoke_authority_grant(&grant.grant_id).await?;
    let refused = worker
        .create_task(
            TaskSpec::new("report")
                .workspace("finance")
                .authorization(grant.context()),
        )
        .await
        .expect_err("grant revoked");
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied);
    println!("after revoking the grant: {refused}");

    gateway.shutdown().await;
    println!("done");
    Ok(())
}
