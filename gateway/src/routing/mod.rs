//! Routing of `SendMessage` (§2.3 pipeline, §2.4 matrix, §2.5 envelope,
//! §2.6 fan-out).
//!
//! Identity topics (`ag tu ta us sv br` and the receiver topics) deliver to
//! the identity's mailbox, online or not. Broadcast lanes (`ga tb gu uw
//! uu`) are live-only: each connected subscriber gets a copy in its own
//! mailbox. `pg::` and `tk::` have no subscribers yet and are dropped.
//! A message to an `ag::` or `tu::` identity nobody reads is reported back
//! ([`Routed::offline_target`]), so the session can have the agent started
//! (§5.5).

pub(crate) mod authorization;
mod metric;
mod permissions;
mod target;

use aether_protocol::identity::{PrincipalKind, Topic, TopicPrefix};
use aether_protocol::proto::{IncomingMessage, MessageType, SendMessage};

use std::sync::Arc;

use crate::context::Context;
use crate::mailbox::Mailbox;
use crate::rate::TokenBucket;
use crate::reply::{ErrorReply, code};
use crate::stats::Stats;

/// Who is sending, as routing needs it.
pub(crate) struct Sender<'a> {
    /// The live sessions, mailboxes and limits.
    pub(crate) cx: &'a Context,
    pub(crate) kind: PrincipalKind,
    /// `IncomingMessage.source_topic` for this sender.
    pub(crate) source_topic: &'a str,
    /// The sender's current workspace (empty for workspace-less principals).
    pub(crate) workspace: &'a str,
}

fn first_non_empty(candidates: [&str; 3]) -> &str {
    candidates
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

/// What became of an accepted message.
#[derive(Default)]
pub(crate) struct Routed {
    /// The receiver's mailbox, when it is congested: the sending session
    /// waits for it to drain before reading more.
    pub(crate) congested: Option<Arc<Mailbox>>,
    /// The target, when it is an agent or unique task identity whose
    /// mailbox nobody reads (its owner is offline).
    pub(crate) offline_target: Option<String>,
}

/// Runs the send pipeline; `Ok` means accepted (delivery is silent).
pub(crate) fn route(
    sender: &Sender<'_>,
    rate: Option<&mut TokenBucket>,
    send: SendMessage,
) -> Result<Routed, ErrorReply> {
    let cx = sender.cx;
    let target = target::parse(&send.target_topic)?;
    let fan_in = target::fan_in(&target, sender.workspace);
    let mut service_instance = None;
    if target.prefix == TopicPrefix::Service && !target.rest.contains("::") {
        service_instance = Some(cx.pick_service(target.rest).ok_or_else(|| {
            ErrorReply::new(
                code::SV_UNAVAILABLE,
                format!("no connected instance of service {}", target.rest),
            )
            .retryable(0)
        })?);
    }
    let max = cx.config.limits.max_payload_bytes;
    if send.payload.len() > max {
        return Err(ErrorReply::new(
            code::PAYLOAD_TOO_LARGE,
            format!(
                "payload is {} bytes; the limit is {max} bytes",
                send.payload.len()
            ),
        ));
    }
    if let Some(bucket) = rate
        && !bucket.try_take()
    {
        return Err(ErrorReply::new(code::RATE_LIMITED, "rate limit exceeded")
            .retryable(bucket.retry_after_ms()));
    }
    if !permissions::allowed(sender.kind, target.prefix) {
        return Err(ErrorReply::new(
            code::PERMISSION_DENIED,
            format!("not authorized to send to topic {}", send.target_topic),
        ));
    }
    let negative =
        send.message_type == MessageType::Metric as i32 && metric::validate(&send.payload)?;
    authorization::check(send.authorization.as_deref())?;
    if negative {
        return Err(metric::negative_forbidden());
    }
    let workspace = first_non_empty([
        send.app_workspace.as_str(),
        fan_in
            .as_ref()
            .and_then(|f| f.declared_workspace)
            .unwrap_or_default(),
        sender.workspace,
    ]);
    let destination: &str = match (&fan_in, &service_instance) {
        (Some(f), _) => f.receiver,
        (None, Some(instance)) => instance,
        (None, None) => target.topic,
    };
    let msg = IncomingMessage {
        source_topic: sender.source_topic.to_string(),
        payload: send.payload,
        message_type: send.message_type,
        workspace: workspace.to_string(),
        ..Default::default()
    };
    Stats::bump(&cx.stats.messages_routed);
    let (delivered, congested, offline) = deliver(cx, target.prefix, destination, msg);
    if delivered == 0 {
        Stats::bump(&cx.stats.messages_unroutable);
    }
    let wakes = matches!(target.prefix, TopicPrefix::Agent | TopicPrefix::UniqueTask);
    Ok(Routed {
        congested,
        offline_target: (offline && wakes).then(|| destination.to_string()),
    })
}

/// Whether `topic` is a well-formed identity topic of `prefix`, i.e. one a
/// principal could ever connect as (checked only when a mailbox is created).
fn is_identity_topic(prefix: TopicPrefix, topic: &str) -> bool {
    topic.parse::<Topic>().is_ok_and(|t| t.prefix() == prefix)
}

/// Hands `msg` to every receiver of `topic`; returns how many there were,
/// the receiver's mailbox if it is now congested, and whether the one
/// receiver's mailbox has no reader.
fn deliver(
    cx: &Context,
    prefix: TopicPrefix,
    topic: &str,
    msg: IncomingMessage,
) -> (usize, Option<Arc<Mailbox>>, bool) {
    use TopicPrefix as T;
    let congested = |mb: Arc<Mailbox>| mb.congested().then_some(mb);
    match prefix {
        T::Event | T::Metric => {
            let mailbox = cx.mailboxes.get_or_create(topic);
            let offline = mailbox.push(msg, &cx.stats);
            (1, congested(mailbox), offline)
        }
        T::Agent | T::UniqueTask | T::PooledTask | T::UserSession | T::Service | T::Bridge => {
            let mailbox = match cx.mailboxes.get(topic) {
                Some(m) => m,
                None if is_identity_topic(prefix, topic) => cx.mailboxes.get_or_create(topic),
                None => return (0, None, false),
            };
            let offline = mailbox.push(msg, &cx.stats);
            (1, congested(mailbox), offline)
        }
        T::AgentBroadcast
        | T::TaskBroadcast
        | T::WorkspaceUsers
        | T::UserWorkspace
        | T::UserBroadcast => (
            cx.for_each_subscriber(topic, |mb| {
                mb.push(msg.clone(), &cx.stats);
            }),
            None,
            false,
        ),
        _ => (0, None, false),
    }
}
