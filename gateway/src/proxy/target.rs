//! Target resolution (§8.1): which live session a request or tunnel goes
//! to.
//!
//! A bare `sv::{impl}` goes to the connected instance of that service with
//! the fewest flows in flight (ties take turns). Any other topic names one
//! identity: it must be connected now, or the caller is refused at once
//! (upstream would park the frame in the mailbox and let the caller wait
//! for its own timeout). A session is a target only once its handshake is
//! over (its lane is open).

use std::sync::Arc;

use aether_protocol::identity::{
    EVENT_RECEIVER_TOPIC, METRIC_RECEIVER_TOPIC, METRICS_BRIDGE_IDENTITY, WORKFLOW_ENGINE_IDENTITY,
};

use crate::context::Context;
use crate::context::handle::SessionHandle;

use super::table::Table;

/// The implementation of a bare `sv::{impl}` topic.
fn any_service(topic: &str) -> Option<&str> {
    let implementation = topic.strip_prefix("sv::")?;
    (!implementation.is_empty() && !implementation.contains("::")).then_some(implementation)
}

/// The live session `topic` names, or why there is none.
pub(super) fn resolve(
    cx: &Context,
    table: &mut Table,
    topic: &str,
) -> Result<Arc<SessionHandle>, String> {
    if let Some(implementation) = any_service(topic) {
        let instances: Vec<_> = cx
            .service_instances(implementation)
            .into_iter()
            .filter(|h| h.lane().is_open())
            .collect();
        if instances.is_empty() {
            return Err(format!("no connected {topic} instance"));
        }
        let turn = table.turn();
        let n = instances.len();
        return (0..n)
            .map(|k| &instances[(turn + k) % n])
            .min_by_key(|h| table.load(&h.session_id))
            .cloned()
            .ok_or_else(|| format!("no connected {topic} instance"));
    }
    let identity = match topic {
        EVENT_RECEIVER_TOPIC => WORKFLOW_ENGINE_IDENTITY,
        METRIC_RECEIVER_TOPIC => METRICS_BRIDGE_IDENTITY,
        t => t,
    };
    cx.session_by_identity(identity)
        .filter(|h| h.topic.as_deref() == Some(topic) && h.lane().is_open())
        .ok_or_else(|| format!("target {topic:?} is not connected"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_service_topic_is_a_wildcard() {
        assert_eq!(any_service("sv::web"), Some("web"));
        assert_eq!(any_service("sv::web::1"), None);
        assert_eq!(any_service("sv::web::"), None);
        assert_eq!(any_service("sv::"), None);
        assert_eq!(any_service("ag::w::i::s"), None);
    }
}
