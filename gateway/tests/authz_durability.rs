//! Durability of authorization state: ACL rules, created workspaces,
//! authority grants (live and revoked) and authority requests survive a
//! crash (`kill -9` of the binary, outside dev mode) and still decide
//! after the restart.

mod common;

use std::path::Path;
use std::process::Child;

use aether_protocol::identity::Principal;
use aether_protocol::proto::downstream_message::Payload as Down;
use aether_protocol::proto::upstream_message::Payload as Up;
use aether_protocol::proto::{
    AclAuthorityGrantInfo, AclGrantRequest, AclOperation, AclResponse,
    AuthorityGrantExchangeRequest, AuthorityGrantOperation, AuthorityRequestOperation,
    AuthorityRequestOperationResponse, AuthorityRequestStatus, AuthorizationContext,
    CreateAuthorityRequestPayload, CreateTaskRequest, PrincipalRef, WorkspaceInfo,
    WorkspaceOperation, WorkspaceResponse, acl_operation, authority_grant_operation,
    authority_request_operation, workspace_operation,
};
use common::{Conn, init, up};

const KEY: &str = "durable-admin-key";

/// Starts the binary with the admin key on `dir`; returns it and its URL.
async fn spawn_binary(dir: &Path) -> (Child, String) {
    let dir = dir.to_str().expect("a UTF-8 data dir");
    common::spawn_gateway_binary(&["--admin-key", KEY, "--data-dir", dir]).await
}

/// An agent of `ws` connected with the admin key.
async fn admin_agent(url: &str, ws: &str, spec: &str) -> Conn {
    let mut i = init(&Principal::agent(ws, "admin", spec).unwrap());
    i.credentials.insert("api_key".into(), KEY.into());
    Conn::open(url, i).await
}

/// The first payload `pick` accepts.
async fn until<T>(c: &mut Conn, mut pick: impl FnMut(Down) -> Option<T>) -> T {
    loop {
        if let Some(t) = pick(c.payload().await) {
            return t;
        }
    }
}

async fn acl(c: &mut Conn, op: AclOperation) -> AclResponse {
    c.send(up(Up::AclOp(Box::new(op)))).await;
    until(c, |p| match p {
        Down::Acl(r) => Some(*r),
        _ => None,
    })
    .await
}

async fn workspace(c: &mut Conn, op: WorkspaceOperation) -> WorkspaceResponse {
    c.send(up(Up::WorkspaceOp(Box::new(op)))).await;
    until(c, |p| match p {
        Down::Workspace(r) => Some(*r),
        _ => None,
    })
    .await
}

async fn grant_op(c: &mut Conn, op: AuthorityGrantOperation) -> AclAuthorityGrantInfo {
    c.send(up(Up::AuthorityGrantOp(Box::new(op)))).await;
    until(c, |p| match p {
        Down::AuthorityGrant(r) => {
            assert!(r.success, "{}", r.error);
            Some(r.grant.expect("a grant"))
        }
        _ => None,
    })
    .await
}

async fn request_op(
    c: &mut Conn,
    op: AuthorityRequestOperation,
) -> AuthorityRequestOperationResponse {
    c.send(up(Up::AuthorityRequestOp(Box::new(op)))).await;
    until(c, |p| match p {
        Down::AuthorityRequestResponse(r) => Some(*r),
        _ => None,
    })
    .await
}

fn grant(kind: authority_grant_operation::OpType, id: &str) -> AuthorityGrantOperation {
    AuthorityGrantOperation {
        op: kind as i32,
        grant_id: id.into(),
        request_id: "g".into(),
        ..Default::default()
    }
}

/// Whether the orchestrator may create a task in `w` on behalf of alice
/// under `grant_id`.
async fn create_on_behalf(url: &str, grant_id: &str) -> bool {
    // With the admin key: a context that does not resolve is refused
    // whatever rights the session has of its own.
    let mut i = init(&Principal::orchestrator("launcher", "o1", vec!["local".into()]).unwrap());
    i.credentials.insert("api_key".into(), KEY.into());
    let mut orc = Conn::open(url, i).await;
    orc.send(up(Up::CreateTask(Box::new(CreateTaskRequest {
        task_type: "report".into(),
        workspace: "w".into(),
        request_id: "t".into(),
        authorization: Some(AuthorizationContext {
            authority_mode: "on_behalf_of".into(),
            subject: Some(PrincipalRef {
                principal_type: "agent".into(),
                principal_id: "ag::w::admin::alice".into(),
            }),
            grant_id: grant_id.into(),
            ..Default::default()
        }),
        ..Default::default()
    }))))
    .await;
    until(&mut orc, |p| match p {
        Down::CreateTask(r) => Some(r.success),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn rules_workspaces_grants_and_requests_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url) = spawn_binary(dir.path()).await;
    let mut root = admin_agent(&url, "ops", "root").await;
    let mut alice = admin_agent(&url, "w", "alice").await;

    let rule = acl(
        &mut root,
        AclOperation {
            op: acl_operation::OpType::Grant as i32,
            request_id: "r".into(),
            grant_request: Some(AclGrantRequest {
                principal_type: "workflow_engine".into(),
                principal_id: "wfe::shard0".into(),
                resource_type: "workspace".into(),
                resource_id: "w".into(),
                access_level: 10,
                reason: "kept".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert!(rule.success, "{}", rule.error);
    let rule_id = rule.rule.unwrap().rule_id;
    let created = workspace(
        &mut root,
        WorkspaceOperation {
            op: workspace_operation::OpType::Create as i32,
            workspace: Some(WorkspaceInfo {
                workspace_id: "kept".into(),
                display_name: "Kept".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert!(created.success, "{}", created.error);
    let exchange = || AuthorityGrantOperation {
        exchange_request: Some(AuthorityGrantExchangeRequest {
            audience_type: "orchestrator".into(),
            audience_id: "orc::launcher::o1".into(),
            ..Default::default()
        }),
        ..grant(authority_grant_operation::OpType::Exchange, "")
    };
    let live = grant_op(&mut alice, exchange()).await;
    let revoked = grant_op(&mut alice, exchange()).await;
    grant_op(
        &mut alice,
        grant(authority_grant_operation::OpType::Revoke, &revoked.grant_id),
    )
    .await;
    assert!(create_on_behalf(&url, &live.grant_id).await);
    let asked = request_op(
        &mut alice,
        AuthorityRequestOperation {
            op: authority_request_operation::OpType::Create as i32,
            client_request_id: "c".into(),
            create: Some(CreateAuthorityRequestPayload {
                target_subject: Some(PrincipalRef {
                    principal_type: "agent".into(),
                    principal_id: "ag::ops::admin::root".into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert!(asked.success, "{}", asked.error);
    let request_id = asked.request.unwrap().request_id;

    // Every change above was acknowledged, so it is on disk: crash now.
    common::kill_9(child).await;

    let (mut child, url) = spawn_binary(dir.path()).await;
    let mut root = admin_agent(&url, "ops", "root").await;
    let mut alice = admin_agent(&url, "w", "alice").await;
    let got = acl(
        &mut root,
        AclOperation {
            op: acl_operation::OpType::GetRule as i32,
            rule_id: rule_id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(got.success, "{}", got.error);
    let got = got.rule.unwrap();
    assert_eq!((got.access_level, got.reason.as_str()), (10, "kept"));
    let ws = workspace(
        &mut root,
        WorkspaceOperation {
            op: workspace_operation::OpType::Get as i32,
            workspace_id: "kept".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ws.workspace.unwrap().display_name, "Kept");
    let g = grant_op(
        &mut alice,
        grant(authority_grant_operation::OpType::Get, &live.grant_id),
    )
    .await;
    assert_eq!(g, live);
    let g = grant_op(
        &mut alice,
        grant(authority_grant_operation::OpType::Get, &revoked.grant_id),
    )
    .await;
    assert!(g.revoked);
    // And they still decide.
    assert!(create_on_behalf(&url, &live.grant_id).await);
    assert!(!create_on_behalf(&url, &revoked.grant_id).await);
    let r = request_op(
        &mut alice,
        AuthorityRequestOperation {
            op: authority_request_operation::OpType::Get as i32,
            request_id,
            client_request_id: "g".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(r.success, "{}", r.error);
    assert_eq!(
        r.request.unwrap().status,
        AuthorityRequestStatus::Pending as i32
    );
    let _ = child.kill();
    let _ = child.wait();
}
