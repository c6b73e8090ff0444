//! A throughput probe, not a timed assertion: one client keeps 64 raw KV
//! PUTs in flight over one stream against a durable gateway and prints
//! the acknowledged rate. Run it with
//! `cargo test -p aether-gateway --release --test kv_throughput -- --ignored --nocapture`
//! (with `KV_PROBE_MEMORY=1` it runs against a memory-only gateway instead, for
//! comparison).

mod common;

use std::time::Instant;

use aether_gateway::GatewayConfig;
use aether_protocol::identity::Principal;
use aether_protocol::proto::downstream_message::Payload;
use aether_protocol::proto::kv_operation::Scope;
use common::Conn;
use common::state::kv_put;

const IN_FLIGHT: usize = 64;
const TOTAL: usize = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a throughput probe; run it in release mode"]
async fn durable_puts_with_64_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let config = match std::env::var("KV_PROBE_MEMORY") {
        Ok(_) => GatewayConfig::dev(),
        Err(_) => GatewayConfig::dev().with_data_dir(dir.path()),
    };
    let gw = aether_gateway::start(config).await.unwrap();
    let (mut c, _) = Conn::connect(&gw.url(), &Principal::agent("w", "i", "bench").unwrap()).await;
    let value = vec![7u8; 64];
    let start = Instant::now();
    let (mut sent, mut acked) = (0, 0);
    while acked < TOTAL {
        while sent < TOTAL && sent - acked < IN_FLIGHT {
            let key = format!("k{}", sent % 10_000);
            c.send_kv(kv_put(Scope::Global, &key, &value, &sent.to_string()))
                .await;
            sent += 1;
        }
        match c.payload().await {
            Payload::Kv(r) => assert!(r.success),
            other => panic!("expected a KV reply, got {other:?}"),
        }
        acked += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{TOTAL} durable PUTs, {IN_FLIGHT} in flight: {:.0} ops/s ({secs:.2} s)",
        TOTAL as f64 / secs
    );
    gw.shutdown().await;
}
