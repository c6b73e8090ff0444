//! The audit log (§6.8): what is recorded, who may read it, submissions,
//! and durability across a restart.

mod common;

use aether_gateway::GatewayConfig;
use aether_protocol::identity::Principal;
use aether_protocol::proto::downstream_message::Payload;
use aether_protocol::proto::{
    AuditQuery, InitConnection, SessionOperation, SubmitAuditEventRequest, session_operation,
    token_operation::OpType, upstream_message,
};
use common::auth::{audit, by_id, entries, mint, token_op};
use common::{Conn, init, up};
use tonic::Code;

const KEY: &str = "sesame";

fn with(p: &Principal, creds: &[(&str, &str)]) -> InitConnection {
    let mut i = init(p);
    for (k, v) in creds {
        i.credentials.insert(k.to_string(), v.to_string());
    }
    i
}

async fn admin(url: &str) -> Conn {
    let mut c = Conn::open(
        url,
        with(
            &Principal::user("root", "console").unwrap(),
            &[("x-api-key", KEY)],
        ),
    )
    .await;
    c.ack().await;
    c
}

async fn submit(
    c: &mut Conn,
    req: SubmitAuditEventRequest,
) -> aether_protocol::proto::SubmitAuditEventResponse {
    let id = req.client_request_id.clone();
    c.send(up(upstream_message::Payload::SubmitAuditEvent(Box::new(
        req,
    ))))
    .await;
    loop {
        if let Payload::SubmitAuditEventResponse(r) = c.payload().await
            && r.client_request_id == id
        {
            return *r;
        }
    }
}

#[tokio::test]
async fn every_recorded_event_is_queryable() {
    let gw = aether_gateway::start(GatewayConfig::default().with_admin_key(KEY))
        .await
        .unwrap();
    let url = gw.url();
    let mut root = admin(&url).await;

    // An authentication failure (the key is never recorded).
    let victim = Principal::agent("w", "i", "v").unwrap();
    let mut c = Conn::open(&url, with(&victim, &[("api_key", "guess-123")])).await;
    assert_eq!(c.status().await.code(), Code::Unauthenticated);
    let failed = entries(&mut root, "authentication", "authenticate").await;
    assert_eq!(failed.len(), 1);
    let e = &failed[0];
    assert!(!e.success);
    assert_eq!(
        (e.actor_type.as_str(), e.actor_id.as_str()),
        ("agent", "ag::w::i::v")
    );
    assert_eq!(
        e.error_message,
        "credential authentication failed: invalid API key"
    );
    assert!(
        e.metadata_json.contains(r#""reason":"unknown""#),
        "{}",
        e.metadata_json
    );
    assert!(!e.metadata_json.contains("guess-123"));

    // Token changes, with the actor and the token.
    let (secret, id) = mint(&mut root, "Agent", &[], "").await;
    let created = entries(&mut root, "token", "create").await;
    assert_eq!(created[0].resource_id, id);
    assert_eq!(created[0].actor_id, "us::root::console");
    assert!(!created[0].metadata_json.contains(&secret));

    // Connections, with the method.
    let mut agent = Conn::open(&url, with(&victim, &[("api_key", &secret)])).await;
    let ack = agent.ack().await;
    let connects = entries(&mut root, "connection", "connect").await;
    let mine = connects
        .iter()
        .find(|e| e.session_id == ack.session_id)
        .expect("connect recorded");
    assert!(mine.success);
    assert!(mine.metadata_json.contains(r#""method":"api_token""#));
    assert!(mine.metadata_json.contains(&id));

    // Admin operations.
    root.send(up(upstream_message::Payload::SessionOp(Box::new(
        SessionOperation {
            op: session_operation::OpType::Disconnect as i32,
            session_id: ack.session_id.clone(),
            request_id: "d".into(),
            ..Default::default()
        },
    ))))
    .await;
    loop {
        if let Payload::SessionResponse(r) = root.payload().await {
            assert!(r.success);
            break;
        }
    }
    let disconnects = entries(&mut root, "admin", "disconnect_session").await;
    assert_eq!(disconnects[0].resource_id, ack.session_id);
    assert!(
        token_op(&mut root, by_id(OpType::Revoke, &id))
            .await
            .success
    );
    assert_eq!(
        entries(&mut root, "token", "revoke").await[0].resource_id,
        id
    );

    // Submitted events, stamped with the submitter.
    let r = submit(
        &mut root,
        SubmitAuditEventRequest {
            event_type: "custom".into(),
            operation: "export".into(),
            resource_type: "report".into(),
            resource_id: "q3".into(),
            success: true,
            client_request_id: "c1".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(r.success, "{r:?}");
    let custom = entries(&mut root, "custom", "export").await;
    assert_eq!(custom[0].source, "client");
    assert_eq!(custom[0].actor_id, "us::root::console");
    let r = submit(
        &mut root,
        SubmitAuditEventRequest {
            event_type: "login".into(),
            client_request_id: "c2".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        (r.success, r.error_code.as_str()),
        (false, "ERR_AUDIT_TYPE_FORBIDDEN")
    );

    // Filters and pages: newest first, total counts every match.
    let page = audit(
        &mut root,
        AuditQuery {
            only_failures: true,
            limit: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(page.entries.len(), 1);
    assert!(page.total_count >= 1);
    assert!(page.entries.iter().all(|e| !e.success));
    let all = audit(&mut root, AuditQuery::default()).await;
    let ids: Vec<i64> = all.entries.iter().map(|e| e.audit_id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    gw.shutdown().await;
}

#[tokio::test]
async fn only_privileged_sessions_read_the_log() {
    let gw = aether_gateway::start(GatewayConfig::default().with_admin_key(KEY))
        .await
        .unwrap();
    let url = gw.url();
    let mut root = admin(&url).await;
    let (secret, _) = mint(&mut root, "User", &[], "bob").await;
    let mut bob = Conn::open(
        &url,
        with(
            &Principal::user("bob", "w").unwrap(),
            &[("api_key", &secret)],
        ),
    )
    .await;
    bob.ack().await;
    let r = audit(
        &mut bob,
        AuditQuery {
            request_id: "q".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(!r.success);
    assert_eq!(r.request_id, "q");
    assert_eq!(
        r.error,
        "audit queries require admin privileges or workspace access"
    );
    assert!(r.entries.is_empty());
    // A user may submit for its own (empty) workspace but not another.
    let r = submit(
        &mut bob,
        SubmitAuditEventRequest {
            event_type: "custom".into(),
            workspace: "payroll".into(),
            client_request_id: "x".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.error_code, "ERR_PERMISSION_DENIED");
    gw.shutdown().await;
}

#[tokio::test]
async fn the_log_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        GatewayConfig::default()
            .with_admin_key(KEY)
            .with_data_dir(dir.path())
    };
    let gw = aether_gateway::start(config()).await.unwrap();
    let mut root = admin(&gw.url()).await;
    let (_, id) = mint(&mut root, "Service", &[], "").await;
    let before = audit(&mut root, AuditQuery::default()).await;
    drop(root);
    gw.shutdown().await;

    let gw = aether_gateway::start(config()).await.unwrap();
    let mut root = admin(&gw.url()).await;
    let created = entries(&mut root, "token", "create").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].resource_id, id);
    let after = audit(&mut root, AuditQuery::default()).await;
    let newest_before = before.entries[0].audit_id;
    assert!(after.entries.iter().any(|e| e.audit_id == newest_before));
    assert!(
        after.entries[0].audit_id > newest_before,
        "ids keep increasing"
    );
    gw.shutdown().await;
}
