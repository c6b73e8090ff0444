//! The agent registry and `AgentOperation` (§6.4): implementation ->
//! registration (description, launch parameters with the orchestrator
//! `profile`, capabilities, resource schema), durable in
//! `Table::Registry`. Replies echo `request_id` (upstream leaves it
//! empty). LIST ignores the filter, as upstream; LIST_ORCHESTRATORS lists
//! the orchestrators connected now.
//!
//! Gates (`authz`; superadmin sessions pass): LIST and LIST_ORCHESTRATORS
//! need READ on `admin/agents`; GET needs that or READ on
//! `agent/{implementation}`; REGISTER, UPDATE and DELETE need ADMIN on
//! `admin/agents` or MANAGE on `agent/{implementation}`; LAUNCH needs
//! ADMIN on `admin/agents`, or READ_WRITE on `agent/{implementation}` and
//! MANAGE on the workspace the agent is launched in (its startup task
//! carries a token that connects as that agent). Orchestrators get no
//! bypass (upstream lets them register and launch anything).

use std::collections::BTreeMap;

use aether_protocol::identity::{Principal, validate_segment};
use aether_protocol::proto::{
    AgentLaunchResult, AgentOperation, AgentRegistrationInfo, AgentResponse, OrchestratorInfo,
    agent_operation::OpType,
};
use parking_lot::Mutex;
use prost::Message;

use crate::authz::gates::Family;
use crate::authz::resource::rtype;
use crate::authz::{Actor, Authz, Level, Resource};
use crate::context::Context;
use crate::context::handle::SessionHandle;
use crate::store::{Store, StoreError, Table};
use crate::tasks::model::now_ms;
use crate::tasks::startup::StartAgent;
use crate::tasks::{Tasks, Txn};

/// The agent registrations.
pub(crate) struct Registry {
    entries: Mutex<BTreeMap<String, AgentRegistrationInfo>>,
    store: Store,
}

impl Registry {
    /// Loads the registrations from `store`, which the registry then
    /// writes through.
    pub(crate) fn load(store: Store) -> Result<Self, StoreError> {
        let rows = store.load(Table::Registry)?;
        let mut entries = BTreeMap::new();
        for (k, v) in rows {
            match AgentRegistrationInfo::decode(v.as_slice()) {
                Ok(a) => {
                    entries.insert(k, a);
                }
                Err(e) => return Err(StoreError::unreadable(Table::Registry, &k, e)),
            }
        }
        Ok(Registry {
            entries: Mutex::new(entries),
            store,
        })
    }

    /// The registration of `implementation`.
    pub(crate) fn get(&self, implementation: &str) -> Option<AgentRegistrationInfo> {
        self.entries.lock().get(implementation).cloned()
    }

    /// Upserts `a` under `implementation`, refusing resource prefixes owned
    /// by another implementation.
    async fn put(&self, implementation: &str, mut a: AgentRegistrationInfo) -> Result<(), String> {
        validate_segment(implementation)
            .map_err(|e| format!("invalid implementation {implementation:?}: {e}"))?;
        if implementation.is_empty() {
            return Err("agent implementation is required".into());
        }
        let commit = {
            let mut entries = self.entries.lock();
            for entry in &a.resource_schema {
                let owner = entries.iter().find(|(k, other)| {
                    k.as_str() != implementation
                        && other
                            .resource_schema
                            .iter()
                            .any(|o| o.resource_type_prefix == entry.resource_type_prefix)
                });
                if let Some((k, _)) = owner {
                    return Err(format!(
                        "ERR_PREFIX_CONFLICT: resource type prefix '{}' is owned by '{k}'",
                        entry.resource_type_prefix
                    ));
                }
            }
            let now = now_ms() / 1000;
            a.implementation = implementation.to_string();
            a.registered_at = entries
                .get(implementation)
                .map(|o| o.registered_at)
                .unwrap_or(now);
            a.updated_at = now;
            let m = crate::store::Mutation::put(Table::Registry, implementation, a.encode_to_vec());
            entries.insert(implementation.to_string(), a);
            self.store.submit(vec![m])
        };
        commit.await.map_err(|e| e.to_string())
    }

    async fn delete(&self, implementation: &str) -> Result<(), String> {
        let commit = {
            let mut entries = self.entries.lock();
            if entries.remove(implementation).is_none() {
                return Err(format!("agent implementation '{implementation}' not found"));
            }
            self.store.submit(vec![crate::store::Mutation::delete(
                Table::Registry,
                implementation,
            )])
        };
        commit.await.map_err(|e| e.to_string())
    }
}

/// Answers an `AgentOperation` from `caller` (on `caller_ws`): `agents`
/// holds the registrations, LAUNCH creates a startup task in `tasks`, and
/// LIST_ORCHESTRATORS lists the live sessions of `cx`.
pub(crate) async fn agent_op(
    agents: &Registry,
    tasks: &Tasks,
    cx: &Context,
    caller: &SessionHandle,
    caller_ws: &str,
    op: AgentOperation,
) -> AgentResponse {
    let mut resp = AgentResponse {
        request_id: op.request_id.clone(),
        ..Default::default()
    };
    let implementation = if op.implementation.is_empty() {
        op.agent
            .as_ref()
            .map(|a| a.implementation.clone())
            .unwrap_or_default()
    } else {
        op.implementation.clone()
    };
    let kind = OpType::try_from(op.op);
    if let Ok(kind) = kind
        && let Err(denied) = gate(
            &cx.authz,
            &caller.authz_actor(caller_ws),
            kind,
            &implementation,
            &launch_workspace(&op, caller_ws),
        )
    {
        resp.error = denied;
        return resp;
    }
    let result: Result<(), String> = match kind {
        Ok(OpType::List) => {
            resp.agents = agents.entries.lock().values().cloned().collect();
            resp.total_count = resp.agents.len() as i32;
            Ok(())
        }
        Ok(OpType::Get) => match agents.get(&implementation) {
            Some(a) => {
                resp.agent = Some(a);
                Ok(())
            }
            None => Err(format!("agent implementation '{implementation}' not found")),
        },
        Ok(op_type @ (OpType::Register | OpType::Update)) => {
            let agent = op.agent.clone().unwrap_or_default();
            agents.put(&implementation, agent).await.map(|()| {
                resp.message = if op_type == OpType::Register {
                    "agent registered successfully"
                } else {
                    "agent updated successfully"
                }
                .to_string();
            })
        }
        Ok(OpType::Delete) => agents.delete(&implementation).await.map(|()| {
            resp.message = "agent deleted successfully".to_string();
        }),
        Ok(OpType::Launch) => launch(agents, tasks, caller, caller_ws, &implementation, &op)
            .await
            .map(|task_id| {
                let message = format!("agent startup task {task_id} created");
                resp.message = message.clone();
                resp.launch_result = Some(AgentLaunchResult { task_id, message });
            }),
        Ok(OpType::ListOrchestrators) => {
            resp.orchestrators = orchestrators(cx);
            Ok(())
        }
        Err(_) => Err("unknown agent operation".to_string()),
    };
    match result {
        Ok(()) => resp.success = true,
        Err(e) => resp.error = e,
    }
    resp
}

/// The workspace LAUNCH starts the agent in.
fn launch_workspace(op: &AgentOperation, caller_ws: &str) -> String {
    match op.launch_params.as_ref().map(|l| l.workspace.as_str()) {
        Some(ws) if !ws.is_empty() => ws.to_string(),
        _ => caller_ws.to_string(),
    }
}

/// Whether `actor` may run `kind` on `implementation`.
fn gate(
    authz: &Authz,
    actor: &Actor<'_>,
    kind: OpType,
    implementation: &str,
    workspace: &str,
) -> Result<(), String> {
    let family = |need| authz.admin(actor, Family::Agents, need);
    let agent = |need| authz.allows(actor, Resource::new(rtype::AGENT, implementation), need);
    let allowed = match kind {
        OpType::List | OpType::ListOrchestrators => family(Level::READ),
        OpType::Get => family(Level::READ) || agent(Level::READ),
        OpType::Register | OpType::Update | OpType::Delete => {
            family(Level::ADMIN) || agent(Level::MANAGE)
        }
        OpType::Launch => {
            family(Level::ADMIN)
                || (agent(Level::READ_WRITE)
                    && authz.allows(actor, Resource::workspace(workspace), Level::MANAGE))
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(Family::Agents.denial().to_string())
    }
}

/// LAUNCH: an `agent_startup` task for
/// `ag::{launch_params.workspace or the caller's}::{impl}::{specifier or "default"}`.
async fn launch(
    agents: &Registry,
    tasks: &Tasks,
    caller: &SessionHandle,
    caller_ws: &str,
    implementation: &str,
    op: &AgentOperation,
) -> Result<String, String> {
    let Some(entry) = agents.get(implementation) else {
        return Err(format!(
            "agent implementation '{implementation}' not found in registry"
        ));
    };
    let lp = op.launch_params.clone().unwrap_or_default();
    let workspace = if lp.workspace.is_empty() {
        caller_ws.to_string()
    } else {
        lp.workspace
    };
    let specifier = if lp.specifier.is_empty() {
        "default".to_string()
    } else {
        lp.specifier
    };
    for (what, v) in [("workspace", &workspace), ("specifier", &specifier)] {
        validate_segment(v).map_err(|e| format!("invalid {what}: {e}"))?;
    }
    if workspace.is_empty() {
        return Err("launch_params.workspace is required".into());
    }
    let (result, settle) = {
        let mut txn = Txn::begin(tasks);
        let metadata = [("trigger".to_string(), "agent_launch".to_string())].into();
        let r = txn.start_agent(StartAgent {
            unique_task: false,
            workspace: &workspace,
            implementation,
            specifier: &specifier,
            defaults: &entry.launch_params,
            overrides: &lp.param_overrides,
            creator: &caller.identity,
            metadata,
        });
        (r, txn.finish())
    };
    settle.settle().await.map_err(|e| e.to_string())?;
    result.map(|r| r.id)
}

/// The orchestrators connected now.
fn orchestrators(cx: &Context) -> Vec<OrchestratorInfo> {
    let mut out: Vec<OrchestratorInfo> = cx
        .sessions()
        .iter()
        .filter_map(|s| match &s.principal {
            Principal::Orchestrator {
                supported_profiles, ..
            } => Some(OrchestratorInfo {
                orchestrator_id: s.identity.clone(),
                profiles: supported_profiles.clone(),
                connected_at: s.connected_at_unix_s,
            }),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.orchestrator_id.cmp(&b.orchestrator_id));
    out
}
