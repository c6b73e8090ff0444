//! The blocking twins of the authority grant and request families, and
//! on-behalf-of scopes around blocking calls.

mod common;

use aether_client::admin::{
    AclPrincipal, AuthorityAsk, AuthorityDecision, GrantRequest, TokenSpec,
};
use aether_client::blocking::{AdminClient, AgentClient, WorkflowEngineClient, on_behalf_of};
use aether_client::{Credentials, ErrorKind, KvScope};
use aether_gateway::GatewayConfig;

const KEY: &str = "admin-secret";

#[test]
fn blocking_grants_requests_and_scoped_calls() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(common::gateway_with(
        GatewayConfig::default().with_admin_key(KEY),
    ));
    let url = gw.url();
    let alice = AgentClient::builder("w", "admin", "alice")
        .unwrap()
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(KEY))
        .build()
        .unwrap();
    alice.connect().unwrap();
    let subject = AdminClient::new(&alice);
    let minted = subject
        .create_token(TokenSpec::new("engine", "WorkflowEngine"))
        .unwrap();
    let engine = WorkflowEngineClient::builder()
        .gateway(&url)
        .credentials(Credentials::new().with_api_key(minted.secret.expose()))
        .build()
        .unwrap();
    engine.connect().unwrap();
    let as_engine = AdminClient::new(&engine);
    let ws = KvScope::workspace_in("w").unwrap();

    let e = engine.kv_put("k", "v", &ws, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    let grant = subject
        .exchange_authority_grant(GrantRequest::to(AclPrincipal::workflow_engine()))
        .unwrap();
    on_behalf_of(grant.context(), || engine.kv_put("k", "v", &ws, None)).unwrap();
    let got = on_behalf_of(grant.context(), || engine.kv_get("k", &ws)).unwrap();
    assert_eq!(got.as_deref(), Some(&b"v"[..]));
    // Outside the scope, the engine is itself again.
    assert!(engine.kv_get("k", &ws).is_err());
    assert_eq!(
        as_engine
            .list_my_authority_grants(Default::default())
            .unwrap()
            .total,
        1
    );
    subject.revoke_authority_grant(&grant.grant_id).unwrap();
    let e = on_behalf_of(grant.context(), || engine.kv_get("k", &ws)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");

    let asked = as_engine
        .request_authority(AuthorityAsk::of(AclPrincipal::agent("w", "admin", "alice")))
        .unwrap();
    assert_eq!(
        subject.list_pending_authority_requests("").unwrap().len(),
        1
    );
    let approved = subject
        .resolve_authority_request(&asked.request_id, AuthorityDecision::approve())
        .unwrap();
    let g = as_engine
        .get_authority_grant(&approved.granted_grant_id)
        .unwrap();
    on_behalf_of(g.context(), || engine.kv_put("k2", "v", &ws, None)).unwrap();
    drop(rt);
}
