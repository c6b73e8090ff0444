//! Task subscriptions as Streams: status and progress events, recursive
//! subscriptions, surviving a forced reconnect, unsubscribing.

mod common;

use aether_client::principal::PrincipalType;
use aether_client::proto::downstream_message::Payload as Down;
use aether_client::proto::{TaskEvent, TaskStatus};
use aether_client::tasks::{
    ProgressReport, SubscribeOptions, TaskEventKind, TaskSpec, TaskSubscription,
};
use aether_client::{AgentClient, ConnectionState, ErrorKind, FrameStream};
use aether_gateway::RunningGateway;
use common::{Proxy, fast_reconnect, gateway, within};
use futures_util::{FutureExt, StreamExt};

async fn agent(gw: &RunningGateway, spec: &str) -> AgentClient {
    let a = AgentClient::builder("ws", "impl", spec)
        .unwrap()
        .gateway(gw.url())
        .build();
    a.connect().await.unwrap();
    a
}

async fn next(sub: &mut TaskSubscription) -> TaskEvent {
    within("a task event", sub.next())
        .await
        .expect("the subscription ended")
        .expect("an event, not an error")
}

fn to_status(e: &TaskEvent) -> Option<TaskStatus> {
    match &e.event {
        Some(TaskEventKind::StatusChanged(s)) => Some(s.to_status()),
        _ => None,
    }
}

fn progress_message(e: &TaskEvent) -> Option<&str> {
    match &e.event {
        Some(TaskEventKind::Progress(p)) => Some(p.message.as_str()),
        _ => None,
    }
}

#[tokio::test]
async fn a_subscription_streams_status_changes_and_progress() {
    let gw = gateway().await;
    let creator = agent(&gw, "creator").await;
    let worker = agent(&gw, "worker").await;
    let id = creator
        .create_task(TaskSpec::new("job").target_agent("ag::ws::impl::worker"))
        .await
        .unwrap()
        .task_id;
    let mut sub = creator
        .subscribe_to_task(&id, SubscribeOptions::new())
        .await
        .unwrap();
    assert_eq!(sub.task_id(), id);
    assert!(!sub.subscription_id().is_empty());

    worker.claim_task(&id).await.unwrap();
    let e = next(&mut sub).await;
    assert_eq!(e.task_id, id);
    assert_eq!(e.subscription_id, sub.subscription_id());
    assert_eq!(e.workspace, "ws");
    assert!(e.emitted_at_unix_ms > 0);
    assert_eq!(to_status(&e), Some(TaskStatus::Running));

    worker
        .report_progress(
            ProgressReport::new(id.clone())
                .completion(0.5)
                .summary("half"),
        )
        .await
        .unwrap();
    let e = next(&mut sub).await;
    match &e.event {
        Some(TaskEventKind::Progress(p)) => {
            assert_eq!(p.progress, 0.5);
            assert_eq!(p.message, "half");
        }
        other => panic!("expected progress, got {other:?}"),
    }

    worker.complete_task(&id).await.unwrap();
    let e = next(&mut sub).await;
    assert_eq!(to_status(&e), Some(TaskStatus::Completed));
    sub.unsubscribe().await.unwrap();
    creator.close().await;
    worker.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn subscribing_to_a_missing_task_is_not_found() {
    let gw = gateway().await;
    let a = agent(&gw, "a").await;
    let err = a
        .subscribe_to_task("no-such-task", SubscribeOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = a
        .subscribe_to_task("", SubscribeOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn the_event_handler_sees_events_alongside_the_stream() {
    let gw = gateway().await;
    let a = agent(&gw, "a").await;
    let (tx, mut handled) = tokio::sync::mpsc::unbounded_channel();
    a.register_task_event_handler(move |e| {
        let _ = tx.send(e);
        async {}
    });
    let id = a.create_task(TaskSpec::new("job")).await.unwrap().task_id;
    let mut sub = a
        .task(id.clone())
        .subscribe(SubscribeOptions::new())
        .await
        .unwrap();
    a.claim_task(&id).await.unwrap();
    let streamed = next(&mut sub).await;
    let seen = within("the handler", handled.recv()).await.unwrap();
    assert_eq!(seen, streamed);
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn recursive_subscriptions_include_children_and_history_replays() {
    let gw = gateway().await;
    let a = agent(&gw, "a").await;
    let parent = a
        .create_task(TaskSpec::new("parent"))
        .await
        .unwrap()
        .task_id;
    let child = a
        .create_task(TaskSpec::new("child").parent_task(parent.clone()))
        .await
        .unwrap()
        .task_id;
    assert_eq!(a.get_task(&child).await.unwrap().parent_task_id, parent);
    let mut sub = a
        .subscribe_to_task(&parent, SubscribeOptions::new().recursive(true))
        .await
        .unwrap();
    a.claim_task(&child).await.unwrap();
    let mut saw_child = false;
    while !saw_child {
        let e = next(&mut sub).await;
        saw_child = e.task_id == child && to_status(&e) == Some(TaskStatus::Running);
    }
    drop(sub);

    // A late subscriber asks for history from the start.
    let mut late = a
        .subscribe_to_task(&child, SubscribeOptions::new().start_timestamp_unix_ms(1))
        .await
        .unwrap();
    let e = next(&mut late).await;
    assert_eq!(e.task_id, child);
    assert_eq!(to_status(&e), Some(TaskStatus::Running), "replayed");
    a.close().await;
    gw.shutdown().await;
}

async fn wait_for_session<P: PrincipalType>(
    client: &aether_client::Client<P>,
    not: &str,
) -> String {
    let mut rx = client.watch_state();
    let state = within(
        "a new session",
        rx.wait_for(|s| matches!(s, ConnectionState::Connected(i) if i.session_id != not)),
    )
    .await
    .unwrap()
    .clone();
    match state {
        ConnectionState::Connected(i) => i.session_id,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_subscription_continues_after_a_forced_reconnect() {
    let gw = gateway().await;
    let proxy = Proxy::start(gw.local_addr()).await;
    let watcher = AgentClient::builder("ws", "impl", "watcher")
        .unwrap()
        .gateway(proxy.url())
        .reconnect(fast_reconnect())
        .build();
    let first = watcher.connect().await.unwrap();
    let worker = agent(&gw, "worker").await;
    let id = worker
        .create_task(TaskSpec::new("job"))
        .await
        .unwrap()
        .task_id;
    // Without the gap replay, so that only the renewed subscription can
    // deliver what follows.
    let mut sub = watcher
        .subscribe_to_task(&id, SubscribeOptions::new().replay_after_reconnect(false))
        .await
        .unwrap();
    let first_id = sub.subscription_id().to_string();

    worker.claim_task(&id).await.unwrap();
    assert_eq!(to_status(&next(&mut sub).await), Some(TaskStatus::Running));

    // Lose the stream; the client comes back on a new session, and the
    // subscription is made again there.
    proxy.cut();
    wait_for_session(&watcher, &first.session_id).await;
    let mut n = 0;
    loop {
        // Until the renewed subscription is in place, reports may be
        // missed; keep reporting until one arrives.
        n += 1;
        worker
            .report_progress(ProgressReport::new(id.clone()).summary(format!("after {n}")))
            .await
            .unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_millis(200), sub.next()).await;
        if let Ok(Some(Ok(e))) = got
            && progress_message(&e).is_some_and(|m| m.starts_with("after"))
        {
            break;
        }
        assert!(n < 50, "no event after the reconnect");
    }
    assert_eq!(sub.resubscribes(), 1);
    assert_ne!(sub.subscription_id(), first_id);

    worker.complete_task(&id).await.unwrap();
    loop {
        let e = next(&mut sub).await;
        if to_status(&e) == Some(TaskStatus::Completed) {
            assert_eq!(e.subscription_id, sub.subscription_id());
            break;
        }
    }
    // Nothing went wrong on the way: no error item is waiting.
    assert!(sub.next().now_or_never().is_none());
    watcher.close().await;
    worker.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn events_missed_while_away_are_replayed_after_the_reconnect() {
    let gw = gateway().await;
    let proxy = Proxy::start(gw.local_addr()).await;
    let watcher = AgentClient::builder("ws", "impl", "watcher")
        .unwrap()
        .gateway(proxy.url())
        .reconnect(fast_reconnect())
        .build();
    let first = watcher.connect().await.unwrap();
    let worker = agent(&gw, "worker").await;
    let id = worker
        .create_task(TaskSpec::new("job"))
        .await
        .unwrap()
        .task_id;
    let mut sub = watcher
        .subscribe_to_task(&id, SubscribeOptions::new())
        .await
        .unwrap();
    worker.claim_task(&id).await.unwrap();
    assert_eq!(to_status(&next(&mut sub).await), Some(TaskStatus::Running));

    // Freeze the watcher's stream, so the next event cannot reach it, then
    // cut it: the event is emitted while the watcher is away.
    proxy.freeze(true);
    worker
        .report_progress(ProgressReport::new(id.clone()).summary("while away"))
        .await
        .unwrap();
    // The gateway has published the event once the worker's next op answers.
    worker.get_task(&id).await.unwrap();
    proxy.cut();
    wait_for_session(&watcher, &first.session_id).await;

    let e = next(&mut sub).await;
    assert_eq!(progress_message(&e), Some("while away"));
    worker.complete_task(&id).await.unwrap();
    let e = next(&mut sub).await;
    assert_eq!(
        to_status(&e),
        Some(TaskStatus::Completed),
        "no repeats: {e:?}"
    );
    watcher.close().await;
    worker.close().await;
    gw.shutdown().await;
}

/// The ids of the task events a client receives.
fn event_ids<P: PrincipalType>(client: &aether_client::Client<P>) -> FrameStream {
    client.frames()
}

fn drain_subscription_ids(frames: &mut FrameStream) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(Some(f)) = frames.next().now_or_never() {
        if let Down::TaskEvent(e) = f.expect("no frame lost") {
            out.push(e.subscription_id.clone());
        }
    }
    out
}

#[tokio::test]
async fn dropping_a_subscription_unsubscribes() {
    let gw = gateway().await;
    let a = agent(&gw, "a").await;
    let id = a.create_task(TaskSpec::new("job")).await.unwrap().task_id;
    a.claim_task(&id).await.unwrap();
    let dropped = a
        .subscribe_to_task(&id, SubscribeOptions::new())
        .await
        .unwrap();
    let dropped_id = dropped.subscription_id().to_string();
    let mut kept = a
        .subscribe_to_task(&id, SubscribeOptions::new())
        .await
        .unwrap();
    let mut tap = event_ids(&a);
    drop(dropped);

    // Report until an event reaches the kept subscription without a copy
    // for the dropped one (the UNSUBSCRIBE is sent in the background).
    // Copies for both subscriptions are published together, so once the
    // kept one's next event is in, a copy for the dropped one would be too.
    let mut rounds = 0;
    loop {
        rounds += 1;
        a.report_progress(ProgressReport::new(id.clone()).summary(format!("r{rounds}")))
            .await
            .unwrap();
        next(&mut kept).await;
        a.report_progress(ProgressReport::new(id.clone()).summary("marker"))
            .await
            .unwrap();
        next(&mut kept).await;
        let ids = drain_subscription_ids(&mut tap);
        if !ids.contains(&dropped_id) {
            break;
        }
        assert!(
            rounds < 20,
            "the dropped subscription still receives events"
        );
    }
    // And from then on, never again.
    a.report_progress(ProgressReport::new(id.clone()).summary("last"))
        .await
        .unwrap();
    next(&mut kept).await;
    assert!(!drain_subscription_ids(&mut tap).contains(&dropped_id));

    // An explicit unsubscribe waits for the gateway.
    kept.unsubscribe().await.unwrap();
    a.close().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn the_stream_ends_when_the_client_closes() {
    let gw = gateway().await;
    let a = agent(&gw, "a").await;
    let id = a.create_task(TaskSpec::new("job")).await.unwrap().task_id;
    let mut sub = a
        .subscribe_to_task(&id, SubscribeOptions::new())
        .await
        .unwrap();
    a.close().await;
    assert!(within("the end of the stream", sub.next()).await.is_none());
    gw.shutdown().await;
}
