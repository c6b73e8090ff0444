//! `/metrics` in the Prometheus text format, on an opt-in address.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use aether_gateway::{GatewayConfig, Limits};
use aether_protocol::identity::Principal;
use aether_protocol::proto::kv_operation::Scope;
use aether_protocol::proto::{MessageType, downstream_message};
use common::state::kv_put;
use common::{Conn, GUARD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request; the status line and the body.
async fn http_get(addr: SocketAddr, method: &str, path: &str) -> (String, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = String::new();
    tokio::time::timeout(GUARD, tcp.read_to_string(&mut raw))
        .await
        .expect("a response in time")
        .unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

/// The samples of an exposition, checking its syntax: every line is a
/// comment (`# HELP` / `# TYPE`) or `name{labels} value`.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                typed.insert(name.to_string()),
                "one TYPE per family: {line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample before its TYPE: {line}");
        out.insert(
            series.to_string(),
            value.parse::<f64>().unwrap_or_else(|_| panic!("{line}")),
        );
    }
    out
}

#[tokio::test]
async fn metrics_show_sessions_refusals_mailboxes_and_commit_latency() {
    let dir = tempfile::tempdir().unwrap();
    let config = GatewayConfig::dev()
        .with_data_dir(dir.path())
        .with_limits(Limits::default().with_mailbox_max_messages(2))
        .with_metrics_addr("127.0.0.1:0".parse().unwrap());
    let gw = aether_gateway::start(config).await.unwrap();
    let addr = gw.metrics_addr().expect("metrics are served");
    let (mut a, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    for _ in 0..3 {
        a.send_message("ag::w::i::offline", b"m", MessageType::Chat)
            .await;
    }
    assert!(matches!(
        a.payload().await,
        downstream_message::Payload::Error(_)
    ));
    assert!(a.kv(kv_put(Scope::Global, "k", b"v", "p")).await.success);

    let (status, body) = http_get(addr, "GET", "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let m = samples(&body);
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in\n{body}"));
    assert_eq!(get("aether_gateway_sessions_active"), 1.0);
    assert_eq!(get("aether_gateway_messages_routed_total"), 2.0);
    assert_eq!(
        get("aether_gateway_messages_refused_total{reason=\"mailbox_full\"}"),
        1.0
    );
    assert_eq!(
        get("aether_gateway_messages_refused_total{reason=\"payload_too_large\"}"),
        0.0
    );
    assert_eq!(get("aether_gateway_mailbox_messages"), 2.0);
    assert_eq!(
        get("aether_gateway_mailbox_bytes"),
        2.0 * (1.0 + "ag::w::i::a".len() as f64 + 1.0)
    );
    assert_eq!(get("aether_gateway_pending_proxies"), 0.0);
    assert_eq!(get("aether_gateway_connections_open"), 1.0);
    assert!(get("aether_gateway_durable_commit_seconds_count") >= 1.0);
    assert_eq!(
        get("aether_gateway_durable_commit_seconds_bucket{le=\"+Inf\"}"),
        get("aether_gateway_durable_commit_seconds_count")
    );

    assert_eq!(http_get(addr, "GET", "/").await.0, "HTTP/1.1 404 Not Found");
    assert_eq!(
        http_get(addr, "POST", "/metrics").await.0,
        "HTTP/1.1 405 Method Not Allowed"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn metrics_are_off_unless_asked_for() {
    let gw = common::dev_gateway().await;
    assert_eq!(gw.metrics_addr(), None);
    gw.shutdown().await;
}
