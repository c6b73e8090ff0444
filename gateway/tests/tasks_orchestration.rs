//! Offline TARGETED creates start the agent through an orchestrator
//! (§5.3, §5.4, §1.5 task tokens, §1.9 worker lifecycle, §3.8 task_context).

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    AgentOperation, AgentRegistrationInfo, CreateTaskRequest, TaskStatus, agent_operation,
};
use bytes::Bytes;
use common::dev_gateway;
use th::{Peer, targeted};

fn orchestrator(spec: &str, profile: &str) -> Principal {
    Principal::orchestrator("orch", spec, vec![profile.to_string()]).unwrap()
}

async fn register(p: &mut Peer, implementation: &str, profile: &str) {
    let r = p
        .agent_op(AgentOperation {
            op: agent_operation::OpType::Register as i32,
            agent: Some(AgentRegistrationInfo {
                implementation: implementation.into(),
                launch_params: [
                    ("profile".to_string(), profile.to_string()),
                    ("model".to_string(), "small".to_string()),
                ]
                .into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert!(r.success, "{r:?}");
}

#[tokio::test]
async fn an_offline_target_is_started_by_an_orchestrator_and_gets_its_task() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut creator = Peer::connect(&url, &Principal::agent("w", "boss", "b").unwrap()).await;
    register(&mut creator, "worker", "gpu").await;
    let mut orc = Peer::connect(&url, &orchestrator("o1", "gpu")).await;
    let r = creator
        .create(CreateTaskRequest {
            payload: Bytes::from_static(b"job"),
            launch_param_overrides: [("extra".to_string(), "1".to_string())].into(),
            ..targeted("ag::w::worker::one")
        })
        .await;
    assert!(r.success, "{r:?}");
    assert_eq!(r.status, "orchestration_triggered");
    assert!(r.assigned_to.is_empty());

    let start = orc.assignment().await;
    assert_eq!(start.task_type, "agent_startup");
    assert_eq!(start.profile, "gpu");
    assert_eq!(start.workspace, "w");
    assert_eq!(start.target_implementation, "worker");
    assert_eq!(start.specifier, "one");
    assert_eq!(start.assigned_to, "orc::orch::o1");
    assert_eq!(
        start.launch_params.get("model").map(String::as_str),
        Some("small")
    );
    assert_eq!(
        start.launch_params.get("extra").map(String::as_str),
        Some("1")
    );
    let token = start
        .launch_params
        .get("auth_token")
        .cloned()
        .expect("token");
    assert_ne!(start.task_id, r.task_id);

    // The wrong identity and an unknown token are refused.
    let other = Principal::agent("w", "worker", "two").unwrap();
    let err = Peer::connect_with_credentials(&url, &other, &[("token", &token)])
        .await
        .err()
        .expect("refused");
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        err.message(),
        "token issued for ag::w::worker::one, not ag::w::worker::two"
    );
    let worker = Principal::agent("w", "worker", "one").unwrap();
    let err = Peer::connect_with_credentials(&url, &worker, &[("token", "bogus")])
        .await
        .err()
        .expect("refused");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert_eq!(err.message(), "invalid or revoked token");

    let (mut w, config) = Peer::connect_with_credentials(&url, &worker, &[("token", &token)])
        .await
        .expect("admitted");
    let ctx = config.expect("config").task_context;
    assert_eq!(ctx.get("task_id"), Some(&start.task_id));
    assert_eq!(ctx.get("profile").map(String::as_str), Some("gpu"));
    assert_eq!(
        ctx.get("implementation").map(String::as_str),
        Some("worker")
    );
    assert_eq!(ctx.get("lp.model").map(String::as_str), Some("small"));
    let queued = w.assignment().await;
    assert_eq!(queued.task_id, r.task_id);
    assert_eq!(&queued.payload[..], b"job");
    let s = creator.get(&start.task_id).await.unwrap();
    assert_eq!(s.status, TaskStatus::Running as i32);

    // A graceful end of stream completes the startup task and revokes the token.
    // The creator is told (ProgressUpdate kind TASK) as it happens.
    drop(w);
    let id = start.task_id.clone();
    let note = creator
        .take(|p| th::progress(p).filter(|u| u.task_id == id && u.state == "completed"))
        .await;
    assert_eq!(note.recipient, "ag::w::boss::b");
    assert_eq!(note.kind, aether_protocol::proto::ProgressKind::Task as i32);
    let s = creator.get(&start.task_id).await.unwrap();
    assert_eq!(s.status, TaskStatus::Completed as i32);
    let err = Peer::connect_with_credentials(&url, &worker, &[("token", &token)])
        .await
        .err()
        .expect("revoked");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
}

#[tokio::test]
async fn a_startup_task_waits_for_an_orchestrator_to_connect() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut creator = Peer::connect(&url, &Principal::agent("w", "boss", "b").unwrap()).await;
    register(&mut creator, "worker", "cpu").await;
    let first = creator.create(targeted("ag::w::worker::x")).await;
    assert_eq!(first.status, "orchestration_triggered");
    // A second create for the same agent reuses the active startup task.
    let second = creator.create(targeted("ag::w::worker::x")).await;
    assert!(second.success);
    let mut wrong = Peer::connect(&url, &orchestrator("o0", "gpu")).await;
    let mut orc = Peer::connect(&url, &orchestrator("o1", "cpu")).await;
    let start = orc.assignment().await;
    assert_eq!(start.specifier, "x");
    assert!(wrong.drain(th::assignment).await.is_empty());
    assert!(
        orc.drain(th::assignment).await.is_empty(),
        "one startup task per agent"
    );
    let token = start.launch_params["auth_token"].clone();
    let worker = Principal::agent("w", "worker", "x").unwrap();
    let (mut w, _) = Peer::connect_with_credentials(&url, &worker, &[("token", &token)])
        .await
        .expect("admitted");
    let mut got = vec![w.assignment().await.task_id, w.assignment().await.task_id];
    got.sort();
    let mut want = vec![first.task_id, second.task_id];
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn without_a_profile_an_offline_target_cannot_be_started() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &Principal::agent("w", "boss", "b").unwrap()).await;
    let r = a.create(targeted("ag::w::unknown::x")).await;
    assert!(!r.success);
    assert_eq!(r.error_code, "ERR_TASK_CREATE_FAILED");
    assert!(r.error_message.contains("profile"), "{}", r.error_message);
    assert_eq!(a.error().await.code, "ERR_TASK_CREATE_FAILED");
    // A profile in the request's overrides is enough.
    let r = a
        .create(CreateTaskRequest {
            launch_param_overrides: [("profile".to_string(), "p".to_string())].into(),
            ..targeted("ag::w::unknown::x")
        })
        .await;
    assert_eq!(r.status, "orchestration_triggered");
}

#[tokio::test]
async fn launch_creates_a_startup_task() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &Principal::agent("w", "boss", "b").unwrap()).await;
    register(&mut a, "worker", "gpu").await;
    let mut orc = Peer::connect(&url, &orchestrator("o1", "gpu")).await;
    let r = a
        .agent_op(AgentOperation {
            op: agent_operation::OpType::Launch as i32,
            implementation: "worker".into(),
            launch_params: Some(aether_protocol::proto::AgentLaunchParams {
                specifier: "l1".into(),
                workspace: "w2".into(),
                param_overrides: Default::default(),
            }),
            ..Default::default()
        })
        .await;
    assert!(r.success, "{r:?}");
    let launched = r.launch_result.expect("launch result").task_id;
    let start = orc.assignment().await;
    assert_eq!(start.task_id, launched);
    assert_eq!(start.workspace, "w2");
    assert_eq!(start.specifier, "l1");
    let l = a
        .agent_op(AgentOperation {
            op: agent_operation::OpType::ListOrchestrators as i32,
            ..Default::default()
        })
        .await;
    assert_eq!(l.orchestrators.len(), 1);
    assert_eq!(l.orchestrators[0].orchestrator_id, "orc::orch::o1");
    assert_eq!(l.orchestrators[0].profiles, vec!["gpu"]);
}
