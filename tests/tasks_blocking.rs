//! The blocking twins of tasks: creates, operations inside handlers,
//! listings as iterators, subscriptions as iterators, the metrics bridge's
//! typed handler.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use aether_client::blocking::{AgentClient, MetricsBridgeClient, OrchestratorClient};
use aether_client::proto::TaskStatus;
use aether_client::tasks::{ProgressReport, SubscribeOptions, TaskEventKind, TaskQuery, TaskSpec};
use aether_client::{ErrorKind, MetricBuilder};

const WAIT: Duration = Duration::from_secs(10);

fn status_of(e: &aether_client::tasks::TaskEvent) -> Option<TaskStatus> {
    match &e.event {
        Some(TaskEventKind::StatusChanged(s)) => Some(s.to_status()),
        _ => None,
    }
}

#[test]
fn a_blocking_worker_works_pool_tasks_from_its_handler() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(common::gateway());
    let url = gw.url();

    let worker = AgentClient::builder("ws", "summarizer", "w1")
        .unwrap()
        .gateway(&url)
        .build()
        .unwrap();
    let w = worker.clone();
    worker.on_task_assignment(move |a| {
        // Blocking task operations inside the handler.
        let task = w.task_for(&a);
        task.claim().unwrap();
        task.progress(ProgressReport::new("").completion(0.5))
            .unwrap();
        task.complete().unwrap();
    });
    worker.connect().unwrap();

    let creator = AgentClient::builder("ws", "planner", "p1")
        .unwrap()
        .gateway(&url)
        .build()
        .unwrap();
    creator.connect().unwrap();
    let created = creator
        .create_task(TaskSpec::new("summarize").target_implementation("summarizer"))
        .unwrap();
    let mut events = creator
        .subscribe_to_task(
            &created.task_id,
            SubscribeOptions::new().start_timestamp_unix_ms(1),
        )
        .unwrap();
    let mut statuses = Vec::new();
    while statuses.last() != Some(&TaskStatus::Completed) {
        let e = events
            .next_timeout(WAIT)
            .expect("an event")
            .expect("not an error");
        statuses.extend(status_of(&e));
    }
    assert_eq!(statuses, vec![TaskStatus::Running, TaskStatus::Completed]);
    assert!(!events.subscription_id().is_empty());
    events.unsubscribe().unwrap();

    let info = creator.get_task(&created.task_id).unwrap();
    assert_eq!(info.status(), TaskStatus::Completed);
    assert_eq!(
        creator.get_task("missing").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    worker.close();
    creator.close();
    rt.block_on(gw.shutdown());
}

#[test]
fn blocking_operations_listings_and_handles() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(common::gateway());
    let a = AgentClient::builder("ws", "planner", "p1")
        .unwrap()
        .gateway(gw.url())
        .build()
        .unwrap();
    a.connect().unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(a.create_task(TaskSpec::new("job")).unwrap().task_id);
    }
    let t = a.task(ids[0].clone());
    assert_eq!(t.id(), ids[0]);
    assert_eq!(t.claim().unwrap().status(), TaskStatus::Running);
    assert_eq!(t.fail("oops").unwrap().status(), TaskStatus::Failed);
    assert_eq!(t.retry().unwrap().status(), TaskStatus::Queued);
    assert_eq!(t.cancel("done").unwrap().status(), TaskStatus::Cancelled);
    assert_eq!(t.info().unwrap().status(), TaskStatus::Cancelled);
    assert_eq!(t.resume().unwrap_err().kind(), ErrorKind::Rejected);
    assert_eq!(
        a.reject_task(&ids[1], "no").unwrap().status(),
        TaskStatus::Rejected
    );
    // With a retry policy, a failed attempt is queued again.
    let retried = a
        .create_task(TaskSpec::new("job").retry_policy(
            aether_client::tasks::Retry::fixed(Duration::from_secs(60)).max_attempts(2),
        ))
        .unwrap()
        .task_id;
    let h = a.task(retried.clone());
    h.claim().unwrap();
    let info = h
        .fail_with(aether_client::tasks::TaskFailure::new("flaky").status_code(500))
        .unwrap();
    assert_eq!(info.status(), TaskStatus::Queued);
    assert!(aether_client::tasks::TaskInfoExt::is_retry_scheduled(&info));
    let info = a
        .fail_task_with(&retried, aether_client::tasks::TaskFailure::new("again"))
        .unwrap();
    assert_eq!((info.status(), info.attempt), (TaskStatus::Failed, 2));
    ids.push(retried);

    let page = a.query_tasks(TaskQuery::new().limit(2)).unwrap();
    assert_eq!(page.tasks.len(), 2);
    let mut all: Vec<String> = a
        .query_tasks_iter(TaskQuery::new().limit(2))
        .map(|t| t.unwrap().task_id)
        .collect();
    all.sort();
    ids.sort();
    assert_eq!(all, ids);

    a.create_task_nowait(TaskSpec::new("later")).unwrap();
    a.close();
    rt.block_on(gw.shutdown());
}

#[test]
fn the_blocking_metrics_bridge_gets_typed_metrics() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(common::gateway());
    let bridge = MetricsBridgeClient::builder()
        .gateway(gw.url())
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    bridge.on_metric_payload(move |metric, msg| {
        let _ = tx.send((metric, msg.source_topic().to_string()));
    });
    bridge.connect().unwrap();
    let a = AgentClient::builder("ws", "planner", "p1")
        .unwrap()
        .gateway(gw.url())
        .build()
        .unwrap();
    a.connect().unwrap();
    a.send_metric(MetricBuilder::new().add("tokens", "llm", 42.0).build())
        .unwrap();
    let (metric, source) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(source, "ag::ws::planner::p1");
    assert_eq!(metric.entries[0].qty, 42.0);

    // Every principal may create tasks, orchestrators included.
    let orch = OrchestratorClient::builder("o", "o1", vec!["p".into()])
        .unwrap()
        .gateway(gw.url())
        .build()
        .unwrap();
    orch.connect().unwrap();
    let t = orch
        .create_task(TaskSpec::new("job").workspace("ws"))
        .unwrap();
    assert!(!t.task_id.is_empty());
    bridge.close();
    a.close();
    orch.close();
    rt.block_on(gw.shutdown());
}

#[test]
fn a_blocking_orchestrator_runner_launches_and_shuts_down() {
    use aether_client::blocking::OrchestratorRunner;
    use aether_client::orchestrator::{ProcessOrchestrator, RunnerEvent};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(common::gateway());
    let orch = OrchestratorClient::builder("o", "o1", vec!["echo".into()])
        .unwrap()
        .gateway(gw.url())
        .build()
        .unwrap();
    let runner = OrchestratorRunner::start(
        &orch,
        ProcessOrchestrator::new("sh")
            .args(["-c", "exec sleep 600"])
            .inherit_output(false)
            .gateway(gw.url()),
    );
    let mut events = runner.events();
    orch.connect().unwrap();
    let planner = AgentClient::builder("ws", "planner", "p1")
        .unwrap()
        .gateway(gw.url())
        .build()
        .unwrap();
    planner.connect().unwrap();
    planner
        .create_task(
            TaskSpec::new("echo-this")
                .target_agent("ag::ws::echo::b1")
                .launch_param("profile", "echo"),
        )
        .unwrap();
    let event = orch
        .block_on(async { tokio::time::timeout(WAIT, events.recv()).await })
        .expect("a runner event")
        .unwrap();
    let RunnerEvent::Launched { task_id } = event else {
        panic!("expected a launch, got {event:?}");
    };
    assert_eq!(runner.launched(), vec![task_id.clone()]);
    assert_eq!(runner.len(), 1);
    runner.shutdown();
    let event = orch
        .block_on(async { tokio::time::timeout(WAIT, events.recv()).await })
        .expect("a runner event")
        .unwrap();
    assert_eq!(event, RunnerEvent::Stopped { task_id });
    orch.close();
    planner.close();
    rt.block_on(gw.shutdown());
}
