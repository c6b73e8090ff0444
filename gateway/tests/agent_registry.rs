//! AgentOperation (§6.4): REGISTER, GET, LIST, UPDATE, DELETE, prefix
//! conflicts, request ids echoed.

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    AgentOperation, AgentRegistrationInfo, AgentResourceSchemaEntry, agent_operation::OpType,
};
use common::dev_gateway;
use th::Peer;

fn op(t: OpType, implementation: &str, agent: Option<AgentRegistrationInfo>) -> AgentOperation {
    AgentOperation {
        op: t as i32,
        implementation: implementation.into(),
        agent,
        ..Default::default()
    }
}

fn reg(implementation: &str, description: &str, prefix: &str) -> AgentRegistrationInfo {
    AgentRegistrationInfo {
        implementation: implementation.into(),
        description: description.into(),
        launch_params: [("profile".to_string(), "p".to_string())].into(),
        resource_schema: vec![AgentResourceSchemaEntry {
            resource_type_prefix: prefix.into(),
            ..Default::default()
        }],
        capabilities: [("chat".to_string(), true)].into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn registry_operations() {
    let gw = dev_gateway().await;
    // Anyone may use the registry in dev mode, users included.
    let mut u = Peer::connect(&gw.url(), &Principal::user("bob", "w").unwrap()).await;
    let r = u
        .agent_op(op(OpType::Register, "", Some(reg("alpha", "first", "doc"))))
        .await;
    assert!(r.success, "{r:?}");
    assert!(r.request_id.starts_with("agent-"), "request_id is echoed");
    assert_eq!(r.message, "agent registered successfully");
    let got = u.agent_op(op(OpType::Get, "alpha", None)).await;
    let a = got.agent.expect("registered");
    assert_eq!(a.description, "first");
    assert_eq!(a.capabilities.get("chat"), Some(&true));
    assert!(a.registered_at > 0 && a.updated_at >= a.registered_at);

    let conflict = u
        .agent_op(op(OpType::Register, "", Some(reg("beta", "x", "doc"))))
        .await;
    assert!(!conflict.success);
    assert!(
        conflict.error.starts_with("ERR_PREFIX_CONFLICT:"),
        "{}",
        conflict.error
    );
    assert!(
        u.agent_op(op(OpType::Register, "", Some(reg("beta", "second", "img"))))
            .await
            .success
    );
    let r = u
        .agent_op(op(
            OpType::Update,
            "alpha",
            Some(reg("alpha", "changed", "doc")),
        ))
        .await;
    assert_eq!(r.message, "agent updated successfully");
    let list = u.agent_op(op(OpType::List, "", None)).await;
    assert_eq!(list.total_count, 2);
    let names: Vec<(&str, &str)> = list
        .agents
        .iter()
        .map(|a| (a.implementation.as_str(), a.description.as_str()))
        .collect();
    assert_eq!(names, [("alpha", "changed"), ("beta", "second")]);

    let r = u.agent_op(op(OpType::Delete, "alpha", None)).await;
    assert_eq!(r.message, "agent deleted successfully");
    let missing = u.agent_op(op(OpType::Get, "alpha", None)).await;
    assert!(!missing.success && missing.error.contains("not found"));
    assert!(!u.agent_op(op(OpType::Delete, "alpha", None)).await.success);
    let bad = u
        .agent_op(op(OpType::Register, "", Some(reg("bad::name", "", "z"))))
        .await;
    assert!(!bad.success);
    let launch = u.agent_op(op(OpType::Launch, "alpha", None)).await;
    assert!(!launch.success, "launching needs a registration");
}
