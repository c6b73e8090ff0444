//! The clockwork on tokio's paused clock: retries at the times their
//! policies give, wakes, wait timeouts and escalations, stuck-task TTLs,
//! purges and completion events.

use std::time::Duration;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    BackoffStrategy, HibernationDescriptor, RetryPolicy, TaskAssignmentMode, TaskCompletionEvent,
    TaskStatus, WaitSpec, downstream_message::Payload, task_event, task_operation::OpType,
};
use tokio::time::Instant;

use super::model::{NEXT_ATTEMPT_KEY, Status, TaskRecord};
use super::retry::{RETRY_AFTER_KEY, STATUS_CODE_KEY};
use super::testkit::{Kit, Live, kit};
use crate::config::Limits;
use crate::tasks::completion::EVENT_RECEIVER;

fn consumer(spec: &str) -> Principal {
    Principal::agent("w", "crunch", spec).unwrap()
}

/// A pending pool task of `crunch` in `w`.
fn pool_task(id: &str, k: &Kit) -> TaskRecord {
    TaskRecord {
        id: id.into(),
        task_type: "job".into(),
        status: Status::Pending.as_str().into(),
        workspace: "w".into(),
        mode: TaskAssignmentMode::Pool as i32,
        target_implementation: "crunch".into(),
        creator: "ag::w::boss::b".into(),
        created_ms: k.now(),
        status_changed_ms: k.now(),
        ..Default::default()
    }
}

fn policy(backoff: BackoffStrategy, initial: i64) -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        backoff: backoff as i32,
        initial_delay_ms: initial,
        ..Default::default()
    }
}

/// Claims `id` as `w` and fails it with `details`; returns the answer's task.
fn claim_and_fail(
    k: &Kit,
    w: &Live,
    id: &str,
    details: &[(&str, &str)],
) -> aether_protocol::proto::TaskInfo {
    assert!(k.op(w, OpType::Claim, id, "", None).success);
    let spec = (!details.is_empty()).then(|| WaitSpec {
        input_match: details
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        ..Default::default()
    });
    let r = k.op(w, OpType::Fail, id, "boom", spec);
    assert!(r.success, "{r:?}");
    r.task.expect("task")
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[tokio::test(start_paused = true)]
async fn failed_attempts_are_retried_after_their_backoff_until_the_last() {
    let k = kit(Limits::default());
    let mut w = k.connect(consumer("c"), None).await;
    k.offer(TaskRecord {
        retry_policy: Some(policy(BackoffStrategy::Exponential, 1_000)),
        max_attempts: 3,
        ..pool_task("t", &k)
    })
    .await;
    assert_eq!(w.assignment().await.task_id, "t");
    k.subscribe(&w, "t");

    for (attempt, delay) in [(1, 1_000u128), (2, 2_000)] {
        let info = claim_and_fail(&k, &w, "t", &[]);
        let failed_at = Instant::now();
        assert_eq!(info.status, TaskStatus::Queued as i32, "queued for a retry");
        assert_eq!(info.attempt, attempt);
        assert_eq!(info.max_attempts, 3);
        assert!(info.assigned_to.is_empty());
        assert_eq!(info.error, "boom");
        let next: i64 = info.metadata[NEXT_ATTEMPT_KEY].parse().unwrap();
        assert_eq!(next - k.now(), delay as i64);

        // The claim's status_changed to RUNNING, then to QUEUED, then the
        // retry note with its details.
        let claimed = w.event().await;
        assert!(
            matches!(&claimed.event, Some(task_event::Event::StatusChanged(s)) if s.to_status == TaskStatus::Running as i32),
            "{claimed:?}"
        );
        let changed = w.event().await;
        let Some(task_event::Event::StatusChanged(s)) = changed.event else {
            panic!("{changed:?}")
        };
        assert_eq!(s.to_status, TaskStatus::Queued as i32);
        assert!(
            s.reason
                .contains(&format!("attempt {attempt} of 3 failed: boom"))
        );
        let note = w.event().await;
        let Some(task_event::Event::Progress(p)) = note.event else {
            panic!("{note:?}")
        };
        assert_eq!(p.state, "retry_scheduled");
        assert_eq!(p.metadata["attempt"], attempt.to_string());
        assert_eq!(p.metadata["next_attempt_at_unix_ms"], next.to_string());

        let again = w.assignment().await;
        assert_eq!(again.task_id, "t");
        assert_eq!(ms(failed_at.elapsed()), delay, "offered again on time");
    }
    let info = claim_and_fail(&k, &w, "t", &[]);
    assert_eq!(
        info.status,
        TaskStatus::Failed as i32,
        "the third attempt was the last"
    );
    assert_eq!(info.attempt, 3);
    assert!(!info.metadata.contains_key(NEXT_ATTEMPT_KEY));
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(
        !w.queued()
            .iter()
            .any(|p| matches!(p, Payload::TaskAssignment(_))),
        "never offered again"
    );
    let stats = k.tasks.cx.stats.snapshot();
    assert_eq!(stats.task_retries_scheduled, 2);
}

#[tokio::test(start_paused = true)]
async fn retry_after_and_retryable_status_codes() {
    let k = kit(Limits::default());
    let mut w = k.connect(consumer("c"), None).await;
    let p = RetryPolicy {
        retryable_status_codes: vec![429, 503],
        honor_retry_after: true,
        max_attempts: 5,
        ..policy(BackoffStrategy::Fixed, 100)
    };
    k.offer(TaskRecord {
        retry_policy: Some(p),
        ..pool_task("t", &k)
    })
    .await;
    w.assignment().await;
    // A retry-after wins over the fixed backoff.
    claim_and_fail(
        &k,
        &w,
        "t",
        &[(STATUS_CODE_KEY, "503"), (RETRY_AFTER_KEY, "7000")],
    );
    let t0 = Instant::now();
    w.assignment().await;
    assert_eq!(ms(t0.elapsed()), 7_000);
    // No status code: the policy's backoff.
    claim_and_fail(&k, &w, "t", &[]);
    let t0 = Instant::now();
    w.assignment().await;
    assert_eq!(ms(t0.elapsed()), 100);
    // A status code that is not retryable ends it.
    let info = claim_and_fail(&k, &w, "t", &[(STATUS_CODE_KEY, "404")]);
    assert_eq!(info.status, TaskStatus::Failed as i32);
    assert_eq!(info.error, "boom");
    // A malformed detail refuses the FAIL (the task is untouched).
    k.offer(TaskRecord {
        retry_policy: Some(policy(BackoffStrategy::Fixed, 100)),
        ..pool_task("u", &k)
    })
    .await;
    w.assignment().await;
    assert!(k.op(&w, OpType::Claim, "u", "", None).success);
    let bad = WaitSpec {
        input_match: [(STATUS_CODE_KEY.to_string(), "abc".to_string())].into(),
        ..Default::default()
    };
    let r = k.op(&w, OpType::Fail, "u", "x", Some(bad));
    assert!(!r.success);
    assert!(r.error.contains("status_code"), "{}", r.error);
    assert_eq!(k.get("u").unwrap().state(), Status::Running);
}

#[tokio::test(start_paused = true)]
async fn a_task_without_a_policy_fails_for_good() {
    let k = kit(Limits::default());
    let mut w = k.connect(consumer("c"), None).await;
    k.offer(pool_task("t", &k)).await;
    w.assignment().await;
    let info = claim_and_fail(&k, &w, "t", &[]);
    assert_eq!(info.status, TaskStatus::Failed as i32);
    assert_eq!(info.attempt, 1);
}

#[tokio::test(start_paused = true)]
async fn a_self_assigned_retry_goes_back_to_its_creator() {
    let k = kit(Limits::default());
    let mut me = k.connect(consumer("me"), None).await;
    let mut r = pool_task("t", &k);
    r.mode = TaskAssignmentMode::SelfAssign as i32;
    r.creator = "ag::w::crunch::me".into();
    r.assigned_to = r.creator.clone();
    r.status = Status::Assigned.as_str().into();
    r.retry_policy = Some(policy(BackoffStrategy::Fixed, 500));
    k.put(r).await;
    claim_and_fail(&k, &me, "t", &[]);
    let t0 = Instant::now();
    let a = me.assignment().await;
    assert_eq!((a.task_id.as_str(), ms(t0.elapsed())), ("t", 500));
    let r = k.get("t").unwrap();
    assert_eq!(
        (r.state(), r.assigned_to.as_str()),
        (Status::Assigned, "ag::w::crunch::me")
    );
}

fn hibernated(k: &Kit, wait: WaitSpec) -> TaskRecord {
    TaskRecord {
        status: Status::Hibernated.as_str().into(),
        assigned_to: "ag::w::crunch::gone".into(),
        paused_ms: k.now(),
        wait_spec: Some(wait),
        ..pool_task("t", k)
    }
}

fn descriptor(escalation: &str) -> Option<HibernationDescriptor> {
    Some(HibernationDescriptor {
        checkpoint_key: "ck".into(),
        resume_session_id: "sess".into(),
        escalation_policy: escalation.into(),
        ..Default::default()
    })
}

#[tokio::test(start_paused = true)]
async fn a_hibernated_task_wakes_at_its_time_for_a_fresh_worker() {
    let k = kit(Limits::default());
    let hour = 3_600_000;
    k.put(hibernated(
        &k,
        WaitSpec {
            reason: 4,
            scheduled_wake_unix_ms: k.now() + hour,
            hibernation: descriptor(""),
            ..Default::default()
        },
    ))
    .await;
    let mut w = k.connect(consumer("fresh"), None).await;
    let t0 = Instant::now();
    let a = w.assignment().await;
    assert_eq!(ms(t0.elapsed()), hour as u128);
    assert_eq!(a.checkpoint_key, "ck");
    assert_eq!(a.resume_session_id, "sess");
    let r = k.get("t").unwrap();
    assert_eq!(r.state(), Status::Assigned);
    assert!(r.wait_spec.is_none());
    assert_eq!(r.metadata["_hibernation_checkpoint_key"], "ck");
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_wake_resumes_a_waiting_task_with_its_worker() {
    let k = kit(Limits::default());
    let mut r = hibernated(
        &k,
        WaitSpec {
            reason: 1,
            scheduled_wake_unix_ms: k.now() + 60_000,
            ..Default::default()
        },
    );
    r.status = Status::WaitingInput.as_str().into();
    k.put(r).await;
    tokio::time::sleep(Duration::from_millis(59_999)).await;
    assert_eq!(k.get("t").unwrap().state(), Status::WaitingInput);
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::task::yield_now().await;
    let r = k.get("t").unwrap();
    assert_eq!(r.state(), Status::Running);
    assert_eq!(r.assigned_to, "ag::w::crunch::gone", "it kept its worker");
}

#[tokio::test(start_paused = true)]
async fn wait_timeouts_fail_or_escalate() {
    // A waiting task fails when its timeout passes (and is retried by its policy).
    let k = kit(Limits::default());
    let mut r = hibernated(
        &k,
        WaitSpec {
            reason: 3,
            timeout_ms: 10_000,
            ..Default::default()
        },
    );
    r.status = Status::WaitingDependency.as_str().into();
    r.retry_policy = Some(policy(BackoffStrategy::Fixed, 1_000));
    k.put(r).await;
    tokio::time::sleep(Duration::from_millis(10_001)).await;
    let r = k.get("t").unwrap();
    assert_eq!(
        (r.state(), r.error.as_str()),
        (Status::Pending, "wait timeout")
    );
    assert_eq!(r.attempt, 1);

    // Hibernated with `alert`: stays, says so once.
    let k = kit(Limits::default());
    let mut watcher = k.connect(consumer("watch"), None).await;
    k.put(hibernated(
        &k,
        WaitSpec {
            reason: 4,
            timeout_ms: 5_000,
            hibernation: descriptor("alert"),
            ..Default::default()
        },
    ))
    .await;
    k.subscribe(&watcher, "t");
    let e = watcher.event().await;
    let Some(task_event::Event::Progress(p)) = e.event else {
        panic!("{e:?}")
    };
    assert_eq!(p.state, "hibernation_timeout");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(k.get("t").unwrap().state(), Status::Hibernated);
    assert!(watcher.queued().is_empty(), "alerted once");

    // Hibernated with `retry`: woken for a fresh worker; with `fail` (or
    // nothing): failed.
    for (policy, want) in [
        ("retry", Status::Pending),
        ("fail", Status::Failed),
        ("", Status::Failed),
    ] {
        let k = kit(Limits::default());
        k.put(hibernated(
            &k,
            WaitSpec {
                reason: 4,
                timeout_ms: 5_000,
                hibernation: descriptor(policy),
                ..Default::default()
            },
        ))
        .await;
        tokio::time::sleep(Duration::from_millis(5_001)).await;
        assert_eq!(k.get("t").unwrap().state(), want, "escalation {policy:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn stuck_tasks_are_cancelled_and_finished_ones_purged() {
    let limits = Limits::default()
        .with_task_stuck_ttl(Some(Duration::from_secs(3600)))
        .with_task_retention(Duration::from_secs(86_400));
    let k = kit(limits);
    let mut watcher = k.connect(consumer("watch"), None).await;
    k.put(TaskRecord {
        status: Status::Running.as_str().into(),
        assigned_to: "ag::w::crunch::x".into(),
        ..pool_task("t", &k)
    })
    .await;
    k.subscribe(&watcher, "t");
    tokio::time::sleep(Duration::from_millis(3_599_999)).await;
    assert_eq!(k.get("t").unwrap().state(), Status::Running);
    let e = watcher.event().await;
    let Some(task_event::Event::StatusChanged(s)) = e.event else {
        panic!("{e:?}")
    };
    assert_eq!(s.to_status, TaskStatus::Cancelled as i32);
    assert_eq!(s.reason, "stuck: no status change for 1h in status running");
    assert_eq!(k.tasks.cx.stats.snapshot().tasks_expired, 1);

    let cancelled_at = Instant::now();
    let e = watcher.event().await;
    let Some(task_event::Event::Progress(p)) = e.event else {
        panic!("{e:?}")
    };
    assert_eq!(p.state, "purged");
    assert_eq!(ms(cancelled_at.elapsed()), 86_400_000);
    assert!(k.get("t").is_none());
    let stats = k.tasks.cx.stats.snapshot();
    assert_eq!(stats.tasks_purged, 1);
    assert_eq!(stats.task_timers_pending, 0);
}

#[tokio::test(start_paused = true)]
async fn completion_events_reach_the_workflow_engine_for_final_statuses_only() {
    let k = kit(Limits::default());
    let mut w = k.connect(consumer("c"), None).await;
    let events = || {
        k.tasks
            .cx
            .mailboxes
            .get(EVENT_RECEIVER)
            .map_or(0, |m| m.len())
    };
    let ce = |statuses: Vec<i32>| {
        Some(TaskCompletionEvent {
            enabled: true,
            event_name: String::new(),
            on_statuses: statuses,
        })
    };
    k.offer(TaskRecord {
        completion_event: ce(vec![]),
        retry_policy: Some(policy(BackoffStrategy::Fixed, 10)),
        max_attempts: 3,
        ..pool_task("t", &k)
    })
    .await;
    w.assignment().await;
    claim_and_fail(&k, &w, "t", &[]);
    assert_eq!(events(), 0, "a failed attempt is not the end");
    w.assignment().await;
    assert!(k.op(&w, OpType::Claim, "t", "", None).success);
    assert!(k.op(&w, OpType::Complete, "t", "", None).success);
    assert_eq!(events(), 1);
    assert_eq!(k.tasks.cx.stats.snapshot().task_completion_events, 1);

    // Only the selected statuses publish.
    k.offer(TaskRecord {
        completion_event: ce(vec![TaskStatus::Failed as i32]),
        ..pool_task("u", &k)
    })
    .await;
    w.assignment().await;
    assert!(k.op(&w, OpType::Cancel, "u", "", None).success);
    assert_eq!(events(), 1);
}
