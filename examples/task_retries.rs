//! Retries and completion events: a flaky worker succeeds on its third
//! attempt, and the workflow engine hears that the task completed.
//!
//! A scheduler creates a `fetch` task for any `flaky-fetcher` worker with a
//! retry policy (exponential backoff from 100 ms, up to 5 attempts, only
//! HTTP 503 retryable) and a completion event. The worker fails the first
//! two attempts with a 503; the gateway queues the task again after each
//! backoff and offers it again; the third attempt completes it, and the
//! gateway sends the workflow engine an EVENT `fetch.done`.
//!
//! With no arguments it starts the embedded gateway in-process; with
//! `--gateway URL` it uses an external one. It exits 0 in about a second.
//!
//! ```text
//! cargo run --example task_retries
//! ```

mod support;

use std::time::Duration;

use aether_client::tasks::{
    Retry, TaskCompletionEvent, TaskFailure, TaskInfoExt, TaskSpec, TaskStatus,
};
use aether_client::{AgentClient, WorkflowEngineClient};
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let gateway = support::ExampleGateway::from_args().await?;
    let url = gateway.url.clone();

    // The workflow engine: completion events arrive as EVENT messages.
    let engine = WorkflowEngineClient::builder().gateway(&url).build();
    let (event_tx, mut events) = mpsc::unbounded_channel();
    engine.on_event(move |msg| {
        let events = event_tx.clone();
        async move {
            let _ = events.send((
                msg.workspace().to_string(),
                msg.payload_str().unwrap_or("").to_string(),
            ));
        }
    });

    // The worker fails its first two attempts with a 503.
    let worker = AgentClient::builder("demo", "flaky-fetcher", "w1")?
        .gateway(&url)
        .build();
    let w = worker.clone();
    worker.on_task_assignment(move |assignment| {
        let task = w.task_for(&assignment);
        async move {
            let claimed = match task.claim().await {
                Ok(info) => info,
                Err(e) => return eprintln!("[worker]    claim failed: {e}"),
            };
            let attempt = claimed.attempt + 1;
            if attempt < 3 {
                let failure = TaskFailure::new("upstream answered 503").status_code(503);
                match task.fail_with(failure).await {
                    Ok(info) => println!(
                        "[worker]    attempt {attempt} failed; the gateway retries at {} (attempt {} of {})",
                        info.next_attempt_at_unix_ms().unwrap_or_default(),
                        info.attempt + 1,
                        info.max_attempts
                    ),
                    Err(e) => eprintln!("[worker]    fail failed: {e}"),
                }
            } else {
                println!("[worker]    attempt {attempt} succeeded");
                if let Err(e) = task.complete().await {
                    eprintln!("[worker]    complete failed: {e}");
                }
            }
        }
    });

    let scheduler = AgentClient::builder("demo", "scheduler", "s1")?
        .gateway(&url)
        .build();
    for c in [engine.erase(), worker.erase(), scheduler.erase()] {
        c.connect().await?;
    }

    let created = scheduler
        .create_task(
            TaskSpec::new("fetch")
                .target_implementation("flaky-fetcher")
                .payload("https://example.com/report")
                .correlation_id("report-7")
                .retry_policy(
                    Retry::exponential(Duration::from_millis(100))
                        .max_attempts(5)
                        .retryable_status_codes([503]),
                )
                .completion_event(TaskCompletionEvent {
                    enabled: true,
                    event_name: "fetch.done".into(),
                    on_statuses: Vec::new(),
                }),
        )
        .await?;
    println!("[scheduler] created {}", created.task_id);

    let (workspace, event) = tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .map_err(|_| "timed out waiting for the completion event")?
        .ok_or("the engine stopped")?;
    println!("[engine]    EVENT in {workspace}: {event}");
    if !event.contains("fetch.done") || !event.contains(&created.task_id) {
        return Err("the event is not about the task".into());
    }

    let info = scheduler.get_task(&created.task_id).await?;
    println!(
        "[scheduler] task is {:?} after {} failed attempts",
        info.status(),
        info.attempt
    );
    if info.status() != TaskStatus::Completed || info.attempt != 2 {
        return Err("expected completion on the third attempt".into());
    }

    for c in [engine.erase(), worker.erase(), scheduler.erase()] {
        c.close().await;
    }
    gateway.shutdown().await;
    println!("done");
    Ok(())
}
