//! Target topic validation (§2.1) and the event/metric fan-in rewrite (§2.3
//! step 2), without allocating on the common path.

use aether_protocol::identity::{
    EVENT_RECEIVER_TOPIC, MAX_TOPIC_BYTES, METRIC_RECEIVER_TOPIC, TopicPrefix,
};

use crate::reply::{ErrorReply, code};

/// A validated target: its prefix and the text after `prefix::`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    pub(crate) prefix: TopicPrefix,
    pub(crate) topic: &'a str,
    pub(crate) rest: &'a str,
}

/// Checks the length and prefix of a send target, as the gateway does on a
/// send (segment counts are not checked).
pub(crate) fn parse(topic: &str) -> Result<Target<'_>, ErrorReply> {
    if topic.is_empty() || topic.len() > MAX_TOPIC_BYTES {
        return Err(ErrorReply::new(
            code::INVALID_TOPIC,
            "topic length must be 1-256 characters",
        ));
    }
    let invalid = || {
        ErrorReply::new(
            code::INVALID_TOPIC,
            "invalid target topic: invalid topic prefix",
        )
    };
    // The prefix is short: a byte scan beats a substring searcher here.
    let at = topic
        .as_bytes()
        .windows(2)
        .position(|w| w == b"::")
        .ok_or_else(invalid)?;
    let (head, rest) = (&topic[..at], &topic[at + 2..]);
    let prefix = TopicPrefix::parse(head).ok_or_else(invalid)?;
    Ok(Target {
        prefix,
        topic,
        rest,
    })
}

/// Where an event or metric goes after the fan-in rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FanIn<'a> {
    /// `event::receiver0` or `metric::receiver0`.
    pub(crate) receiver: &'static str,
    /// The declared workspace (`None` when the target named a receiver).
    pub(crate) declared_workspace: Option<&'a str>,
}

/// Rewrites `event::…` / `metric::…` to the single receiver topic. The
/// declared workspace is the second segment, or `sender_workspace` when it
/// is `*` or empty. Targets already naming a receiver (`…::receiver*`) go
/// to receiver 0, the only shard of a single process.
pub(crate) fn fan_in<'a>(target: &Target<'a>, sender_workspace: &'a str) -> Option<FanIn<'a>> {
    let receiver = match target.prefix {
        TopicPrefix::Event => EVENT_RECEIVER_TOPIC,
        TopicPrefix::Metric => METRIC_RECEIVER_TOPIC,
        _ => return None,
    };
    let segment = target.rest.split("::").next().unwrap_or_default();
    let declared_workspace = if segment.starts_with("receiver") {
        None
    } else if segment.is_empty() || segment == "*" {
        Some(sender_workspace)
    } else {
        Some(segment)
    };
    Some(FanIn {
        receiver,
        declared_workspace,
    })
}

/// The workspace a target lives in, for the workspace access check:
/// agents, tasks and the workspace broadcasts name it first, `uw::` names
/// it second, events and metrics declare it (`fan_in`); user sessions,
/// user broadcasts, services, bridges and the receivers have none.
pub(crate) fn workspace<'a>(target: &Target<'a>, fan_in: Option<&FanIn<'a>>) -> Option<&'a str> {
    use TopicPrefix as T;
    let ws = match target.prefix {
        T::Agent
        | T::UniqueTask
        | T::PooledTask
        | T::TaskBroadcast
        | T::AgentBroadcast
        | T::WorkspaceUsers => Some(segment(target.rest, 0)),
        T::UserWorkspace => Some(segment(target.rest, 1)),
        T::Event | T::Metric => fan_in.and_then(|f| f.declared_workspace),
        _ => None,
    };
    ws.filter(|w| !w.is_empty())
}

/// The `n`th `::`-separated segment of `rest` (empty past the last): a
/// byte scan, as this runs on every send.
fn segment(rest: &str, n: usize) -> &str {
    let bytes = rest.as_bytes();
    let (mut start, mut index, mut i) = (0, 0, 0);
    while i + 1 < bytes.len() {
        if bytes[i] == b':' && bytes[i + 1] == b':' {
            if index == n {
                return &rest[start..i];
            }
            index += 1;
            i += 2;
            start = i;
        } else {
            i += 1;
        }
    }
    if index == n { &rest[start..] } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_split_like_str_split() {
        for rest in [
            "", "a", "a::b", "a::b::c", "::b", "a::", "a:b::c", "a:::b", "::::",
        ] {
            let want: Vec<&str> = rest.split("::").collect();
            for n in 0..5 {
                assert_eq!(
                    segment(rest, n),
                    want.get(n).copied().unwrap_or(""),
                    "{rest:?} {n}"
                );
            }
        }
    }

    #[test]
    fn workspaces_of_targets() {
        let ws = |t: &str, sender: &str| {
            let target = parse(t).unwrap();
            let f = fan_in(&target, sender);
            workspace(&target, f.as_ref()).map(str::to_string)
        };
        assert_eq!(ws("ag::w::i::s", "x").as_deref(), Some("w"));
        assert_eq!(ws("ta::w::i::", "x").as_deref(), Some("w"));
        assert_eq!(ws("ga::w", "x").as_deref(), Some("w"));
        assert_eq!(ws("uw::alice::w", "x").as_deref(), Some("w"));
        assert_eq!(ws("event::*", "mine").as_deref(), Some("mine"));
        assert_eq!(ws("metric::other", "mine").as_deref(), Some("other"));
        assert_eq!(ws("event::receiver0", "mine"), None);
        assert_eq!(ws("us::alice::tab", "x"), None);
        assert_eq!(ws("sv::i::s", "x"), None);
        assert_eq!(ws("ag::", "x"), None);
    }

    #[test]
    fn validates_length_and_prefix() {
        assert!(parse("ag::w::i::s").is_ok());
        assert!(parse("ag::w").is_ok());
        let msg = |t: &str| parse(t).unwrap_err().message;
        assert_eq!(msg(""), "topic length must be 1-256 characters");
        assert_eq!(
            msg(&"a".repeat(257)),
            "topic length must be 1-256 characters"
        );
        assert_eq!(msg("zz::x"), "invalid target topic: invalid topic prefix");
        assert_eq!(msg("ag"), "invalid target topic: invalid topic prefix");
        assert_eq!(msg("::x"), "invalid target topic: invalid topic prefix");
    }

    #[test]
    fn fan_in_rewrites_events_and_metrics() {
        let t = parse("event::*").unwrap();
        assert_eq!(
            fan_in(&t, "mine"),
            Some(FanIn {
                receiver: "event::receiver0",
                declared_workspace: Some("mine")
            })
        );
        let t = parse("metric::other").unwrap();
        let f = fan_in(&t, "mine").unwrap();
        assert_eq!(f.receiver, "metric::receiver0");
        assert_eq!(f.declared_workspace, Some("other"));
        let t = parse("event::receiver0").unwrap();
        assert_eq!(fan_in(&t, "mine").unwrap().declared_workspace, None);
        assert!(fan_in(&parse("ag::w::i::s").unwrap(), "w").is_none());
    }
}
