//! `TaskOperation` (§5.8): RETRY, CANCEL, COMPLETE, FAIL, PAUSE, WAIT_FOR,
//! RESUME, REJECT and CLAIM, with the transition rules of §5.1.
//!
//! Choices: COMPLETE and FAIL are guarded (only from a non-terminal
//! status; upstream has no guard), so is CANCEL for every terminal status;
//! CLAIM of a `running` task succeeds only for its current holder; a
//! WAIT_FOR whose dependencies are already all finished resumes at once.
//! A violation answers `success: false` with the reason in `error`. FAIL
//! goes through the retry scheduler ([`super::retry`]): with retries left
//! the task is queued again (the answer's task is QUEUED, with the next
//! attempt's time in its metadata).

use aether_protocol::proto::{
    DownstreamMessage, TaskHibernated, TaskOperation, TaskOperationResponse, WaitReason, WaitSpec,
    downstream_message, task_operation::OpType,
};

use super::hibernation;
use super::lifecycle::Announce;
use super::model::{Status, TaskRecord};
use super::query::{NOT_FOUND, authorized};
use super::retry::Failure;
use super::{Tasks, Txn};
use crate::authz::Level;

use crate::answer::{Answer, frame};
use crate::context::handle::SessionHandle;

/// A successful op: the task after it and the response message.
type Done = (TaskRecord, &'static str);

fn cannot(op: &str, r: &TaskRecord) -> String {
    format!("cannot {op} task {} in status {}", r.id, r.status)
}

/// Runs `op` for `caller` (on `caller_ws`); the answer waits for the commit.
pub(crate) fn task_op(
    tasks: &Tasks,
    caller: &SessionHandle,
    caller_ws: &str,
    op: TaskOperation,
) -> Answer {
    let mut resp = TaskOperationResponse {
        request_id: op.request_id.clone(),
        ..Default::default()
    };
    let (result, settle) = {
        let mut txn = Txn::begin(tasks);
        let result = match txn
            .get(&op.task_id)
            .filter(|r| authorized(&tasks.cx, caller, caller_ws, r, Level::READ_WRITE))
        {
            None => Err(NOT_FOUND.to_string()),
            Some(r) => apply(&mut txn, caller, r, &op),
        };
        (result, txn.finish())
    };
    settle.answer(move |stored| {
        match (result, stored) {
            (Err(e), _) => resp.error = e,
            (Ok(_), Err(e)) => resp.error = e.to_string(),
            (Ok((r, message)), Ok(())) => {
                resp.success = true;
                resp.message = message.to_string();
                resp.task = Some(r.info());
            }
        }
        vec![frame(downstream_message::Payload::TaskOp(Box::new(resp)))]
    })
}

fn apply(
    txn: &mut Txn<'_>,
    caller: &SessionHandle,
    r: TaskRecord,
    op: &TaskOperation,
) -> Result<Done, String> {
    let st = r.state();
    let reason = op.reason.as_str();
    match OpType::try_from(op.op) {
        Ok(OpType::Retry) => {
            if !matches!(st, Status::Failed | Status::Cancelled) {
                return Err(cannot("retry", &r));
            }
            Ok((retry(txn, r), "task queued for retry"))
        }
        Ok(OpType::Cancel) => {
            if st.is_terminal() {
                return Err(cannot("cancel", &r));
            }
            let r = txn.set_status(r, Status::Cancelled, Announce::all(or(reason, "cancelled")));
            Ok((r, "task cancelled"))
        }
        Ok(OpType::Complete) => {
            if st.is_terminal() {
                return Err(cannot("complete", &r));
            }
            let r = txn.set_status(r, Status::Completed, Announce::all(or(reason, "completed")));
            Ok((r, "task completed"))
        }
        Ok(OpType::Fail) => {
            if st.is_terminal() {
                return Err(cannot("fail", &r));
            }
            let failure = Failure::from_op(reason, op.wait_spec.as_ref())?;
            let r = txn.fail(r, failure);
            let message = if r.state() == Status::Failed {
                "task marked as failed"
            } else {
                "task attempt failed; retry scheduled"
            };
            Ok((r, message))
        }
        Ok(OpType::Pause) => pause(txn, r, op.wait_spec.clone(), reason),
        Ok(OpType::WaitFor) => wait_for(txn, r, op.wait_spec.clone()),
        Ok(OpType::Resume) => {
            if !st.can_become(Status::Running) {
                return Err(cannot("resume", &r));
            }
            Ok((txn.resume_waiting(r, or(reason, "resumed")), "task resumed"))
        }
        Ok(OpType::Reject) => {
            if !st.can_become(Status::Rejected) {
                return Err(cannot("reject", &r));
            }
            let mut r = r;
            r.error = or(reason, "rejected").to_string();
            let why = r.error.clone();
            let r = txn.set_status(r, Status::Rejected, Announce::all(&why));
            Ok((r, "task rejected"))
        }
        Ok(OpType::Claim) => claim(txn, caller, r),
        Err(_) => Err("unknown task operation".to_string()),
    }
}

fn or<'a>(given: &'a str, default: &'a str) -> &'a str {
    if given.is_empty() { default } else { given }
}

/// RETRY: back to `pending` with the assignment and outcome cleared, then
/// offered again by its mode.
fn retry(txn: &mut Txn<'_>, mut r: TaskRecord) -> TaskRecord {
    r.assigned_to.clear();
    r.error.clear();
    r.started_ms = 0;
    r.completed_ms = 0;
    r.disconnected_ms = 0;
    r.paused_ms = 0;
    r.wait_spec = None;
    let r = txn.set_status(
        r,
        Status::Pending,
        Announce {
            reason: "retry",
            event: false,
            notify: true,
        },
    );
    txn.redeliver(r)
}

fn pause(
    txn: &mut Txn<'_>,
    mut r: TaskRecord,
    spec: Option<WaitSpec>,
    reason: &str,
) -> Result<Done, String> {
    let Some(spec) = spec else {
        return Err("invalid request: wait_spec required for PAUSE".to_string());
    };
    let to = match WaitReason::try_from(spec.reason) {
        Ok(WaitReason::Authority) => Status::WaitingAuthority,
        Ok(WaitReason::Dependency) => Status::WaitingDependency,
        Ok(WaitReason::Hibernation) => Status::Hibernated,
        _ => Status::WaitingInput,
    };
    if !r.state().can_become(to) {
        return Err(cannot("pause", &r));
    }
    let mut notice = None;
    if to == Status::Hibernated {
        let key = spec
            .hibernation
            .as_ref()
            .map(|h| h.checkpoint_key.clone())
            .unwrap_or_default();
        if key.is_empty() {
            return Err("invalid request: hibernation.checkpoint_key required".to_string());
        }
        hibernation::require_checkpoint(txn.checkpoints(), &r.assigned_to, &key)?;
        notice = spec.hibernation.clone();
    }
    if to == Status::WaitingDependency {
        r.depends_on = spec.depends_on.clone();
    }
    r.wait_spec = Some(spec);
    r.paused_ms = txn.now;
    let r = txn.set_status(r, to, Announce::all(or(reason, to.as_str())));
    if let Some(descriptor) = notice
        && let Some(s) = txn.cx.session_by_identity(&r.assigned_to)
    {
        let msg = DownstreamMessage {
            payload: Some(downstream_message::Payload::TaskHibernated(Box::new(
                TaskHibernated {
                    task_id: r.id.clone(),
                    descriptor: Some(descriptor),
                },
            ))),
            active_extensions: Vec::new(),
        };
        txn.fx.push(&s.pusher, msg);
    }
    Ok((r, "task paused"))
}

fn wait_for(txn: &mut Txn<'_>, mut r: TaskRecord, spec: Option<WaitSpec>) -> Result<Done, String> {
    let mut spec = spec.unwrap_or_default();
    if spec.depends_on.is_empty() {
        return Err("invalid request: wait_spec.depends_on required for WAIT_FOR".to_string());
    }
    for d in &spec.depends_on {
        let found = d != &r.id && txn.get(d).is_some_and(|t| t.workspace == r.workspace);
        if !found {
            return Err(format!("dependency not found: {d}"));
        }
    }
    if !r.state().can_become(Status::WaitingDependency) {
        return Err(cannot("wait on dependencies for", &r));
    }
    spec.reason = WaitReason::Dependency as i32;
    r.depends_on = spec.depends_on.clone();
    r.wait_spec = Some(spec);
    r.paused_ms = txn.now;
    let r = txn.set_status(
        r,
        Status::WaitingDependency,
        Announce::all("waiting on dependencies"),
    );
    let r = if txn.dependencies_met(&r) {
        txn.resume_waiting(r, "dependencies satisfied")
    } else {
        r
    };
    Ok((r, "task waiting on dependencies"))
}

fn claim(txn: &mut Txn<'_>, caller: &SessionHandle, mut r: TaskRecord) -> Result<Done, String> {
    match r.state() {
        Status::Running if r.assigned_to == caller.identity => Ok((r, "task claimed")),
        Status::Running => Err(format!(
            "task {} is already claimed by {}",
            r.id, r.assigned_to
        )),
        Status::Pending | Status::Assigned | Status::Starting => {
            r.assigned_to = caller.identity.clone();
            let r = txn.set_status(r, Status::Running, Announce::all("claimed"));
            Ok((r, "task claimed"))
        }
        _ => Err(cannot("claim", &r)),
    }
}
