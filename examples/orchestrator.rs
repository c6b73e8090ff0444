//! An orchestrator: the gateway asks it to start agents that are offline
//! (the reference SDK's `BaseOrchestrator` / echo orchestrator).
//!
//! A planner sends a task to `ag::demo::echo::e1`, which is not running.
//! The gateway creates an `agent_startup` task for the `echo` profile and
//! assigns it to this orchestrator, whose runner launches the agent here,
//! in-process, with the per-task token the gateway minted. The agent
//! connects, receives the waiting task and completes it; the planner
//! follows along. Shutting the runner down stops the agent.
//!
//! To launch real processes instead, use
//! `ProcessOrchestrator::new("path/to/agent").gateway(url)`: each process
//! gets `AETHER_GATEWAY`, `AETHER_WORKSPACE`, `AETHER_IMPLEMENTATION`,
//! `AETHER_SPECIFIER` and `AETHER_AUTH_TOKEN`.
//!
//! With no arguments it starts the embedded gateway in-process; with
//! `--gateway URL` it uses an external one. It exits 0 in a few seconds.
//!
//! ```text
//! cargo run --example orchestrator
//! ```

mod support;

use std::time::Duration;

use aether_client::orchestrator::{Launch, Orchestrator, RunnerEvent, run_orchestrator};
use aether_client::tasks::{SubscribeOptions, TaskEventKind, TaskSpec, TaskStatus};
use aether_client::{AgentClient, MessageType, OrchestratorClient};
use futures_util::StreamExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Starts echo agents in this process.
struct EchoOrchestrator {
    gateway: String,
}

impl Orchestrator for EchoOrchestrator {
    type Launched = AgentClient;

    async fn launch(&self, launch: Launch) -> aether_client::Result<AgentClient> {
        println!(
            "[orchestrator] launching {} for startup task {} (profile {})",
            launch.identity(),
            launch.task_id,
            launch.profile
        );
        // Identity and the task token come from the assignment.
        let agent = launch.agent_builder()?.gateway(&self.gateway).build();
        let worker = agent.clone();
        agent.on_task_assignment(move |a| {
            let task = worker.task_for(&a);
            let agent = worker.clone();
            async move {
                println!(
                    "[echo]         got task {}: {}",
                    a.task_type,
                    String::from_utf8_lossy(&a.payload)
                );
                let _ = task.claim().await;
                let reply = format!("echo: {}", String::from_utf8_lossy(&a.payload));
                let _ = agent
                    .send_message_to_agent("demo", "planner", "p1", reply, MessageType::Chat)
                    .await;
                let _ = task.complete().await;
            }
        });
        agent.connect().await?;
        Ok(agent)
    }

    async fn stop(&self, agent: AgentClient) -> aether_client::Result<()> {
        println!("[orchestrator] stopping {}", agent.principal());
        agent.close().await;
        Ok(())
    }

    async fn wait(&self, agent: &mut AgentClient) -> aether_client::Result<()> {
        agent.wait_until_disconnected().await;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let gateway = support::ExampleGateway::from_args().await?;
    let url = gateway.url.clone();

    // The orchestrator serves the `echo` profile. Start the runner before
    // connecting, so that no assignment is missed.
    let orch = OrchestratorClient::builder("example-orchestrator", "o1", vec!["echo".into()])?
        .gateway(&url)
        .build();
    let runner = run_orchestrator(
        &orch,
        EchoOrchestrator {
            gateway: url.clone(),
        },
    );
    let mut runner_events = runner.events();
    orch.connect().await?;

    let planner = AgentClient::builder("demo", "planner", "p1")?
        .gateway(&url)
        .build();
    planner.on_chat_message(|msg| async move {
        println!(
            "[planner]      CHAT from {}: {}",
            msg.source_topic(),
            msg.payload_str().unwrap_or("")
        );
    });
    planner.connect().await?;

    // A task for an agent that is not running: the gateway orchestrates it.
    let created = planner
        .create_task(
            TaskSpec::new("echo")
                .target_agent("ag::demo::echo::e1")
                .launch_param("profile", "echo")
                .payload("hello, echo"),
        )
        .await?;
    println!(
        "[planner]      created {} ({})",
        created.task_id, created.status
    );
    let mut events = planner
        .subscribe_to_task(
            &created.task_id,
            SubscribeOptions::new().start_timestamp_unix_ms(1),
        )
        .await?;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .map_err(|_| "timed out waiting for the task")?
            .ok_or("the subscription ended")??;
        if let Some(TaskEventKind::StatusChanged(s)) = event.event {
            println!("[planner]      task is now {:?}", s.to_status());
            if s.to_status() == TaskStatus::Completed {
                break;
            }
        }
    }
    println!("[orchestrator] running: {:?}", runner.launched());

    runner.shutdown().await;
    while let Ok(e) = runner_events.try_recv() {
        println!("[orchestrator] {e:?}");
        if let RunnerEvent::LaunchFailed { error, .. } = e {
            return Err(error.into());
        }
    }
    planner.close().await;
    orch.close().await;
    gateway.shutdown().await;
    println!("done");
    Ok(())
}
