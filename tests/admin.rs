//! The AdminClient's token and audit families through the SDK, against a
//! gateway outside dev mode: mint, connect with the token, revoke (the
//! client stops for good), audit, and typed refusals.

mod common;

use aether_client::admin::{AdminClient, AuditEventSpec, AuditFilter, TokenListOptions, TokenSpec};
use aether_client::{AgentClient, Credentials, ErrorKind, UserClient, WorkflowEngineClient};
use aether_gateway::GatewayConfig;
use common::{gateway_with, within};

const KEY: &str = "root-key";

async fn admin_over(url: &str) -> (UserClient, AdminClient) {
    let user = UserClient::builder("root", "console")
        .unwrap()
        .gateway(url)
        .credentials(Credentials::new().with_api_key(KEY))
        .build();
    user.connect().await.unwrap();
    let admin = AdminClient::new(&user);
    (user, admin)
}

#[tokio::test]
async fn mint_connect_revoke_through_the_sdk() {
    let gw = gateway_with(GatewayConfig::default().with_admin_key(KEY)).await;
    let url = gw.url();
    let (_root, admin) = admin_over(&url).await;

    let minted = admin
        .create_token(TokenSpec::new("worker", "agent").workspace_patterns(["jobs-*"]))
        .await
        .unwrap();
    assert_eq!(minted.token.principal_type, "Agent");
    assert!(format!("{minted:?}").contains("<redacted>"));
    let agent = AgentClient::builder("jobs-eu", "worker", "w1")
        .unwrap()
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(minted.secret.expose()))
        .build();
    agent.connect().await.unwrap();

    // The wrong workspace or type is PermissionDenied, before anything else.
    let elsewhere = AgentClient::builder("payroll", "worker", "w1")
        .unwrap()
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(minted.secret.expose()))
        .build();
    let err = elsewhere.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let wfe = WorkflowEngineClient::builder()
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(minted.secret.expose()))
        .build();
    assert_eq!(
        wfe.connect().await.unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );

    let page = admin
        .list_tokens(TokenListOptions::default())
        .await
        .unwrap();
    assert_eq!(page.total_count, 1);
    let got = admin.get_token(&minted.token.id).await.unwrap();
    assert!(got.last_used_at.is_some());

    // Revoking ends the agent's session; it does not reconnect.
    admin.revoke_token(&minted.token.id).await.unwrap();
    within("the revoked agent stops", agent.wait_until_disconnected()).await;
    assert!(agent.state().is_closed());
    let page = admin
        .list_tokens(TokenListOptions::default().include_revoked(true))
        .await
        .unwrap();
    assert!(page.tokens[0].revoked && page.tokens[0].revoked_at.is_some());
    admin.delete_token(&minted.token.id).await.unwrap();
    let err = admin.get_token(&minted.token.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // Audit: the revocation is there; submissions are typed.
    let revokes = admin
        .audit_query(AuditFilter::new().event_type("token").operation("revoke"))
        .await
        .unwrap();
    assert_eq!(revokes.entries[0].resource_id, minted.token.id);
    admin
        .submit_audit_event(AuditEventSpec::new("custom", "drill").resource("exercise", "1"))
        .await
        .unwrap();
    let err = admin
        .submit_audit_event(AuditEventSpec::new("nonsense", "x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    gw.shutdown().await;
}

#[tokio::test]
async fn non_administrators_get_typed_refusals() {
    let gw = gateway_with(GatewayConfig::default().with_admin_key(KEY)).await;
    let url = gw.url();
    let (_root, admin) = admin_over(&url).await;
    let minted = admin
        .create_token(TokenSpec::new("bob", "User").bound_id("bob"))
        .await
        .unwrap();
    let bob = UserClient::builder("bob", "w")
        .unwrap()
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(minted.secret.expose()))
        .build();
    bob.connect().await.unwrap();
    let as_bob = AdminClient::new(&bob);
    let err = as_bob
        .create_token(TokenSpec::new("x", "Agent"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let err = as_bob.audit_query(AuditFilter::new()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let err = admin
        .create_token(TokenSpec::new("", "Agent"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    gw.shutdown().await;
}

#[test]
fn the_blocking_twins_work_too() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(gateway_with(GatewayConfig::default().with_admin_key(KEY)));
    let url = gw.url();
    let user = aether_client::blocking::UserClient::builder("root", "blocking")
        .unwrap()
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(KEY))
        .build()
        .unwrap();
    user.connect().unwrap();
    let admin = aether_client::blocking::AdminClient::new(&user);
    let minted = admin
        .create_token(TokenSpec::new("m", "MetricsBridge"))
        .unwrap();
    assert_eq!(admin.get_token(&minted.token.id).unwrap().name, "m");
    assert_eq!(
        admin
            .list_tokens(TokenListOptions::default())
            .unwrap()
            .tokens
            .len(),
        1
    );
    admin.revoke_token(&minted.token.id).unwrap();
    admin.delete_token(&minted.token.id).unwrap();
    admin
        .submit_audit_event(AuditEventSpec::new("task", "replay"))
        .unwrap();
    let page = admin
        .audit_query(AuditFilter::new().event_type("task"))
        .unwrap();
    assert_eq!(page.entries[0].operation, "replay");
    user.close();
    rt.block_on(gw.shutdown());
}
