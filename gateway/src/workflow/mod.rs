//! `workflow_op` relay (§6.6): the gateway runs no workflows; it forwards
//! each `WorkflowOperation` to the connected workflow engine and relays
//! the engine's `WorkflowResponse` back to the requester.
//!
//! Choices (upstream leaves them open or gets them wrong):
//! * The engine sees a gateway-assigned `request_id` (`wf-…`), mapped back
//!   to the requester's own id on the way back, so two requesters using
//!   the same id never receive each other's answers.
//! * `request_context` is stamped by the gateway (actor, its session, and
//!   for an on-behalf-of context the subject and grant once resolved),
//!   whatever the requester put there, so the engine can authorize the
//!   actor it is told about. A context that does not resolve is refused
//!   before anything is forwarded.
//! * Only the workflow engine's session answers; a `workflow_response`
//!   from anyone else, or for an unknown id, is dropped.
//! * Without an engine: `success:false, error:"workflow engine not
//!   connected"`. An operation unanswered after
//!   [`Limits::workflow_timeout`](crate::Limits) fails with `"workflow
//!   operation timed out"`. A requester that leaves loses its answers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aether_protocol::identity::WORKFLOW_ENGINE_IDENTITY;
use aether_protocol::proto::{
    WorkflowOperation, WorkflowRequestContext, WorkflowResponse, downstream_message::Payload,
};
use parking_lot::Mutex;

use crate::answer::frame;
use crate::authz::grants::obo;
use crate::context::Context;
use crate::context::handle::SessionHandle;
use crate::push::Pusher;

/// Most operations in flight at once (beyond it, new ones are refused).
const MAX_PENDING: usize = 10_000;

/// An operation waiting for the engine's answer.
struct Pending {
    requester: Pusher,
    /// The requester's own request id.
    request_id: String,
}

/// The operations in flight.
pub(crate) struct WorkflowRelay {
    pending: Mutex<HashMap<String, Pending>>,
    timeout: Duration,
}

fn failure(request_id: String, error: &str) -> WorkflowResponse {
    WorkflowResponse {
        success: false,
        error: error.to_string(),
        request_id,
        ..Default::default()
    }
}

impl WorkflowRelay {
    /// A relay whose operations time out after `timeout`.
    pub(crate) fn new(timeout: Duration) -> Arc<Self> {
        Arc::new(WorkflowRelay {
            pending: Mutex::new(HashMap::new()),
            timeout,
        })
    }

    /// Forwards `op` from `caller`; the reply to send back at once when it
    /// cannot be forwarded.
    pub(crate) fn forward(
        self: &Arc<Self>,
        cx: &Context,
        caller: &SessionHandle,
        mut op: WorkflowOperation,
    ) -> Option<WorkflowResponse> {
        let own_id = std::mem::take(&mut op.request_id);
        let on_behalf = match obo::resolve(&cx.authz, &caller.acl, op.authorization.as_ref()) {
            Ok(o) => o,
            Err(e) => return Some(failure(own_id, &e)),
        };
        let Some(engine) = cx.session_by_identity(WORKFLOW_ENGINE_IDENTITY) else {
            return Some(failure(own_id, "workflow engine not connected"));
        };
        let mut context = WorkflowRequestContext {
            actor: Some(caller.acl.to_ref()),
            actor_session_id: caller.session_id.clone(),
            ..Default::default()
        };
        if let Some(o) = &on_behalf {
            context.subject = Some(o.subject.to_ref());
            context.root_grant_id = o.root_grant_id.clone();
            context.source_grant_id = o.grant_id.clone();
            context.expires_at_ms = o.expires_at_ms;
        }
        op.request_context = Some(context);
        let wire_id = format!("wf-{}", uuid::Uuid::new_v4());
        {
            let mut pending = self.pending.lock();
            if pending.len() >= MAX_PENDING {
                return Some(failure(own_id, "too many workflow operations in flight"));
            }
            pending.insert(
                wire_id.clone(),
                Pending {
                    requester: caller.pusher.clone(),
                    request_id: own_id.clone(),
                },
            );
        }
        op.request_id = wire_id.clone();
        if !engine.pusher.push(frame(Payload::WorkflowOp(Box::new(op)))) {
            self.pending.lock().remove(&wire_id);
            return Some(failure(own_id, "workflow engine not connected"));
        }
        let relay = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(relay.timeout).await;
            relay.finish(&wire_id, |id| failure(id, "workflow operation timed out"));
        });
        None
    }

    /// Relays the engine's answer (from `from`; anyone else is ignored).
    pub(crate) fn answer(&self, from: &SessionHandle, resp: WorkflowResponse) {
        if from.identity != WORKFLOW_ENGINE_IDENTITY {
            tracing::debug!(identity = %from.identity, "workflow_response from a non-engine dropped");
            return;
        }
        let wire_id = resp.request_id.clone();
        self.finish(&wire_id, move |id| WorkflowResponse {
            request_id: id,
            ..resp
        });
    }

    /// Ends `wire_id` with the response `make` builds from the requester's id.
    fn finish(&self, wire_id: &str, make: impl FnOnce(String) -> WorkflowResponse) {
        let Some(p) = self.pending.lock().remove(wire_id) else {
            return;
        };
        let resp = make(p.request_id);
        p.requester
            .push(frame(Payload::WorkflowResponse(Box::new(resp))));
    }
}
