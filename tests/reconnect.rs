//! Losing the stream: calls in flight fail at once, the client reconnects,
//! resumes its session and replays its workspace; lifecycle callbacks fire
//! once per transition.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aether_client::proto::{self, upstream_message::Payload as Up};
use aether_client::stack::OpRequest;
use aether_client::{AgentClient, ConnectionState, ErrorKind, MessageType, UserClient};
use aether_gateway::GatewayConfig;
use common::{Proxy, fast_reconnect, gateway, within};
use futures_util::StreamExt;

async fn wait_connected<P: aether_client::principal::PrincipalType>(
    client: &aether_client::Client<P>,
) -> aether_client::SessionInfo {
    let mut rx = client.watch_state();
    let state = within("reconnect", rx.wait_for(|s| s.is_connected()))
        .await
        .unwrap()
        .clone();
    match state {
        ConnectionState::Connected(s) => s,
        _ => unreachable!(),
    }
}

async fn wait_not_connected<P: aether_client::principal::PrincipalType>(
    client: &aether_client::Client<P>,
) {
    let mut rx = client.watch_state();
    within("disconnect", rx.wait_for(|s| !s.is_connected()))
        .await
        .unwrap();
}

fn status_call(id: &str) -> OpRequest {
    OpRequest::awaited(
        "connection_status",
        Up::ConnectionStatusRequest(Box::new(proto::ConnectionStatusRequest {
            request_id: String::new(),
            principal: Some(proto::PrincipalRef {
                principal_type: "agent".into(),
                principal_id: id.into(),
            }),
        })),
    )
}

#[tokio::test]
async fn a_lost_stream_fails_calls_in_flight_then_resumes_the_session() {
    let gw = gateway().await;
    let proxy = Proxy::start(gw.local_addr()).await;
    let connects = Arc::new(AtomicUsize::new(0));
    let disconnects = Arc::new(AtomicUsize::new(0));
    let agent = AgentClient::builder("ws", "impl", "resumer")
        .unwrap()
        .gateway(proxy.url())
        .reconnect(fast_reconnect())
        .build();
    let c = connects.clone();
    agent.on_connect(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    let d = disconnects.clone();
    agent.on_disconnect(move |_| {
        d.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    let first = agent.connect().await.unwrap();

    // A call whose frame reaches the socket but whose reply never comes back.
    proxy.freeze(true);
    let call = tokio::spawn({
        let agent = agent.clone();
        async move { agent.call(status_call("ag::ws::impl::resumer")).await }
    });
    within("the call to be written", async {
        while agent.pending_calls() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    proxy.cut();
    let err = within("the in-flight call to fail", call)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::ConnectionLost { .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());

    let second = wait_connected(&agent).await;
    assert_ne!(second.session_id, first.session_id);
    assert!(second.resumed, "the gateway resumed the session lineage");
    assert_eq!(second.reconnection_count, 1);
    assert_eq!(
        second.initial_connection_unix_ms,
        first.initial_connection_unix_ms
    );
    // The client works after the reconnect.
    assert!(
        agent
            .connection_status("agent", "ag::ws::impl::resumer")
            .await
            .unwrap()
    );

    agent.close().await;
    // Callbacks fire once per transition, in order: up, down, up, down.
    within("callbacks", async {
        while disconnects.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    assert_eq!(disconnects.load(Ordering::SeqCst), 2);
    gw.shutdown().await;
}

#[tokio::test]
async fn without_reconnect_a_lost_stream_closes_the_client() {
    let gw = gateway().await;
    let proxy = Proxy::start(gw.local_addr()).await;
    // No automatic reconnect: the call stays queued while the stream is gone.
    let agent = AgentClient::builder("ws", "impl", "unsent")
        .unwrap()
        .gateway(proxy.url())
        .reconnect(aether_client::ReconnectPolicy::disabled())
        .build();
    agent.connect().await.unwrap();
    proxy.cut();
    wait_not_connected(&agent).await;
    let err = agent
        .call(status_call("ag::ws::impl::unsent"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed, "{err:?}");
    gw.shutdown().await;
}

#[tokio::test]
async fn the_users_workspace_is_replayed_after_a_reconnect() {
    let gw = gateway().await;
    let proxy = Proxy::start(gw.local_addr()).await;
    let user = UserClient::builder("u", "w")
        .unwrap()
        .gateway(proxy.url())
        .reconnect(fast_reconnect())
        .build();
    let agent = AgentClient::builder("ws", "impl", "broadcaster")
        .unwrap()
        .gateway(gw.url())
        .build();
    user.connect().await.unwrap();
    agent.connect().await.unwrap();
    user.switch_workspace("ws").await.unwrap();
    assert_eq!(user.workspace().as_deref(), Some("ws"));

    proxy.cut();
    wait_not_connected(&user).await;
    wait_connected(&user).await;
    // Order the replayed switch before the broadcast with a round trip.
    assert!(user.connection_status("user", "u").await.unwrap());
    let mut inbox = user.messages();
    agent
        .send_broadcast_to_users("ws", "after reconnect", MessageType::Chat)
        .await
        .unwrap();
    let m = within("broadcast after reconnect", inbox.next())
        .await
        .unwrap()
        .expect("broadcast after reconnect: an item");
    assert_eq!(m.payload_str(), Some("after reconnect"));
    user.close().await;
    agent.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn the_client_reconnects_after_the_gateway_restarts() {
    let gw = gateway().await;
    let addr: SocketAddr = gw.local_addr();
    let agent = AgentClient::builder("ws", "impl", "survivor")
        .unwrap()
        .gateway(gw.url())
        .reconnect(fast_reconnect())
        .build();
    let disconnects = Arc::new(AtomicUsize::new(0));
    let d = disconnects.clone();
    agent.on_disconnect(move |_| {
        d.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    agent.connect().await.unwrap();

    // A graceful shutdown ends the stream cleanly: that is a loss, not a stop.
    gw.shutdown().await;
    wait_not_connected(&agent).await;
    assert!(!agent.state().is_closed());

    let gw2 = common::gateway_with(GatewayConfig::dev().with_bind(addr)).await;
    let session = wait_connected(&agent).await;
    assert_eq!(session.identity, "ag::ws::impl::survivor");

    // Messages flow again, both ways.
    let peer = AgentClient::builder("ws", "impl", "peer")
        .unwrap()
        .gateway(gw2.url())
        .build();
    peer.connect().await.unwrap();
    let mut inbox = agent.messages();
    peer.send_message_to_agent("ws", "impl", "survivor", "welcome back", MessageType::Chat)
        .await
        .unwrap();
    let m = within("message after restart", inbox.next())
        .await
        .unwrap()
        .expect("message after restart: an item");
    assert_eq!(m.payload_str(), Some("welcome back"));
    assert_eq!(disconnects.load(Ordering::SeqCst), 1);
    agent.close().await;
    peer.close().await;
    gw2.shutdown().await;
}

#[tokio::test]
async fn messages_sent_while_a_peer_is_offline_wait_in_its_mailbox() {
    let gw = gateway().await;
    let sender = AgentClient::builder("ws", "impl", "early")
        .unwrap()
        .gateway(gw.url())
        .build();
    sender.connect().await.unwrap();
    for i in 0..3 {
        sender
            .send_message_to_agent("ws", "impl", "late", format!("m{i}"), MessageType::Chat)
            .await
            .unwrap();
    }
    // Order the sends before the late agent connects.
    sender
        .connection_status("agent", "ag::ws::impl::late")
        .await
        .unwrap();
    let late = AgentClient::builder("ws", "impl", "late")
        .unwrap()
        .gateway(gw.url())
        .build();
    let mut inbox = late.messages();
    late.connect().await.unwrap();
    for i in 0..3 {
        let m = within("mailbox backlog", inbox.next())
            .await
            .unwrap()
            .expect("mailbox backlog: an item");
        assert_eq!(m.payload_str(), Some(format!("m{i}").as_str()));
    }
    sender.close().await;
    late.close().await;
    gw.shutdown().await;
}
