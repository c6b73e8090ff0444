//! Task subscriptions and events (§5.9): status_changed, progress,
//! child_lifecycle, recursive subscriptions, replay, unsubscribe.

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    CreateTaskRequest, ProgressReport, TaskStatus, TaskSubscriptionOperation, WaitReason, WaitSpec,
    task_event::Event, task_operation::OpType, task_subscription_operation,
};
use common::dev_gateway;
use th::{Peer, self_assign};

fn subscribe(task: &str, recursive: bool, start_ms: i64) -> TaskSubscriptionOperation {
    TaskSubscriptionOperation {
        op: task_subscription_operation::OpType::Subscribe as i32,
        task_id: task.into(),
        recursive,
        start_timestamp_unix_ms: start_ms,
        ..Default::default()
    }
}

#[tokio::test]
async fn subscribers_get_status_progress_and_child_events() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let mut watcher = Peer::connect(&url, &Principal::agent("w", "i", "watch").unwrap()).await;
    let parent = a.create_ok(self_assign("w", "parent")).await;
    a.op(OpType::Claim, &parent).await;
    let sub = watcher.subscription(subscribe(&parent, false, 0)).await;
    assert!(sub.success);
    assert_eq!(sub.task_id, parent);
    assert!(!sub.subscription_id.is_empty());
    assert!(
        watcher.drain(th::event).await.is_empty(),
        "live only: the earlier claim is not replayed"
    );

    a.report(ProgressReport {
        task_id: parent.clone(),
        state: "busy".into(),
        completion: 0.25,
        summary: "a quarter".into(),
        ..Default::default()
    })
    .await;
    let e = watcher.event().await;
    assert_eq!(e.subscription_id, sub.subscription_id);
    assert_eq!(e.task_id, parent);
    assert_eq!(e.workspace, "w");
    assert!(e.emitted_at_unix_ms > 0);
    match e.event {
        Some(Event::Progress(p)) => {
            assert_eq!(
                (p.state.as_str(), p.message.as_str()),
                ("busy", "a quarter")
            );
            assert_eq!(p.progress, 0.25);
        }
        other => panic!("expected progress, got {other:?}"),
    }

    let child = a
        .create_ok(CreateTaskRequest {
            parent_task_id: parent.clone(),
            ..self_assign("w", "child")
        })
        .await;
    a.op(OpType::Claim, &child).await;
    let input = WaitSpec {
        reason: WaitReason::Input as i32,
        ..Default::default()
    };
    a.op_with(OpType::Pause, &child, "", Some(input)).await;
    a.op(OpType::Resume, &child).await;
    a.op(OpType::Complete, &child).await;
    let mut lifecycle = Vec::new();
    while lifecycle.len() < 2 {
        if let Some(Event::ChildLifecycle(c)) = watcher.event().await.event {
            assert_eq!(c.child_task_id, child);
            lifecycle.push((c.lifecycle, c.child_status));
        }
    }
    assert_eq!(
        lifecycle,
        vec![
            ("transitioned".to_string(), TaskStatus::WaitingInput as i32),
            ("completed".to_string(), TaskStatus::Completed as i32)
        ]
    );

    a.op_with(OpType::Complete, &parent, "all done", None).await;
    let e = watcher.event().await;
    match e.event {
        Some(Event::StatusChanged(s)) => {
            assert_eq!(s.from_status, TaskStatus::Running as i32);
            assert_eq!(s.to_status, TaskStatus::Completed as i32);
            assert_eq!(s.reason, "all done");
        }
        other => panic!("expected status_changed, got {other:?}"),
    }

    let un = watcher
        .subscription(TaskSubscriptionOperation {
            op: task_subscription_operation::OpType::Unsubscribe as i32,
            subscription_id: sub.subscription_id.clone(),
            ..Default::default()
        })
        .await;
    assert!(un.success);
    a.op(OpType::Retry, &parent).await;
    a.op(OpType::Cancel, &parent).await;
    assert!(watcher.drain(th::event).await.is_empty());
}

#[tokio::test]
async fn recursive_subscriptions_cover_existing_descendants_and_replay() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let root = a.create_ok(self_assign("w", "root")).await;
    let child = a
        .create_ok(CreateTaskRequest {
            parent_task_id: root.clone(),
            ..self_assign("w", "child")
        })
        .await;
    let before = aether_gateway_now_ms();
    a.op(OpType::Claim, &child).await;

    let mut w = Peer::connect(&url, &Principal::agent("w", "i", "watch").unwrap()).await;
    let sub = w.subscription(subscribe(&root, true, before)).await;
    assert!(sub.success);
    // Replayed: the child's claim (status_changed on the child).
    let e = w.event().await;
    assert_eq!(
        (e.task_id.as_str(), e.parent_task_id.as_str()),
        (child.as_str(), root.as_str())
    );
    assert_eq!(e.subscription_id, sub.subscription_id);
    assert!(matches!(e.event, Some(Event::StatusChanged(_))));
    // Live: the child's completion arrives on the child's stream and as
    // child_lifecycle on the root's.
    a.op(OpType::Complete, &child).await;
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let e = w.event().await;
        kinds.push(match e.event {
            Some(Event::StatusChanged(_)) => ("status", e.task_id),
            Some(Event::ChildLifecycle(_)) => ("child", e.task_id),
            other => panic!("unexpected {other:?}"),
        });
    }
    kinds.sort();
    assert_eq!(
        kinds,
        vec![("child", root.clone()), ("status", child.clone())]
    );

    let missing = w.subscription(subscribe("nope", false, 0)).await;
    assert!(!missing.success);
    assert_eq!(missing.error, "task not found");
    // Every session is a superadmin in dev mode, so an agent of another
    // workspace would see the task here; tests/authz.rs covers hiding.
}

/// Now in ms since the epoch (minus a little, for clock granularity).
fn aether_gateway_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
        - 1
}
