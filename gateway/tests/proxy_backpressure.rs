//! A receiver that does not read never grows the gateway's memory: its
//! sender is slowed (the gateway stops reading it once its parked frames
//! reach their bound), nothing is dropped, and the sender's other work goes
//! on until that bound.

mod common;

use aether_gateway::{GatewayConfig, Limits, ProxyLimits, RunningGateway};
use aether_protocol::identity::Principal;
use aether_protocol::proto::upstream_message::Payload as Up;
use common::proxy::{Reason, chunk, data, open, reason, request, response, until};
use common::{Conn, up};

/// Frames of 16 KiB, 4096 of them: 64 MiB, far more than every buffer on
/// the way (the test client's queue, both HTTP/2 windows and the gateway's
/// bounds) can hold.
const FRAME: usize = 16 * 1024;
const FRAMES: u32 = 4096;

const LANE: usize = 256 * 1024;
const PARK: usize = 256 * 1024;

/// 8 MiB: more than the HTTP/2 windows towards a silent client hold, so
/// frames are left waiting in the gateway.
const SLOW_FRAMES: u32 = 512;
const BIG_PARK: usize = 16 * 1024 * 1024;

fn payload(i: u32) -> Vec<u8> {
    let mut p = vec![(i % 251) as u8; FRAME];
    p[..4].copy_from_slice(&i.to_be_bytes());
    p
}

async fn gateway(lane: usize, park: usize) -> RunningGateway {
    let proxy = ProxyLimits::default()
        .with_lane_bytes(lane)
        .with_park_bytes(park);
    aether_gateway::start(GatewayConfig::dev().with_limits(Limits::default().with_proxy(proxy)))
        .await
        .unwrap()
}

async fn connect(gw: &RunningGateway, p: Principal) -> Conn {
    Conn::connect(&gw.url(), &p).await.0
}

/// Waits until the gateway holds a sender back, then checks the bound.
async fn held_back(gw: &RunningGateway, sending: &tokio::task::JoinHandle<()>) {
    until(gw, "the sender is held back", |s| {
        s.proxy_senders_waiting > 0
    })
    .await;
    let s = gw.stats();
    assert!(
        s.proxy_queued_bytes <= (LANE + PARK + 2 * FRAME) as u64,
        "queued {} bytes",
        s.proxy_queued_bytes
    );
    assert!(s.proxy_backpressure_waits >= 1);
    assert!(!sending.is_finished(), "the sender waits");
}

#[tokio::test]
async fn a_tunnel_end_that_does_not_read_slows_the_other_end() {
    let gw = gateway(LANE, PARK).await;
    let mut sv = connect(&gw, Principal::service("tcp", "1", false).unwrap()).await;
    let caller = connect(&gw, Principal::agent("ws", "dialer", "1").unwrap()).await;
    caller.send_open(open("t", "sv::tcp::1")).await;
    let (wire, _) = sv.tunnel_open().await;

    // The caller ignores credits and writes 64 MiB; the service reads
    // nothing for now.
    let tx = caller.tx.clone();
    let sending = tokio::spawn(async move {
        for i in 0..FRAMES {
            let d = data("t", i, &payload(i), false);
            tx.send(up(Up::TunnelData(Box::new(d)))).await.unwrap();
        }
    });
    held_back(&gw, &sending).await;

    // Once the service reads, everything arrives, in order.
    for i in 0..FRAMES {
        let d = sv.tunnel_data().await;
        assert_eq!((d.tunnel_id.as_str(), d.seq), (wire.as_str(), i));
        assert_eq!(d.data.as_ref(), payload(i).as_slice());
    }
    sending.await.unwrap();
    until(&gw, "nothing held", |s| {
        s.proxy_senders_waiting == 0 && s.proxy_queued_bytes == 0
    })
    .await;
    gw.shutdown().await;
}

#[tokio::test]
async fn an_http_caller_that_does_not_read_slows_the_streaming_service() {
    let gw = gateway(LANE, PARK).await;
    let mut sv = connect(&gw, Principal::service("web", "1", false).unwrap()).await;
    let mut caller = connect(&gw, Principal::agent("ws", "caller", "1").unwrap()).await;
    caller
        .send_request(request("dl", "sv::web::1", "/bytes"))
        .await;
    let wire = sv.proxy_request().await.request_id;

    let tx = sv.tx.clone();
    let sending = tokio::spawn(async move {
        let head = response(&wire, 200, b"", true);
        tx.send(up(Up::ProxyHttpResponse(Box::new(head))))
            .await
            .unwrap();
        for i in 0..FRAMES {
            let c = chunk(&wire, false, i, &payload(i), i + 1 == FRAMES);
            tx.send(up(Up::ProxyHttpBodyChunk(Box::new(c))))
                .await
                .unwrap();
        }
    });
    held_back(&gw, &sending).await;

    assert!(caller.proxy_response().await.body_chunked);
    for i in 0..FRAMES {
        let c = caller.proxy_chunk().await;
        assert_eq!(
            (c.request_id.as_str(), c.seq, c.fin),
            ("dl", i, i + 1 == FRAMES)
        );
        assert_eq!(c.data.as_ref(), payload(i).as_slice());
    }
    sending.await.unwrap();
    until(&gw, "the request is complete and nothing held", |s| {
        s.proxy_pins == 0 && s.proxy_senders_waiting == 0 && s.proxy_queued_bytes == 0
    })
    .await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_session_sending_bad_frames_without_reading_is_slowed() {
    let gw = gateway(LANE, PARK).await;
    let caller = connect(&gw, Principal::agent("ws", "caller", "1").unwrap()).await;
    // Chunks for requests that do not exist, each refused; the caller reads
    // none of the refusals (about 26 MB of them).
    let tx = caller.tx.clone();
    let sending = tokio::spawn(async move {
        for i in 0..100_000 {
            let c = chunk(&format!("{i:0>200}"), true, 0, b"", true);
            tx.send(up(Up::ProxyHttpBodyChunk(Box::new(c))))
                .await
                .unwrap();
        }
    });
    held_back(&gw, &sending).await;
    drop(caller);
    sending.abort();
    until(&gw, "released", |s| {
        s.proxy_queued_bytes == 0 && s.proxy_senders_waiting == 0
    })
    .await;
    gw.shutdown().await;
}

#[tokio::test]
async fn below_its_bound_a_sender_keeps_working_while_its_frames_wait() {
    // A small lane and a large park: megabytes wait for the silent service.
    let gw = gateway(64 * 1024, BIG_PARK).await;
    let mut silent = connect(&gw, Principal::service("tcp", "silent", false).unwrap()).await;
    let mut reading = connect(&gw, Principal::service("tcp", "reading", false).unwrap()).await;
    let mut caller = connect(&gw, Principal::agent("ws", "dialer", "1").unwrap()).await;
    caller.send_open(open("slow", "sv::tcp::silent")).await;
    caller.send_open(open("fast", "sv::tcp::reading")).await;
    let (slow_wire, _) = silent.tunnel_open().await;
    let (fast_wire, _) = reading.tunnel_open().await;

    for i in 0..SLOW_FRAMES {
        caller.send_data(data("slow", i, &payload(i), false)).await;
    }
    // The caller is still read and served: its other frames are answered,
    // and its tunnel to a reading service flows.
    caller.send_data(data("fast", 0, b"through", false)).await;
    assert!(caller.barrier().await.is_empty());
    let d = reading.tunnel_data().await;
    assert_eq!((d.tunnel_id, d.data.as_ref()), (fast_wire, &b"through"[..]));
    let s = gw.stats();
    assert_eq!(s.proxy_senders_waiting, 0);
    assert!(s.proxy_queued_bytes >= 1024 * 1024, "frames wait: {s:?}");

    for i in 0..SLOW_FRAMES {
        let d = silent.tunnel_data().await;
        assert_eq!((d.tunnel_id.as_str(), d.seq), (slow_wire.as_str(), i));
        assert_eq!(d.data.as_ref(), payload(i).as_slice());
    }
    until(&gw, "nothing held", |s| s.proxy_queued_bytes == 0).await;
    gw.shutdown().await;
}

#[tokio::test]
async fn frames_waiting_for_a_receiver_that_leaves_end_with_a_reset() {
    let gw = gateway(64 * 1024, BIG_PARK).await;
    let mut silent = connect(&gw, Principal::service("tcp", "silent", false).unwrap()).await;
    let mut caller = connect(&gw, Principal::agent("ws", "dialer", "1").unwrap()).await;
    caller.send_open(open("t", "sv::tcp::silent")).await;
    silent.tunnel_open().await;
    for i in 0..SLOW_FRAMES {
        caller.send_data(data("t", i, &payload(i), false)).await;
    }
    caller.barrier().await;
    assert!(gw.stats().proxy_queued_bytes >= 1024 * 1024);
    drop(silent);
    let c = caller.tunnel_close().await;
    assert_eq!((c.tunnel_id.as_str(), reason(&c)), ("t", Reason::PeerReset));
    until(&gw, "the waiting frames are released", |s| {
        s.proxy_queued_bytes == 0 && s.proxy_pins == 0
    })
    .await;
    gw.shutdown().await;
}
