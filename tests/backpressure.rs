//! Delivery under pressure, through the SDK: a fast sender does not
//! overrun an online receiver that keeps up (the gateway paces the sender,
//! and the client's bounded queues push back instead of dropping), and a
//! message the gateway cannot keep is refused to the sender as a typed
//! error on its `on_error` handler.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aether_client::{AgentClient, Error, ErrorKind, MessageType};
use aether_gateway::{GatewayConfig, Limits};
use tokio::sync::Notify;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_sender_loses_nothing_to_an_online_receiver() {
    const N: u64 = 30_000;
    let limits = Limits::default().with_mailbox_max_messages(500);
    let gw = common::gateway_with(GatewayConfig::dev().with_limits(limits)).await;
    let sender = AgentClient::builder("ws", "bp", "tx")
        .unwrap()
        .gateway(gw.url())
        .build();
    let receiver = AgentClient::builder("ws", "bp", "rx")
        .unwrap()
        .gateway(gw.url())
        .build();

    let next = Arc::new(AtomicU64::new(0));
    let out_of_order = Arc::new(AtomicU64::new(0));
    let done = Arc::new(Notify::new());
    let (n, ooo, d) = (next.clone(), out_of_order.clone(), done.clone());
    receiver.on_message(move |msg| {
        let (n, ooo, d) = (n.clone(), ooo.clone(), d.clone());
        async move {
            let seq: u64 = msg
                .payload_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(u64::MAX);
            let expected = n.fetch_add(1, Ordering::SeqCst);
            if seq != expected {
                ooo.fetch_add(1, Ordering::SeqCst);
            }
            if expected + 1 == N {
                d.notify_one();
            }
        }
    });
    sender.connect().await.unwrap();
    receiver.connect().await.unwrap();

    let all_received = done.notified();
    for i in 0..N {
        sender
            .send_message_to_agent("ws", "bp", "rx", i.to_string(), MessageType::Opaque)
            .await
            .unwrap();
    }
    if tokio::time::timeout(std::time::Duration::from_secs(30), all_received)
        .await
        .is_err()
    {
        panic!(
            "received {} of {N}; gateway {:?}; client dropped {}",
            next.load(Ordering::SeqCst),
            gw.stats(),
            receiver.dropped_pushes()
        );
    }
    assert_eq!(next.load(Ordering::SeqCst), N);
    assert_eq!(out_of_order.load(Ordering::SeqCst), 0, "delivered in order");
    assert_eq!(
        gw.stats().refused.mailbox_full,
        0,
        "the gateway refused nothing"
    );
    assert_eq!(receiver.dropped_pushes(), 0, "the client dropped nothing");
    sender.close().await;
    receiver.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_message_to_a_full_mailbox_is_refused_to_the_sender_on_error() {
    let limits = Limits::default().with_mailbox_max_messages(2);
    let gw = common::gateway_with(GatewayConfig::dev().with_limits(limits)).await;
    let sender = AgentClient::builder("ws", "full", "tx")
        .unwrap()
        .gateway(gw.url())
        .build();
    let (errors, mut refused) = tokio::sync::mpsc::unbounded_channel::<Error>();
    sender.on_error(move |e| {
        let _ = errors.send(e);
        std::future::ready(())
    });
    sender.connect().await.unwrap();
    // Nobody is connected as the target: its mailbox keeps two.
    for i in 0..3 {
        sender
            .send_message_to_agent("ws", "full", "offline", i.to_string(), MessageType::Chat)
            .await
            .unwrap();
    }
    let e = tokio::time::timeout(std::time::Duration::from_secs(10), refused.recv())
        .await
        .expect("a refusal in time")
        .expect("handler alive");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert_eq!(e.code(), Some("ERR_MAILBOX_FULL"));
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(1)));
    assert!(
        e.message().contains("ag::ws::full::offline"),
        "{}",
        e.message()
    );
    assert_eq!(gw.stats().refused.mailbox_full, 1);
    assert_eq!(gw.mailbox_len("ag::ws::full::offline"), Some(2));
    sender.close().await;
    gw.shutdown().await;
}
