//! Sessions (§7), the default branch (§11 P0-7), limits (§10), shutdown
//! and credentials.

mod common;

use aether_gateway::{GatewayConfig, Limits, RateLimit};
use aether_protocol::identity::Principal;
use aether_protocol::proto::session_operation::OpType;
use aether_protocol::proto::signal::SignalType;
use aether_protocol::proto::{
    AdminQuery, ConnectionFilter, ConnectionStatusRequest, KvOperation, MessageType, PrincipalRef,
    PrincipalType, SendMessage, SessionOperation, UpstreamMessage, downstream_message,
    upstream_message,
};
use bytes::Bytes;
use common::{Conn, dev_gateway, init, up};
use tonic::Code;

async fn session_op(
    c: &mut Conn,
    op: SessionOperation,
) -> aether_protocol::proto::SessionOperationResponse {
    c.send(up(upstream_message::Payload::SessionOp(Box::new(op))))
        .await;
    match c.payload().await {
        downstream_message::Payload::SessionResponse(r) => *r,
        other => panic!("expected session response, got {other:?}"),
    }
}

async fn status(
    c: &mut Conn,
    t: &str,
    id: &str,
) -> aether_protocol::proto::ConnectionStatusResponse {
    c.send(up(upstream_message::Payload::ConnectionStatusRequest(
        Box::new(ConnectionStatusRequest {
            request_id: "cs".into(),
            principal: Some(PrincipalRef {
                principal_type: t.into(),
                principal_id: id.into(),
            }),
        }),
    )))
    .await;
    match c.payload().await {
        downstream_message::Payload::ConnectionStatusResponse(r) => *r,
        other => panic!("expected status, got {other:?}"),
    }
}

#[tokio::test]
async fn list_get_and_disconnect_sessions() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut admin, _) = Conn::connect(&url, &Principal::service("adm", "1", false).unwrap()).await;
    let (mut victim, vack) = Conn::connect(&url, &Principal::agent("w", "i", "v").unwrap()).await;

    let list = session_op(
        &mut admin,
        SessionOperation {
            op: OpType::List as i32,
            request_id: "l1".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(list.success);
    assert_eq!(list.request_id, "l1");
    assert_eq!(list.total_count, 2);

    let agents = session_op(
        &mut admin,
        SessionOperation {
            op: OpType::List as i32,
            request_id: "l2".into(),
            filter: Some(ConnectionFilter {
                r#type: PrincipalType::PrincipalAgent as i32,
                workspace: "w".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(agents.connections.len(), 1);
    let info = &agents.connections[0];
    assert_eq!(info.identity, "ag::w::i::v");
    assert_eq!(info.session_id, vack.session_id);
    assert_eq!(
        (info.implementation.as_str(), info.specifier.as_str()),
        ("i", "v")
    );
    assert!(info.connected_at > 0);
    assert!(info.duration.ends_with('s'));

    let get = session_op(
        &mut admin,
        SessionOperation {
            op: OpType::Get as i32,
            session_id: vack.session_id.clone(),
            request_id: "g".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(get.success);
    assert_eq!(get.connection.unwrap().identity, "ag::w::i::v");
    let missing = session_op(
        &mut admin,
        SessionOperation {
            op: OpType::Get as i32,
            session_id: "nope".into(),
            request_id: "g2".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(!missing.success);
    assert_eq!(missing.error, "session not found: nope");

    let st = status(&mut admin, "agent", "ag::w::i::v").await;
    assert!(st.ok && st.connected);
    assert_eq!(st.request_id, "cs");

    let d = session_op(
        &mut admin,
        SessionOperation {
            op: OpType::Disconnect as i32,
            session_id: vack.session_id.clone(),
            request_id: "d".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(d.success);
    assert_eq!(d.message, "session disconnected");
    match victim.payload().await {
        downstream_message::Payload::Signal(s) => {
            assert_eq!(s.r#type, SignalType::ForceDisconnect as i32);
            assert_eq!(s.reason, "disconnected by administrator");
        }
        other => panic!("expected signal, got {other:?}"),
    }
    let s = victim.status().await;
    assert_eq!(s.code(), Code::Cancelled);
    assert_eq!(s.message(), "session disconnected by administrator");
    let st = status(&mut admin, "agent", "ag::w::i::v").await;
    assert!(st.ok && !st.connected);
}

#[tokio::test]
async fn connection_status_for_users_and_bad_principals() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut svc, _) = Conn::connect(&url, &Principal::service("s", "1", false).unwrap()).await;
    assert!(!status(&mut svc, "user", "carol").await.connected);
    let (_w, _) = Conn::connect(&url, &Principal::user("carol", "tab").unwrap()).await;
    let st = status(&mut svc, "user", "carol").await;
    assert!(st.ok && st.connected);
    assert!(status(&mut svc, "USER", "us::carol::tab").await.connected);
    let bad = status(&mut svc, "martian", "x").await;
    assert!(!bad.ok);
    assert!(bad.error.starts_with("invalid principal"));
    svc.send(up(upstream_message::Payload::ConnectionStatusRequest(
        Box::new(ConnectionStatusRequest {
            request_id: "none".into(),
            principal: None,
        }),
    )))
    .await;
    match svc.payload().await {
        downstream_message::Payload::ConnectionStatusResponse(r) => {
            assert_eq!(
                (r.ok, r.error.as_str(), r.request_id.as_str()),
                (false, "principal is required", "none")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unimplemented_ops_answer_at_once_with_their_id() {
    let gw = dev_gateway().await;
    let (mut c, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "u").unwrap()).await;
    let cases: Vec<(upstream_message::Payload, &str, &str)> = vec![(
        upstream_message::Payload::AdminQuery(Box::new(AdminQuery {
            request_id: "admin-1".into(),
            ..Default::default()
        })),
        "admin-1",
        "admin_query",
    )];
    for (payload, id, op) in cases {
        c.send(up(payload)).await;
        let e = c.error().await;
        assert_eq!(e.code, "ERR_NOT_IMPLEMENTED");
        assert_eq!(e.request_id, id);
        assert_eq!(
            e.message,
            format!("{op} is not implemented by this gateway yet")
        );
    }
    c.send(UpstreamMessage::default()).await;
    let e = c.error().await;
    assert_eq!(e.code, "ERR_NOT_IMPLEMENTED");
    assert!(e.request_id.is_empty());
}

#[tokio::test]
async fn oversized_payloads_and_frames_leave_the_session_alive() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let (mut a, _) = Conn::connect(&url, &Principal::agent("w", "i", "big").unwrap()).await;
    let (mut b, _) = Conn::connect(&url, &Principal::agent("w", "i", "rx").unwrap()).await;
    let send = |n: usize| {
        up(upstream_message::Payload::Send(Box::new(SendMessage {
            target_topic: "ag::w::i::rx".into(),
            payload: Bytes::from(vec![7u8; n]),
            message_type: MessageType::Opaque as i32,
            ..Default::default()
        })))
    };
    a.send(send(1024 * 1024 + 1)).await;
    assert_eq!(a.error().await.code, "ERR_PAYLOAD_TOO_LARGE");
    a.send(send(5 * 1024 * 1024)).await;
    let e = a.error().await;
    assert_eq!(e.code, "ERR_FRAME_TOO_LARGE");
    a.send(up(upstream_message::Payload::KvOp(Box::new(KvOperation {
        request_id: "big-kv".into(),
        value: Bytes::from(vec![1u8; 5 * 1024 * 1024]),
        ..Default::default()
    }))))
    .await;
    let e = a.error().await;
    assert_eq!(
        (e.code.as_str(), e.request_id.as_str()),
        ("ERR_FRAME_TOO_LARGE", "big-kv")
    );
    a.send(send(1024 * 1024)).await;
    assert_eq!(b.msg().await.payload.len(), 1024 * 1024);
}

#[tokio::test]
async fn optional_rate_limit_refuses_bursts() {
    let limits = Limits::default().with_send_rate(Some(RateLimit {
        per_second: 1,
        burst: 2,
    }));
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap();
    let (mut a, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "r").unwrap()).await;
    for _ in 0..3 {
        a.send_message("ag::w::i::x", b"m", MessageType::Chat).await;
    }
    let e = a.error().await;
    assert_eq!(e.code, "ERR_RATE_LIMITED");
    assert!(e.retryable);
    assert_eq!(e.retry_after_ms, 1000);
}

#[tokio::test]
async fn graceful_shutdown_signals_every_session_and_frees_the_port() {
    let gw = dev_gateway().await;
    let addr = gw.local_addr();
    let url = gw.url();
    let (mut a, _) = Conn::connect(&url, &Principal::agent("w", "i", "s").unwrap()).await;
    let (mut u, _) = Conn::connect(&url, &Principal::user("u", "w").unwrap()).await;
    gw.shutdown().await;
    for c in [&mut a, &mut u] {
        match c.payload().await {
            downstream_message::Payload::Signal(s) => {
                assert_eq!(s.r#type, SignalType::GracefulDisconnect as i32);
                assert_eq!(s.reason, "server shutting down");
            }
            other => panic!("expected signal, got {other:?}"),
        }
        assert_eq!(c.status().await.code(), Code::Cancelled);
    }
    // A new gateway can take the same port (clients reconnect to it).
    let gw2 = aether_gateway::start(GatewayConfig::dev().with_bind(addr))
        .await
        .expect("same port again");
    let (_a, ack) = Conn::connect(&gw2.url(), &Principal::agent("w", "i", "s").unwrap()).await;
    assert!(!ack.resumed);
    gw2.shutdown().await;
}

#[tokio::test]
async fn outside_dev_mode_credentials_are_required() {
    let gw = aether_gateway::start(GatewayConfig::default().with_admin_key("sesame"))
        .await
        .unwrap();
    let url = gw.url();
    let agent = Principal::agent("w", "i", "cred").unwrap();
    let mut c = Conn::open(&url, init(&agent)).await;
    let s = c.status().await;
    assert_eq!(s.code(), Code::Unauthenticated);
    assert_eq!(
        s.message(),
        "anonymous connection as Agent requires credentials"
    );

    let mut wrong = init(&agent);
    wrong.credentials.insert("api_key".into(), "nope".into());
    let mut c = Conn::open(&url, wrong).await;
    let s = c.status().await;
    assert_eq!(s.code(), Code::Unauthenticated);
    assert!(
        s.message()
            .starts_with("credential authentication failed: ")
    );

    let mut right = init(&agent);
    right
        .credentials
        .insert("x-api-key".into(), "sesame".into());
    let mut c = Conn::open(&url, right).await;
    c.ack().await;

    // System principals need a credential too (issue 8): anonymous ones
    // are refused outside dev mode.
    for p in [
        Principal::metrics_bridge(),
        Principal::workflow_engine(),
        Principal::orchestrator("o", "1", vec!["p".into()]).unwrap(),
    ] {
        let mut c = Conn::open(&url, init(&p)).await;
        let s = c.status().await;
        assert_eq!(s.code(), Code::Unauthenticated, "{}", p.identity_string());
        assert_eq!(
            s.message(),
            format!(
                "anonymous connection as {} requires credentials",
                p.kind().name()
            )
        );
    }

    // Only admins may administer sessions: an agent with a token minted for
    // it may not.
    let mut orc_init = init(&Principal::orchestrator("o", "1", vec!["p".into()]).unwrap());
    orc_init
        .credentials
        .insert("x-api-key".into(), "sesame".into());
    let mut orc = Conn::open(&url, orc_init).await;
    orc.ack().await;
    let list = session_op(
        &mut orc,
        SessionOperation {
            op: OpType::List as i32,
            request_id: "x".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(list.success);
    let (secret, _) = common::auth::mint(&mut orc, "Agent", &[], "").await;
    let mut worker = init(&Principal::agent("w", "i", "tok").unwrap());
    worker.credentials.insert("api_key".into(), secret);
    let mut w = Conn::open(&url, worker).await;
    w.ack().await;
    assert!(matches!(
        w.payload().await,
        aether_protocol::proto::downstream_message::Payload::Config(_)
    ));
    let refused = session_op(
        &mut w,
        SessionOperation {
            op: OpType::List as i32,
            request_id: "m".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(!refused.success);
    assert_eq!(refused.request_id, "m");
    assert_eq!(
        refused.error,
        "admin sessions operations require system-level privileges"
    );
    let mut bridge = init(&Principal::bridge("b", "1").unwrap());
    bridge.credentials.insert("api_key".into(), "sesame".into());
    let mut b = Conn::open(&url, bridge).await;
    b.ack().await;
    let mut user = init(&Principal::user("u", "1").unwrap());
    user.credentials.insert("api_key".into(), "sesame".into());
    let mut u = Conn::open(&url, user).await;
    u.ack().await;
    let st = status(&mut u, "user", "u").await;
    assert!(st.ok && st.connected);
}
