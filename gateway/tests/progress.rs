//! Progress (§2.10): routing to `pg::{ws}` and `pg::us::{user}`, recipient
//! filtering, no self-echo, allowed senders, task status notifications.

mod common;
#[path = "common/tasks.rs"]
mod th;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    ProgressKind, ProgressReport, ProgressStep, SwitchWorkspace, upstream_message,
};
use common::dev_gateway;
use th::{Peer, self_assign};

async fn user_on(url: &str, uid: &str, win: &str, ws: &str) -> Peer {
    let p = Peer::connect(url, &Principal::user(uid, win).unwrap()).await;
    p.send(upstream_message::Payload::SwitchWorkspace(Box::new(
        SwitchWorkspace {
            new_workspace_id: ws.into(),
        },
    )))
    .await;
    p
}

fn report(summary: &str) -> ProgressReport {
    ProgressReport {
        state: "working".into(),
        completion: 0.5,
        summary: summary.into(),
        step: Some(ProgressStep {
            name: "s".into(),
            sequence: 1,
            total_steps: 2,
            ..Default::default()
        }),
        kind: ProgressKind::App as i32,
        ..Default::default()
    }
}

#[tokio::test]
async fn progress_reaches_the_workspace_but_not_its_source() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut a = Peer::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let mut b = Peer::connect(&url, &Principal::agent("w", "i", "b").unwrap()).await;
    let mut far = Peer::connect(&url, &Principal::agent("v", "i", "c").unwrap()).await;
    let mut u = user_on(&url, "bob", "win", "w").await;
    let mut u_far = user_on(&url, "eve", "win", "v").await;
    u.sync().await;
    u_far.sync().await;
    a.report(report("half")).await;
    let got = b.progress().await;
    assert_eq!(got.source, "ag::w::i::a");
    assert_eq!(got.summary, "half");
    assert_eq!(got.workspace, "w");
    assert_eq!(got.completion, 0.5);
    assert_eq!(got.step.map(|s| s.total_steps), Some(2));
    assert!(got.timestamp_ms > 0);
    assert_eq!(u.progress().await.summary, "half");
    assert!(a.drain(th::progress).await.is_empty(), "no self-echo");
    assert!(far.drain(th::progress).await.is_empty());
    assert!(u_far.drain(th::progress).await.is_empty());
}

#[tokio::test]
async fn recipients_filter_delivery() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let a = Peer::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let mut b = Peer::connect(&url, &Principal::agent("w", "i", "b").unwrap()).await;
    let mut c = Peer::connect(&url, &Principal::agent("w", "i", "c").unwrap()).await;
    let mut bob1 = user_on(&url, "bob", "one", "w").await;
    let mut bob2 = user_on(&url, "bob", "two", "elsewhere").await;
    let mut bob3 = Peer::connect(&url, &Principal::user("bob", "three").unwrap()).await;
    let mut eve = user_on(&url, "eve", "win", "w").await;
    bob1.sync().await;
    bob2.sync().await;
    a.report(ProgressReport {
        recipient: "ag::w::i::b".into(),
        ..report("for b")
    })
    .await;
    assert_eq!(b.progress().await.summary, "for b");
    assert!(c.drain(th::progress).await.is_empty());
    assert!(eve.drain(th::progress).await.is_empty());

    // A bare user id reaches every window of that user, on any workspace.
    a.report(ProgressReport {
        recipient: "us::bob".into(),
        ..report("for bob")
    })
    .await;
    for w in [&mut bob1, &mut bob2, &mut bob3] {
        assert_eq!(w.progress().await.summary, "for bob");
    }
    assert!(eve.drain(th::progress).await.is_empty());
    assert!(b.drain(th::progress).await.is_empty());

    // A window id reaches that window only.
    a.report(ProgressReport {
        recipient: "us::bob::two".into(),
        ..report("for two")
    })
    .await;
    assert_eq!(bob2.progress().await.summary, "for two");
    assert!(bob1.drain(th::progress).await.is_empty());
}

#[tokio::test]
async fn only_agents_tasks_and_services_report_progress() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut u = user_on(&url, "bob", "win", "w").await;
    u.report(report("x")).await;
    let e = u.error().await;
    assert_eq!(e.code, "ERR_INVALID_PRINCIPAL");
    assert_eq!(
        e.message,
        "only agents, tasks, and services can report progress"
    );

    // A service has no workspace: the named task's workspace is used.
    let mut creator = Peer::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let task = creator.create_ok(self_assign("w", "t")).await;
    let svc = Peer::connect(&url, &Principal::service("s", "x", true).unwrap()).await;
    svc.report(ProgressReport {
        task_id: task.clone(),
        ..report("from svc")
    })
    .await;
    let got = u.progress().await;
    assert_eq!(
        (got.source.as_str(), got.workspace.as_str()),
        ("sv::s::x", "w")
    );
    assert_eq!(got.task_id, task);
}

#[tokio::test]
async fn creators_hear_about_their_tasks() {
    let gw = dev_gateway().await;
    let url = gw.url();
    let mut creator = Peer::connect(&url, &Principal::agent("w", "i", "a").unwrap()).await;
    let mut worker = Peer::connect(&url, &Principal::agent("w", "i", "b").unwrap()).await;
    let id = creator.create_ok(th::targeted("ag::w::i::b")).await;
    worker.assignment().await;
    worker
        .op(aether_protocol::proto::task_operation::OpType::Claim, &id)
        .await;
    let note = creator.progress().await;
    assert_eq!(
        (note.task_id.as_str(), note.state.as_str()),
        (id.as_str(), "running")
    );
    assert_eq!(note.kind, ProgressKind::Task as i32);
    assert_eq!(note.recipient, "ag::w::i::a");
    assert_eq!(note.summary, "task running");
    worker
        .op_with(
            aether_protocol::proto::task_operation::OpType::Fail,
            &id,
            "broke",
            None,
        )
        .await;
    let note = creator.progress().await;
    assert_eq!(note.summary, "task failed: broke");
    assert!(
        worker.drain(th::progress).await.is_empty(),
        "only the creator is told"
    );
}
