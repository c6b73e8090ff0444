//! Tunnels end to end: dial, accept, bytes both ways with credit flow
//! control, half-close, identity, resets and quotas, through a real
//! gateway on loopback.

mod common;

use aether_client::tunnel::{
    FRAME_BYTES, INITIAL_CREDITS, IncomingTunnel, Tunnel, TunnelListener, TunnelOptions,
};
use aether_client::{AgentClient, ErrorKind, ServiceClient};
use aether_gateway::{GatewayConfig, Limits, ProxyLimits};
use common::{fast_reconnect, gateway, gateway_with, within};
use futures_util::FutureExt;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

async fn service(url: &str, spec: &str) -> (ServiceClient, TunnelListener) {
    let s = ServiceClient::builder("tcp", spec)
        .unwrap()
        .gateway(url)
        .reconnect(fast_reconnect())
        .build();
    let listener = s.tunnel_listener();
    s.connect().await.unwrap();
    (s, listener)
}

async fn agent(url: &str, name: &str) -> AgentClient {
    let a = AgentClient::builder("ws", "dialer", name)
        .unwrap()
        .gateway(url)
        .reconnect(fast_reconnect())
        .build();
    a.connect().await.unwrap();
    a
}

async fn accept(listener: &mut TunnelListener) -> IncomingTunnel {
    within("a tunnel", listener.accept())
        .await
        .expect("a tunnel")
}

/// A tunnel dialled to `sv::tcp::1` and its far end.
async fn dial_and_accept(a: &AgentClient, listener: &mut TunnelListener) -> (Tunnel, Tunnel) {
    let tunnel = a
        .tunnel_dial("sv::tcp::1", &TunnelOptions::new())
        .await
        .unwrap();
    (tunnel, accept(listener).await.tunnel)
}

/// The aether error inside an io::Error.
fn aether(e: &std::io::Error) -> &aether_client::Error {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<aether_client::Error>())
        .unwrap_or_else(|| panic!("an SDK error inside {e:?}"))
}

#[tokio::test]
async fn bytes_cross_both_ways_intact_with_flow_control() {
    let gw = gateway().await;
    let (_svc, mut listener) = service(&gw.url(), "1").await;
    let a = agent(&gw.url(), "a").await;
    let mut tunnel = a
        .tunnel_dial(
            "sv::tcp::1",
            &TunnelOptions::new().metadata("purpose", "test"),
        )
        .await
        .unwrap();
    let incoming = accept(&mut listener).await;
    assert_eq!(incoming.caller.topic, "ag::ws::dialer::a");
    assert_eq!(incoming.caller.principal_type, "agent");
    assert_eq!(
        incoming.metadata.get("purpose").map(String::as_str),
        Some("test")
    );
    // The echo side.
    let mut far = incoming.tunnel;
    let echo = tokio::spawn(async move {
        let (mut r, mut w) = tokio::io::split(&mut far);
        let copied = tokio::io::copy(&mut r, &mut w).await;
        w.shutdown().await.unwrap();
        copied
    });
    // 6 MiB: six times the initial credits, so acks must flow.
    let data: Vec<u8> = (0..6 * 1024 * 1024)
        .map(|i: usize| (i % 249) as u8)
        .collect();
    let (mut r, mut w) = tokio::io::split(tunnel);
    let writer = {
        let data = data.clone();
        tokio::spawn(async move {
            w.write_all(&data).await.unwrap();
            w.shutdown().await.unwrap();
            w
        })
    };
    let mut back = Vec::new();
    within("the echo", r.read_to_end(&mut back)).await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data);
    assert_eq!(
        within("the echo side", echo).await.unwrap().unwrap(),
        data.len() as u64
    );
    let w = writer.await.unwrap();
    tunnel = r.unsplit(w);
    tunnel.close().await.unwrap();
}

#[tokio::test]
async fn a_writer_stops_at_its_credits_until_the_reader_reads() {
    let gw = gateway().await;
    let (_svc, mut listener) = service(&gw.url(), "1").await;
    let a = agent(&gw.url(), "a").await;
    let (mut tunnel, mut far) = dial_and_accept(&a, &mut listener).await;
    // Writes are accepted until the peer's initial credits are spent.
    let piece = vec![5u8; 64 * 1024];
    let mut written = 0usize;
    while let Some(n) = tunnel.write(&piece).now_or_never() {
        written += n.unwrap();
        assert!(
            written <= INITIAL_CREDITS as usize,
            "wrote past the credits"
        );
    }
    assert_eq!(written, INITIAL_CREDITS as usize);
    // The reader consumes; its acks let the writer go on.
    let mut sink = vec![0u8; 512 * 1024];
    within("the reader", far.read_exact(&mut sink))
        .await
        .unwrap();
    let n = within("credits back", tunnel.write(&piece)).await.unwrap();
    assert!(n > 0);
}

#[tokio::test]
async fn half_close_lets_the_other_side_answer() {
    let gw = gateway().await;
    let (_svc, mut listener) = service(&gw.url(), "1").await;
    let a = agent(&gw.url(), "a").await;
    let (mut tunnel, mut far) = dial_and_accept(&a, &mut listener).await;
    tunnel.write_all(b"question").await.unwrap();
    tunnel.shutdown().await.unwrap();
    let mut asked = Vec::new();
    within("the question and EOF", far.read_to_end(&mut asked))
        .await
        .unwrap();
    assert_eq!(asked, b"question");
    far.write_all(b"answer").await.unwrap();
    far.shutdown().await.unwrap();
    let mut answer = Vec::new();
    within("the answer", tunnel.read_to_end(&mut answer))
        .await
        .unwrap();
    assert_eq!(answer, b"answer");
    // Writing after shutdown is refused.
    assert!(tunnel.write_all(b"more").await.is_err());
}

#[tokio::test]
async fn chunks_cross_without_copies_under_the_same_flow_control() {
    let gw = gateway().await;
    let (_svc, mut listener) = service(&gw.url(), "1").await;
    let a = agent(&gw.url(), "a").await;
    let (mut tunnel, mut far) = dial_and_accept(&a, &mut listener).await;
    // 3 MiB in one chunk: three times the credits, so the reader's acks
    // must flow back for the writer to finish.
    let data = bytes::Bytes::from(
        (0..3 * 1024 * 1024)
            .map(|i: usize| (i % 253) as u8)
            .collect::<Vec<u8>>(),
    );
    let writer = {
        let data = data.clone();
        tokio::spawn(async move {
            tunnel.write_chunk(data).await.unwrap();
            tunnel.shutdown().await.unwrap();
            tunnel
        })
    };
    let mut got = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = within("a chunk", far.read_chunk()).await.unwrap() {
        assert!(chunk.len() <= FRAME_BYTES, "a frame over 256 KiB");
        got.extend_from_slice(&chunk);
        chunks += 1;
    }
    assert!(got == data[..], "the bytes differ");
    assert!(chunks >= data.len() / FRAME_BYTES, "{chunks} chunks");
    let mut tunnel = within("the writer", writer).await.unwrap();
    // Writing after shutdown is refused, as with AsyncWrite.
    let refused = tunnel.write_chunk(bytes::Bytes::from_static(b"more")).await;
    assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
}

#[tokio::test]
async fn copy_buf_moves_a_tunnel_past_its_credits() {
    let gw = gateway().await;
    let (_svc, mut listener) = service(&gw.url(), "1").await;
    let a = agent(&gw.url(), "a").await;
    let (mut tunnel, mut far) = dial_and_accept(&a, &mut listener).await;
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i: usize| (i % 241) as u8)
        .collect();
    let writer = {
        let data = data.clone();
        tokio::spawn(async move {
            tunnel.write_all(&data).await.unwrap();
            tunnel.shutdown().await.unwrap();
        })
    };
    // `AsyncBufRead`: consumed bytes grant credits back like reads do, or
    // the writer would stop at 1 MiB and this would time out.
    let mut got = Vec::new();
    let copied = within("copy_buf", tokio::io::copy_buf(&mut far, &mut got))
        .await
        .unwrap();
    assert_eq!(copied, data.len() as u64);
    assert!(got == data, "the bytes differ");
    within("the writer", writer).await.unwrap();
    // Partial consumption through fill_buf/consume keeps the order.
    let (mut tunnel, mut far) = dial_and_accept(&a, &mut listener).await;
    tunnel.write_all(b"abcdef").await.unwrap();
    tunnel.shutdown().await.unwrap();
    let lent = within("fill_buf", far.fill_buf()).await.unwrap().to_vec();
    assert_eq!(lent, b"abcdef");
    std::pin::Pin::new(&mut far).consume(2);
    let mut rest = Vec::new();
    within("the rest", far.read_to_end(&mut rest))
        .await
        .unwrap();
    assert_eq!(rest, b"cdef");
}

#[tokio::test]
async fn a_peer_that_leaves_resets_the_tunnel_at_once() {
    let gw = gateway().await;
    let (svc, mut listener) = service(&gw.url(), "1").await;
    let a = agent(&gw.url(), "a").await;
    let mut tunnel = a
        .tunnel_dial("sv::tcp::1", &TunnelOptions::new())
        .await
        .unwrap();
    let _far = accept(&mut listener).await;
    svc.close().await;
    let mut buf = [0u8; 16];
    let e = within("the reset", tunnel.read(&mut buf))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    assert_eq!(aether(&e).code(), Some("PEER_RESET"));
}

#[tokio::test]
async fn a_target_that_is_not_connected_refuses_the_tunnel() {
    let gw = gateway().await;
    let a = agent(&gw.url(), "a").await;
    let mut tunnel = a
        .tunnel_dial("sv::tcp::404", &TunnelOptions::new())
        .await
        .unwrap();
    let mut buf = [0u8; 1];
    let e = within("the refusal", tunnel.read(&mut buf))
        .await
        .unwrap_err();
    assert_eq!(aether(&e).code(), Some("SIDECAR_UNAVAILABLE"), "{e}");
    assert_eq!(aether(&e).kind(), ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_client_that_does_not_listen_resets_tunnels() {
    let gw = gateway().await;
    let plain = ServiceClient::builder("tcp", "plain")
        .unwrap()
        .gateway(gw.url())
        .build();
    plain.connect().await.unwrap();
    let a = agent(&gw.url(), "a").await;
    let mut tunnel = a
        .tunnel_dial("sv::tcp::plain", &TunnelOptions::new())
        .await
        .unwrap();
    let mut buf = [0u8; 1];
    let e = within("the reset", tunnel.read(&mut buf))
        .await
        .unwrap_err();
    assert_eq!(aether(&e).code(), Some("PEER_RESET"), "{e}");
}

#[tokio::test]
async fn tunnels_past_the_workspace_quota_are_refused() {
    let limits = ProxyLimits::default().with_max_tunnels_per_workspace(4);
    let gw =
        gateway_with(GatewayConfig::dev().with_limits(Limits::default().with_proxy(limits))).await;
    let (_svc, mut listener) = service(&gw.url(), "1").await;
    let a = agent(&gw.url(), "a").await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut t = a
            .tunnel_dial("sv::tcp::1", &TunnelOptions::new())
            .await
            .unwrap();
        t.write_all(b"x").await.unwrap();
        let mut far = accept(&mut listener).await.tunnel;
        let mut b = [0u8; 1];
        far.read_exact(&mut b).await.unwrap();
        open.push((t, far));
    }
    let mut fifth = a
        .tunnel_dial("sv::tcp::1", &TunnelOptions::new())
        .await
        .unwrap();
    let mut buf = [0u8; 1];
    let e = within("the quota", fifth.read(&mut buf)).await.unwrap_err();
    assert_eq!(aether(&e).code(), Some("QUOTA"), "{e}");
    assert_eq!(aether(&e).kind(), ErrorKind::RateLimited);
    // Closing one makes room: the gateway reads the close before the
    // next open of the same session.
    let (t, _far) = open.pop().unwrap();
    t.close().await.unwrap();
    let mut again = a
        .tunnel_dial("sv::tcp::1", &TunnelOptions::new())
        .await
        .unwrap();
    again.write_all(b"y").await.unwrap();
    let mut far = accept(&mut listener).await.tunnel;
    let mut b = [0u8; 1];
    far.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"y");
    again.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_byte_cap_closes_the_tunnel_with_quota() {
    let gw = gateway().await;
    let (_svc, mut listener) = service(&gw.url(), "1").await;
    let a = agent(&gw.url(), "a").await;
    let mut tunnel = a
        .tunnel_dial("sv::tcp::1", &TunnelOptions::new().max_bytes(100_000))
        .await
        .unwrap();
    let mut far = accept(&mut listener).await.tunnel;
    let sink = tokio::spawn(async move {
        let mut all = Vec::new();
        far.read_to_end(&mut all).await.map(|_| all.len())
    });
    let piece = vec![1u8; 50_000];
    let mut failure = None;
    for _ in 0..10 {
        if let Err(e) = tunnel.write_all(&piece).await {
            failure = Some(e);
            break;
        }
    }
    let failure = match failure {
        Some(e) => e,
        None => {
            let mut b = [0u8; 1];
            within("the quota close", tunnel.read(&mut b))
                .await
                .unwrap_err()
        }
    };
    assert_eq!(aether(&failure).code(), Some("QUOTA"), "{failure}");
    let far_end = within("the far end", sink).await.unwrap();
    assert!(far_end.is_err() || far_end.unwrap() <= 100_000);
}
