//! Connecting, failing to connect, and the typed errors of bad input.

mod common;

use std::time::Duration;

use aether_client::proto::{self, upstream_message::Payload as Up};
use aether_client::stack::OpRequest;
use aether_client::{
    AgentClient, ConnectionState, Credentials, ErrorKind, MessageType, ReconnectPolicy, TaskClient,
};
use aether_gateway::GatewayConfig;
use common::{gateway, gateway_with, within};
use futures_util::StreamExt;
use tokio::sync::mpsc;

#[tokio::test]
async fn connect_returns_after_the_ack_with_session_info() {
    let gw = gateway().await;
    let agent = AgentClient::builder("ws", "impl", "spec")
        .unwrap()
        .gateway(gw.url())
        .build();
    assert_eq!(agent.state(), ConnectionState::Idle);
    let session = agent.connect().await.unwrap();
    assert!(!session.session_id.is_empty());
    assert_eq!(session.identity, "ag::ws::impl::spec");
    assert!(!session.resumed);
    assert_eq!(session.reconnection_count, 0);
    assert!(!session.server_version.is_empty());
    assert!(agent.is_connected());
    assert_eq!(agent.session().unwrap(), session);
    assert_eq!(agent.topic().as_deref(), Some("ag::ws::impl::spec"));
    agent.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn invalid_identities_and_topics_are_rejected_before_sending() {
    for bad in [
        ("ws", "a::b", "s"),
        ("ws", "x*", "s"),
        ("ws", "ok", "has space"),
        ("", "i", "s"),
    ] {
        let err = AgentClient::builder(bad.0, bad.1, bad.2).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
    }
    let long = "x".repeat(129);
    assert_eq!(
        AgentClient::builder("ws", &long, "s").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    let gw = gateway().await;
    let agent = AgentClient::builder("ws", "impl", "spec")
        .unwrap()
        .gateway(gw.url())
        .build();
    agent.connect().await.unwrap();
    let err = agent
        .send_message_to_agent("ws", "bad>", "s", "x", MessageType::Chat)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        aether_client::OutgoingMessage::to("nope::x", "p")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    agent.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn calls_before_connect_and_after_close_fail_with_typed_errors() {
    let gw = gateway().await;
    let agent = AgentClient::builder("ws", "impl", "spec")
        .unwrap()
        .gateway(gw.url())
        .build();
    let err = agent
        .send_message_to_agent("ws", "impl", "other", "x", MessageType::Chat)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConnected);
    assert_eq!(
        agent
            .connection_status("agent", "ag::ws::impl::spec")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotConnected
    );
    agent.connect().await.unwrap();
    agent.close().await;
    agent.close().await; // idempotent
    assert!(agent.state().is_closed());
    let err = agent
        .send_message_to_agent("ws", "impl", "other", "x", MessageType::Chat)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    gw.shutdown().await;
}

#[tokio::test]
async fn duplicate_identity_is_a_typed_connect_error() {
    let gw = gateway().await;
    let first = AgentClient::builder("ws", "impl", "dup")
        .unwrap()
        .gateway(gw.url())
        .build();
    first.connect().await.unwrap();
    let second = AgentClient::builder("ws", "impl", "dup")
        .unwrap()
        .gateway(gw.url())
        .build();
    let err = second.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateIdentity, "{err}");
    assert!(err.is_permanent());
    assert!(second.state().is_closed());
    // The first connection is untouched.
    assert!(
        first
            .connection_status("agent", "ag::ws::impl::dup")
            .await
            .unwrap()
    );
    first.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn credentials_are_checked_outside_dev_mode() {
    let gw = gateway_with(GatewayConfig::default().with_admin_key("sekret")).await;
    let anon = AgentClient::builder("ws", "impl", "anon")
        .unwrap()
        .gateway(gw.url())
        .build();
    assert_eq!(
        anon.connect().await.unwrap_err().kind(),
        ErrorKind::Unauthenticated
    );
    let wrong = AgentClient::builder("ws", "impl", "wrong")
        .unwrap()
        .gateway(gw.url())
        .credentials(Credentials::new().with_api_key("nope"))
        .build();
    assert_eq!(
        wrong.connect().await.unwrap_err().kind(),
        ErrorKind::Unauthenticated
    );
    let good = AgentClient::builder("ws", "impl", "good")
        .unwrap()
        .gateway(gw.url())
        .credentials(Credentials::new().with_api_key("sekret"))
        .build();
    good.connect().await.unwrap();
    good.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_gateway_is_a_typed_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let agent = AgentClient::builder("ws", "impl", "spec")
        .unwrap()
        .gateway(format!("http://127.0.0.1:{port}"))
        .connect_timeout(Duration::from_secs(2))
        .build();
    let err = agent.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
}

#[tokio::test]
async fn oversized_payloads_are_rejected_and_the_connection_survives() {
    let gw = gateway().await;
    let big = vec![7u8; 1024 * 1024 + 1];
    let sender = AgentClient::builder("ws", "impl", "big")
        .unwrap()
        .gateway(gw.url())
        .build();
    let receiver = AgentClient::builder("ws", "impl", "rcv")
        .unwrap()
        .gateway(gw.url())
        .build();
    sender.connect().await.unwrap();
    receiver.connect().await.unwrap();
    let mut inbox = receiver.messages();

    // Checked before sending.
    let err = sender
        .send_message_to_agent("ws", "impl", "rcv", big.clone(), MessageType::Opaque)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PayloadTooLarge);
    assert_eq!(err.code(), Some("ERR_PAYLOAD_TOO_LARGE"));

    // A client configured past the gateway's limit gets the gateway's
    // rejection on `on_error`, and its connection survives.
    let loose = AgentClient::builder("ws", "impl", "loose")
        .unwrap()
        .gateway(gw.url())
        .max_payload(8 * 1024 * 1024)
        .build();
    let (err_tx, mut err_rx) = mpsc::unbounded_channel();
    loose.on_error(move |e| {
        let tx = err_tx.clone();
        async move {
            tx.send(e).unwrap();
        }
    });
    loose.connect().await.unwrap();
    loose
        .send_message_to_agent("ws", "impl", "rcv", big, MessageType::Opaque)
        .await
        .unwrap();
    let e = within("gateway rejection", err_rx.recv()).await.unwrap();
    assert_eq!(e.kind(), ErrorKind::PayloadTooLarge);
    assert_eq!(e.code(), Some("ERR_PAYLOAD_TOO_LARGE"));
    loose
        .send_message_to_agent("ws", "impl", "rcv", "still here", MessageType::Chat)
        .await
        .unwrap();
    let m = within("message after rejection", inbox.next())
        .await
        .unwrap()
        .expect("message after rejection: an item");
    assert_eq!(m.payload_str(), Some("still here"));
    assert!(loose.is_connected());

    for c in [sender, receiver, loose] {
        c.close().await;
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn unknown_operations_fail_fast_with_unimplemented() {
    let gw = gateway().await;
    let agent = AgentClient::builder("ws", "impl", "spec")
        .unwrap()
        .gateway(gw.url())
        .build();
    agent.connect().await.unwrap();
    let req = OpRequest::awaited(
        "admin_query",
        Up::AdminQuery(Box::new(proto::AdminQuery {
            op: proto::admin_query::OpType::GetHealth as i32,
            ..Default::default()
        })),
    )
    .timeout(Duration::from_secs(30));
    let started = std::time::Instant::now();
    let err = agent.call(req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unimplemented, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered at once, not by a timeout"
    );
    assert_eq!(agent.pending_calls(), 0);
    agent.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn ten_thousand_cancelled_or_timed_out_calls_leave_no_pending_entries() {
    let gw = gateway().await;
    let agent = AgentClient::builder("ws", "impl", "pending")
        .unwrap()
        .gateway(gw.url())
        .build();
    agent.connect().await.unwrap();
    let status = || {
        OpRequest::awaited(
            "connection_status",
            Up::ConnectionStatusRequest(Box::new(proto::ConnectionStatusRequest {
                request_id: String::new(),
                principal: Some(proto::PrincipalRef {
                    principal_type: "agent".into(),
                    principal_id: "ag::ws::impl::pending".into(),
                }),
            })),
        )
    };
    let mut max_seen = 0;
    for i in 0..10_000u32 {
        if i % 2 == 0 {
            // Timed out by the stack's timeout layer.
            let r = agent.call(status().timeout(Duration::from_nanos(1))).await;
            if let Err(e) = r {
                assert_eq!(e.kind(), ErrorKind::Timeout);
            }
        } else {
            // Cancelled by the caller after the call registered.
            let _ = tokio::time::timeout(Duration::ZERO, agent.call(status())).await;
        }
        max_seen = max_seen.max(agent.pending_calls());
    }
    assert_eq!(agent.pending_calls(), 0, "every guard removed its entry");
    // Late replies to abandoned calls are ignored, and the client still works.
    assert!(
        agent
            .connection_status("agent", "ag::ws::impl::pending")
            .await
            .unwrap()
    );
    assert_eq!(agent.pending_calls(), 0);
    assert!(max_seen <= 1, "entries never accumulate (saw {max_seen})");
    agent.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn pooled_tasks_learn_their_server_assigned_identity() {
    let gw = gateway().await;
    let task = TaskClient::pooled("ws", "worker")
        .unwrap()
        .gateway(gw.url())
        .build();
    let session = task.connect().await.unwrap();
    let id = task.assigned_id().expect("the gateway assigns an id");
    assert_eq!(session.identity, format!("ta::ws::worker::{id}"));
    assert_eq!(task.topic().unwrap(), session.identity);

    let agent = AgentClient::builder("ws", "boss", "b")
        .unwrap()
        .gateway(gw.url())
        .build();
    agent.connect().await.unwrap();
    let mut inbox = task.messages();
    agent
        .send_message_to_pooled_task("ws", "worker", &id, "do it", MessageType::Control)
        .await
        .unwrap();
    let m = within("pooled task message", inbox.next())
        .await
        .unwrap()
        .expect("pooled task message: an item");
    assert_eq!(m.payload_str(), Some("do it"));
    task.close().await;
    agent.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn dropping_the_client_closes_its_connection() {
    let gw = gateway().await;
    let watcher = AgentClient::builder("ws", "impl", "watcher")
        .unwrap()
        .gateway(gw.url())
        .build();
    watcher.connect().await.unwrap();
    {
        let dropped = AgentClient::builder("ws", "impl", "dropped")
            .unwrap()
            .gateway(gw.url())
            .build();
        dropped.connect().await.unwrap();
        assert!(
            watcher
                .connection_status("agent", "ag::ws::impl::dropped")
                .await
                .unwrap()
        );
    }
    // Wait for the gateway to see the stream end (bounded).
    within("dropped session to end", async {
        while watcher
            .connection_status("agent", "ag::ws::impl::dropped")
            .await
            .unwrap()
        {
            tokio::task::yield_now().await;
        }
    })
    .await;
    watcher.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn force_disconnect_stops_the_client_without_reconnecting() {
    let gw = gateway().await;
    let admin = AgentClient::builder("ws", "impl", "admin")
        .unwrap()
        .gateway(gw.url())
        .build();
    let victim = AgentClient::builder("ws", "impl", "victim")
        .unwrap()
        .gateway(gw.url())
        .reconnect(common::fast_reconnect())
        .build();
    let (tx, mut rx) = mpsc::unbounded_channel();
    victim.on_disconnect(move |reason| {
        let tx = tx.clone();
        async move {
            tx.send(reason).unwrap();
        }
    });
    admin.connect().await.unwrap();
    let session = victim.connect().await.unwrap();
    admin.disconnect_session(&session.session_id).await.unwrap();
    within("victim to stop", victim.wait_until_disconnected()).await;
    let reason = within("on_disconnect", rx.recv()).await.unwrap();
    assert!(reason.contains("force"), "{reason}");
    assert!(matches!(victim.state(), ConnectionState::Closed { .. }));
    admin.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn unreachable_reconnect_gives_up_after_max_retries() {
    let gw = gateway().await;
    let agent = AgentClient::builder("ws", "impl", "giveup")
        .unwrap()
        .gateway(gw.url())
        .connect_timeout(Duration::from_millis(500))
        .reconnect(
            ReconnectPolicy::default()
                .max_retries(2)
                .backoff(Duration::from_millis(10), Duration::from_millis(20)),
        )
        .build();
    agent.connect().await.unwrap();
    gw.shutdown().await;
    within("the client to give up", agent.wait_until_disconnected()).await;
    match agent.state() {
        ConnectionState::Closed { reason } => assert!(reason.contains("gave up"), "{reason}"),
        other => panic!("unexpected state {other:?}"),
    }
}
