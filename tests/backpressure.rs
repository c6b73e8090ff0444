//! A fast sender does not overrun an online receiver: the gateway stops
//! reading the sender while the receiver's mailbox is congested, and the
//! client's bounded queues push back instead of dropping.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aether_client::{AgentClient, MessageType};
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
        gw.stats().mailbox_overflow_drops,
        0,
        "the gateway dropped nothing"
    );
    assert_eq!(receiver.dropped_pushes(), 0, "the client dropped nothing");
    sender.close().await;
    receiver.close().await;
    gw.shutdown().await;
}
