//! The task waker over the wire: a hibernated task wakes at its scheduled
//! time and goes to a fresh worker with its checkpoint key, a waiting task
//! resumes at its scheduled wake, and a wait timeout fails the task.

mod common;
#[path = "common/tasks.rs"]
mod th;

use std::time::{SystemTime, UNIX_EPOCH};

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    CheckpointOperation, HibernationDescriptor, TaskStatus, TaskStatusChangedEvent,
    TaskSubscriptionOperation, WaitReason, WaitSpec, checkpoint_operation,
    downstream_message::Payload, task_event, task_operation::OpType, task_subscription_operation,
    upstream_message,
};
use bytes::Bytes;
use common::dev_gateway;
use th::{Peer, self_assign, targeted};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
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

/// The next status change of a subscribed task to `to`.
async fn changed_to(p: &mut Peer, to: TaskStatus) -> TaskStatusChangedEvent {
    p.take(|pl| {
        th::event(pl).and_then(|e| match e.event {
            Some(task_event::Event::StatusChanged(s)) if s.to_status == to as i32 => Some(s),
            _ => None,
        })
    })
    .await
}

#[tokio::test]
async fn a_hibernated_task_wakes_at_its_time_for_a_fresh_worker() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let me = Principal::agent("w", "sleepy", "one").unwrap();
    let mut boss = Peer::connect(&url, &Principal::agent("w", "boss", "b").unwrap()).await;
    let (mut one, ack, _) = Peer::connect_with(&url, common::init(&me)).await.unwrap();
    let id = boss.create_ok(targeted("ag::w::sleepy::one")).await;
    assert_eq!(one.assignment().await.task_id, id);
    assert!(one.op(OpType::Claim, &id).await.success);
    one.send(upstream_message::Payload::CheckpointOp(Box::new(
        CheckpointOperation {
            op: checkpoint_operation::OpType::Save as i32,
            key: "snap".into(),
            data: Bytes::from_static(b"state"),
            request_id: "ck".into(),
            ttl: 0,
        },
    )))
    .await;
    one.take(|p| matches!(p, Payload::Checkpoint(c) if c.request_id == "ck").then_some(()))
        .await;
    subscribe(&mut boss, &id).await;
    let wake_at = now_ms() + 150;
    let spec = WaitSpec {
        reason: WaitReason::Hibernation as i32,
        scheduled_wake_unix_ms: wake_at,
        hibernation: Some(HibernationDescriptor {
            checkpoint_key: "snap".into(),
            resume_session_id: "s-1".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let r = one.op_with(OpType::Pause, &id, "", Some(spec)).await;
    assert!(r.success, "{}", r.error);
    one.take(|p| matches!(p, Payload::TaskHibernated(_)).then_some(()))
        .await;
    // The worker goes; a fresh one with the same identity comes back (it
    // resumes the session, so it does not depend on when the gateway sees
    // the old stream end).
    drop(one);
    let mut init = common::init(&me);
    init.resume_session_id = ack.session_id;
    let (mut fresh, _, _) = Peer::connect_with(&url, init).await.unwrap();
    let a = fresh.assignment().await;
    assert!(now_ms() >= wake_at, "not before its time");
    assert_eq!(a.task_id, id);
    assert_eq!(
        (a.checkpoint_key.as_str(), a.resume_session_id.as_str()),
        ("snap", "s-1")
    );
    let woke = changed_to(&mut boss, TaskStatus::Queued).await;
    assert_eq!(woke.from_status, TaskStatus::Hibernated as i32);
    assert_eq!(woke.reason, "scheduled wake");
    let t = boss.get(&id).await.unwrap();
    assert!(t.wait_spec.is_none());
    assert_eq!(t.metadata["_hibernation_checkpoint_key"], "snap");
    assert!(fresh.op(OpType::Claim, &id).await.success);
}

#[tokio::test]
async fn a_waiting_task_resumes_at_its_scheduled_wake() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    let id = a.create_ok(self_assign("w", "t")).await;
    assert!(a.op(OpType::Claim, &id).await.success);
    subscribe(&mut a, &id).await;
    let wake_at = now_ms() + 100;
    let spec = WaitSpec {
        reason: WaitReason::Input as i32,
        scheduled_wake_unix_ms: wake_at,
        ..Default::default()
    };
    assert!(a.op_with(OpType::Pause, &id, "", Some(spec)).await.success);
    let e = changed_to(&mut a, TaskStatus::Running).await;
    assert!(now_ms() >= wake_at);
    assert_eq!(
        (e.from_status, e.reason.as_str()),
        (TaskStatus::WaitingInput as i32, "scheduled wake")
    );
    let t = a.get(&id).await.unwrap();
    assert_eq!(t.assigned_to, "ag::w::i::a", "it kept its worker");
}

#[tokio::test]
async fn a_wait_timeout_fails_the_task() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    let id = a.create_ok(self_assign("w", "t")).await;
    let other = a.create_ok(self_assign("w", "dep")).await;
    assert!(a.op(OpType::Claim, &id).await.success);
    subscribe(&mut a, &id).await;
    let spec = WaitSpec {
        depends_on: vec![other],
        timeout_ms: 100,
        ..Default::default()
    };
    let r = a.op_with(OpType::WaitFor, &id, "", Some(spec)).await;
    assert_eq!(
        r.task.map(|t| t.status),
        Some(TaskStatus::WaitingDependency as i32)
    );
    let e = changed_to(&mut a, TaskStatus::Failed).await;
    assert_eq!(e.reason, "wait timeout");
    let t = a.get(&id).await.unwrap();
    assert_eq!((t.error.as_str(), t.attempt), ("wait timeout", 1));
}
