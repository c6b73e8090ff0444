//! Orchestration triggered by messages (§5.5): a message to an offline
//! agent whose implementation is registered starts it through an
//! orchestrator, once however many messages arrive; it gets the messages
//! when it connects; unregistered or connected targets start nothing.

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    AgentOperation, AgentRegistrationInfo, MessageType, TaskStatus, TaskSubscriptionOperation,
    agent_operation, task_event, task_subscription_operation,
};
use common::dev_gateway;
use th::Peer;

async fn register(p: &mut Peer, implementation: &str, profile: &str) {
    let r = p
        .agent_op(AgentOperation {
            op: agent_operation::OpType::Register as i32,
            agent: Some(AgentRegistrationInfo {
                implementation: implementation.into(),
                launch_params: [("profile".to_string(), profile.to_string())].into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert!(r.success, "{r:?}");
}

#[tokio::test]
async fn messages_to_an_offline_agent_start_it_once() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut user = Peer::connect(&url, &Principal::agent("w", "chat", "u").unwrap()).await;
    register(&mut user, "helper", "cpu").await;
    let mut orc = Peer::connect(
        &url,
        &Principal::orchestrator("orch", "o1", vec!["cpu".into()]).unwrap(),
    )
    .await;
    for m in [&b"one"[..], b"two", b"three"] {
        user.c
            .send_message("ag::w::helper::h1", m, MessageType::Chat)
            .await;
    }
    user.sync().await;
    let start = orc.assignment().await;
    assert_eq!(start.task_type, "agent_startup");
    assert_eq!(
        (
            start.workspace.as_str(),
            start.target_implementation.as_str(),
            start.specifier.as_str()
        ),
        ("w", "helper", "h1")
    );
    let meta = &start.metadata;
    assert_eq!(meta["trigger"], "message_routing");
    assert_eq!(meta["target_topic"], "ag::w::helper::h1");
    assert_eq!(meta["triggered_by"], "ag::w::chat::u");
    assert!(meta["trigger_timestamp_ms"].parse::<i64>().is_ok());
    assert!(orc.drain(th::assignment).await.is_empty(), "started once");
    assert_eq!(gw.stats().message_triggered_starts, 1);

    // The started agent gets every message.
    let token = start.launch_params["auth_token"].clone();
    let helper = Principal::agent("w", "helper", "h1").unwrap();
    let (mut h, _) = Peer::connect_with_credentials(&url, &helper, &[("token", &token)])
        .await
        .expect("admitted");
    for want in ["one", "two", "three"] {
        assert_eq!(h.c.msg().await.payload, want);
    }
    // Connected: messages start nothing.
    user.c
        .send_message("ag::w::helper::h1", b"four", MessageType::Chat)
        .await;
    assert_eq!(h.c.msg().await.payload, "four");
    // Once it has gone (its startup task completed), the next message
    // starts it again.
    let sub = user
        .subscription(TaskSubscriptionOperation {
            op: task_subscription_operation::OpType::Subscribe as i32,
            task_id: start.task_id.clone(),
            ..Default::default()
        })
        .await;
    assert!(sub.success);
    drop(h);
    user.take(|p| {
        th::event(p).filter(|e| {
            matches!(&e.event, Some(task_event::Event::StatusChanged(s))
                if s.to_status == TaskStatus::Completed as i32)
        })
    })
    .await;
    user.c
        .send_message("ag::w::helper::h1", b"five", MessageType::Chat)
        .await;
    let again = orc.assignment().await;
    assert_ne!(again.task_id, start.task_id);
    assert_eq!(
        user.get(&start.task_id).await.unwrap().status,
        TaskStatus::Completed as i32
    );
}

#[tokio::test]
async fn unregistered_targets_and_unique_tasks() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut user = Peer::connect(&url, &Principal::agent("w", "chat", "u").unwrap()).await;
    let mut orc = Peer::connect(
        &url,
        &Principal::orchestrator("orch", "o1", vec!["cpu".into()]).unwrap(),
    )
    .await;
    user.c
        .send_message("ag::w::nobody::x", b"hi", MessageType::Chat)
        .await;
    user.sync().await;
    assert!(orc.drain(th::assignment).await.is_empty(), "not registered");
    assert_eq!(gw.stats().message_triggered_starts, 0);

    // A unique task identity is started the same way, under its own identity.
    register(&mut user, "batch", "cpu").await;
    user.c
        .send_message("tu::w::batch::job7", b"go", MessageType::Chat)
        .await;
    let start = orc.assignment().await;
    assert_eq!(start.specifier, "job7");
    assert_eq!(start.metadata["target_topic"], "tu::w::batch::job7");
    let token = start.launch_params["auth_token"].clone();
    let me = Principal::unique_task("w", "batch", "job7").unwrap();
    let (mut t, _) = Peer::connect_with_credentials(&url, &me, &[("token", &token)])
        .await
        .expect("the token is for the task identity");
    assert_eq!(t.c.msg().await.payload, "go");
}
