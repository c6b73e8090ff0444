//! `WorkspaceOperation` → `WorkspaceResponse` (`request_id` echoed).

use std::collections::{BTreeMap, HashMap};

use aether_protocol::identity::{PrincipalKind, validate_segment};
use aether_protocol::proto::{
    WorkspaceInfo, WorkspaceOperation, WorkspaceResponse, downstream_message::Payload,
    workspace_operation::OpType,
};

use super::Workspaces;
use crate::answer::Answer;
use crate::authz::gates::Family;
use crate::authz::resource::capability;
use crate::authz::{Actor, Authz, Level, Resource, now_s};
use crate::context::Context;
use crate::store::Commit;
use crate::tasks::Tasks;

/// Most workspaces that may be created.
const MAX_WORKSPACES: usize = 100_000;
/// Longest display name, description or tenant id.
const MAX_TEXT: usize = 1024;
/// Most metadata entries, and their largest key plus value.
const MAX_METADATA: usize = 64;
/// Default and largest LIST page.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Live counts of one workspace.
#[derive(Default, Clone, Copy)]
struct Live {
    agents: i32,
    tasks: i32,
    users: i32,
}

/// Answers `op` from `actor`.
pub(crate) fn workspace_op(
    workspaces: &Workspaces,
    cx: &Context,
    tasks: &Tasks,
    actor: &Actor<'_>,
    op: WorkspaceOperation,
) -> Answer {
    let rid = op.request_id.clone();
    let outcome = match OpType::try_from(op.op) {
        Ok(kind) => run(workspaces, cx, tasks, actor, kind, op),
        Err(_) => Err("unknown workspace operation".to_string()),
    };
    let outcome = outcome.map(|(mut resp, commit)| {
        resp.success = true;
        resp.request_id.clone_from(&rid);
        (resp, commit)
    });
    Answer::settle(
        outcome,
        |r| Payload::Workspace(Box::new(r)),
        move |error| WorkspaceResponse {
            success: false,
            error,
            request_id: rid,
            ..Default::default()
        },
    )
}

fn run(
    workspaces: &Workspaces,
    cx: &Context,
    tasks: &Tasks,
    actor: &Actor<'_>,
    kind: OpType,
    op: WorkspaceOperation,
) -> Result<(WorkspaceResponse, Commit), String> {
    let authz = &cx.authz;
    let denied = || Family::Workspaces.denial().to_string();
    let id = || -> Result<String, String> {
        let id = if op.workspace_id.is_empty() {
            op.workspace
                .as_ref()
                .map(|w| w.workspace_id.clone())
                .unwrap_or_default()
        } else {
            op.workspace_id.clone()
        };
        check_id(&id)?;
        Ok(id)
    };
    let now = now_s();
    match kind {
        OpType::List => {
            let all = authz.admin(actor, Family::Workspaces, Level::READ);
            let f = op.filter.unwrap_or_default();
            let mut listed = known(workspaces, cx, tasks);
            listed.retain(|w| {
                (f.tenant_id.is_empty() || w.tenant_id == f.tenant_id)
                    && (all || readable(authz, actor, &w.workspace_id))
            });
            let total = listed.len();
            let limit = usize::try_from(f.limit)
                .ok()
                .filter(|l| *l > 0)
                .unwrap_or(DEFAULT_LIMIT)
                .min(MAX_LIMIT);
            let offset = usize::try_from(f.offset).unwrap_or(0);
            Ok((
                WorkspaceResponse {
                    workspaces: listed.into_iter().skip(offset).take(limit).collect(),
                    total_count: i32::try_from(total).unwrap_or(i32::MAX),
                    ..Default::default()
                },
                Commit::done(),
            ))
        }
        OpType::Get => {
            let id = id()?;
            if !(authz.admin(actor, Family::Workspaces, Level::READ) || readable(authz, actor, &id))
            {
                return Err(denied());
            }
            let info = known(workspaces, cx, tasks)
                .into_iter()
                .find(|w| w.workspace_id == id)
                .unwrap_or_else(|| WorkspaceInfo {
                    workspace_id: id.clone(),
                    ..Default::default()
                });
            Ok((
                WorkspaceResponse {
                    workspace: Some(info),
                    ..Default::default()
                },
                Commit::done(),
            ))
        }
        OpType::Create => {
            let Some(data) = op.workspace.clone() else {
                return Err("workspace data required for CREATE".to_string());
            };
            let id = id()?;
            let may = authz.admin(actor, Family::Workspaces, Level::ADMIN)
                || authz.allows(
                    actor,
                    Resource::capability(capability::CREATE_WORKSPACE),
                    Level::READ_WRITE,
                );
            if !may {
                return Err(denied());
            }
            check_info(&data)?;
            if workspaces.len() >= MAX_WORKSPACES {
                return Err(format!(
                    "the gateway holds its limit of {MAX_WORKSPACES} workspaces"
                ));
            }
            let (stored, commit) = workspaces.change(&id, |old| {
                if old.is_some() {
                    return Err(format!("workspace {id} already exists"));
                }
                Ok(Some(WorkspaceInfo {
                    workspace_id: id.clone(),
                    display_name: data.display_name.clone(),
                    description: data.description.clone(),
                    tenant_id: data.tenant_id.clone(),
                    created_at: now,
                    updated_at: now,
                    metadata: data.metadata.clone(),
                    ..Default::default()
                }))
            })?;
            Ok((
                WorkspaceResponse {
                    message: "workspace created successfully".to_string(),
                    workspace: stored,
                    ..Default::default()
                },
                commit,
            ))
        }
        OpType::Update | OpType::Delete => {
            let id = id()?;
            let may = authz.admin(actor, Family::Workspaces, Level::ADMIN)
                || authz.allows(actor, Resource::workspace(&id), Level::ADMIN);
            if !may {
                return Err(denied());
            }
            if kind == OpType::Delete {
                let (_, commit) = workspaces.change(&id, |old| match old {
                    Some(_) => Ok(None),
                    None => Err(format!("workspace {id} not found")),
                })?;
                return Ok((
                    WorkspaceResponse {
                        message: "workspace deleted successfully".to_string(),
                        ..Default::default()
                    },
                    commit,
                ));
            }
            let data = op
                .workspace
                .clone()
                .ok_or("workspace data required for UPDATE")?;
            check_info(&data)?;
            let (stored, commit) = workspaces.change(&id, |old| {
                let Some(old) = old else {
                    return Err(format!("workspace {id} not found"));
                };
                let mut w = old.clone();
                let set = |field: &mut String, v: &str| {
                    if !v.is_empty() {
                        *field = v.to_string();
                    }
                };
                set(&mut w.display_name, &data.display_name);
                set(&mut w.description, &data.description);
                set(&mut w.tenant_id, &data.tenant_id);
                w.metadata.extend(data.metadata.clone());
                if w.metadata.len() > MAX_METADATA {
                    return Err(format!("metadata is limited to {MAX_METADATA} entries"));
                }
                w.updated_at = now;
                Ok(Some(w))
            })?;
            Ok((
                WorkspaceResponse {
                    message: "workspace updated successfully".to_string(),
                    workspace: stored,
                    ..Default::default()
                },
                commit,
            ))
        }
        OpType::GetMessageFlow => {
            Err("GET_MESSAGE_FLOW is not supported by this gateway".to_string())
        }
    }
}

fn readable(authz: &Authz, actor: &Actor<'_>, id: &str) -> bool {
    authz.allows(actor, Resource::workspace(id), Level::READ)
}

fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("workspace_id is required".to_string());
    }
    validate_segment(id).map_err(|e| format!("invalid workspace_id: {e}"))
}

fn check_info(w: &WorkspaceInfo) -> Result<(), String> {
    for (what, v) in [
        ("display_name", &w.display_name),
        ("description", &w.description),
        ("tenant_id", &w.tenant_id),
    ] {
        if v.len() > MAX_TEXT {
            return Err(format!(
                "{what} is {} bytes; the limit is {MAX_TEXT}",
                v.len()
            ));
        }
    }
    if w.metadata.len() > MAX_METADATA
        || w.metadata.iter().any(|(k, v)| k.len() + v.len() > MAX_TEXT)
    {
        return Err(format!(
            "metadata is limited to {MAX_METADATA} entries of at most {MAX_TEXT} bytes"
        ));
    }
    Ok(())
}

/// Every known workspace, sorted by id: the created ones, those of live
/// sessions and those with tasks, with their live counts and task count.
fn known(workspaces: &Workspaces, cx: &Context, tasks: &Tasks) -> Vec<WorkspaceInfo> {
    let mut live: HashMap<String, Live> = HashMap::new();
    for s in cx.sessions() {
        let ws = s.workspace.lock().clone();
        if ws.is_empty() {
            continue;
        }
        let l = live.entry(ws).or_default();
        match s.kind {
            PrincipalKind::Agent => l.agents += 1,
            PrincipalKind::UniqueTask | PrincipalKind::PooledTask => l.tasks += 1,
            PrincipalKind::User => l.users += 1,
            _ => {}
        }
    }
    let counts = tasks.counts_by_workspace();
    let mut all: BTreeMap<String, WorkspaceInfo> = workspaces
        .all()
        .into_iter()
        .map(|w| (w.workspace_id.clone(), w))
        .collect();
    for id in live.keys().chain(counts.keys()) {
        all.entry(id.clone()).or_insert_with(|| WorkspaceInfo {
            workspace_id: id.clone(),
            ..Default::default()
        });
    }
    all.into_values()
        .map(|mut w| {
            let l = live.get(&w.workspace_id).copied().unwrap_or_default();
            w.active_agents = l.agents;
            w.active_tasks = l.tasks;
            w.active_users = l.users;
            w.total_messages = counts.get(&w.workspace_id).copied().unwrap_or(0);
            w
        })
        .collect()
}
