//! CreateTaskRequest (§5.2, §5.3, §5.10): self-assign, targeted online and
//! offline (QUEUE, REJECT), validation, idempotency, parents and tokens.

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    CreateTaskRequest, TargetOfflinePolicy, TaskFilter, TaskStatus, downstream_message::Payload,
    task_operation::OpType, upstream_message,
};
use bytes::Bytes;
use common::dev_gateway;
use th::{Peer, self_assign, targeted};

fn agent(spec: &str) -> Principal {
    Principal::agent("w", "i", spec).unwrap()
}

#[tokio::test]
async fn self_assigned_tasks_belong_to_their_creator() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &agent("a")).await;
    let r = a
        .create(CreateTaskRequest {
            context_id: "ctx".into(),
            correlation_id: "corr".into(),
            payload: Bytes::from_static(b"data"),
            metadata: [("k".to_string(), "v".to_string())].into(),
            ..self_assign("", "job")
        })
        .await;
    assert!(r.success);
    assert_eq!(r.status, "assigned");
    assert_eq!(r.assigned_to, "ag::w::i::a");
    let t = a.get(&r.task_id).await.expect("found");
    assert_eq!(t.workspace, "w", "defaults to the caller's workspace");
    assert_eq!(t.status, TaskStatus::Queued as i32);
    assert_eq!(t.context_id, "ctx");
    assert_eq!(t.correlation_id, "corr");
    assert_eq!(t.creator_actor_id, "ag::w::i::a");
    assert_eq!(t.root_task_id, r.task_id);
    assert_eq!(t.max_attempts, 3);
    assert_eq!(t.metadata.get("k").map(String::as_str), Some("v"));
    assert!(t.created_at > 1_600_000_000 && t.created_at < 100_000_000_000);
    assert!(
        a.drain(th::assignment).await.is_empty(),
        "no TaskAssignment for self-assigned tasks"
    );
    a.op(OpType::Claim, &r.task_id).await;
    let done = a.op(OpType::Complete, &r.task_id).await;
    assert!(done.success);
}

#[tokio::test]
async fn fire_and_forget_creates_get_no_response() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &agent("a")).await;
    a.send(upstream_message::Payload::CreateTask(Box::new(
        self_assign("w", "quiet"),
    )))
    .await;
    let replies = a
        .drain(|p| matches!(p, Payload::CreateTask(_) | Payload::Error(_)).then_some(()))
        .await;
    assert!(replies.is_empty());
    let l = a
        .list(TaskFilter {
            task_type: "quiet".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(l.tasks.len(), 1);
}

#[tokio::test]
async fn invalid_creates_answer_typed_failures_and_errors() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &agent("a")).await;
    let r = a
        .create(CreateTaskRequest {
            payload: Bytes::from(vec![0u8; 512 * 1024 + 1]),
            ..self_assign("w", "big")
        })
        .await;
    assert!(!r.success);
    assert_eq!(r.error_code, "TASK_PAYLOAD_TOO_LARGE");
    let e = a.error().await;
    assert_eq!(e.code, "TASK_PAYLOAD_TOO_LARGE");
    assert!(e.request_id.is_empty());

    let r = a.create(self_assign("bad::ws", "x")).await;
    assert!(!r.success, "a sync caller never times out");
    assert_eq!(r.error_code, "ERR_INVALID_IDENTIFIER");
    assert_eq!(a.error().await.code, "ERR_INVALID_IDENTIFIER");
    let r = a
        .create(CreateTaskRequest {
            target_implementation: "has space".into(),
            ..th::pool("w", "x")
        })
        .await;
    assert_eq!(r.error_code, "ERR_INVALID_IDENTIFIER");
    a.error().await;

    // A user has no workspace until it switches to one.
    let mut u = Peer::connect(&url, &Principal::user("bob", "win").unwrap()).await;
    let r = u.create(self_assign("", "x")).await;
    assert_eq!(r.error_code, "ERR_INVALID_ARGUMENT");
    assert_eq!(r.error_message, "task workspace is required");
    assert_eq!(u.error().await.code, "ERR_INVALID_ARGUMENT");

    let r = a.create(targeted("")).await;
    assert_eq!(r.error_code, "ERR_TASK_CREATE_FAILED");
    a.error().await;
    let r = a.create(targeted("ga::w")).await;
    assert_eq!(r.error_code, "ERR_TASK_CREATE_FAILED");
    a.error().await;
    let r = a.create(th::pool("w", "")).await;
    assert_eq!(r.error_code, "ERR_TASK_CREATE_FAILED");
}

#[tokio::test]
async fn idempotency_keys_return_the_original_task() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &agent("a")).await;
    let req = CreateTaskRequest {
        idempotency_key: "once".into(),
        ..self_assign("w", "idem")
    };
    let first = a.create(req.clone()).await;
    assert_eq!(first.status, "assigned");
    let again = a.create(req.clone()).await;
    assert!(again.success);
    assert_eq!(again.task_id, first.task_id);
    assert_eq!(again.status, "");
    let other_ws = a
        .create(CreateTaskRequest {
            workspace: "v".into(),
            ..req
        })
        .await;
    assert_ne!(other_ws.task_id, first.task_id, "keys are per workspace");
    let l = a
        .list(TaskFilter {
            task_type: "idem".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(l.tasks.len(), 1);
}

#[tokio::test]
async fn targeted_tasks_reach_an_online_target() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &agent("a")).await;
    let mut b = Peer::connect(&url, &agent("b")).await;
    let r = a
        .create(CreateTaskRequest {
            payload: Bytes::from_static(b"hi"),
            task_class: 2,
            ..targeted("ag::w::i::b")
        })
        .await;
    assert_eq!(r.status, "assigned");
    assert_eq!(r.assigned_to, "ag::w::i::b");
    let asg = b.assignment().await;
    assert_eq!(asg.task_id, r.task_id);
    assert_eq!(asg.assigned_to, "ag::w::i::b");
    assert_eq!(&asg.payload[..], b"hi");
    assert_eq!(asg.task_class, 2);
    assert!(asg.assigned_at > 1_600_000_000);
    let claimed = b.op(OpType::Claim, &r.task_id).await;
    assert!(claimed.success);
    assert_eq!(
        claimed.task.map(|t| t.status),
        Some(TaskStatus::Running as i32)
    );
}

#[tokio::test]
async fn queue_holds_a_task_until_the_target_connects() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &agent("a")).await;
    let r = a
        .create(CreateTaskRequest {
            target_offline_policy: TargetOfflinePolicy::Queue as i32,
            ..targeted("ag::w::i::late")
        })
        .await;
    assert!(r.success);
    assert_eq!(r.status, "pending");
    let mut late = Peer::connect(&url, &agent("late")).await;
    assert_eq!(late.assignment().await.task_id, r.task_id);
    let t = a.get(&r.task_id).await.unwrap();
    assert_eq!(t.assigned_to, "ag::w::i::late");
}

#[tokio::test]
async fn reject_fails_the_create_for_an_offline_target() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &agent("a")).await;
    let r = a
        .create(CreateTaskRequest {
            target_offline_policy: TargetOfflinePolicy::Reject as i32,
            task_type: "rejected-create".into(),
            ..targeted("ag::w::i::nobody")
        })
        .await;
    assert!(!r.success);
    assert_eq!(r.error_code, "ERR_TARGET_OFFLINE");
    assert_eq!(a.error().await.code, "ERR_TARGET_OFFLINE");
    let l = a
        .list(TaskFilter {
            task_type: "rejected-create".into(),
            ..Default::default()
        })
        .await;
    assert!(l.tasks.is_empty(), "no task was created");
}

#[tokio::test]
async fn parents_must_be_active_tasks_of_the_caller() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &agent("a")).await;
    let mut b = Peer::connect(&url, &agent("b")).await;
    let parent = a.create_ok(self_assign("w", "parent")).await;
    let child = a
        .create(CreateTaskRequest {
            parent_task_id: parent.clone(),
            ..self_assign("w", "child")
        })
        .await;
    assert!(child.success);
    let t = a.get(&child.task_id).await.unwrap();
    assert_eq!(t.parent_task_id, parent);
    assert_eq!(t.root_task_id, parent);
    let r = b
        .create(CreateTaskRequest {
            parent_task_id: parent.clone(),
            ..self_assign("w", "x")
        })
        .await;
    assert_eq!(r.error_code, "ERR_PERMISSION_DENIED");
    let r = a
        .create(CreateTaskRequest {
            parent_task_id: "missing".into(),
            ..self_assign("w", "x")
        })
        .await;
    assert_eq!(r.error_code, "ERR_INVALID_ARGUMENT");
}

#[tokio::test]
async fn target_identity_mints_a_token_that_admits_the_worker() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &agent("a")).await;
    let r = a
        .create(CreateTaskRequest {
            target_identity: "ag::w::spawned::one".into(),
            ..th::pool("w", "spawned")
        })
        .await;
    assert_eq!(r.task_token.len(), 64);
    let worker = Principal::agent("w", "spawned", "one").unwrap();
    let (mut w, _) = Peer::connect_with_credentials(&url, &worker, &[("token", &r.task_token)])
        .await
        .expect("admitted with its token");
    let a2 = w.assignment().await;
    assert_eq!(a2.task_id, r.task_id, "the spawned worker gets its task");
    let t = w.get(&r.task_id).await.unwrap();
    assert_eq!(t.status, TaskStatus::Running as i32);
    assert_eq!(t.assigned_to, "ag::w::spawned::one");
    // Tasks the worker creates are children of its task.
    let child = w.create_ok(self_assign("w", "sub")).await;
    assert_eq!(w.get(&child).await.unwrap().parent_task_id, r.task_id);

    let sys = a
        .create(CreateTaskRequest {
            target_identity: "ag::_system::x::y".into(),
            ..self_assign("w", "x")
        })
        .await;
    assert!(sys.success && sys.task_token.is_empty());
}
