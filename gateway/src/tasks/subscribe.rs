//! `TaskSubscriptionOperation` (§5.9). The response and any replayed
//! events are pushed in order, under the task lock, so no live event can
//! overtake them.

use aether_protocol::proto::{
    DownstreamMessage, TaskSubscriptionOperation, TaskSubscriptionOperationResponse,
    downstream_message, task_subscription_operation::OpType,
};

use super::query::{NOT_FOUND, authorized};
use super::{Tasks, Txn};
use crate::authz::Level;
use crate::context::handle::SessionHandle;

/// Most descendants a recursive subscription watches.
const MAX_DESCENDANTS: usize = 256;

fn wrap(r: TaskSubscriptionOperationResponse) -> DownstreamMessage {
    DownstreamMessage {
        payload: Some(downstream_message::Payload::TaskSubscriptionResponse(
            Box::new(r),
        )),
        active_extensions: Vec::new(),
    }
}

/// Runs `op` for `caller` (on `caller_ws`); the reply goes out as a push.
pub(crate) fn task_subscription_op(
    tasks: &Tasks,
    caller: &SessionHandle,
    caller_ws: &str,
    op: TaskSubscriptionOperation,
) {
    let mut resp = TaskSubscriptionOperationResponse {
        client_request_id: op.client_request_id.clone(),
        task_id: op.task_id.clone(),
        ..Default::default()
    };
    let mut txn = Txn::begin(tasks);
    match OpType::try_from(op.op) {
        Ok(OpType::Subscribe) => {
            let task = (!op.task_id.is_empty())
                .then(|| txn.get(&op.task_id))
                .flatten()
                .filter(|r| authorized(&tasks.cx, caller, caller_ws, r, Level::READ));
            match task {
                None if op.task_id.is_empty() => resp.error = "task_id is required".into(),
                None => resp.error = NOT_FOUND.into(),
                Some(r) => {
                    let mut tasks = vec![r.id.clone()];
                    if op.recursive {
                        tasks.extend(txn.st.table.descendants(&r.id, MAX_DESCENDANTS));
                    }
                    let (id, replay) = txn.st.subs.subscribe(
                        &caller.session_id,
                        &caller.pusher,
                        tasks,
                        op.start_timestamp_unix_ms,
                    );
                    resp.success = true;
                    resp.subscription_id = id;
                    caller.pusher.push(wrap(resp));
                    for m in replay {
                        caller.pusher.push(m);
                    }
                    return;
                }
            }
        }
        Ok(OpType::Unsubscribe) => {
            if op.subscription_id.is_empty() {
                resp.error = "subscription_id is required".into();
            } else {
                txn.st
                    .subs
                    .unsubscribe(&caller.session_id, &op.subscription_id);
                resp.success = true;
                resp.subscription_id = op.subscription_id.clone();
            }
        }
        _ => resp.error = "unknown task subscription operation".into(),
    }
    caller.pusher.push(wrap(resp));
}
