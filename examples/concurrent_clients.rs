//! Several clients in one program, sharing KV and messaging.
//!
//! A coordinator and four workers connect to the same gateway. The workers
//! claim jobs from a shared KV counter (a guarded increment, so no job is
//! claimed twice), store each result in the workspace scope, register in a
//! KV set, and report to the coordinator by message; the coordinator waits
//! for every report, then reads the results back as a paged stream.
//!
//! With no arguments it starts the embedded gateway in-process; with
//! `--gateway URL` it uses an external one. It exits 0 in a few seconds.
//!
//! ```text
//! cargo run --example concurrent_clients
//! ```

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use aether_client::{AgentClient, KvScope, MessageType};
use futures_util::StreamExt;
use tokio::sync::mpsc;

const JOBS: i64 = 20;
const WORKERS: usize = 4;
const WS: &str = "demo";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gateway = support::ExampleGateway::from_args().await?;
    let url = gateway.url.clone();

    // A fresh run id keeps reruns against an external gateway apart.
    let run = format!("run-{}", std::process::id());
    let scope = KvScope::Workspace;

    // The coordinator collects reports by message.
    let coordinator = AgentClient::builder(WS, "coordinator", "c1")?
        .gateway(&url)
        .build();
    let (report_tx, mut reports) = mpsc::unbounded_channel::<String>();
    coordinator.on_chat_message(move |msg| {
        let tx = report_tx.clone();
        async move {
            let _ = tx.send(msg.payload_str().unwrap_or("").to_string());
        }
    });
    coordinator.connect().await?;

    // Workers: one client each, all running concurrently in this process.
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let name = format!("w{w}");
        let client = AgentClient::builder(WS, "worker", &name)?
            .gateway(&url)
            .build();
        client.connect().await?;
        let (run, scope) = (run.clone(), scope.clone());
        workers.push(tokio::spawn(
            async move { work(client, name, run, scope).await },
        ));
    }

    // Every job is reported exactly once.
    let mut done = BTreeMap::new();
    while done.len() < JOBS as usize {
        let report = tokio::time::timeout(Duration::from_secs(10), reports.recv())
            .await
            .map_err(|_| "timed out waiting for reports")?
            .ok_or("the coordinator stopped")?;
        let (worker, job) = report.split_once(':').ok_or("malformed report")?;
        if done.insert(job.to_string(), worker.to_string()).is_some() {
            return Err(format!("job {job} was reported twice").into());
        }
    }
    let mut per_worker = BTreeMap::new();
    for w in workers {
        let (name, count) = w.await??;
        per_worker.insert(name, count);
    }
    println!("jobs per worker: {per_worker:?}");

    // Read the results back, a page at a time.
    let mut results = coordinator.kv_list_stream(&format!("{run}/result/"), &scope, 8);
    let mut n = 0;
    while let Some(entry) = results.next().await {
        let (key, value) = entry?;
        n += 1;
        if n <= 3 {
            println!("  {key} = {}", String::from_utf8_lossy(&value));
        }
    }
    let members = coordinator
        .kv_set_card(&format!("{run}/workers"), &scope)
        .await?;
    println!("{n} results stored by {members} registered workers");
    if n != JOBS as usize || members != WORKERS as i64 {
        return Err("results or registrations are missing".into());
    }

    coordinator.close().await;
    gateway.shutdown().await;
    println!("done");
    Ok(())
}

/// Claims jobs until none are left; returns how many this worker did.
async fn work(
    client: AgentClient,
    name: String,
    run: String,
    scope: KvScope,
) -> aether_client::Result<(String, usize)> {
    client
        .kv_set_add(&format!("{run}/workers"), &name, &scope, None)
        .await?;
    let mut count = 0;
    loop {
        // Claim the next job: +1 only while the counter stays <= JOBS.
        let (job, claimed) = client
            .kv_increment_if(&format!("{run}/claimed"), 1, JOBS, &scope, None)
            .await?;
        if !claimed {
            break;
        }
        let result = format!("job {job} squared is {} (by {name})", job * job);
        client
            .kv_put(&format!("{run}/result/{job:03}"), result, &scope, None)
            .await?;
        client
            .send_message_to_agent(
                WS,
                "coordinator",
                "c1",
                format!("{name}:{job}"),
                MessageType::Chat,
            )
            .await?;
        count += 1;
    }
    client.close().await;
    Ok((name, count))
}
