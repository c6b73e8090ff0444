//! Delivery under pressure: a receiver that keeps up paces its sender
//! without loss; one that stalls costs its sender's messages to it at
//! most one pause, after which messages beyond its mailbox bounds are
//! refused (never dropped); the sender's other work keeps flowing, also
//! during a pause.

mod common;

use std::time::{Duration, Instant};

use aether_gateway::{GatewayConfig, Limits};
use aether_protocol::identity::Principal;
use aether_protocol::proto::kv_operation::{OpType, Scope};
use aether_protocol::proto::{
    MessageType, SendMessage, UpstreamMessage, downstream_message::Payload, upstream_message,
};
use common::state::kv;
use common::{Conn, GUARD, up};

/// 1 KiB payloads numbered `i`, so the receiver's HTTP/2 window and
/// buffers fill long before the sender is done.
fn payload(i: usize) -> Vec<u8> {
    let mut p = format!("{i:08}").into_bytes();
    p.resize(1024, b'.');
    p
}

fn send_to(topic: &str, i: usize) -> UpstreamMessage {
    up(upstream_message::Payload::Send(Box::new(SendMessage {
        target_topic: topic.into(),
        payload: payload(i).into(),
        message_type: MessageType::Opaque as i32,
        ..Default::default()
    })))
}

fn number(p: &[u8]) -> usize {
    std::str::from_utf8(&p[..8]).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_receiver_that_keeps_up_paces_its_sender_without_loss() {
    const N: usize = 3_000;
    let limits = Limits::default()
        .with_mailbox_max_messages(200)
        .with_backpressure_wait(Duration::from_secs(30));
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap();
    let (mut rx, _) = Conn::connect(&gw.url(), &Principal::agent("ws", "bp", "rx").unwrap()).await;
    let (tx, _) = Conn::connect(&gw.url(), &Principal::agent("ws", "bp", "tx").unwrap()).await;
    let sending = tokio::spawn(async move {
        for i in 0..N {
            tx.send(send_to("ag::ws::bp::rx", i)).await;
        }
        tx
    });
    for i in 0..N {
        assert_eq!(number(&rx.msg().await.payload), i);
    }
    let mut tx = sending.await.unwrap();
    assert!(
        tx.barrier().await.is_empty(),
        "no refusal reached the sender"
    );
    let s = gw.stats();
    assert_eq!(s.refused.mailbox_full, 0);
    assert!(s.backpressure_waits > 0, "the sender was paced: {s:?}");
    assert_eq!(s.receivers_lagging, 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_stalled_receiver_gets_what_fits_and_the_sender_is_told_about_the_rest() {
    const N: usize = 5_000;
    let limits = Limits::default()
        .with_mailbox_max_messages(200)
        .with_backpressure_wait(Duration::from_millis(200));
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap();
    let (mut rx, _) = Conn::connect(&gw.url(), &Principal::agent("ws", "bp", "rx").unwrap()).await;
    let (mut tx, _) = Conn::connect(&gw.url(), &Principal::agent("ws", "bp", "tx").unwrap()).await;
    // The receiver reads nothing while the sender sends everything.
    for i in 0..N {
        tx.send(send_to("ag::ws::bp::rx", i)).await;
    }
    // Sends held for the pause go (and are refused) when it ends: the
    // receiver does not drain, so it is marked lagging after 200 ms.
    common::proxy::until(&gw, "the pause ends", |s| s.receivers_lagging == 1).await;
    let seen = tx.barrier().await;
    assert!(!seen.is_empty(), "some sends were refused");
    for p in &seen {
        match p {
            Payload::Error(e) => {
                assert_eq!(e.code, "ERR_MAILBOX_FULL");
                assert!(e.retryable);
            }
            other => panic!("expected refusals only, got {other:?}"),
        }
    }
    let s = gw.stats();
    assert_eq!(s.refused.mailbox_full, seen.len() as u64);
    assert_eq!(s.receivers_lagging, 1, "one pause, then no more: {s:?}");
    // Everything accepted arrives, in order, with nothing missing.
    let accepted = N - seen.len();
    for i in 0..accepted {
        assert_eq!(number(&rx.msg().await.payload), i);
    }
    let rest = rx.barrier().await;
    assert!(
        !rest.iter().any(|p| matches!(p, Payload::Msg(_))),
        "the refused ones never arrive"
    );
    gw.shutdown().await;
}

/// The `q`-quantile of `samples` (sorted in place).
fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_receiver_does_not_hold_up_its_senders_other_work() {
    const GETS: usize = 400;
    let gw = aether_gateway::start(GatewayConfig::dev()).await.unwrap();
    let url = gw.url();
    // Connected, never reading.
    let (_stalled, _) =
        Conn::connect(&url, &Principal::agent("ws", "hol", "stalled").unwrap()).await;
    let (mut other, _) =
        Conn::connect(&url, &Principal::agent("ws", "hol", "other").unwrap()).await;
    let (mut me, _) = Conn::connect(&url, &Principal::agent("ws", "hol", "me").unwrap()).await;
    me.kv(common::state::kv_put(Scope::Global, "k", b"v", "put"))
        .await;

    // The flood: 128-byte messages to the stalled receiver, 10 000 a
    // second in bursts of 100, on the same session as the reads below. It
    // outgrows the receiver's HTTP/2 window and mailbox within a few
    // seconds; from then on every message is refused. (Its pace keeps what
    // the client itself queues ahead of each read small, so what is
    // measured is the gateway, not the depth of the client's own queue.)
    let flood = me.tx.clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let flooding = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut sent = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            while !stop.is_cancelled() {
                tick.tick().await;
                for _ in 0..100 {
                    let msg = up(upstream_message::Payload::Send(Box::new(SendMessage {
                        target_topic: "ag::ws::hol::stalled".into(),
                        payload: vec![b'x'; 128].into(),
                        message_type: MessageType::Opaque as i32,
                        ..Default::default()
                    })));
                    if flood.send(msg).await.is_err() {
                        return sent;
                    }
                    sent += 1;
                }
            }
            sent
        }
    });

    // The session's replies are read all along (a client that stops
    // reading its own stream is throttled by its own stream, rightly).
    let me_tx = me.tx.clone();
    let common::Conn { rx: mut me_rx, .. } = me;
    let (replies, mut kv_replies) = tokio::sync::mpsc::unbounded_channel();
    let reading = tokio::spawn(async move {
        let mut refusals = 0u64;
        while let Ok(Some(m)) = me_rx.message().await {
            match m.payload {
                Some(Payload::Kv(r)) => {
                    if replies.send(*r).is_err() {
                        break;
                    }
                }
                Some(Payload::Error(e)) if e.code == "ERR_MAILBOX_FULL" => refusals += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        refusals
    });

    let mut latencies = Vec::with_capacity(GETS);
    for i in 0..GETS {
        let rid = format!("get-{i}");
        let started = Instant::now();
        let get = up(upstream_message::Payload::KvOp(Box::new(kv(
            OpType::Get,
            Scope::Global,
            "k",
            &rid,
        ))));
        me_tx.send(get).await.unwrap();
        // Messages to another target flow too.
        me_tx.send(send_to("ag::ws::hol::other", i)).await.unwrap();
        let r = tokio::time::timeout(GUARD, kv_replies.recv())
            .await
            .expect("KV reply in time")
            .expect("reader alive");
        assert_eq!(r.request_id, rid);
        assert!(r.success);
        latencies.push(started.elapsed());
        assert_eq!(number(&other.msg().await.payload), i);
        // About one read per 10 ms, for about 4 s of flood.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    let sent = tokio::time::timeout(GUARD, flooding)
        .await
        .unwrap()
        .unwrap();
    drop(me_tx);
    reading.abort();
    let refusals = gw.stats().refused.mailbox_full;
    let max = *latencies.iter().max().unwrap();
    let p99 = quantile(&mut latencies, 0.99);
    let p50 = quantile(&mut latencies, 0.50);
    let s = gw.stats();
    eprintln!(
        "KV GET while flooding a stalled receiver: p50 {p50:?} p99 {p99:?} max {max:?}; \
         {sent} flood messages, {refusals} refused, {s:?}"
    );
    assert!(
        s.refused.mailbox_full > 0,
        "the flood outgrew the mailbox: {s:?}"
    );
    assert!(p99 < Duration::from_millis(50), "KV GET p99 {p99:?}");
    gw.shutdown().await;
}

/// A send to `topic` numbered `i`, with a 64 KiB payload.
fn big_send_to(topic: &str, i: usize) -> UpstreamMessage {
    let mut p = format!("{i:08}").into_bytes();
    p.resize(64 * 1024, b'.');
    up(upstream_message::Payload::Send(Box::new(SendMessage {
        target_topic: topic.into(),
        payload: p.into(),
        message_type: MessageType::Opaque as i32,
        ..Default::default()
    })))
}

/// A paced sender is not frozen: while it waits for a congested receiver
/// (here up to a minute), its KV calls are answered and its messages to
/// other targets delivered. Its sends to that receiver are held, in order,
/// and go as soon as the receiver has drained.
#[tokio::test]
async fn a_paced_sender_is_served_meanwhile_and_its_held_sends_go_when_the_pause_ends() {
    let limits = Limits::default()
        .with_mailbox_max_bytes(1024 * 1024)
        .with_backpressure_wait(Duration::from_secs(60));
    let gw = aether_gateway::start(GatewayConfig::dev().with_limits(limits))
        .await
        .unwrap();
    let url = gw.url();
    let (mut slow, _) = Conn::connect(&url, &Principal::agent("ws", "pace", "slow").unwrap()).await;
    let (mut other, _) =
        Conn::connect(&url, &Principal::agent("ws", "pace", "other").unwrap()).await;
    let (mut me, _) = Conn::connect(&url, &Principal::agent("ws", "pace", "me").unwrap()).await;
    me.kv(common::state::kv_put(Scope::Global, "k", b"v", "put"))
        .await;

    // Send to the receiver, which does not read, until a send starts a
    // pause; the KV call after each send is answered, that one included.
    let mut sent = 0;
    loop {
        me.send(big_send_to("ag::ws::pace::slow", sent)).await;
        sent += 1;
        let r = me
            .kv(kv(OpType::Get, Scope::Global, "k", &format!("get-{sent}")))
            .await;
        assert!(r.success);
        if gw.stats().senders_waiting == 1 {
            break;
        }
        assert!(sent < 1_000, "no pause began: {:?}", gw.stats());
    }
    // Paused (it may last a minute): 10 more sends to the receiver, 64 KiB
    // each, are held; the call after them is answered at once, and other
    // targets are reached.
    for k in 0..10 {
        me.send(big_send_to("ag::ws::pace::slow", sent + k)).await;
    }
    let r = me.kv(kv(OpType::Get, Scope::Global, "k", "during")).await;
    assert!(r.success);
    me.send(send_to("ag::ws::pace::other", 7)).await;
    assert_eq!(number(&other.msg().await.payload), 7);
    assert_eq!(gw.stats().senders_waiting, 1, "the pause is still on");

    // The receiver reads: the pause ends and the held sends follow, in
    // order, with no gap.
    for i in 0..sent + 10 {
        assert_eq!(number(&slow.msg().await.payload), i);
    }
    assert_eq!(gw.stats().senders_waiting, 0);
    assert_eq!(gw.stats().refused.mailbox_full, 0, "nothing was refused");
    gw.shutdown().await;
}
