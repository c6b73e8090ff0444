//! Pushes about grants and requests to the live sessions they concern.

use aether_protocol::proto::{
    AclAuthorityGrantInfo, AuthorityGrantRevocation, AuthorityRequest, AuthorityRequestEvent,
    PrincipalRef, authority_request_event::EventType, downstream_message::Payload,
};

use crate::answer::frame;
use crate::authz::principal::PrincipalId;
use crate::context::Context;

/// Pushes `payload` to every live session of a principal in `whom`
/// (each session once).
fn push_to(cx: &Context, whom: &[&PrincipalRef], payload: &Payload) {
    let whom: Vec<PrincipalId> = whom
        .iter()
        .filter_map(|r| PrincipalId::parse(r).ok())
        .collect();
    if whom.is_empty() {
        return;
    }
    for s in cx.sessions() {
        if whom.contains(&s.acl) {
            s.pusher.push(frame(payload.clone()));
        }
    }
}

/// Tells the delegate and the subject of each revoked grant.
pub(crate) fn revoked(cx: &Context, grants: &[AclAuthorityGrantInfo], reason: &str, cascade: bool) {
    for g in grants {
        let payload = Payload::AuthorityGrantRevocation(Box::new(AuthorityGrantRevocation {
            grant_id: g.grant_id.clone(),
            root_grant_id: g.root_grant_id.clone(),
            reason: reason.to_string(),
            revoked_at: g.revoked_at,
            cascade,
        }));
        let whom: Vec<&PrincipalRef> = [g.delegate.as_ref(), g.subject.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        push_to(cx, &whom, &payload);
    }
}

/// Tells the parties of `r` (its requester, its subject, the principal
/// it is routed to) that it changed.
pub(crate) fn request_event(cx: &Context, r: &AuthorityRequest, event: EventType) {
    let payload = Payload::AuthorityRequestEvent(Box::new(AuthorityRequestEvent {
        event_type: event as i32,
        request: Some(r.clone()),
        emitted_at: crate::authz::grants::now_ms(),
    }));
    let routed = r.routing_target.as_ref().and_then(|t| t.principal.as_ref());
    let whom: Vec<&PrincipalRef> = [
        r.requesting_actor.as_ref(),
        r.target_subject.as_ref(),
        routed,
    ]
    .into_iter()
    .flatten()
    .collect();
    push_to(cx, &whom, &payload);
}
