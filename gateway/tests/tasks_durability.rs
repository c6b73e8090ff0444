//! Tasks, tokens, idempotency keys and the registry survive an in-process
//! restart on the same data directory; pending pool tasks are delivered
//! when a consumer connects afterwards. Task timers survive `kill -9`: a
//! retry or a wait timeout that fell due while the gateway was down
//! happens right after the restart, once.

mod common;
#[path = "common/tasks.rs"]
mod th;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aether_gateway::GatewayConfig;
use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    AgentOperation, AgentRegistrationInfo, BackoffStrategy, CreateTaskRequest, RetryPolicy,
    TaskFilter, TaskStatus, WaitReason, WaitSpec, agent_operation, task_operation::OpType,
};
use common::{kill_9, spawn_binary};
use th::{Peer, pool, self_assign};

#[tokio::test]
async fn tasks_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = || GatewayConfig::dev().with_data_dir(dir.path());
    let boss = Principal::agent("w", "boss", "b").unwrap();

    let gw = aether_gateway::start(config()).await.expect("starts");
    let mut a = Peer::connect(&gw.url(), &boss).await;
    let held = a.create_ok(pool("w", "later")).await;
    let done = a
        .create_ok(CreateTaskRequest {
            idempotency_key: "k".into(),
            context_id: "ctx".into(),
            ..self_assign("w", "done")
        })
        .await;
    a.op(OpType::Claim, &done).await;
    a.op_with(OpType::Fail, &done, "oops", None).await;
    let r = a
        .agent_op(AgentOperation {
            op: agent_operation::OpType::Register as i32,
            agent: Some(AgentRegistrationInfo {
                implementation: "keeper".into(),
                description: "kept".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert!(r.success);
    let before_held = a.get(&held).await.expect("held");
    let before_done = a.get(&done).await.expect("done");
    drop(a);
    gw.shutdown().await;

    let gw = aether_gateway::start(config()).await.expect("restarts");
    let url = gw.url();
    let mut a = Peer::connect(&url, &boss).await;
    assert_eq!(a.get(&held).await, Some(before_held), "TaskInfo unchanged");
    assert_eq!(a.get(&done).await, Some(before_done));
    let again = a
        .create(CreateTaskRequest {
            idempotency_key: "k".into(),
            ..self_assign("w", "done")
        })
        .await;
    assert_eq!(
        (again.task_id.as_str(), again.status.as_str()),
        (done.as_str(), "")
    );
    let got = a
        .agent_op(AgentOperation {
            op: agent_operation::OpType::Get as i32,
            implementation: "keeper".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(got.agent.map(|a| a.description), Some("kept".into()));
    let mut consumer = Peer::connect(&url, &Principal::agent("w", "later", "c").unwrap()).await;
    assert_eq!(consumer.assignment().await.task_id, held);
    let l = a
        .list(TaskFilter {
            context_id: "ctx".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(l.tasks.len(), 1);
    gw.shutdown().await;
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn timers_due_during_an_outage_fire_once_after_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let boss_p = Principal::agent("w", "boss", "b").unwrap();
    let worker_p = Principal::agent("w", "flaky", "1").unwrap();
    let (child, url) = spawn_binary(dir.path(), &[]).await;
    let mut boss = Peer::connect(&url, &boss_p).await;
    let mut w = Peer::connect(&url, &worker_p).await;
    let retried = boss
        .create_ok(CreateTaskRequest {
            retry_policy: Some(RetryPolicy {
                max_attempts: 3,
                backoff: BackoffStrategy::Fixed as i32,
                initial_delay_ms: 1_000,
                ..Default::default()
            }),
            ..pool("w", "flaky")
        })
        .await;
    assert_eq!(w.assignment().await.task_id, retried);
    assert!(w.op(OpType::Claim, &retried).await.success);
    let failed = w
        .op_with(OpType::Fail, &retried, "flaky", None)
        .await
        .task
        .expect("task");
    assert_eq!(failed.status, TaskStatus::Queued as i32);
    let due: i64 = failed.metadata["_next_attempt_at_unix_ms"]
        .parse()
        .expect("a time");
    let waits = boss.create_ok(self_assign("w", "waits")).await;
    assert!(boss.op(OpType::Claim, &waits).await.success);
    let paused = boss
        .op_with(
            OpType::Pause,
            &waits,
            "",
            Some(WaitSpec {
                reason: WaitReason::Input as i32,
                timeout_ms: 1_000,
                ..Default::default()
            }),
        )
        .await;
    assert!(paused.success);
    // Every answer above came after its commit: kill without a flush,
    // before the retry is due.
    kill_9(child).await;
    assert!(now_ms() < due, "the retry fell due before the kill");
    drop((boss, w));

    // The outage outlasts both timers (a condition of the test, not a wait
    // for the gateway: nothing runs meanwhile).
    let late = Duration::from_millis(u64::try_from(due + 100 - now_ms()).unwrap_or(0));
    tokio::time::sleep(late).await;

    let (mut child, url) = spawn_binary(dir.path(), &[]).await;
    let mut w = Peer::connect(&url, &worker_p).await;
    let a = w.assignment().await;
    assert_eq!(a.task_id, retried, "the due retry ran after the restart");
    assert!(w.drain(th::assignment).await.is_empty(), "and only once");
    let t = w.get(&retried).await.expect("task");
    assert_eq!((t.status, t.attempt), (TaskStatus::Queued as i32, 1));
    assert!(!t.metadata.contains_key("_next_attempt_at_unix_ms"));
    assert!(w.op(OpType::Claim, &retried).await.success);
    assert_eq!(
        w.op(OpType::Complete, &retried)
            .await
            .task
            .map(|t| t.status),
        Some(TaskStatus::Completed as i32)
    );
    let mut boss = Peer::connect(&url, &boss_p).await;
    let t = boss.get(&waits).await.expect("task");
    assert_eq!(
        (t.status, t.error.as_str()),
        (TaskStatus::Failed as i32, "wait timeout")
    );
    let _ = child.kill();
    let _ = child.wait();
}
