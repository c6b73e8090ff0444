//! A metrics bridge: it receives every METRIC sent with `send_metric`,
//! decoded, and keeps running totals (where a real bridge would export
//! them to Prometheus, a database...). It is receive-only: it has no send
//! methods.
//!
//! With no arguments it starts the embedded gateway in-process; with
//! `--gateway URL` it uses an external one. It exits 0 in a few seconds.
//!
//! ```text
//! cargo run --example metrics_bridge
//! ```

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aether_client::{AgentClient, MetricBuilder, MetricsBridgeClient};
use parking_lot::Mutex;
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let gateway = support::ExampleGateway::from_args().await?;
    let url = gateway.url.clone();

    // Totals per (kind, name), fed by the typed handler.
    let totals: Arc<Mutex<BTreeMap<(String, String), f64>>> = Arc::default();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let bridge = MetricsBridgeClient::builder().gateway(&url).build();
    let sums = totals.clone();
    bridge.on_metric_payload(move |metric, msg| {
        let sums = sums.clone();
        let seen = seen_tx.clone();
        async move {
            println!(
                "[bridge] {} entries from {} (trace {:?}, tags {:?})",
                metric.entries.len(),
                msg.source_topic(),
                metric.trace_id,
                metric.metadata
            );
            let mut sums = sums.lock();
            for e in metric.entries {
                *sums.entry((e.kind, e.name)).or_default() += e.qty;
            }
            let _ = seen.send(());
        }
    });
    bridge.connect().await?;

    // Two agents report usage.
    let agents = [
        AgentClient::builder("demo", "writer", "w1")?
            .gateway(&url)
            .build(),
        AgentClient::builder("demo", "reviewer", "r1")?
            .gateway(&url)
            .build(),
    ];
    for a in &agents {
        a.connect().await?;
    }
    let mut sent = 0;
    for (i, a) in agents.iter().enumerate() {
        for round in 0..3 {
            a.send_metric(
                MetricBuilder::new()
                    .trace(format!("req-{i}-{round}"))
                    .add("tokens", "llm", 100.0 * (i + 1) as f64)
                    .add("calls", "tool", 1.0)
                    .tag("model", "small")
                    .build(),
            )
            .await?;
            sent += 1;
        }
    }
    for _ in 0..sent {
        tokio::time::timeout(Duration::from_secs(10), seen.recv())
            .await
            .map_err(|_| "timed out waiting for metrics")?;
    }
    println!("[bridge] totals:");
    for ((kind, name), qty) in totals.lock().iter() {
        println!("  {kind:>5} {name:<7} {qty}");
    }

    for a in &agents {
        a.close().await;
    }
    bridge.close().await;
    gateway.shutdown().await;
    println!("done");
    Ok(())
}
