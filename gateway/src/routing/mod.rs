//! Routing of `SendMessage` (§2.3 pipeline, §2.4 matrix, §2.5 envelope,
//! §2.6 fan-out).
//!
//! After the principal-type matrix, the sender needs READ_WRITE on the
//! workspace of the target (`authz`): its own always, another one by a
//! rule or fallback policy (superadmin sessions: always). Targets without
//! a workspace (user sessions and broadcasts, services, bridges, the
//! receivers) need nothing more.
//!
//! Identity topics (`ag tu ta us sv br` and the receiver topics) deliver to
//! the identity's mailbox, online or not; a full mailbox refuses the
//! message (`ERR_MAILBOX_FULL`), and a topic no principal could ever
//! connect as is refused (`ERR_INVALID_TOPIC`). Broadcast lanes (`ga tb gu
//! uw uu`) are live-only: each connected subscriber gets a copy in its own
//! mailbox, and the sender is told how many full mailboxes refused theirs.
//! `pg::` (progress travels as `ProgressReport`) and `tk::` (task lanes are
//! not implemented) have no receivers and are refused.
//! A message to an `ag::` or `tu::` identity nobody reads is reported back
//! ([`Routed::offline_target`]), so the session can have the agent started
//! (§5.5).

pub(crate) mod authorization;
pub(crate) mod decisions;
mod metric;
mod permissions;
mod target;

use aether_protocol::identity::{PrincipalKind, Topic, TopicPrefix};
use aether_protocol::proto::MessageType;
use aether_protocol::shared::{SharedIncoming, SharedSend, SharedStr};

use std::sync::Arc;

use crate::authz::{Actor, PrincipalId};
use crate::context::Context;
use crate::mailbox::{Fullness, Mailbox, Offer, RecentMailbox};
use crate::rate::TokenBucket;
use crate::reply::{ErrorReply, code};
use crate::stats::{Reason, Stats};

/// Who is sending, as routing needs it.
pub(crate) struct Sender<'a> {
    /// The live sessions, mailboxes and limits.
    pub(crate) cx: &'a Context,
    pub(crate) kind: PrincipalKind,
    /// `IncomingMessage.source_topic` for this sender.
    pub(crate) source_topic: &'a SharedStr,
    /// The sender's current workspace (empty for workspace-less principals).
    pub(crate) workspace: &'a SharedStr,
    /// The sender as the authorization engine sees it (the subject,
    /// capped, when it acts on behalf of one).
    pub(crate) actor: Actor<'a>,
    /// The subject it acts for under an authority grant, stamped on the
    /// delivered message.
    pub(crate) on_behalf_of: Option<&'a PrincipalId>,
}

/// What a session's sends reuse from the last one: the decision to allow
/// its workspace, and the mailbox it went to.
#[derive(Default)]
pub(crate) struct Recent {
    pub(crate) decisions: decisions::SendDecisions,
    pub(crate) mailbox: RecentMailbox,
}

/// What became of an accepted message.
#[derive(Default)]
pub(crate) struct Routed {
    /// The receiver's mailbox, when the sender should pace for it
    /// ([`Mailbox::pace`]), and the target topic as the sender wrote it.
    pub(crate) congested: Option<(Arc<Mailbox>, String)>,
    /// The target, when it is an agent or unique task identity whose
    /// mailbox nobody reads (its owner is offline).
    pub(crate) offline_target: Option<String>,
}

/// Runs the send pipeline; `Ok` means accepted (delivery is silent).
/// Refusals are counted (`send_errors`, and by reason).
pub(crate) fn route(
    sender: &Sender<'_>,
    rate: Option<&mut TokenBucket>,
    cache: &mut Recent,
    send: SharedSend,
) -> Result<Routed, ErrorReply> {
    let routed = pipeline(sender, rate, cache, send);
    if let Err(e) = &routed {
        let stats = &sender.cx.stats;
        Stats::bump(&stats.send_errors);
        // Full mailboxes are counted where they refuse (once per mailbox).
        if e.code != code::MAILBOX_FULL {
            stats.refuse(Reason::of_code(e.code), 1);
        }
    }
    routed
}

fn pipeline(
    sender: &Sender<'_>,
    rate: Option<&mut TokenBucket>,
    cache: &mut Recent,
    send: SharedSend,
) -> Result<Routed, ErrorReply> {
    let cx = sender.cx;
    let sender_workspace = sender.workspace.as_str();
    let target = target::parse(&send.target_topic)?;
    let fan_in = target::fan_in(&target, sender_workspace);
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
    if let Some(ws) = target::workspace(&target, fan_in.as_ref())
        && !cache.decisions.allows(cx, &sender.actor, ws)
    {
        return Err(ErrorReply::new(
            code::PERMISSION_DENIED,
            format!("not authorized to send to workspace {ws}"),
        ));
    }
    if negative {
        return Err(metric::negative_forbidden());
    }
    // The first of: the app workspace, the one the fan-in topic names,
    // the sender's (shared, not copied: the common case).
    let declared = fan_in.as_ref().and_then(|f| f.declared_workspace);
    let workspace = if !send.app_workspace.is_empty() {
        send.app_workspace
    } else if let Some(ws) = declared.filter(|ws| !ws.is_empty()) {
        SharedStr::from(ws)
    } else {
        sender.workspace.clone()
    };
    let destination: &str = match (&fan_in, &service_instance) {
        (Some(f), _) => f.receiver,
        (None, Some(instance)) => instance,
        (None, None) => target.topic,
    };
    let msg = SharedIncoming {
        source_topic: sender.source_topic.clone(),
        payload: send.payload,
        message_type: send.message_type,
        workspace,
        on_behalf_subject: sender.on_behalf_of.map(|p| Box::new(p.to_ref())),
        ..Default::default()
    };
    let wakes = matches!(target.prefix, TopicPrefix::Agent | TopicPrefix::UniqueTask);
    match deliver(cx, &mut cache.mailbox, target.prefix, destination, msg) {
        Delivered::To { pace, offline } => {
            cx.stats.messages_routed.bump();
            Ok(Routed {
                congested: pace.map(|mailbox| (mailbox, send.target_topic.to_string())),
                offline_target: (offline && wakes).then(|| destination.to_string()),
            })
        }
        Delivered::Nobody => {
            cx.stats.messages_routed.bump();
            Stats::bump(&cx.stats.messages_unroutable);
            Ok(Routed::default())
        }
        Delivered::Refused(e) => Err(e),
    }
}

/// What became of a message.
enum Delivered {
    /// Queued for every receiver; with the mailbox to pace for, if any, and
    /// whether the one receiver's mailbox has no reader.
    To {
        pace: Option<Arc<Mailbox>>,
        offline: bool,
    },
    /// A live lane nobody is subscribed to right now.
    Nobody,
    /// Refused (in part, for a broadcast): the sender is told.
    Refused(ErrorReply),
}

/// Whether `topic` is a well-formed identity topic of `prefix`, i.e. one a
/// principal could ever connect as (checked only when a mailbox is created).
fn is_identity_topic(prefix: TopicPrefix, topic: &str) -> bool {
    topic.parse::<Topic>().is_ok_and(|t| t.prefix() == prefix)
}

/// The refusal of a message to `topic`, whose mailbox is full.
fn mailbox_full(topic: &str, f: &Fullness) -> ErrorReply {
    ErrorReply::new(
        code::MAILBOX_FULL,
        format!(
            "mailbox of {topic} is full ({} of {} messages, {} of {} bytes): message refused",
            f.messages, f.max_messages, f.bytes, f.max_bytes
        ),
    )
    // Soon when its owner is reading; later when it is not.
    .retryable(if f.draining { 100 } else { 1000 })
}

/// Hands `msg` to every receiver of `topic`.
fn deliver(
    cx: &Context,
    recent: &mut RecentMailbox,
    prefix: TopicPrefix,
    topic: &str,
    msg: SharedIncoming,
) -> Delivered {
    use TopicPrefix as T;
    let offer = |mailbox: &Arc<Mailbox>, msg| match mailbox.offer(msg, &cx.stats) {
        Offer::Accepted { pace, offline } => Delivered::To {
            pace: pace.then(|| mailbox.clone()),
            offline,
        },
        Offer::Full(f) => {
            cx.stats.refuse(Reason::MailboxFull, 1);
            Delivered::Refused(mailbox_full(topic, &f))
        }
    };
    match prefix {
        T::Event | T::Metric => offer(&cx.mailboxes.get_or_create(topic), msg),
        T::Agent | T::UniqueTask | T::PooledTask | T::UserSession | T::Service | T::Bridge => {
            if let Some(mailbox) = recent.get(&cx.mailboxes, topic) {
                offer(mailbox, msg)
            } else if is_identity_topic(prefix, topic) {
                offer(&cx.mailboxes.get_or_create(topic), msg)
            } else {
                Delivered::Refused(ErrorReply::new(
                    code::INVALID_TOPIC,
                    format!(
                        "invalid target topic: {topic} is not a well-formed {} topic; \
                         no principal can receive on it",
                        prefix.as_str()
                    ),
                ))
            }
        }
        T::AgentBroadcast
        | T::TaskBroadcast
        | T::WorkspaceUsers
        | T::UserWorkspace
        | T::UserBroadcast => {
            let (mut reached, mut full) = (0usize, 0usize);
            let subscribers =
                cx.for_each_subscriber(topic, |mb| match mb.offer(msg.clone(), &cx.stats) {
                    Offer::Accepted { .. } => reached += 1,
                    Offer::Full(_) => full += 1,
                });
            if full > 0 {
                cx.stats.refuse(Reason::MailboxFull, full as u64);
                Delivered::Refused(
                    ErrorReply::new(
                        code::MAILBOX_FULL,
                        format!(
                            "{topic}: {full} of {subscribers} subscribers refused the message \
                             (their mailboxes are full); {reached} received it"
                        ),
                    )
                    .retryable(100),
                )
            } else if subscribers == 0 {
                Delivered::Nobody
            } else {
                Delivered::To {
                    pace: None,
                    offline: false,
                }
            }
        }
        T::Progress => Delivered::Refused(ErrorReply::new(
            code::INVALID_TOPIC,
            format!(
                "invalid target topic: {topic}: progress travels as ProgressReport, not SendMessage"
            ),
        )),
        T::Task => Delivered::Refused(ErrorReply::new(
            code::NOT_IMPLEMENTED,
            format!(
                "{topic}: task lanes (tk::) are not implemented by this gateway; nobody can receive on them"
            ),
        )),
        _ => Delivered::Refused(ErrorReply::new(
            code::INVALID_TOPIC,
            format!("invalid target topic: nobody can receive on {topic}"),
        )),
    }
}
