//! Completion events (§5.9, "feed B"): when a task created with
//! `completion_event.enabled` finishes with a selected status, the workflow
//! engine hears of it.
//!
//! The event is a normal EVENT message (as 5.9 recommends; upstream
//! publishes the bare JSON): `IncomingMessage{source_topic:
//! "aether-gateway", message_type: EVENT, workspace: <the task's>}` put
//! into the `event::receiver0` mailbox, so it waits (durably, with a data
//! directory) for an engine that is not connected. The payload is
//! upstream's JSON `EventPayload`:
//! `{"source_agent":"orchestrator","workspace":…,"event_names":[…],
//! "data":{"task_id","status","task_type","correlation_id","root_task_id",
//! "metadata"}}`, plus `"error"` for a task that did not complete and has
//! one (a completed task may keep an earlier attempt's). The event name is
//! `completion_event.event_name`, else `task.<status>`.
//!
//! Choices: `on_statuses` empty selects every final status, REJECTED
//! included (upstream: completed, failed, cancelled), so a join waiting on
//! a task always hears how it ended; a failed attempt that will be retried
//! is not final and publishes nothing (upstream publishes `failed` for
//! every attempt). The message is queued while the task lock is held,
//! before the status change is submitted to the journal, so once the
//! change is durable the event is too.

use std::collections::BTreeMap;

use aether_protocol::proto::{MessageType, TaskStatus};
use aether_protocol::shared::{SharedIncoming, SharedStr};

use super::Txn;
use super::model::{Status, TaskRecord};
use crate::json::quote;
use crate::mailbox::Offer;
use crate::stats::{Reason, Stats};

/// Where completion events go: the workflow engine's fan-in topic.
pub(crate) const EVENT_RECEIVER: &str = "event::receiver0";
/// `IncomingMessage.source_topic` of the gateway's own events.
pub(crate) const SOURCE: &str = "aether-gateway";

/// The status word of a final status.
fn status_word(to: Status) -> &'static str {
    match to.wire() {
        TaskStatus::Completed => "completed",
        TaskStatus::Cancelled => "cancelled",
        TaskStatus::Rejected => "rejected",
        _ => "failed",
    }
}

/// The JSON payload of the completion event of `r`, named `name`.
pub(crate) fn payload(r: &TaskRecord, status: &str, name: &str) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"source_agent\":\"orchestrator\",\"workspace\":");
    quote(&mut out, &r.workspace);
    out.push_str(",\"event_names\":[");
    quote(&mut out, name);
    out.push_str("],\"data\":{\"task_id\":");
    quote(&mut out, &r.id);
    out.push_str(",\"status\":");
    quote(&mut out, status);
    out.push_str(",\"task_type\":");
    quote(&mut out, &r.task_type);
    out.push_str(",\"correlation_id\":");
    quote(&mut out, &r.correlation_id);
    out.push_str(",\"root_task_id\":");
    let root = if r.root_task_id.is_empty() {
        &r.id
    } else {
        &r.root_task_id
    };
    quote(&mut out, root);
    if !r.error.is_empty() && status != "completed" {
        out.push_str(",\"error\":");
        quote(&mut out, &r.error);
    }
    out.push_str(",\"metadata\":{");
    let sorted: BTreeMap<&String, &String> = r.metadata.iter().collect();
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        quote(&mut out, k);
        out.push(':');
        quote(&mut out, v);
    }
    out.push_str("}}}");
    out
}

impl Txn<'_> {
    /// Publishes the completion event of `r`, which just reached final
    /// status `to`, if it asked for one with that status.
    pub(super) fn completion_event(&mut self, r: &TaskRecord, to: Status) {
        let Some(ce) = r.completion_event.as_ref().filter(|c| c.enabled) else {
            return;
        };
        let wire = to.wire() as i32;
        let selected = if ce.on_statuses.is_empty() {
            to.is_terminal()
        } else {
            ce.on_statuses.contains(&wire)
        };
        if !selected {
            return;
        }
        let status = status_word(to);
        let name = if ce.event_name.is_empty() {
            format!("task.{status}")
        } else {
            ce.event_name.clone()
        };
        let msg = SharedIncoming {
            source_topic: SharedStr::from_static(SOURCE),
            payload: payload(r, status, &name).into_bytes().into(),
            message_type: MessageType::Event as i32,
            workspace: r.workspace.as_str().into(),
            ..Default::default()
        };
        let stats = &self.cx.stats;
        let offer = self
            .cx
            .mailboxes
            .get_or_create(EVENT_RECEIVER)
            .offer(msg, stats);
        if let Offer::Full(full) = offer {
            // Nobody sent it to be told: the refusal is counted and logged.
            stats.refuse(Reason::MailboxFull, 1);
            tracing::warn!(
                task = %r.id,
                event = %name,
                messages = full.messages,
                bytes = full.bytes,
                "completion event refused: the workflow engine's mailbox is full"
            );
            return;
        }
        stats.messages_routed.bump();
        Stats::bump(&stats.task_completion_events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_upstreams_event_payload() {
        let mut r = TaskRecord {
            id: "t1".into(),
            workspace: "w".into(),
            task_type: "job".into(),
            correlation_id: "c\"1".into(),
            ..Default::default()
        };
        r.metadata.insert("b".into(), "2\n".into());
        r.metadata.insert("a".into(), "1".into());
        assert_eq!(
            payload(&r, "completed", "task.completed"),
            "{\"source_agent\":\"orchestrator\",\"workspace\":\"w\",\
             \"event_names\":[\"task.completed\"],\"data\":{\"task_id\":\"t1\",\
             \"status\":\"completed\",\"task_type\":\"job\",\"correlation_id\":\"c\\\"1\",\
             \"root_task_id\":\"t1\",\"metadata\":{\"a\":\"1\",\"b\":\"2\\n\"}}}"
        );
        r.error = "bad\u{1}".into();
        assert!(payload(&r, "failed", "x").contains("\"error\":\"bad\\u0001\""));
        assert!(!payload(&r, "completed", "x").contains("error"));
    }

    #[test]
    fn status_words() {
        assert_eq!(status_word(Status::Dlq), "failed");
        assert_eq!(status_word(Status::Rejected), "rejected");
        assert_eq!(status_word(Status::Cancelled), "cancelled");
    }
}
