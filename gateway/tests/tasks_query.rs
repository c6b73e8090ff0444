//! TaskQuery LIST over the wire (§5.7): filters, workspace default,
//! ordering and paging.

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    CreateTaskRequest, PrincipalRef, TaskFilter, TaskPriority, TaskQuery, TaskStatus,
    task_operation::OpType,
};
use common::dev_gateway;
use th::{Peer, self_assign};

#[tokio::test]
async fn list_filters_orders_and_pages() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let mut b = Peer::connect(&url, &Principal::agent("w", "i", "b").unwrap()).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            a.create_ok(CreateTaskRequest {
                context_id: format!("ctx{}", n % 2),
                correlation_id: "corr".into(),
                priority: if n == 4 { TaskPriority::High as i32 } else { 0 },
                ..self_assign("w", "kind-a")
            })
            .await,
        );
    }
    let by_b = b.create_ok(self_assign("w", "kind-b")).await;
    let elsewhere = a.create_ok(self_assign("v", "kind-a")).await;
    a.op(OpType::Claim, &ids[0]).await;
    a.op(OpType::Complete, &ids[1]).await;

    // (The order itself — newest update, then id — is unit-tested: here
    // updates may share a millisecond.)
    let all = a.list(TaskFilter::default()).await;
    assert!(all.success);
    assert_eq!(all.total_count, 7 - 1, "the caller's workspace only");
    assert!(!all.tasks.iter().any(|t| t.task_id == elsewhere));

    let l = a
        .list(TaskFilter {
            workspace: "v".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(l.tasks.len(), 1);

    let l = a
        .list(TaskFilter {
            statuses: vec![TaskStatus::Running as i32, TaskStatus::Completed as i32],
            ..Default::default()
        })
        .await;
    assert_eq!(l.tasks.len(), 2);
    let l = a
        .list(TaskFilter {
            exclude_statuses: vec![TaskStatus::Queued as i32],
            ..Default::default()
        })
        .await;
    assert_eq!(
        l.tasks.len(),
        6,
        "QUEUED matches only pending; assigned tasks stay"
    );
    let l = a
        .list(TaskFilter {
            task_type: "kind-b".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        l.tasks.iter().map(|t| &t.task_id).collect::<Vec<_>>(),
        [&by_b]
    );
    let l = a
        .list(TaskFilter {
            context_id: "ctx1".into(),
            correlation_id: "corr".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(l.tasks.len(), 2);
    let l = a
        .list(TaskFilter {
            creator_actor: Some(PrincipalRef {
                principal_type: "agent".into(),
                principal_id: "w::i::b".into(),
            }),
            ..Default::default()
        })
        .await;
    assert_eq!(l.tasks.len(), 1);
    let l = a
        .list(TaskFilter {
            min_priority: TaskPriority::High as i32,
            ..Default::default()
        })
        .await;
    assert_eq!(
        l.tasks.iter().map(|t| &t.task_id).collect::<Vec<_>>(),
        [&ids[4]]
    );
    let l = a
        .list(TaskFilter {
            root_task_id: ids[2].clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(l.tasks.len(), 1, "the root defaults to the task itself");

    // Paging: full pages carry a token; the pages cover everything once.
    let mut seen = Vec::new();
    let mut token = String::new();
    for _ in 0..10 {
        let page = a
            .list(TaskFilter {
                limit: 4,
                page_token: token.clone(),
                ..Default::default()
            })
            .await;
        assert!(page.tasks.len() <= 4);
        seen.extend(page.tasks.into_iter().map(|t| t.task_id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(
        seen,
        all.tasks
            .iter()
            .map(|t| t.task_id.clone())
            .collect::<Vec<_>>()
    );
    let bad = a
        .list(TaskFilter {
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await;
    assert!(!bad.success && bad.error.contains("page_token"));
    let off = a
        .list(TaskFilter {
            offset: 5,
            ..Default::default()
        })
        .await;
    assert_eq!(off.tasks.len(), 1);

    let unknown = a
        .query(TaskQuery {
            op: 7,
            ..Default::default()
        })
        .await;
    assert_eq!(unknown.error, "unknown task query operation");
}

#[tokio::test]
async fn descendants_are_listed_with_include_descendants() {
    let gw = dev_gateway().await;
    let mut a = Peer::connect(&gw.url(), &Principal::agent("w", "i", "a").unwrap()).await;
    let root = a.create_ok(self_assign("w", "root")).await;
    let child = a
        .create_ok(CreateTaskRequest {
            parent_task_id: root.clone(),
            ..self_assign("w", "child")
        })
        .await;
    let grandchild = a
        .create_ok(CreateTaskRequest {
            parent_task_id: child.clone(),
            ..self_assign("w", "grandchild")
        })
        .await;
    let l = a
        .list(TaskFilter {
            parent_task_id: root.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        l.tasks.iter().map(|t| &t.task_id).collect::<Vec<_>>(),
        [&child]
    );
    let l = a
        .list(TaskFilter {
            parent_task_id: root.clone(),
            include_descendants: true,
            ..Default::default()
        })
        .await;
    let mut got: Vec<String> = l.tasks.into_iter().map(|t| t.task_id).collect();
    got.sort();
    let mut want = vec![child, grandchild.clone()];
    want.sort();
    assert_eq!(got, want);
    let l = a
        .list(TaskFilter {
            root_task_id: root,
            ..Default::default()
        })
        .await;
    assert_eq!(
        l.tasks.len(),
        3,
        "the root and the children that inherit it"
    );
    assert!(l.tasks.iter().any(|t| t.task_id == grandchild));
}
