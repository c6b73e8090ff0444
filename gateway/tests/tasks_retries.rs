//! The retry scheduler over the wire: a failed attempt of a task with a
//! `RetryPolicy` is queued again after its backoff and offered again, the
//! attempt count and the next attempt's time show in `TaskInfo` and the
//! task's events, failure details travel in the FAIL's `wait_spec`, and an
//! orchestrated target that went away is started again for the retry.

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    AgentOperation, AgentRegistrationInfo, BackoffStrategy, CreateTaskRequest, RetryPolicy,
    TaskEvent, TaskInfo, TaskStatus, TaskSubscriptionOperation, WaitSpec, agent_operation,
    task_event, task_operation::OpType, task_subscription_operation,
};
use common::dev_gateway;
use th::{Peer, pool, targeted};

const NEXT_ATTEMPT: &str = "_next_attempt_at_unix_ms";

fn agent(imp: &str, spec: &str) -> Principal {
    Principal::agent("w", imp, spec).unwrap()
}

fn fixed(max_attempts: i32, delay_ms: i64) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        backoff: BackoffStrategy::Fixed as i32,
        initial_delay_ms: delay_ms,
        ..Default::default()
    }
}

async fn subscribe(p: &mut Peer, task: &str) {
    let r = p
        .subscription(TaskSubscriptionOperation {
            op: task_subscription_operation::OpType::Subscribe as i32,
            task_id: task.to_string(),
            ..Default::default()
        })
        .await;
    assert!(r.success, "{r:?}");
}

/// Claims and fails `id`; returns the task the answer carries.
async fn claim_and_fail(w: &mut Peer, id: &str, details: &[(&str, &str)]) -> TaskInfo {
    assert!(w.op(OpType::Claim, id).await.success);
    let spec = (!details.is_empty()).then(|| WaitSpec {
        input_match: details
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    });
    let r = w.op_with(OpType::Fail, id, "flaky", spec).await;
    assert!(r.success, "{r:?}");
    r.task.expect("task")
}

/// What the events of a task say, in order: `to:<status>` for status
/// changes and `note:<state>` for the gateway's progress notes.
fn describe(e: &TaskEvent) -> String {
    match &e.event {
        Some(task_event::Event::StatusChanged(s)) => format!("to:{:?}", s.to_status()),
        Some(task_event::Event::Progress(p)) => format!("note:{}", p.state),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn a_flaky_pool_worker_succeeds_on_its_third_attempt() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut boss = Peer::connect(&url, &agent("boss", "b")).await;
    let mut w = Peer::connect(&url, &agent("flaky", "1")).await;
    let id = boss
        .create_ok(CreateTaskRequest {
            retry_policy: Some(fixed(3, 50)),
            ..pool("w", "flaky")
        })
        .await;
    subscribe(&mut boss, &id).await;

    for attempt in 1..=2 {
        assert_eq!(w.assignment().await.task_id, id);
        let t = claim_and_fail(&mut w, &id, &[]).await;
        assert_eq!(t.status, TaskStatus::Queued as i32);
        assert_eq!((t.attempt, t.max_attempts), (attempt, 3));
        assert_eq!(t.error, "flaky");
        assert!(t.assigned_to.is_empty());
        let next: i64 = t.metadata[NEXT_ATTEMPT].parse().expect("a time");
        assert!(next >= t.created_at * 1000, "a unix ms time: {next}");
        let seen = boss.get(&id).await.expect("task");
        assert!(
            seen.status == TaskStatus::Queued as i32 && seen.attempt == attempt,
            "{seen:?}"
        );
    }
    assert_eq!(w.assignment().await.task_id, id, "the third attempt");
    assert!(w.op(OpType::Claim, &id).await.success);
    let done = w.op(OpType::Complete, &id).await.task.expect("task");
    assert_eq!(done.status, TaskStatus::Completed as i32);
    assert_eq!(done.attempt, 2, "two attempts failed before");
    assert!(!done.metadata.contains_key(NEXT_ATTEMPT));

    let mut story = Vec::new();
    while story.last().map(String::as_str) != Some("to:Completed") {
        let e = boss.event().await;
        if let Some(task_event::Event::StatusChanged(s)) = &e.event
            && s.to_status == TaskStatus::Queued as i32
        {
            assert!(
                s.reason.starts_with(&format!(
                    "attempt {} of 3 failed: flaky; next attempt at ",
                    story.iter().filter(|s| *s == "to:Queued").count() + 1
                )),
                "{}",
                s.reason
            );
        }
        story.push(describe(&e));
    }
    assert_eq!(
        story,
        [
            "to:Running",
            "to:Queued",
            "note:retry_scheduled",
            "note:retry_started",
            "to:Running",
            "to:Queued",
            "note:retry_scheduled",
            "note:retry_started",
            "to:Running",
            "to:Completed"
        ]
    );
    assert_eq!(gw.stats().task_retries_scheduled, 2);
}

#[tokio::test]
async fn failure_details_decide_whether_and_when_to_retry() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut boss = Peer::connect(&url, &agent("boss", "b")).await;
    let mut w = Peer::connect(&url, &agent("http", "1")).await;
    let policy = RetryPolicy {
        retryable_status_codes: vec![429, 503],
        honor_retry_after: true,
        ..fixed(5, 60_000)
    };
    let id = boss
        .create_ok(CreateTaskRequest {
            retry_policy: Some(policy),
            ..pool("w", "http")
        })
        .await;
    assert_eq!(w.assignment().await.task_id, id);
    // 503 with a retry-after of 30 ms: back in 30 ms, not the fixed minute.
    let t = claim_and_fail(
        &mut w,
        &id,
        &[("status_code", "503"), ("retry_after_ms", "30")],
    )
    .await;
    assert_eq!(t.status, TaskStatus::Queued as i32);
    assert_eq!(w.assignment().await.task_id, id);
    // 404 is not retryable: failed for good, and the event says why.
    subscribe(&mut boss, &id).await;
    let t = claim_and_fail(&mut w, &id, &[("status_code", "404")]).await;
    assert_eq!(
        (t.status, t.attempt, t.error.as_str()),
        (TaskStatus::Failed as i32, 2, "flaky")
    );
    let failed = boss
        .take(|p| {
            th::event(p).and_then(|e| match e.event {
                Some(task_event::Event::StatusChanged(s))
                    if s.to_status == TaskStatus::Failed as i32 =>
                {
                    Some(s)
                }
                _ => None,
            })
        })
        .await;
    assert_eq!(
        failed.reason,
        "flaky; not retried: status code 404 is not retryable"
    );
    // A detail that does not parse refuses the FAIL.
    let other = boss
        .create_ok(CreateTaskRequest {
            retry_policy: Some(fixed(2, 10)),
            ..pool("w", "http")
        })
        .await;
    assert_eq!(w.assignment().await.task_id, other);
    assert!(w.op(OpType::Claim, &other).await.success);
    let r = w
        .op_with(
            OpType::Fail,
            &other,
            "x",
            Some(WaitSpec {
                input_match: [("retry_after_ms".to_string(), "soon".to_string())].into(),
                ..Default::default()
            }),
        )
        .await;
    assert!(!r.success);
    assert!(
        r.error.starts_with("invalid request: retry_after_ms"),
        "{}",
        r.error
    );
    assert_eq!(
        boss.get(&other).await.unwrap().status,
        TaskStatus::Running as i32
    );
}

#[tokio::test]
async fn a_retry_starts_an_orchestrated_target_that_went_away_again() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut boss = Peer::connect(&url, &agent("boss", "b")).await;
    let r = boss
        .agent_op(AgentOperation {
            op: agent_operation::OpType::Register as i32,
            agent: Some(AgentRegistrationInfo {
                implementation: "worker".into(),
                launch_params: [("profile".to_string(), "gpu".to_string())].into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert!(r.success);
    let mut orc = Peer::connect(
        &url,
        &Principal::orchestrator("orch", "o1", vec!["gpu".into()]).unwrap(),
    )
    .await;
    let created = boss
        .create(CreateTaskRequest {
            retry_policy: Some(fixed(2, 1_000)),
            ..targeted("ag::w::worker::one")
        })
        .await;
    assert_eq!(created.status, "orchestration_triggered");
    let start = orc.assignment().await;
    subscribe(&mut boss, &start.task_id).await;
    let token = start.launch_params["auth_token"].clone();
    let (mut one, _) =
        Peer::connect_with_credentials(&url, &agent("worker", "one"), &[("token", &token)])
            .await
            .expect("admitted");
    assert_eq!(one.assignment().await.task_id, created.task_id);
    claim_and_fail(&mut one, &created.task_id, &[]).await;
    // The worker exits (its startup task completes) before the retry is due.
    drop(one);
    let ended = boss
        .take(|p| {
            th::event(p).filter(|e| {
                matches!(&e.event, Some(task_event::Event::StatusChanged(s))
                    if s.to_status == TaskStatus::Completed as i32)
            })
        })
        .await;
    assert_eq!(ended.task_id, start.task_id);
    let waiting = boss.get(&created.task_id).await.unwrap();
    assert!(
        waiting.metadata.contains_key(NEXT_ATTEMPT),
        "the retry is not due yet: {waiting:?}"
    );
    let again = orc.assignment().await;
    assert_eq!(again.task_type, "agent_startup");
    assert_ne!(again.task_id, start.task_id, "a new startup task");
    assert_eq!(again.specifier, "one");
    assert_eq!(
        again.metadata.get("trigger").map(String::as_str),
        Some("task_retry")
    );
    let token = again.launch_params["auth_token"].clone();
    let (mut one, _) =
        Peer::connect_with_credentials(&url, &agent("worker", "one"), &[("token", &token)])
            .await
            .expect("admitted");
    assert_eq!(one.assignment().await.task_id, created.task_id);
}
