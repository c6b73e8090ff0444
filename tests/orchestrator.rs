//! Orchestration: a TARGETED task for an offline agent makes the gateway
//! assign an `agent_startup` task to an orchestrator; the runner launches
//! the agent (in-process, with its task token), the agent receives the
//! queued task, and shutdown stops what was launched. Plus launch failures,
//! the process orchestrator's environment, and stops.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aether_client::orchestrator::{
    Launch, Orchestrator, OrchestratorRunner, ProcessOrchestrator, RunnerEvent, RunnerOptions,
    run_orchestrator,
};
use aether_client::proto::TaskStatus;
use aether_client::tasks::{SubscribeOptions, TaskEventKind, TaskQuery, TaskSpec};
use aether_client::{AgentClient, Error, ErrorKind, OrchestratorClient, Result};
use aether_gateway::RunningGateway;
use common::{gateway, within};
use futures_util::StreamExt;
use tokio::sync::broadcast;

/// Launches each requested agent in this process, connected with its task
/// token; the agent claims and completes every task it is given.
struct InProcess {
    gateway: String,
    launches: Arc<AtomicUsize>,
}

impl Orchestrator for InProcess {
    type Launched = AgentClient;

    async fn launch(&self, launch: Launch) -> Result<AgentClient> {
        assert_eq!(launch.task_type, "agent_startup");
        assert!(!launch.auth_token.is_empty(), "the gateway sends a token");
        self.launches.fetch_add(1, Ordering::SeqCst);
        let agent = launch.agent_builder()?.gateway(&self.gateway).build();
        let worker = agent.clone();
        agent.on_task_assignment(move |a| {
            let task = worker.task_for(&a);
            async move {
                let _ = task.claim().await;
                let _ = task.complete().await;
            }
        });
        agent.connect().await?;
        Ok(agent)
    }

    async fn stop(&self, agent: AgentClient) -> Result<()> {
        agent.close().await;
        Ok(())
    }

    async fn wait(&self, agent: &mut AgentClient) -> Result<()> {
        agent.wait_until_disconnected().await;
        Ok(())
    }
}

async fn orchestrator_client(gw: &RunningGateway, profile: &str) -> OrchestratorClient {
    OrchestratorClient::builder("test-orch", "o1", vec![profile.to_string()])
        .unwrap()
        .gateway(gw.url())
        .build()
}

async fn creator(gw: &RunningGateway) -> AgentClient {
    let a = AgentClient::builder("ws", "planner", "p1")
        .unwrap()
        .gateway(gw.url())
        .build();
    a.connect().await.unwrap();
    a
}

async fn next_event(rx: &mut broadcast::Receiver<RunnerEvent>) -> RunnerEvent {
    within("a runner event", rx.recv()).await.unwrap()
}

async fn startup_task(client: &AgentClient) -> aether_client::tasks::TaskInfo {
    let page = client
        .query_tasks(TaskQuery::new().task_type("agent_startup"))
        .await
        .unwrap();
    assert_eq!(page.tasks.len(), 1);
    page.tasks.into_iter().next().unwrap()
}

#[tokio::test]
async fn an_offline_target_is_launched_and_works_its_task() {
    let gw = gateway().await;
    let orch = orchestrator_client(&gw, "echo").await;
    let launches = Arc::new(AtomicUsize::new(0));
    let runner = run_orchestrator(
        &orch,
        InProcess {
            gateway: gw.url(),
            launches: launches.clone(),
        },
    );
    let mut events = runner.events();
    orch.connect().await.unwrap();

    let planner = creator(&gw).await;
    let created = planner
        .create_task(
            TaskSpec::new("echo-this")
                .target_agent("ag::ws::echo::e1")
                .launch_param("profile", "echo")
                .payload("hello"),
        )
        .await
        .unwrap();
    assert_eq!(created.status, "orchestration_triggered");
    let mut sub = planner
        .subscribe_to_task(
            &created.task_id,
            SubscribeOptions::new().start_timestamp_unix_ms(1),
        )
        .await
        .unwrap();

    let startup_id = match next_event(&mut events).await {
        RunnerEvent::Launched { task_id } => task_id,
        other => panic!("expected a launch, got {other:?}"),
    };
    assert_eq!(runner.launched(), vec![startup_id.clone()]);
    assert!(runner.is_tracked(&startup_id));

    // The launched agent received the queued task and completed it.
    loop {
        let e = within("the task to complete", sub.next())
            .await
            .unwrap()
            .expect("the task to complete: an item");
        if let Some(TaskEventKind::StatusChanged(s)) = &e.event
            && s.to_status() == TaskStatus::Completed
        {
            break;
        }
    }
    let startup = planner.get_task(&startup_id).await.unwrap();
    assert_eq!(startup.task_type, "agent_startup");
    assert_eq!(
        startup.status(),
        TaskStatus::Running,
        "the agent is connected"
    );

    // Shutdown stops the agent; its clean disconnect completes the startup task.
    runner.shutdown().await;
    assert_eq!(launches.load(Ordering::SeqCst), 1);
    let mut startup_events = planner
        .subscribe_to_task(
            &startup_id,
            SubscribeOptions::new().start_timestamp_unix_ms(1),
        )
        .await
        .unwrap();
    loop {
        let e = within("the startup task to end", startup_events.next())
            .await
            .unwrap()
            .expect("the startup task to end: an item");
        if let Some(TaskEventKind::StatusChanged(s)) = &e.event
            && s.to_status() == TaskStatus::Completed
        {
            break;
        }
    }
    orch.close().await;
    planner.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn startup_tasks_wait_for_an_orchestrator_and_share_one_launch() {
    let gw = gateway().await;
    let planner = creator(&gw).await;
    // Two tasks for the same offline agent before any orchestrator exists:
    // one startup task, one launch, both tasks worked.
    let mut subs = Vec::new();
    for _ in 0..2 {
        let id = planner
            .create_task(
                TaskSpec::new("echo-this")
                    .target_agent("ag::ws::echo::e2")
                    .launch_param("profile", "echo"),
            )
            .await
            .unwrap()
            .task_id;
        subs.push(
            planner
                .subscribe_to_task(&id, SubscribeOptions::new().start_timestamp_unix_ms(1))
                .await
                .unwrap(),
        );
    }
    let orch = orchestrator_client(&gw, "echo").await;
    let launches = Arc::new(AtomicUsize::new(0));
    let runner = run_orchestrator(
        &orch,
        InProcess {
            gateway: gw.url(),
            launches: launches.clone(),
        },
    );
    let mut events = runner.events();
    orch.connect().await.unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        RunnerEvent::Launched { .. }
    ));
    for sub in &mut subs {
        loop {
            let e = within("the task to complete", sub.next())
                .await
                .unwrap()
                .expect("the task to complete: an item");
            if let Some(TaskEventKind::StatusChanged(s)) = &e.event
                && s.to_status() == TaskStatus::Completed
            {
                break;
            }
        }
    }
    assert_eq!(launches.load(Ordering::SeqCst), 1);
    assert_eq!(startup_task(&planner).await.status(), TaskStatus::Running);
    runner.shutdown().await;
    orch.close().await;
    planner.close().await;
    gw.shutdown().await;
}

/// An orchestrator whose launches fail, or panic.
struct Broken {
    panic: bool,
}

impl Orchestrator for Broken {
    type Launched = ();

    async fn launch(&self, _launch: Launch) -> Result<()> {
        if self.panic {
            panic!("launcher bug");
        }
        Err(Error::new(ErrorKind::Unreachable, "no capacity"))
    }

    async fn stop(&self, _: ()) -> Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_failed_or_panicking_launch_fails_the_startup_task() {
    for panic in [false, true] {
        let gw = gateway().await;
        let orch = orchestrator_client(&gw, "echo").await;
        let runner = run_orchestrator(&orch, Broken { panic });
        let mut events = runner.events();
        orch.connect().await.unwrap();
        let planner = creator(&gw).await;
        planner
            .create_task(
                TaskSpec::new("echo-this")
                    .target_agent("ag::ws::echo::e3")
                    .launch_param("profile", "echo"),
            )
            .await
            .unwrap();
        let (task_id, error) = match next_event(&mut events).await {
            RunnerEvent::LaunchFailed { task_id, error } => (task_id, error),
            other => panic!("expected a failed launch, got {other:?}"),
        };
        assert!(error.contains(if panic { "launcher bug" } else { "no capacity" }));
        // The runner failed the task before reporting... eventually: the
        // failure is a task op the supervisor sends after the event.
        let mut sub = planner
            .subscribe_to_task(&task_id, SubscribeOptions::new().start_timestamp_unix_ms(1))
            .await
            .unwrap();
        loop {
            let e = within("the startup task to fail", sub.next())
                .await
                .unwrap()
                .expect("the startup task to fail: an item");
            if let Some(TaskEventKind::StatusChanged(s)) = &e.event
                && s.to_status() == TaskStatus::Failed
            {
                break;
            }
        }
        let failed = startup_task(&planner).await;
        assert!(failed.error.contains("launch"), "{}", failed.error);
        assert!(runner.is_empty(), "nothing stays tracked");
        runner.shutdown().await;
        orch.close().await;
        planner.close().await;
        gw.shutdown().await;
    }
}

fn shell(script: &str) -> ProcessOrchestrator {
    ProcessOrchestrator::new("sh")
        .arg("-c")
        .arg(script)
        .inherit_output(false)
}

#[tokio::test]
async fn the_process_orchestrator_passes_identity_and_token_in_the_environment() {
    let gw = gateway().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.txt");
    let orch = orchestrator_client(&gw, "echo").await;
    let runner = OrchestratorRunner::start(
        &orch,
        shell("printenv > \"$OUT_FILE\"")
            .env("OUT_FILE", &out)
            .gateway(gw.url()),
        RunnerOptions::new(),
    );
    let mut events = runner.events();
    orch.connect().await.unwrap();
    let planner = creator(&gw).await;
    planner
        .create_task(
            TaskSpec::new("echo-this")
                .target_agent("ag::ws::echo::e4")
                .launch_param("profile", "echo"),
        )
        .await
        .unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        RunnerEvent::Launched { .. }
    ));
    match next_event(&mut events).await {
        RunnerEvent::Exited { error, .. } => assert_eq!(error, None),
        other => panic!("expected an exit, got {other:?}"),
    }
    let env = std::fs::read_to_string(&out).unwrap();
    let var = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(var("AETHER_GATEWAY"), gw.url());
    assert_eq!(var("AETHER_WORKSPACE"), "ws");
    assert_eq!(var("AETHER_IMPLEMENTATION"), "echo");
    assert_eq!(var("AETHER_SPECIFIER"), "e4");
    assert_eq!(var("AETHER_AUTH_TOKEN").len(), 64);
    runner.shutdown().await;
    orch.close().await;
    planner.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn processes_that_fail_fail_their_task_and_shutdown_kills_the_rest() {
    let gw = gateway().await;
    let orch = orchestrator_client(&gw, "echo").await;
    // e5 exits with an error at once; e6 runs until killed.
    let runner = run_orchestrator(
        &orch,
        shell("[ \"$AETHER_SPECIFIER\" = e5 ] && exit 3; exec sleep 600").gateway(gw.url()),
    );
    let mut events = runner.events();
    orch.connect().await.unwrap();
    let planner = creator(&gw).await;
    for spec in ["e5", "e6"] {
        planner
            .create_task(
                TaskSpec::new("echo-this")
                    .target_agent(format!("ag::ws::echo::{spec}"))
                    .launch_param("profile", "echo"),
            )
            .await
            .unwrap();
    }
    let mut failed = None;
    let mut launched = 0;
    while failed.is_none() || launched < 2 {
        match next_event(&mut events).await {
            RunnerEvent::Launched { .. } => launched += 1,
            RunnerEvent::Exited {
                task_id,
                error: Some(e),
            } => {
                assert!(e.contains("exit"), "{e}");
                failed = Some(task_id);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let failed = failed.unwrap();
    let mut sub = planner
        .subscribe_to_task(&failed, SubscribeOptions::new().start_timestamp_unix_ms(1))
        .await
        .unwrap();
    loop {
        let e = within("the failed launch's task", sub.next())
            .await
            .unwrap()
            .expect("the failed launch's task: an item");
        if let Some(TaskEventKind::StatusChanged(s)) = &e.event
            && s.to_status() == TaskStatus::Failed
        {
            break;
        }
    }
    assert_eq!(runner.len(), 1, "the sleeper is still tracked");
    let sleeper = runner.launched().remove(0);
    assert!(runner.stop_task(&sleeper).await);
    match next_event(&mut events).await {
        RunnerEvent::Stopped { task_id } => assert_eq!(task_id, sleeper),
        other => panic!("expected a stop, got {other:?}"),
    }
    assert!(runner.is_empty());
    assert!(!runner.stop_task(&sleeper).await);
    runner.shutdown().await;
    orch.close().await;
    planner.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_everything_launched() {
    let gw = gateway().await;
    let orch = orchestrator_client(&gw, "echo").await;
    let runner = run_orchestrator(&orch, shell("exec sleep 600").gateway(gw.url()));
    let mut events = runner.events();
    orch.connect().await.unwrap();
    let planner = creator(&gw).await;
    for spec in ["s1", "s2", "s3"] {
        planner
            .create_task(
                TaskSpec::new("echo-this")
                    .target_agent(format!("ag::ws::echo::{spec}"))
                    .launch_param("profile", "echo"),
            )
            .await
            .unwrap();
    }
    for _ in 0..3 {
        assert!(matches!(
            next_event(&mut events).await,
            RunnerEvent::Launched { .. }
        ));
    }
    assert_eq!(runner.len(), 3);
    within("shutdown", runner.shutdown()).await;
    let mut stopped = 0;
    while let Ok(e) = events.try_recv() {
        assert!(matches!(e, RunnerEvent::Stopped { .. }), "{e:?}");
        stopped += 1;
    }
    assert_eq!(stopped, 3);
    orch.close().await;
    planner.close().await;
    gw.shutdown().await;
}
