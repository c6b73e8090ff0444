//! A sender to an online receiver that is not reading waits instead of
//! overflowing the receiver's mailbox.

mod common;

use std::time::Duration;

use aether_gateway::{GatewayConfig, Limits};
use aether_protocol::identity::Principal;
use aether_protocol::proto::{MessageType, SendMessage, upstream_message::Payload};
use common::{Conn, GUARD, up};

/// 1 KiB payloads, so the receiver's HTTP/2 window and buffers fill long
/// before the sender is done.
fn payload(i: usize) -> Vec<u8> {
    let mut p = format!("{i:08}").into_bytes();
    p.resize(1024, b'.');
    p
}

#[tokio::test]
async fn a_congested_online_mailbox_slows_the_sender_instead_of_dropping() {
    const N: usize = 3_000;
    let limits = Limits::default()
        .with_mailbox_max_messages(200)
        .with_backpressure_wait(Duration::from_secs(30));
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap();
    let rx_principal = Principal::agent("ws", "bp", "rx").unwrap();
    let (mut rx, _) = Conn::connect(&gw.url(), &rx_principal).await;
    let (tx, _) = Conn::connect(&gw.url(), &Principal::agent("ws", "bp", "tx").unwrap()).await;

    let sending = tokio::spawn(async move {
        for i in 0..N {
            tx.send(up(Payload::Send(Box::new(SendMessage {
                target_topic: "ag::ws::bp::rx".into(),
                payload: payload(i).into(),
                message_type: MessageType::Opaque as i32,
                ..Default::default()
            }))))
            .await;
        }
        tx
    });

    // The receiver reads nothing until the sender is held back (or, were
    // backpressure broken, until messages are dropped or the sender is done).
    tokio::time::timeout(GUARD, async {
        loop {
            let s = gw.stats();
            if s.senders_waiting > 0 || s.mailbox_overflow_drops > 0 || sending.is_finished() {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the sender stalls");
    assert_eq!(gw.stats().mailbox_overflow_drops, 0);
    assert!(!sending.is_finished(), "the sender is held back");

    for i in 0..N {
        let m = tokio::time::timeout(GUARD, rx.msg())
            .await
            .expect("message");
        assert_eq!(m.payload.as_ref(), payload(i).as_slice());
    }
    let _tx = sending.await.unwrap();
    assert_eq!(gw.stats().mailbox_overflow_drops, 0);
    gw.shutdown().await;
}
