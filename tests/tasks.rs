//! Tasks against the in-process gateway: every create mode, idempotent
//! creates, every operation and its state violations, queries with filters
//! and paging, progress.

mod common;

use std::time::Duration;

use aether_client::proto::{
    self, TargetOfflinePolicy, TaskAssignment, TaskAssignmentMode, TaskPriority, TaskStatus,
    upstream_message::Payload as Up,
};
use aether_client::stack::OpRequest;
use aether_client::tasks::{Hibernation, ProgressReport, TaskQuery, TaskSpec, WaitFor, WaitSpec};
use aether_client::{AgentClient, ErrorKind, ServiceClient, UserClient};
use aether_gateway::RunningGateway;
use common::{gateway, within};
use futures_util::TryStreamExt;
use tokio::sync::mpsc;

async fn agent(gw: &RunningGateway, ws: &str, implementation: &str, spec: &str) -> AgentClient {
    let a = AgentClient::builder(ws, implementation, spec)
        .unwrap()
        .gateway(gw.url())
        .build();
    a.connect().await.unwrap();
    a
}

/// A tap on the assignments a client receives.
fn assignments<P: aether_client::principal::PrincipalType>(
    client: &aether_client::Client<P>,
) -> mpsc::UnboundedReceiver<TaskAssignment> {
    let (tx, rx) = mpsc::unbounded_channel();
    client.on_task_assignment(move |a| {
        let _ = tx.send(a);
        async {}
    });
    rx
}

#[tokio::test]
async fn self_assigned_tasks_go_to_their_creator() {
    let gw = gateway().await;
    let a = agent(&gw, "ws", "planner", "p1").await;
    let created = a
        .create_task(
            TaskSpec::new("plan")
                .payload("data")
                .metadata("k", "v")
                .priority(TaskPriority::High)
                .correlation_id("corr-1")
                .context_id("ctx-1"),
        )
        .await
        .unwrap();
    assert!(!created.task_id.is_empty());
    assert_eq!(created.status, "assigned");
    assert_eq!(created.assigned_to, "ag::ws::planner::p1");
    assert!(!created.is_idempotent_repeat());

    let info = a.get_task(&created.task_id).await.unwrap();
    assert_eq!(info.task_type, "plan");
    assert_eq!(info.workspace, "ws", "defaults to the caller's workspace");
    assert_eq!(info.status(), TaskStatus::Queued);
    assert_eq!(info.metadata.get("k").map(String::as_str), Some("v"));
    assert_eq!(info.priority(), TaskPriority::High);
    assert_eq!(info.correlation_id, "corr-1");
    assert_eq!(info.creator_actor_id, "ag::ws::planner::p1");
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn pool_tasks_go_to_an_agent_of_the_implementation_which_works_them() {
    let gw = gateway().await;
    let worker = AgentClient::builder("ws", "summarizer", "w1")
        .unwrap()
        .gateway(gw.url())
        .build();
    // The worker claims, reports progress and completes what it is given.
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let w = worker.clone();
    worker.on_task_assignment(move |a| {
        let task = w.task_for(&a);
        let done = done_tx.clone();
        async move {
            let claimed = task.claim().await.unwrap();
            assert_eq!(claimed.status(), TaskStatus::Running);
            task.progress(ProgressReport::new("").completion(0.5).summary("half"))
                .await
                .unwrap();
            let completed = task.complete().await.unwrap();
            let _ = done.send((a, completed));
        }
    });
    worker.connect().await.unwrap();

    let creator = agent(&gw, "ws", "planner", "p1").await;
    let created = creator
        .create_task(
            TaskSpec::new("summarize")
                .target_implementation("summarizer")
                .payload("the document"),
        )
        .await
        .unwrap();
    assert_eq!(created.status, "pending_pool");

    let (assignment, completed) = within("the pool worker", done.recv()).await.unwrap();
    assert_eq!(assignment.task_id, created.task_id);
    assert_eq!(assignment.task_type, "summarize");
    assert_eq!(&assignment.payload[..], b"the document");
    assert_eq!(assignment.assigned_to, "ag::ws::summarizer::w1");
    assert_eq!(completed.status(), TaskStatus::Completed);
    let info = creator.get_task(&created.task_id).await.unwrap();
    assert_eq!(info.status(), TaskStatus::Completed);
    worker.close().await;
    creator.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn pool_tasks_wait_for_a_consumer_and_services_consume_them() {
    let gw = gateway().await;
    let creator = agent(&gw, "ws", "planner", "p1").await;
    // Created before any consumer exists: it waits.
    let waiting = creator
        .create_task(TaskSpec::new("index").target_implementation("indexer"))
        .await
        .unwrap();
    assert_eq!(waiting.status, "pending_pool");

    // A service and an agent of the implementation consume pool tasks:
    // between them, each task is delivered exactly once.
    let svc = ServiceClient::builder("indexer", "s1")
        .unwrap()
        .gateway(gw.url())
        .build();
    let mut svc_tasks = assignments(&svc);
    svc.connect().await.unwrap();
    let second = creator
        .create_task(TaskSpec::new("index").target_implementation("indexer"))
        .await
        .unwrap();
    let worker = AgentClient::builder("ws", "indexer", "a1")
        .unwrap()
        .gateway(gw.url())
        .build();
    let mut agent_tasks = assignments(&worker);
    worker.connect().await.unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        let a = within("pool deliveries", async {
            tokio::select! {
                Some(a) = svc_tasks.recv() => a,
                Some(a) = agent_tasks.recv() => a,
            }
        })
        .await;
        got.push(a.task_id);
    }
    got.sort();
    let mut expected = vec![waiting.task_id.clone(), second.task_id.clone()];
    expected.sort();
    assert_eq!(got, expected);
    for c in [creator.erase(), svc.erase(), worker.erase()] {
        c.close().await;
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn targeted_tasks_reach_an_online_target_and_follow_the_offline_policy() {
    let gw = gateway().await;
    let target = AgentClient::builder("ws", "worker", "w1")
        .unwrap()
        .gateway(gw.url())
        .build();
    let mut got = assignments(&target);
    target.connect().await.unwrap();
    let creator = agent(&gw, "ws", "planner", "p1").await;

    let online = creator
        .create_task(
            TaskSpec::new("do")
                .target_agent("ag::ws::worker::w1")
                .payload("x"),
        )
        .await
        .unwrap();
    assert_eq!(online.status, "assigned");
    assert_eq!(online.assigned_to, "ag::ws::worker::w1");
    let a = within("the targeted assignment", got.recv()).await.unwrap();
    assert_eq!(a.task_id, online.task_id);
    assert_eq!(&a.payload[..], b"x");

    // REJECT: an offline target fails the create with the gateway's code.
    let err = creator
        .create_task(
            TaskSpec::new("do")
                .target_agent("ag::ws::worker::offline")
                .target_offline_policy(TargetOfflinePolicy::Reject),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), Some("ERR_TARGET_OFFLINE"));

    // QUEUE: held until the target connects, then delivered.
    let queued = creator
        .create_task(
            TaskSpec::new("do")
                .target_agent("ag::ws::worker::later")
                .target_offline_policy(TargetOfflinePolicy::Queue),
        )
        .await
        .unwrap();
    assert_eq!(queued.status, "pending");
    let later = AgentClient::builder("ws", "worker", "later")
        .unwrap()
        .gateway(gw.url())
        .build();
    let mut later_got = assignments(&later);
    later.connect().await.unwrap();
    let a = within("the queued assignment", later_got.recv())
        .await
        .unwrap();
    assert_eq!(a.task_id, queued.task_id);

    // ORCHESTRATE without a profile anywhere: refused.
    let err = creator
        .create_task(TaskSpec::new("do").target_agent("ag::ws::worker::nobody"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), Some("ERR_TASK_CREATE_FAILED"));

    // An explicit mode wins over promotion: SELF_ASSIGN despite a target.
    let own = creator
        .create_task(
            TaskSpec::new("do")
                .target_agent("ag::ws::worker::w1")
                .mode(TaskAssignmentMode::SelfAssign),
        )
        .await
        .unwrap();
    assert_eq!(own.assigned_to, "ag::ws::planner::p1");
    for c in [target.erase(), creator.erase(), later.erase()] {
        c.close().await;
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn an_idempotency_key_makes_create_safe_to_repeat() {
    let gw = gateway().await;
    let a = agent(&gw, "ws", "planner", "p1").await;
    let spec = TaskSpec::new("once").idempotency_key("order-42");
    assert!(spec.is_safe_to_repeat());
    let first = a.create_task(spec.clone()).await.unwrap();
    let second = a.create_task(spec).await.unwrap();
    assert_eq!(second.task_id, first.task_id);
    assert!(second.is_idempotent_repeat());
    let page = a
        .query_tasks(TaskQuery::new().task_type("once"))
        .await
        .unwrap();
    assert_eq!(page.tasks.len(), 1, "nothing new was created");
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn bad_input_fails_before_sending_and_nowait_creates_anyway() {
    let gw = gateway().await;
    let a = agent(&gw, "ws", "planner", "p1").await;
    for spec in [
        TaskSpec::new("t").workspace("bad ws"),
        TaskSpec::new("t").target_implementation("a::b"),
        TaskSpec::new("t").target_agent("not-an-identity"),
        TaskSpec::new(""),
        TaskSpec::new("t").mode(TaskAssignmentMode::Pool),
    ] {
        let err = a.create_task(spec).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    assert_eq!(
        a.get_task("").await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    a.create_task_nowait(TaskSpec::new("quiet").idempotency_key("q1"))
        .await
        .unwrap();
    // The same key again, awaited: the gateway answers with the first id
    // once the first create went through (requests are handled in order).
    let repeat = a
        .create_task(TaskSpec::new("quiet").idempotency_key("q1"))
        .await
        .unwrap();
    assert!(repeat.is_idempotent_repeat());
    let page = a
        .query_tasks(TaskQuery::new().task_type("quiet"))
        .await
        .unwrap();
    assert_eq!(page.tasks.len(), 1);
    assert_eq!(page.tasks[0].task_id, repeat.task_id);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn operations_move_a_task_through_its_states() {
    let gw = gateway().await;
    let a = agent(&gw, "ws", "planner", "p1").await;
    let id = a.create_task(TaskSpec::new("job")).await.unwrap().task_id;
    let t = a.task(id.clone());
    assert_eq!(t.claim().await.unwrap().status(), TaskStatus::Running);
    assert_eq!(
        t.claim().await.unwrap().status(),
        TaskStatus::Running,
        "claiming twice is harmless"
    );
    let paused = t
        .pause(WaitSpec::input().reason("need input").timeout_ms(60_000))
        .await
        .unwrap();
    assert_eq!(paused.status(), TaskStatus::WaitingInput);
    assert_eq!(
        paused.wait_spec.as_ref().map(|w| w.timeout_ms),
        Some(60_000)
    );
    assert_eq!(t.resume().await.unwrap().status(), TaskStatus::Running);
    let failed = t.fail("it broke").await.unwrap();
    assert_eq!(failed.status(), TaskStatus::Failed);
    assert_eq!(failed.error, "it broke");
    assert_eq!(t.retry().await.unwrap().status(), TaskStatus::Queued);
    assert_eq!(
        t.cancel("no longer needed").await.unwrap().status(),
        TaskStatus::Cancelled
    );
    assert_eq!(t.retry().await.unwrap().status(), TaskStatus::Queued);
    assert_eq!(t.claim().await.unwrap().status(), TaskStatus::Running);
    assert_eq!(t.complete().await.unwrap().status(), TaskStatus::Completed);

    // A new pending task can be rejected.
    let r = a.create_task(TaskSpec::new("job")).await.unwrap().task_id;
    let rejected = a.reject_task(&r, "not mine").await.unwrap();
    assert_eq!(rejected.status(), TaskStatus::Rejected);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn state_violations_and_missing_tasks_are_typed_errors() {
    let gw = gateway().await;
    let a = agent(&gw, "ws", "planner", "p1").await;
    let id = a.create_task(TaskSpec::new("job")).await.unwrap().task_id;
    a.claim_task(&id).await.unwrap();
    a.complete_task(&id).await.unwrap();
    for (what, result) in [
        ("resume", a.resume_task(&id).await),
        ("retry", a.retry_task(&id).await),
        ("cancel", a.cancel_task(&id, "late").await),
        ("reject", a.reject_task(&id, "late").await),
        ("complete", a.complete_task(&id).await),
        ("fail", a.fail_task(&id, "late").await),
        ("pause", a.pause_task(&id, WaitSpec::input()).await),
    ] {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Rejected, "{what}: {err}");
        assert!(err.message().contains(&id), "{what}: {err}");
    }
    // Running tasks cannot be rejected or retried.
    let running = a.create_task(TaskSpec::new("job")).await.unwrap().task_id;
    a.claim_task(&running).await.unwrap();
    assert_eq!(
        a.reject_task(&running, "no").await.unwrap_err().kind(),
        ErrorKind::Rejected
    );
    assert_eq!(
        a.retry_task(&running).await.unwrap_err().kind(),
        ErrorKind::Rejected
    );

    assert_eq!(
        a.get_task("no-such-task").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        a.complete_task("no-such-task").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // Tasks of another workspace are hidden.
    let other = agent(&gw, "elsewhere", "x", "y").await;
    assert_eq!(
        other.get_task(&running).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // Client-side checks.
    assert_eq!(
        a.wait_for_task(&running, WaitFor::all(Vec::<String>::new()))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        a.hibernate_until(&running, Hibernation::new(""))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    a.close().await;
    other.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn wait_for_wakes_when_dependencies_end() {
    let gw = gateway().await;
    let a = agent(&gw, "ws", "planner", "p1").await;
    let dep1 = a.create_task(TaskSpec::new("dep")).await.unwrap().task_id;
    let dep2 = a.create_task(TaskSpec::new("dep")).await.unwrap().task_id;
    let main = a.create_task(TaskSpec::new("main")).await.unwrap().task_id;
    a.claim_task(&main).await.unwrap();
    let waiting = a
        .wait_for_task(&main, WaitFor::all([dep1.clone(), dep2.clone()]))
        .await
        .unwrap();
    assert_eq!(waiting.status(), TaskStatus::WaitingDependency);
    assert_eq!(waiting.depends_on, vec![dep1.clone(), dep2.clone()]);

    a.complete_task(&dep1).await.unwrap();
    assert_eq!(
        a.get_task(&main).await.unwrap().status(),
        TaskStatus::WaitingDependency,
        "one of two is not enough"
    );
    a.complete_task(&dep2).await.unwrap();
    assert_eq!(
        a.get_task(&main).await.unwrap().status(),
        TaskStatus::Running
    );

    // An unknown dependency is refused.
    let err = a
        .wait_for_task(&main, WaitFor::any(["no-such-dep"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    a.close().await;
    gw.shutdown().await;
}

fn save_checkpoint(key: &str) -> OpRequest {
    OpRequest::awaited(
        "checkpoint_op",
        Up::CheckpointOp(Box::new(proto::CheckpointOperation {
            op: proto::checkpoint_operation::OpType::Save as i32,
            key: key.into(),
            data: "state".into(),
            ttl: -1,
            ..Default::default()
        })),
    )
}

#[tokio::test]
async fn hibernation_needs_a_checkpoint_and_is_resumable() {
    let gw = gateway().await;
    let a = agent(&gw, "ws", "planner", "p1").await;
    let id = a.create_task(TaskSpec::new("long")).await.unwrap().task_id;
    a.claim_task(&id).await.unwrap();
    let err = a
        .hibernate_until(&id, Hibernation::new("missing"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");

    a.call(save_checkpoint("nap")).await.unwrap();
    let asleep = a
        .hibernate_until(
            &id,
            Hibernation::new("nap")
                .wake_on_event("order.paid")
                .reason("waiting for payment"),
        )
        .await
        .unwrap();
    assert_eq!(asleep.status(), TaskStatus::Hibernated);
    let h = asleep.wait_spec.unwrap().hibernation.unwrap();
    assert_eq!(h.checkpoint_key, "nap");
    assert_eq!(h.wake_event_types, vec!["order.paid"]);
    assert_eq!(
        a.resume_task(&id).await.unwrap().status(),
        TaskStatus::Running
    );
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn queries_filter_and_page() {
    let gw = gateway().await;
    let a = agent(&gw, "ws", "planner", "p1").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let spec = TaskSpec::new(if i % 2 == 0 { "even" } else { "odd" })
            .correlation_id(format!("c{}", i % 3))
            .priority(if i < 2 {
                TaskPriority::High
            } else {
                TaskPriority::Low
            });
        ids.push(a.create_task(spec).await.unwrap().task_id);
    }
    a.claim_task(&ids[0]).await.unwrap();
    a.claim_task(&ids[1]).await.unwrap();
    a.complete_task(&ids[1]).await.unwrap();

    let count = |q: TaskQuery| {
        let a = a.clone();
        async move { a.query_tasks(q).await.unwrap().tasks.len() }
    };
    assert_eq!(count(TaskQuery::new()).await, 7);
    assert_eq!(count(TaskQuery::new().task_type("even")).await, 4);
    assert_eq!(count(TaskQuery::new().correlation_id("c0")).await, 3);
    assert_eq!(count(TaskQuery::new().status(TaskStatus::Running)).await, 1);
    assert_eq!(
        count(
            TaskQuery::new()
                .status(TaskStatus::Running)
                .status(TaskStatus::Completed)
        )
        .await,
        2
    );
    assert_eq!(
        count(TaskQuery::new().exclude_status(TaskStatus::Completed)).await,
        6
    );
    assert_eq!(
        count(TaskQuery::new().min_priority(TaskPriority::High)).await,
        2
    );
    assert_eq!(
        count(TaskQuery::new().creator("agent", "ag::ws::planner::p1")).await,
        7
    );
    assert_eq!(count(TaskQuery::new().workspace("other")).await, 0);

    // Paging by hand...
    let first = a.query_tasks(TaskQuery::new().limit(3)).await.unwrap();
    assert_eq!(first.tasks.len(), 3);
    assert!(first.has_more());
    let second = a
        .query_tasks(
            TaskQuery::new()
                .limit(3)
                .page_token(first.next_page_token.clone()),
        )
        .await
        .unwrap();
    assert_eq!(second.tasks.len(), 3);
    assert!(
        second
            .tasks
            .iter()
            .all(|t| first.tasks.iter().all(|f| f.task_id != t.task_id))
    );
    // ...and as a stream over every page.
    let all: Vec<_> = a
        .query_tasks_stream(TaskQuery::new().limit(2))
        .try_collect()
        .await
        .unwrap();
    let mut seen: Vec<_> = all.into_iter().map(|t| t.task_id).collect();
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn progress_reaches_the_workspace_and_the_recipient() {
    let gw = gateway().await;
    let worker = agent(&gw, "ws", "worker", "w1").await;
    let watcher = AgentClient::builder("ws", "watcher", "x")
        .unwrap()
        .gateway(gw.url())
        .build();
    let (tx, mut updates) = mpsc::unbounded_channel();
    watcher.on_progress(move |u| {
        let _ = tx.send(u);
        async {}
    });
    watcher.connect().await.unwrap();
    let user = UserClient::builder("alice", "tab-1")
        .unwrap()
        .gateway(gw.url())
        .build();
    let (utx, mut user_updates) = mpsc::unbounded_channel();
    user.on_progress(move |u| {
        let _ = utx.send(u);
        async {}
    });
    user.connect().await.unwrap();

    let id = worker
        .create_task(TaskSpec::new("job"))
        .await
        .unwrap()
        .task_id;
    worker
        .report_progress(
            ProgressReport::new(id.clone())
                .completion(0.25)
                .summary("a quarter")
                .step("fetch", 1, 4)
                .metadata("rows", "10"),
        )
        .await
        .unwrap();
    let u = within("a workspace progress update", updates.recv())
        .await
        .unwrap();
    assert_eq!(u.task_id, id);
    assert_eq!(u.source, "ag::ws::worker::w1");
    assert_eq!(u.completion, 0.25);
    assert_eq!(u.summary, "a quarter");
    assert_eq!(u.step.as_ref().map(|s| s.name.as_str()), Some("fetch"));
    assert_eq!(u.metadata.get("rows").map(String::as_str), Some("10"));
    assert_eq!(u.workspace, "ws");

    worker
        .report_progress(ProgressReport::new(id.clone()).recipient("us::alice"))
        .await
        .unwrap();
    let u = within("a progress update for the user", user_updates.recv())
        .await
        .unwrap();
    assert_eq!(u.recipient, "us::alice");
    for c in [worker.erase(), watcher.erase(), user.erase()] {
        c.close().await;
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn workspace_less_callers_name_the_workspace() {
    let gw = gateway().await;
    let svc = ServiceClient::builder_no_pool_consumer("search", "s1")
        .unwrap()
        .gateway(gw.url())
        .build();
    svc.connect().await.unwrap();
    let err = svc.create_task(TaskSpec::new("job")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
    let created = svc
        .create_task(TaskSpec::new("job").workspace("ws"))
        .await
        .unwrap();
    assert_eq!(
        svc.get_task(&created.task_id).await.unwrap().workspace,
        "ws"
    );
    svc.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_slow_create_times_out_as_an_error() {
    let gw = gateway().await;
    let proxy = common::Proxy::start(gw.local_addr()).await;
    let a = AgentClient::builder("ws", "planner", "p1")
        .unwrap()
        .gateway(proxy.url())
        .build();
    a.connect().await.unwrap();
    proxy.freeze(true);
    let err = a
        .create_task(TaskSpec::new("job").timeout(Duration::from_millis(200)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    proxy.freeze(false);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn queries_are_safe_to_repeat_ops_and_plain_creates_are_not() {
    use std::sync::{Arc, Mutex};
    let gw = gateway().await;
    let seen: Arc<Mutex<Vec<(&'static str, bool)>>> = Arc::default();
    let record = seen.clone();
    let a = AgentClient::builder("ws", "planner", "p1")
        .unwrap()
        .gateway(gw.url())
        .layer(tower::util::MapRequestLayer::new(move |req: OpRequest| {
            record
                .lock()
                .unwrap()
                .push((req.name(), req.is_idempotent()));
            req
        }))
        .build();
    a.connect().await.unwrap();
    let id = a.create_task(TaskSpec::new("job")).await.unwrap().task_id;
    a.create_task(TaskSpec::new("job").idempotency_key("k"))
        .await
        .unwrap();
    a.get_task(&id).await.unwrap();
    a.query_tasks(TaskQuery::new()).await.unwrap();
    a.claim_task(&id).await.unwrap();
    a.complete_task(&id).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("create_task", false),
            ("create_task", true),
            ("get_task", true),
            ("query_tasks", true),
            ("task_op", true),
            ("task_op", false),
        ]
    );
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_failed_attempt_is_retried_by_the_tasks_policy() {
    use aether_client::tasks::{Retry, TaskFailure, TaskInfoExt};
    let gw = gateway().await;
    let boss = agent(&gw, "ws", "boss", "b").await;
    let worker = agent(&gw, "ws", "fetcher", "f1").await;
    let mut work = assignments(&worker);
    let created = boss
        .create_task(
            TaskSpec::new("fetch")
                .target_implementation("fetcher")
                .retry_policy(
                    Retry::fixed(Duration::from_secs(60))
                        .max_attempts(3)
                        .retryable_status_codes([503])
                        .honor_retry_after(true),
                ),
        )
        .await
        .unwrap();
    let a = within("the assignment", work.recv()).await.unwrap();
    let task = worker.task_for(&a);
    task.claim().await.unwrap();
    // A 503 that says "retry after 20 ms" comes back in 20 ms, not a minute.
    let info = task
        .fail_with(
            TaskFailure::new("busy")
                .status_code(503)
                .retry_after(Duration::from_millis(20)),
        )
        .await
        .unwrap();
    assert_eq!(info.status(), TaskStatus::Queued);
    assert_eq!(info.attempts(), (1, 3));
    assert!(info.is_retry_scheduled());
    let next = info.next_attempt_at_unix_ms().unwrap();
    let seen = boss.get_task(&created.task_id).await.unwrap();
    assert_eq!(seen.next_attempt_at_unix_ms(), Some(next));
    let again = within("the retry", work.recv()).await.unwrap();
    assert_eq!(again.task_id, created.task_id);
    task.claim().await.unwrap();
    // A 404 is not retryable: the task fails for good.
    let info = task
        .fail_with(TaskFailure::new("gone").status_code(404))
        .await
        .unwrap();
    assert_eq!(info.status(), TaskStatus::Failed);
    assert_eq!(info.attempts(), (2, 3));
    assert!(!info.is_retry_scheduled());
    boss.close().await;
    worker.close().await;
    gw.shutdown().await;
}
