//! Progress (§2.10): `ProgressReport` from agents, tasks and services
//! becomes a `ProgressUpdate` on `pg::{workspace}` (agents of the workspace
//! and users currently on it) or `pg::us::{user}` (every window of the
//! user), filtered per subscriber: never echoed to its source, and when
//! `recipient` is set only to that identity (or to every window of a bare
//! `us::{user}`). A report naming a task also emits a `TaskEvent`
//! progress to the task's subscribers. There is no reply on success.

use aether_protocol::identity::{PrincipalKind, validate_segment};
use aether_protocol::proto::{
    DownstreamMessage, ProgressReport, ProgressUpdate, TaskProgressEvent, downstream_message,
    task_event,
};

use crate::hub::Hub;
use crate::rate::TokenBucket;
use crate::reply::{ErrorReply, code};
use crate::session::handle::SessionHandle;
use crate::tasks::Txn;

/// Where an update goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lane {
    /// `pg::{workspace}`.
    Workspace(String),
    /// `pg::us::{user}`.
    User(String),
}

/// The user a recipient names (`us::{uid}::{wid}` or bare `us::{uid}`).
fn recipient_user(recipient: &str) -> Option<&str> {
    let rest = recipient.strip_prefix("us::")?;
    let uid = rest.split("::").next()?;
    (!uid.is_empty()).then_some(uid)
}

/// Whether `s` subscribes to `lane`.
fn subscribed(s: &SessionHandle, lane: &Lane) -> bool {
    match lane {
        Lane::Workspace(ws) => match s.kind {
            PrincipalKind::Agent => s.principal.workspace() == Some(ws.as_str()),
            PrincipalKind::User => *s.workspace.lock() == *ws,
            _ => false,
        },
        Lane::User(uid) => s.user_id() == Some(uid.as_str()),
    }
}

/// Whether `s` receives `u` (no self-echo; recipient filter).
fn wanted(s: &SessionHandle, u: &ProgressUpdate) -> bool {
    let topic = s.topic.as_deref().unwrap_or(&s.identity);
    if u.source == topic {
        return false;
    }
    if u.recipient.is_empty() || u.recipient == topic {
        return true;
    }
    let bare_user = u.recipient.starts_with("us::") && u.recipient[4..].split("::").count() == 1;
    bare_user && recipient_user(&u.recipient).is_some_and(|uid| s.user_id() == Some(uid))
}

/// The lane of an update: a user recipient's lane, else its workspace's.
fn lane_of(u: &ProgressUpdate) -> Option<Lane> {
    if let Some(uid) = recipient_user(&u.recipient) {
        return Some(Lane::User(uid.to_string()));
    }
    (!u.workspace.is_empty() && validate_segment(&u.workspace).is_ok())
        .then(|| Lane::Workspace(u.workspace.clone()))
}

/// Pushes `u` to every session that receives it; returns how many.
pub(crate) fn deliver(hub: &Hub, u: ProgressUpdate) -> usize {
    let Some(lane) = lane_of(&u) else {
        return 0;
    };
    let exact = !u.recipient.is_empty() && recipient_user(&u.recipient).is_none();
    let targets = if exact {
        hub.session_by_identity(&u.recipient).into_iter().collect()
    } else {
        hub.sessions()
    };
    let msg = DownstreamMessage {
        payload: Some(downstream_message::Payload::ProgressUpdate(Box::new(u))),
        active_extensions: Vec::new(),
    };
    let Some(downstream_message::Payload::ProgressUpdate(u)) = &msg.payload else {
        return 0;
    };
    let mut n = 0;
    for s in targets {
        if subscribed(&s, &lane) && wanted(&s, u) && s.pusher.push(msg.clone()) {
            n += 1;
        }
    }
    n
}

/// Handles a `ProgressReport` from `sender` (on `workspace`), rate limited
/// with the session's message bucket.
pub(crate) async fn report(
    hub: &Hub,
    sender: &SessionHandle,
    workspace: &str,
    rate: Option<&mut TokenBucket>,
    r: ProgressReport,
) -> Result<(), ErrorReply> {
    if !matches!(
        sender.kind,
        PrincipalKind::Agent
            | PrincipalKind::UniqueTask
            | PrincipalKind::PooledTask
            | PrincipalKind::Service
    ) {
        return Err(ErrorReply::new(
            code::INVALID_PRINCIPAL,
            "only agents, tasks, and services can report progress",
        ));
    }
    if let Some(bucket) = rate
        && !bucket.try_take()
    {
        return Err(ErrorReply::new(code::RATE_LIMITED, "rate limit exceeded")
            .retryable(bucket.retry_after_ms()));
    }
    let now = crate::tasks::model::now_ms();
    let (ws, settle) = {
        let mut txn = Txn::begin(hub);
        let task = (!r.task_id.is_empty())
            .then(|| txn.get(&r.task_id))
            .flatten();
        let ws = if workspace.is_empty() {
            task.as_ref()
                .map(|t| t.workspace.clone())
                .unwrap_or_default()
        } else {
            workspace.to_string()
        };
        if let Some(t) = &task {
            txn.publish(
                t,
                task_event::Event::Progress(TaskProgressEvent {
                    state: r.state.clone(),
                    progress: r.completion,
                    message: r.summary.clone(),
                    metadata: r.metadata.clone(),
                }),
            );
        }
        (ws, txn.finish())
    };
    let update = ProgressUpdate {
        source: sender
            .topic
            .clone()
            .unwrap_or_else(|| sender.identity.clone()),
        task_id: r.task_id,
        state: r.state,
        completion: r.completion,
        summary: r.summary,
        step: r.step,
        timestamp_ms: now,
        workspace: ws,
        request_id: r.request_id,
        metadata: r.metadata,
        recipient: r.recipient,
        kind: r.kind,
    };
    // Task events change nothing durable: this resolves at once.
    let _ = settle.settle(hub).await;
    deliver(hub, update);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_and_recipients() {
        let u = |recipient: &str, ws: &str| ProgressUpdate {
            recipient: recipient.into(),
            workspace: ws.into(),
            ..Default::default()
        };
        assert_eq!(lane_of(&u("", "w")), Some(Lane::Workspace("w".into())));
        assert_eq!(lane_of(&u("us::bob", "w")), Some(Lane::User("bob".into())));
        assert_eq!(
            lane_of(&u("us::bob::win", "w")),
            Some(Lane::User("bob".into()))
        );
        assert_eq!(
            lane_of(&u("ag::w::i::s", "w")),
            Some(Lane::Workspace("w".into()))
        );
        assert_eq!(lane_of(&u("", "")), None);
        assert_eq!(lane_of(&u("", "bad::ws")), None);
        assert_eq!(recipient_user("us::"), None);
    }
}
