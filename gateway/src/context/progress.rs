//! The progress lanes (§2.10): which live sessions receive a
//! `ProgressUpdate`. `pg::{workspace}` reaches agents of the workspace and
//! users currently on it, `pg::us::{user}` every window of the user; per
//! subscriber an update is never echoed to its source, and when
//! `recipient` is set it goes only to that identity (or to every window of
//! a bare `us::{user}`). Task status notifications and the updates of
//! `ProgressReport`s (handled above the tasks component, in the `progress`
//! module) both come through here.

use aether_protocol::identity::{PrincipalKind, validate_segment};
use aether_protocol::proto::{DownstreamMessage, ProgressUpdate, downstream_message};

use super::Context;
use super::handle::SessionHandle;
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
pub(crate) fn deliver(cx: &Context, u: ProgressUpdate) -> usize {
    let Some(lane) = lane_of(&u) else {
        return 0;
    };
    let exact = !u.recipient.is_empty() && recipient_user(&u.recipient).is_none();
    let targets = if exact {
        cx.session_by_identity(&u.recipient).into_iter().collect()
    } else {
        cx.sessions()
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
