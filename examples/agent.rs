//! An agent's day: messages, the KV store and tasks (the reference SDK's
//! `example.py` / `example_async.py`, the Rust way).
//!
//! A planner and a worker agent share workspace `demo`. The planner chats
//! with the worker, shares settings through KV, then hands it a pooled task
//! and follows the task's events until it completes; the worker claims the
//! task, reports progress and completes it.
//!
//! With no arguments it starts the embedded gateway in-process; with
//! `--gateway URL` it uses an external one. It exits 0 in a few seconds.
//!
//! ```text
//! cargo run --example agent
//! ```

mod support;

use std::time::Duration;

use aether_client::tasks::{
    ProgressReport, SubscribeOptions, TaskEventKind, TaskQuery, TaskSpec, TaskStatus,
};
use aether_client::{AgentClient, KvScope, MessageType};
use futures_util::StreamExt;
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let gateway = support::ExampleGateway::from_args().await?;
    let url = gateway.url.clone();

    let planner = AgentClient::builder("demo", "planner", "p1")?
        .gateway(&url)
        .build();
    let worker = AgentClient::builder("demo", "worker", "w1")?
        .gateway(&url)
        .build();

    // --- The worker: answers chats, works the tasks it is assigned. ---
    let (chat_tx, mut chat_rx) = mpsc::unbounded_channel();
    worker.on_chat_message(move |msg| {
        let chat = chat_tx.clone();
        async move {
            println!(
                "[worker]  CHAT from {}: {}",
                msg.source_topic(),
                msg.payload_str().unwrap_or("")
            );
            let _ = chat.send(());
        }
    });
    let w = worker.clone();
    worker.on_task_assignment(move |assignment| {
        let task = w.task_for(&assignment);
        let kv = w.clone();
        async move {
            println!(
                "[worker]  assigned {} ({}): {}",
                assignment.task_type,
                assignment.task_id,
                String::from_utf8_lossy(&assignment.payload)
            );
            if let Err(e) = work(&task, &kv).await {
                eprintln!("[worker]  task failed: {e}");
                let _ = task.fail(&e.to_string()).await;
            }
        }
    });

    planner.connect().await?;
    worker.connect().await?;

    // --- Messages. ---
    planner
        .send_message_to_agent(
            "demo",
            "worker",
            "w1",
            "hello from the planner",
            MessageType::Chat,
        )
        .await?;
    tokio::time::timeout(Duration::from_secs(10), chat_rx.recv())
        .await
        .map_err(|_| "timed out waiting for the chat")?;

    // --- KV: settings shared through the workspace scope, a counter. ---
    planner
        .kv_put("settings/style", "bullet points", &KvScope::Workspace, None)
        .await?;
    let runs = planner
        .kv_increment("stats/runs", &KvScope::Workspace, None)
        .await?;
    println!("[planner] stored settings/style; this is run #{runs}");

    // --- Tasks: a pooled task for any worker of the implementation. ---
    let created = planner
        .create_task(
            TaskSpec::new("summarize")
                .target_implementation("worker")
                .payload("a long document")
                .metadata("origin", "example"),
        )
        .await?;
    println!("[planner] created {} ({})", created.task_id, created.status);
    // History from the start, so no event is missed even if the worker is quick.
    let mut events = planner
        .subscribe_to_task(
            &created.task_id,
            SubscribeOptions::new().start_timestamp_unix_ms(1),
        )
        .await?;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .map_err(|_| "timed out waiting for task events")?
            .ok_or("the subscription ended")??;
        match event.event {
            Some(TaskEventKind::StatusChanged(s)) => {
                println!("[planner] task is now {:?}", s.to_status());
                if s.to_status() == TaskStatus::Completed {
                    break;
                }
            }
            Some(TaskEventKind::Progress(p)) => {
                println!(
                    "[planner] progress {:.0}%: {}",
                    p.progress * 100.0,
                    p.message
                )
            }
            _ => {}
        }
    }
    events.unsubscribe().await?;

    let page = planner
        .query_tasks(TaskQuery::new().status(TaskStatus::Completed))
        .await?;
    println!("[planner] {} completed task(s) in demo", page.tasks.len());

    planner.close().await;
    worker.close().await;
    gateway.shutdown().await;
    println!("done");
    Ok(())
}

/// The worker's job: claim, read the settings, report progress, complete.
async fn work(task: &aether_client::tasks::TaskHandle, kv: &AgentClient) -> Result<(), BoxError> {
    task.claim().await?;
    let style = kv
        .kv_get("settings/style", &KvScope::Workspace)
        .await?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    for (i, step) in ["read", "summarize", "format"].iter().enumerate() {
        let n = i as i32 + 1;
        task.progress(
            ProgressReport::new("")
                .completion(f64::from(n) / 3.0)
                .summary(format!("{step} ({style})"))
                .step(*step, n, 3),
        )
        .await?;
    }
    task.complete().await?;
    Ok(())
}
