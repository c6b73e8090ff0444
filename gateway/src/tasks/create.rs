//! The `CreateTaskRequest` pipeline (§5.2, §5.3, §5.10).
//!
//! Failures answer a `CreateTaskResponse{success: false}` (when
//! `request_id` is set) followed by an id-less `ErrorResponse`, including
//! `ERR_INVALID_IDENTIFIER`, for which upstream sends no response and a
//! synchronous caller times out.

use std::collections::HashMap;

use aether_protocol::identity::{Topic, TopicPrefix, validate_segment};
use aether_protocol::proto::{
    CreateTaskRequest, CreateTaskResponse, DownstreamMessage, TargetOfflinePolicy,
    TaskAssignmentMode, downstream_message,
};

use super::model::{AGENT_STARTUP, Status, TaskRecord};
use super::retry;
use super::startup::StartAgent;
use super::worker::grace_window_ms;
use super::{Tasks, Txn};

use crate::answer::Answer;
use crate::authz::gates::Family;
use crate::authz::grants::obo::OnBehalf;
use crate::authz::{Actor, Authz, Level, Resource};
use crate::context::handle::SessionHandle;
use crate::reply::{ErrorReply, code};

/// Largest task payload (512 KiB).
const MAX_PAYLOAD: usize = 512 * 1024;

/// Codes of create failures.
mod codes {
    pub(super) const TASK_PAYLOAD_TOO_LARGE: &str = "TASK_PAYLOAD_TOO_LARGE";
    pub(super) const INVALID_IDENTIFIER: &str = "ERR_INVALID_IDENTIFIER";
    pub(super) const TASK_CREATE_FAILED: &str = "ERR_TASK_CREATE_FAILED";
    pub(super) const TARGET_OFFLINE: &str = "ERR_TARGET_OFFLINE";
    pub(super) const INTERNAL: &str = "ERR_INTERNAL";
}

/// A failed create: its code and message.
type Failure = (&'static str, String);

fn wrap(p: downstream_message::Payload) -> DownstreamMessage {
    DownstreamMessage {
        payload: Some(p),
        active_extensions: Vec::new(),
    }
}

/// The frames answering a failed create.
fn failure(request_id: &str, (code, message): Failure) -> Vec<DownstreamMessage> {
    let mut out = Vec::new();
    if !request_id.is_empty() {
        out.push(wrap(downstream_message::Payload::CreateTask(Box::new(
            CreateTaskResponse {
                success: false,
                error_code: code.to_string(),
                error_message: message.clone(),
                request_id: request_id.to_string(),
                ..Default::default()
            },
        ))));
    }
    out.push(ErrorReply::new(code, message).into_downstream());
    out
}

/// What a successful create reports.
#[derive(Default)]
struct Created {
    task_id: String,
    status: String,
    assigned_to: String,
    task_token: String,
}

/// Whether `t` names a principal a task can be targeted at.
fn identity_topic(t: &str) -> Result<Topic, String> {
    let topic: Topic = t
        .parse()
        .map_err(|e| format!("invalid target {t:?}: {e}"))?;
    match topic.prefix() {
        TopicPrefix::Agent
        | TopicPrefix::UniqueTask
        | TopicPrefix::PooledTask
        | TopicPrefix::UserSession
        | TopicPrefix::Service
        | TopicPrefix::Bridge => Ok(topic),
        _ => Err(format!("{t:?} is not an identity")),
    }
}

/// Runs the pipeline for `caller` (currently on `caller_workspace`);
/// answers the frames to send back (none for a fire-and-forget success)
/// once the task is stored. `launch_params` looks up the agent registry's
/// launch parameters of an implementation (the defaults of a startup).
pub(crate) fn create_task(
    tasks: &Tasks,
    caller: &SessionHandle,
    caller_workspace: &str,
    on_behalf: Result<Option<OnBehalf>, String>,
    mut req: CreateTaskRequest,
    launch_params: impl FnOnce(&str) -> Option<HashMap<String, String>>,
) -> Answer {
    let rid = req.request_id.clone();
    let workspace = if req.workspace.is_empty() {
        caller_workspace.to_string()
    } else {
        req.workspace.clone()
    };
    let checked = (|| {
        validate_segment(&workspace)
            .map_err(|e| (codes::INVALID_IDENTIFIER, format!("invalid workspace: {e}")))?;
        validate_segment(&req.target_implementation).map_err(|e| {
            (
                codes::INVALID_IDENTIFIER,
                format!("invalid target_implementation: {e}"),
            )
        })?;
        if req.payload.len() > MAX_PAYLOAD {
            return Err((
                codes::TASK_PAYLOAD_TOO_LARGE,
                format!(
                    "task payload is {} bytes; the limit is {MAX_PAYLOAD} bytes",
                    req.payload.len()
                ),
            ));
        }
        if workspace.is_empty() {
            return Err((code::INVALID_ARGUMENT, "task workspace is required".into()));
        }
        let on_behalf = on_behalf
            .as_ref()
            .map_err(|e| (code::PERMISSION_DENIED, e.clone()))?;
        let actor = match on_behalf {
            Some(o) => o.actor(),
            None => caller.authz_actor(caller_workspace),
        };
        if !tasks
            .cx
            .authz
            .allows(&actor, Resource::workspace(&workspace), Level::READ_WRITE)
        {
            return Err((
                code::PERMISSION_DENIED,
                format!("not authorized to create tasks in workspace {workspace}"),
            ));
        }
        Ok(())
    })();
    if let Err(f) = checked {
        return Answer::Now(failure(&rid, f));
    }
    if !req.target_identity.is_empty()
        && !may_mint(
            &tasks.cx.authz,
            &caller.authz_actor(caller_workspace),
            &req.target_identity,
        )
    {
        // Refused as upstream refuses: the task is created, without a token.
        req.target_identity.clear();
    }
    let registry = registry_defaults(&req, launch_params);
    let (result, settle) = {
        let mut txn = Txn::begin(tasks);
        let result = create_locked(&mut txn, caller, &workspace, &req, registry.as_ref());
        (result, txn.finish())
    };
    settle.answer(move |stored| {
        let created = match (result, stored) {
            (Err(f), _) => return failure(&rid, f),
            (Ok(_), Err(e)) => {
                return failure(&rid, (codes::INTERNAL, format!("task store: {e}")));
            }
            (Ok(c), Ok(())) => c,
        };
        if rid.is_empty() {
            return Vec::new();
        }
        vec![wrap(downstream_message::Payload::CreateTask(Box::new(
            CreateTaskResponse {
                success: true,
                task_id: created.task_id,
                status: created.status,
                request_id: rid,
                assigned_to: created.assigned_to,
                task_token: created.task_token,
                ..Default::default()
            },
        )))]
    })
}

/// The registry launch parameters of a targeted agent's implementation.
fn registry_defaults(
    req: &CreateTaskRequest,
    launch_params: impl FnOnce(&str) -> Option<HashMap<String, String>>,
) -> Option<HashMap<String, String>> {
    if req.assignment_mode != TaskAssignmentMode::Targeted as i32 {
        return None;
    }
    match identity_topic(&req.target_agent_id).ok()? {
        Topic::Agent { implementation, .. } => launch_params(&implementation),
        _ => None,
    }
}

fn create_locked(
    txn: &mut Txn<'_>,
    caller: &SessionHandle,
    workspace: &str,
    req: &CreateTaskRequest,
    registry: Option<&HashMap<String, String>>,
) -> Result<Created, Failure> {
    if !req.idempotency_key.is_empty()
        && let Some(id) = txn.st.ledger.get(workspace, &req.idempotency_key, txn.now)
    {
        return Ok(Created {
            task_id: id.to_string(),
            ..Default::default()
        });
    }
    let parent = parent_of(txn, caller, req)?;
    let mut r = record(txn.now, caller, workspace, req, parent.as_ref());
    let mut created = match TaskAssignmentMode::try_from(req.assignment_mode) {
        Ok(TaskAssignmentMode::Targeted) => targeted(txn, r, req, registry)?,
        Ok(TaskAssignmentMode::Pool) => {
            if req.target_implementation.is_empty() {
                return Err((
                    codes::TASK_CREATE_FAILED,
                    "target_implementation is required for pool tasks".into(),
                ));
            }
            txn.put(r.clone());
            let r = txn.offer_pool(r);
            Created {
                task_id: r.id.clone(),
                status: "pending_pool".into(),
                assigned_to: r.assigned_to,
                ..Default::default()
            }
        }
        _ => {
            r.mode = TaskAssignmentMode::SelfAssign as i32;
            r.assigned_to = caller.identity.clone();
            r.status = Status::Assigned.as_str().to_string();
            txn.put(r.clone());
            Created {
                task_id: r.id,
                status: "assigned".into(),
                assigned_to: caller.identity.clone(),
                ..Default::default()
            }
        }
    };
    if !req.target_identity.is_empty() {
        created.task_token = mint_for(txn, &req.target_identity, &created.task_id);
    }
    if !req.idempotency_key.is_empty() {
        let m = txn
            .st
            .ledger
            .record(workspace, &req.idempotency_key, &created.task_id, txn.now);
        txn.write(m);
    }
    Ok(created)
}

/// The parent of a new task: the request's `parent_task_id` when it is an
/// active task assigned to the caller, else the caller's token-bound task.
fn parent_of(
    txn: &Txn<'_>,
    caller: &SessionHandle,
    req: &CreateTaskRequest,
) -> Result<Option<TaskRecord>, Failure> {
    if req.parent_task_id.is_empty() {
        return Ok(caller.worker_task.as_deref().and_then(|id| txn.get(id)));
    }
    let Some(p) = txn.get(&req.parent_task_id) else {
        return Err((
            code::INVALID_ARGUMENT,
            format!("parent task {} not found", req.parent_task_id),
        ));
    };
    if p.state().is_terminal() || p.assigned_to != caller.identity {
        return Err((
            code::PERMISSION_DENIED,
            format!(
                "parent task {} is not an active task assigned to the caller",
                p.id
            ),
        ));
    }
    Ok(Some(p))
}

/// The new task's record (pending, unassigned).
fn record(
    now: i64,
    caller: &SessionHandle,
    workspace: &str,
    req: &CreateTaskRequest,
    parent: Option<&TaskRecord>,
) -> TaskRecord {
    let root = if !req.root_task_id.is_empty() {
        req.root_task_id.clone()
    } else {
        parent
            .map(|p| {
                if p.root_task_id.is_empty() {
                    p.id.clone()
                } else {
                    p.root_task_id.clone()
                }
            })
            .unwrap_or_default()
    };
    let max_attempts = retry::max_attempts(req.retry_policy.as_ref());
    TaskRecord {
        id: uuid::Uuid::new_v4().to_string(),
        task_type: req.task_type.clone(),
        status: Status::Pending.as_str().to_string(),
        workspace: workspace.to_string(),
        mode: req.assignment_mode,
        target_agent_id: req.target_agent_id.clone(),
        target_implementation: req.target_implementation.clone(),
        creator: caller.identity.clone(),
        parent_task_id: parent.map(|p| p.id.clone()).unwrap_or_default(),
        task_class: req.task_class,
        priority: req.priority,
        metadata: req.metadata.clone(),
        launch_params: req.launch_param_overrides.clone(),
        payload: req.payload.to_vec(),
        context_id: req.context_id.clone(),
        correlation_id: req.correlation_id.clone(),
        root_task_id: root,
        created_ms: now,
        updated_ms: now,
        status_changed_ms: now,
        max_attempts,
        completion_event: req.completion_event.clone(),
        retry_policy: req.retry_policy.clone(),
        idempotency_key: req.idempotency_key.clone(),
        grace_window_ms: grace_window_ms(req.task_class),
        ..Default::default()
    }
}

/// TARGETED: hand to an online target; otherwise apply the offline policy.
fn targeted(
    txn: &mut Txn<'_>,
    r: TaskRecord,
    req: &CreateTaskRequest,
    registry: Option<&HashMap<String, String>>,
) -> Result<Created, Failure> {
    let fail = |m: String| (codes::TASK_CREATE_FAILED, m);
    if req.target_agent_id.is_empty() {
        return Err(fail(
            "target_agent_id is required for targeted tasks".into(),
        ));
    }
    let topic = identity_topic(&req.target_agent_id).map_err(fail)?;
    let target = req.target_agent_id.clone();
    if req.task_type == AGENT_STARTUP {
        let Topic::Agent {
            workspace,
            implementation,
            specifier,
        } = &topic
        else {
            return Err(fail(format!("{target} is not an agent")));
        };
        let s = start(txn, &r, workspace, implementation, specifier, registry, req)?;
        return Ok(Created {
            task_id: s.id,
            status: "orchestration_triggered".into(),
            ..Default::default()
        });
    }
    if let Some(session) = txn.cx.session_by_identity(&target) {
        let r = txn.hand_to(r, &session);
        return Ok(Created {
            task_id: r.id,
            status: "assigned".into(),
            assigned_to: r.assigned_to,
            ..Default::default()
        });
    }
    let policy = TargetOfflinePolicy::try_from(req.target_offline_policy)
        .unwrap_or(TargetOfflinePolicy::Unspecified);
    match (policy, &topic) {
        (TargetOfflinePolicy::Reject, _) => {
            Err((codes::TARGET_OFFLINE, format!("target {target} is offline")))
        }
        (
            TargetOfflinePolicy::Unspecified | TargetOfflinePolicy::Orchestrate,
            Topic::Agent {
                workspace,
                implementation,
                specifier,
            },
        ) => {
            start(txn, &r, workspace, implementation, specifier, registry, req)?;
            let mut r = r;
            r.orchestrated = true;
            r.startup_defaults = registry.cloned().unwrap_or_default();
            txn.put(r.clone());
            Ok(Created {
                task_id: r.id,
                status: "orchestration_triggered".into(),
                ..Default::default()
            })
        }
        _ => {
            // QUEUE, or a non-agent target nobody can start: hold it.
            txn.put(r.clone());
            Ok(Created {
                task_id: r.id,
                status: "pending".into(),
                ..Default::default()
            })
        }
    }
}

fn start(
    txn: &mut Txn<'_>,
    r: &TaskRecord,
    workspace: &str,
    implementation: &str,
    specifier: &str,
    registry: Option<&HashMap<String, String>>,
    req: &CreateTaskRequest,
) -> Result<TaskRecord, Failure> {
    let empty = HashMap::new();
    let mut metadata = HashMap::new();
    metadata.insert("trigger".to_string(), "create_task".to_string());
    metadata.insert("target_task_id".to_string(), r.id.clone());
    txn.start_agent(StartAgent {
        unique_task: false,
        workspace,
        implementation,
        specifier,
        defaults: registry.unwrap_or(&empty),
        overrides: &req.launch_param_overrides,
        creator: &r.creator,
        metadata,
    })
    .map_err(|m| (codes::TASK_CREATE_FAILED, m))
}

/// Whether `actor` may have a task token minted for `identity`: MANAGE on
/// the identity's workspace, or (services, which have none) ADMIN on the
/// agent registry. A token lets its bearer connect as that identity.
fn may_mint(authz: &Authz, actor: &Actor<'_>, identity: &str) -> bool {
    match identity_topic(identity) {
        Ok(
            Topic::Agent { workspace, .. }
            | Topic::UniqueTask { workspace, .. }
            | Topic::PooledTask { workspace, .. },
        ) => authz.allows(
            actor,
            Resource::workspace(workspace.as_str()),
            Level::MANAGE,
        ),
        Ok(_) => authz.admin(actor, Family::Agents, Level::ADMIN),
        Err(_) => false,
    }
}

/// A token for `identity` bound to `task_id`, or empty when refused (the
/// identity does not parse, has no workspace and is not a service, or
/// targets `_system`).
fn mint_for(txn: &mut Txn<'_>, identity: &str, task_id: &str) -> String {
    let Ok(topic) = identity_topic(identity) else {
        return String::new();
    };
    let ws = match &topic {
        Topic::Agent { workspace, .. }
        | Topic::UniqueTask { workspace, .. }
        | Topic::PooledTask { workspace, .. } => Some(workspace.as_str()),
        Topic::Service { .. } => None,
        _ => return String::new(),
    };
    if ws == Some("_system") {
        return String::new();
    }
    let (token, m) = txn.st.tokens.mint(identity, task_id, txn.now);
    txn.write(m);
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_identities() {
        assert!(identity_topic("ag::w::i::s").is_ok());
        assert!(identity_topic("sv::x::y").is_ok());
        assert!(identity_topic("ga::w").is_err());
        assert!(identity_topic("nonsense").is_err());
    }

    #[test]
    fn failures_answer_typed_then_error() {
        let f = failure("r", (codes::TARGET_OFFLINE, "gone".into()));
        assert_eq!(f.len(), 2);
        assert!(matches!(
            &f[0].payload,
            Some(downstream_message::Payload::CreateTask(r)) if !r.success && r.error_code == "ERR_TARGET_OFFLINE"
        ));
        assert_eq!(failure("", (codes::INTERNAL, "x".into())).len(), 1);
    }
}
