//! A workflow engine: it receives every EVENT sent with `send_event` and
//! reacts by commanding agents and creating tasks.
//!
//! A shop agent reports `order.placed`. The engine sends a CONTROL command
//! to the fulfillment agent and creates an invoicing task for any billing
//! worker, then follows the task until it completes.
//!
//! With no arguments it starts the embedded gateway in-process; with
//! `--gateway URL` it uses an external one. It exits 0 in a few seconds.
//!
//! ```text
//! cargo run --example workflow_engine
//! ```

mod support;

use std::time::Duration;

use aether_client::tasks::{SubscribeOptions, TaskEventKind, TaskSpec, TaskStatus};
use aether_client::{AgentClient, WorkflowEngineClient};
use futures_util::StreamExt;
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let gateway = support::ExampleGateway::from_args().await?;
    let url = gateway.url.clone();

    // The engine: one per gateway. Events arrive through `on_event`; the
    // reactions run on the dispatch task, so they may await operations.
    let engine = WorkflowEngineClient::builder().gateway(&url).build();
    let (task_tx, mut created_tasks) = mpsc::unbounded_channel();
    let reactor = engine.clone();
    engine.on_event(move |msg| {
        let engine = reactor.clone();
        let created = task_tx.clone();
        async move {
            let event = msg.payload_str().unwrap_or("").to_string();
            println!("[engine]      EVENT from {}: {event}", msg.source_topic());
            if !event.contains("order.placed") {
                return;
            }
            if let Err(e) = engine
                .send_command_to_agent("demo", "fulfillment", "f1", "ship order 42")
                .await
            {
                eprintln!("[engine]      command failed: {e}");
            }
            match engine
                .create_task(
                    TaskSpec::new("invoice")
                        .workspace("demo")
                        .target_implementation("billing")
                        .payload("order 42")
                        .correlation_id("order-42"),
                )
                .await
            {
                Ok(task) => {
                    let _ = created.send(task.task_id);
                }
                Err(e) => eprintln!("[engine]      create failed: {e}"),
            }
        }
    });

    let shop = AgentClient::builder("demo", "shop", "s1")?
        .gateway(&url)
        .build();
    let fulfillment = AgentClient::builder("demo", "fulfillment", "f1")?
        .gateway(&url)
        .build();
    let (cmd_tx, mut commands) = mpsc::unbounded_channel();
    fulfillment.on_control_message(move |msg| {
        let commands = cmd_tx.clone();
        async move {
            println!(
                "[fulfillment] COMMAND from {}: {}",
                msg.source_topic(),
                msg.payload_str().unwrap_or("")
            );
            let _ = commands.send(());
        }
    });
    let billing = AgentClient::builder("demo", "billing", "b1")?
        .gateway(&url)
        .build();
    let b = billing.clone();
    billing.on_task_assignment(move |a| {
        let task = b.task_for(&a);
        async move {
            println!(
                "[billing]     invoicing {}",
                String::from_utf8_lossy(&a.payload)
            );
            let _ = task.claim().await;
            let _ = task.complete().await;
        }
    });

    for c in [
        engine.erase(),
        shop.erase(),
        fulfillment.erase(),
        billing.erase(),
    ] {
        c.connect().await?;
    }

    shop.send_event(r#"{"event":"order.placed","order":42}"#)
        .await?;

    let wait = Duration::from_secs(10);
    tokio::time::timeout(wait, commands.recv())
        .await
        .map_err(|_| "timed out waiting for the command")?;
    let task_id = tokio::time::timeout(wait, created_tasks.recv())
        .await
        .map_err(|_| "timed out waiting for the task")?
        .ok_or("no task")?;
    let mut events = engine
        .subscribe_to_task(&task_id, SubscribeOptions::new().start_timestamp_unix_ms(1))
        .await?;
    loop {
        let e = tokio::time::timeout(wait, events.next())
            .await
            .map_err(|_| "timed out waiting for the invoice")?
            .ok_or("the subscription ended")??;
        if let Some(TaskEventKind::StatusChanged(s)) = e.event {
            println!("[engine]      invoice task is now {:?}", s.to_status());
            if s.to_status() == TaskStatus::Completed {
                break;
            }
        }
    }

    for c in [
        engine.erase(),
        shop.erase(),
        fulfillment.erase(),
        billing.erase(),
    ] {
        c.close().await;
    }
    gateway.shutdown().await;
    println!("done");
    Ok(())
}
