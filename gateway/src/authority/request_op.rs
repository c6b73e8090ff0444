//! `AuthorityRequestOperation` → `AuthorityRequestOperationResponse`: the
//! "sudo" flow. An actor asks a subject to lend it rights; the subject
//! approves (which issues a grant to the requester) or denies.
//!
//! * CREATE: the requester is always the caller (whatever the request
//!   says); `target_subject` is required; the request is routed to
//!   `routing_target.principal` when given, else to the subject. It stays
//!   pending for its requested duration (default 30 minutes).
//! * GET: the requester, the subject and the routing principal see it.
//! * LIST_PENDING: the pending requests that name the caller as subject
//!   or routing principal (superadmins: all), optionally of one workspace.
//! * RESOLVE: only the subject (or a superadmin session) lends the
//!   subject's rights. APPROVE issues a grant (granted scopes, else the
//!   desired ones) and records its id.
//! * CANCEL: the requester, while pending.
//!
//! Every change pushes an `authority_request_event` to the live sessions
//! of the requester, the subject and the routing principal, and is
//! answered once on disk with `client_request_id` echoed.

use aether_protocol::proto::{
    AclAuthorityGrantInfo, AclAuthorityGrantResourceScopeEntry, AuthorityRequest,
    AuthorityRequestOperation, AuthorityRequestOperationResponse,
    AuthorityRequestResourceScopeEntry, AuthorityRequestStatus, authority_request_event::EventType,
    authority_request_operation::OpType, downstream_message::Payload,
    resolve_authority_request_payload::Decision,
};

use super::grant_op::Caller;
use super::notify;
use super::scope::{self, MAX_SCOPE};
use crate::answer::Answer;
use crate::authz::Level;
use crate::authz::grants::now_ms;
use crate::authz::principal::{PrincipalId, check_id, clip};
use crate::context::Context;
use crate::store::Commit;

/// Default lifetime of a request, and of the grant it leads to (seconds).
const DEFAULT_DURATION_S: i64 = 1800;
/// Longest lifetime (seconds): 30 days.
const MAX_DURATION_S: i64 = 30 * 24 * 3600;
/// Longest reason or metadata entry.
const MAX_TEXT: usize = 1024;
/// Default and largest LIST page.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

type Outcome = Result<
    (
        AuthorityRequestOperationResponse,
        Commit,
        Option<(AuthorityRequest, EventType)>,
    ),
    String,
>;

/// Answers `op` from `caller`.
pub(crate) fn request_op(
    cx: &Context,
    caller: &Caller<'_>,
    op: AuthorityRequestOperation,
) -> Answer {
    let crid = op.client_request_id.clone();
    let outcome = match OpType::try_from(op.op) {
        Ok(OpType::AuthorityRequestOpUnspecified) | Err(_) => {
            Err("unknown authority request operation".to_string())
        }
        Ok(kind) => run(cx, caller, kind, op),
    };
    let outcome = outcome.map(|(mut resp, commit, event)| {
        if let Some((r, e)) = &event {
            notify::request_event(cx, r, *e);
        }
        resp.success = true;
        resp.client_request_id.clone_from(&crid);
        (resp, commit)
    });
    Answer::settle(
        outcome,
        |r| Payload::AuthorityRequestResponse(Box::new(r)),
        move |error| AuthorityRequestOperationResponse {
            success: false,
            error,
            client_request_id: crid,
            ..Default::default()
        },
    )
}

fn one(r: AuthorityRequest) -> AuthorityRequestOperationResponse {
    AuthorityRequestOperationResponse {
        request: Some(r),
        ..Default::default()
    }
}

fn names(r: Option<&aether_protocol::proto::PrincipalRef>, p: &PrincipalId) -> bool {
    r.is_some_and(|r| p.is(r))
}

fn routed_to(r: &AuthorityRequest, p: &PrincipalId) -> bool {
    names(
        r.routing_target.as_ref().and_then(|t| t.principal.as_ref()),
        p,
    )
}

fn may_see(r: &AuthorityRequest, caller: &Caller<'_>) -> bool {
    let me = &caller.handle.acl;
    caller.handle.administrator
        || names(r.requesting_actor.as_ref(), me)
        || names(r.target_subject.as_ref(), me)
        || routed_to(r, me)
}

fn pending(r: &AuthorityRequest, now: i64) -> bool {
    r.status == AuthorityRequestStatus::Pending as i32 && (r.expires_at == 0 || r.expires_at > now)
}

fn run(cx: &Context, caller: &Caller<'_>, kind: OpType, op: AuthorityRequestOperation) -> Outcome {
    let authz = &cx.authz;
    let now = now_ms();
    match kind {
        OpType::Create => {
            let r = create(caller, op, now)?;
            let (r, commit) = authz.write_grants(|b| {
                if b.full() {
                    return (Err("too many authority requests".to_string()), Vec::new());
                }
                let m = b.put_request(r.clone());
                (Ok(r), vec![m])
            });
            let r = r?;
            Ok((
                one(r.clone()),
                commit,
                Some((r, EventType::AuthorityRequestEventCreated)),
            ))
        }
        OpType::Get => {
            let r = get(cx, caller, &op.request_id)?;
            Ok((one(r), Commit::done(), None))
        }
        OpType::ListPending => {
            let f = op.list_filter.unwrap_or_default();
            let limit = match f.limit {
                n if n <= 0 => DEFAULT_LIMIT,
                n => (n as usize).min(MAX_LIMIT),
            };
            let me = &caller.handle.acl;
            let matched: Vec<AuthorityRequest> = authz.read_grants(|b| {
                b.requests
                    .values()
                    .filter(|r| pending(r, now))
                    .filter(|r| {
                        caller.handle.administrator
                            || names(r.target_subject.as_ref(), me)
                            || routed_to(r, me)
                    })
                    .filter(|r| {
                        f.workspace.is_empty() || r.desired_workspace_scope.contains(&f.workspace)
                    })
                    .filter(|r| {
                        f.matching_capabilities.is_empty()
                            || r.routing_target
                                .as_ref()
                                .is_some_and(|t| f.matching_capabilities.contains(&t.capability))
                    })
                    .cloned()
                    .collect()
            });
            Ok((
                AuthorityRequestOperationResponse {
                    total_count: matched.len() as i32,
                    requests: matched
                        .into_iter()
                        .skip(f.offset.max(0) as usize)
                        .take(limit)
                        .collect(),
                    ..Default::default()
                },
                Commit::done(),
                None,
            ))
        }
        OpType::Resolve => resolve(cx, caller, op, now),
        OpType::Cancel => {
            let r = get(cx, caller, &op.request_id)?;
            if !caller.handle.administrator
                && !names(r.requesting_actor.as_ref(), &caller.handle.acl)
            {
                return Err("only the requester cancels an authority request".to_string());
            }
            if !pending(&r, now) {
                return Err("the authority request is not pending".to_string());
            }
            let mut r = r;
            r.status = AuthorityRequestStatus::Cancelled as i32;
            r.resolved_at = now;
            r.resolved_by = Some(caller.handle.acl.to_ref());
            r.resolution_reason = clip_text(&op.reason)?;
            let ((), commit) = authz.write_grants(|b| ((), vec![b.put_request(r.clone())]));
            Ok((
                one(r.clone()),
                commit,
                Some((r, EventType::AuthorityRequestEventCancelled)),
            ))
        }
        OpType::AuthorityRequestOpUnspecified => {
            Err("unknown authority request operation".to_string())
        }
    }
}

fn clip_text(s: &str) -> Result<String, String> {
    if s.len() > MAX_TEXT {
        return Err(format!("reason is longer than {MAX_TEXT} bytes"));
    }
    Ok(s.to_string())
}

fn check_scopes(
    workspaces: &[String],
    resources: &[AuthorityRequestResourceScopeEntry],
    operations: &[String],
) -> Result<(), String> {
    scope::check(
        workspaces,
        resources
            .iter()
            .map(|e| (e.resource_type.as_str(), e.patterns.as_slice())),
        operations,
        &scope::Labels {
            workspace: "",
            operation: "operation",
        },
    )
}

fn duration_s(requested: i64) -> Result<i64, String> {
    match requested {
        0 => Ok(DEFAULT_DURATION_S),
        n if !(0..=MAX_DURATION_S).contains(&n) => Err(format!(
            "duration must be between 1 and {MAX_DURATION_S} seconds"
        )),
        n => Ok(n),
    }
}

fn create(
    caller: &Caller<'_>,
    op: AuthorityRequestOperation,
    now: i64,
) -> Result<AuthorityRequest, String> {
    let c = op
        .create
        .ok_or_else(|| "create is required for CREATE".to_string())?;
    let subject = PrincipalId::parse(&c.target_subject.unwrap_or_default())
        .map_err(|e| format!("invalid target_subject: {e}"))?;
    check_scopes(
        &c.desired_workspace_scope,
        &c.desired_resource_scope,
        &c.desired_operation_scope,
    )?;
    let mut routing = c.routing_target.unwrap_or_default();
    if let Some(p) = routing.principal.as_ref() {
        routing.principal = Some(
            PrincipalId::parse(p)
                .map_err(|e| format!("invalid routing principal: {e}"))?
                .to_ref(),
        );
    }
    if !routing.capability.is_empty() {
        check_id("routing capability", &routing.capability)?;
    }
    if c.metadata.len() > MAX_SCOPE
        || c.metadata
            .iter()
            .any(|(k, v)| k.len() > MAX_TEXT || v.len() > MAX_TEXT)
    {
        return Err("metadata is too large".to_string());
    }
    let duration = duration_s(c.requested_duration_seconds)?;
    Ok(AuthorityRequest {
        request_id: format!("authreq-{}", uuid::Uuid::new_v4()),
        status: AuthorityRequestStatus::Pending as i32,
        requesting_actor: Some(caller.handle.acl.to_ref()),
        target_subject: Some(subject.to_ref()),
        desired_workspace_scope: c.desired_workspace_scope,
        desired_resource_scope: c.desired_resource_scope,
        desired_operation_scope: c.desired_operation_scope,
        requested_access_level: c.requested_access_level,
        requested_duration_seconds: duration,
        audience_type: c.audience_type,
        audience_id: c.audience_id,
        routing_target: Some(routing),
        reason: clip_text(&c.reason)?,
        task_id: c.task_id,
        metadata: c.metadata,
        created_at: now,
        expires_at: now + duration * 1000,
        ..Default::default()
    })
}

fn get(cx: &Context, caller: &Caller<'_>, id: &str) -> Result<AuthorityRequest, String> {
    cx.authz
        .read_grants(|b| b.requests.get(id).cloned())
        .filter(|r| may_see(r, caller))
        .ok_or_else(|| format!("authority request {:?} not found", clip(id)))
}

fn resolve(cx: &Context, caller: &Caller<'_>, op: AuthorityRequestOperation, now: i64) -> Outcome {
    let mut r = get(cx, caller, &op.request_id)?;
    let me = &caller.handle.acl;
    if !caller.handle.administrator && !names(r.target_subject.as_ref(), me) {
        return Err("only the subject resolves an authority request".to_string());
    }
    if !pending(&r, now) {
        return Err("the authority request is not pending".to_string());
    }
    let d = op
        .resolve
        .ok_or_else(|| "resolve is required for RESOLVE".to_string())?;
    check_scopes(
        &d.granted_workspace_scope,
        &d.granted_resource_scope,
        &d.granted_operation_scope,
    )?;
    r.resolved_at = now;
    r.resolved_by = Some(me.to_ref());
    r.resolution_reason = clip_text(&d.reason)?;
    let mut grant = None;
    let event = match Decision::try_from(d.decision) {
        Ok(Decision::Approve) => {
            let pick = |granted: &Vec<String>, desired: &Vec<String>| {
                if granted.is_empty() {
                    desired.clone()
                } else {
                    granted.clone()
                }
            };
            let resources = if d.granted_resource_scope.is_empty() {
                &r.desired_resource_scope
            } else {
                &d.granted_resource_scope
            };
            let level = match Level::from_enum(d.granted_access_level) {
                Level::NONE => Level::from_enum(r.requested_access_level),
                l => l,
            };
            let level = if level == Level::NONE {
                Level::READ_WRITE
            } else {
                level
            };
            let duration = match d.granted_duration_seconds {
                0 => r.requested_duration_seconds.max(1),
                n => duration_s(n)?,
            };
            let id = format!("grant-{}", uuid::Uuid::new_v4());
            let g = AclAuthorityGrantInfo {
                grant_id: id.clone(),
                root_grant_id: id.clone(),
                subject: r.target_subject.clone(),
                delegate: r.requesting_actor.clone(),
                issued_by: Some(me.to_ref()),
                root_subject: r.target_subject.clone(),
                may_delegate: d.may_delegate,
                remaining_hops: d.remaining_hops.clamp(0, 8),
                workspace_scope: pick(&d.granted_workspace_scope, &r.desired_workspace_scope),
                resource_scope: resources
                    .iter()
                    .map(|e| AclAuthorityGrantResourceScopeEntry {
                        resource_type: e.resource_type.clone(),
                        patterns: e.patterns.clone(),
                    })
                    .collect(),
                operation_scope: pick(&d.granted_operation_scope, &r.desired_operation_scope),
                max_access_level: level.get(),
                access_level_name: level.name().to_string(),
                audience_type: r.audience_type.clone(),
                audience_id: r.audience_id.clone(),
                expires_at: now + duration * 1000,
                reason: r.reason.clone(),
                created_at: now,
                ..Default::default()
            };
            r.status = AuthorityRequestStatus::Approved as i32;
            r.granted_grant_id = id;
            grant = Some(g);
            EventType::AuthorityRequestEventApproved
        }
        Ok(Decision::Deny) => {
            r.status = AuthorityRequestStatus::Denied as i32;
            EventType::AuthorityRequestEventDenied
        }
        _ => return Err("decision must be APPROVE or DENY".to_string()),
    };
    let (stored, commit) = cx.authz.write_grants(|b| {
        let still = b
            .requests
            .get(&r.request_id)
            .is_some_and(|x| pending(x, now));
        if !still {
            return (false, Vec::new());
        }
        let mut muts = vec![b.put_request(r.clone())];
        if let Some(g) = grant {
            muts.push(b.put_grant(g));
        }
        (true, muts)
    });
    if !stored {
        return Err("the authority request is not pending".to_string());
    }
    Ok((one(r.clone()), commit, Some((r, event))))
}
