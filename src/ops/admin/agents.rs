//! The agent registry (`AgentOperation`): register, update, look up, list,
//! delete and launch agent implementations, and list orchestrators.

use std::collections::HashMap;

use super::AdminClient;
use crate::error::{Error, Result};
use crate::identity::Segment;
use crate::proto::agent_operation::OpType;
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::{
    AgentFilter, AgentLaunchParams, AgentOperation, AgentRegistrationInfo,
    AgentResourceSchemaEntry, AgentResponse,
};
use crate::stack::{OpRequest, Operation, Reply};

/// A resource type an agent implementation owns (by prefix).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceSchema {
    /// Resource types starting with this prefix belong to the agent.
    pub type_prefix: String,
    /// The verbs that apply to them.
    pub verbs: Vec<String>,
    /// The schema of their ids (free text).
    pub id_schema: String,
}

/// An implementation to register or update.
///
/// ```
/// use aether_client::admin::AgentRegistration;
/// let reg = AgentRegistration::new("summarizer")?
///     .profile("python")
///     .description("Summarizes documents")
///     .launch_param("entrypoint", "summarize.py")
///     .capability("streaming", true);
/// # Ok::<(), aether_client::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentRegistration {
    info: AgentRegistrationInfo,
    profile: String,
}

impl AgentRegistration {
    /// The implementation `implementation` (a valid identity segment).
    pub fn new(implementation: &str) -> Result<Self> {
        Segment::non_empty("implementation", implementation)?;
        Ok(AgentRegistration {
            info: AgentRegistrationInfo {
                implementation: implementation.to_string(),
                ..Default::default()
            },
            profile: String::new(),
        })
    }

    /// The orchestrator profile that launches it (stored as
    /// `launch_params["profile"]`, which orchestration reads).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = profile.into();
        self
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.info.description = text.into();
        self
    }

    /// Adds a launch parameter.
    pub fn launch_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.info.launch_params.insert(key.into(), value.into());
        self
    }

    /// Declares a capability.
    pub fn capability(mut self, name: impl Into<String>, on: bool) -> Self {
        self.info.capabilities.insert(name.into(), on);
        self
    }

    /// Declares a supported extension URI.
    pub fn extension(mut self, uri: impl Into<String>) -> Self {
        self.info.extensions.push(uri.into());
        self
    }

    /// Claims a resource type prefix (unique across implementations).
    pub fn resource(mut self, schema: ResourceSchema) -> Self {
        self.info.resource_schema.push(AgentResourceSchemaEntry {
            resource_type_prefix: schema.type_prefix,
            permission_verbs: schema.verbs,
            resource_id_schema: schema.id_schema,
        });
        self
    }

    fn into_info(mut self) -> AgentRegistrationInfo {
        if !self.profile.is_empty() {
            self.info.orchestrator_profile = self.profile.clone();
            self.info
                .launch_params
                .entry("profile".to_string())
                .or_insert(self.profile);
        }
        self.info
    }
}

/// A registered implementation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegisteredAgent {
    /// Its name.
    pub implementation: String,
    /// `launch_params["profile"]`, the profile orchestration uses.
    pub profile: String,
    /// Free text.
    pub description: String,
    /// Launch parameters (the profile included).
    pub launch_params: HashMap<String, String>,
    /// Declared capabilities.
    pub capabilities: HashMap<String, bool>,
    /// Supported extension URIs.
    pub extensions: Vec<String>,
    /// Claimed resource types.
    pub resources: Vec<ResourceSchema>,
    /// Unix seconds.
    pub registered_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl From<AgentRegistrationInfo> for RegisteredAgent {
    fn from(a: AgentRegistrationInfo) -> Self {
        RegisteredAgent {
            profile: a
                .launch_params
                .get("profile")
                .cloned()
                .unwrap_or(a.orchestrator_profile),
            implementation: a.implementation,
            description: a.description,
            launch_params: a.launch_params,
            capabilities: a.capabilities,
            extensions: a.extensions,
            resources: a
                .resource_schema
                .into_iter()
                .map(|r| ResourceSchema {
                    type_prefix: r.resource_type_prefix,
                    verbs: r.permission_verbs,
                    id_schema: r.resource_id_schema,
                })
                .collect(),
            registered_at: a.registered_at,
            updated_at: a.updated_at,
        }
    }
}

/// Where to launch an agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentLaunch {
    /// Its workspace (empty: the caller's).
    pub workspace: String,
    /// Its specifier (empty: `default`).
    pub specifier: String,
    /// Launch parameters overriding the registered ones.
    pub overrides: HashMap<String, String>,
}

/// An orchestrator connected now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectedOrchestrator {
    /// Its identity string.
    pub id: String,
    /// The profiles it serves.
    pub profiles: Vec<String>,
    /// Unix seconds.
    pub connected_at: i64,
}

/// One `AgentOperation`; reads are safe to repeat.
pub(crate) struct AgentCall(pub(crate) AgentOperation);

impl Operation for AgentCall {
    const NAME: &'static str = "agent_op";
    type Output = AgentResponse;

    fn into_request(self) -> OpRequest {
        let read = matches!(
            OpType::try_from(self.0.op),
            Ok(OpType::List | OpType::Get | OpType::ListOrchestrators)
        );
        OpRequest::awaited(Self::NAME, Up::AgentOp(Box::new(self.0))).idempotent(read)
    }

    fn decode(reply: Reply) -> Result<AgentResponse> {
        match reply.into_frame(Self::NAME)? {
            Down::Agent(r) if r.success => Ok(*r),
            Down::Agent(r) => Err(Error::refused(Self::NAME, "agent", &r.error)),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

fn op(kind: OpType, implementation: &str) -> AgentOperation {
    AgentOperation {
        op: kind as i32,
        implementation: implementation.to_string(),
        ..Default::default()
    }
}

impl AdminClient {
    /// Registers (or replaces) an implementation. A resource type prefix
    /// another implementation owns is refused (`Rejected`, the gateway's
    /// `ERR_PREFIX_CONFLICT`).
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::{AgentLaunch, AgentRegistration};
    /// admin.register_agent(AgentRegistration::new("summarizer")?.profile("python")).await?;
    /// let task_id = admin
    ///     .launch_agent("summarizer", AgentLaunch { workspace: "docs".into(), ..Default::default() })
    ///     .await?;
    /// # let _ = task_id;
    /// # Ok(()) }
    /// ```
    pub async fn register_agent(&self, registration: AgentRegistration) -> Result<()> {
        let info = registration.into_info();
        let req = AgentOperation {
            agent: Some(info),
            ..op(OpType::Register, "")
        };
        self.client.run(AgentCall(req)).await.map(drop)
    }

    /// Replaces the registration of an implementation.
    pub async fn update_agent(&self, registration: AgentRegistration) -> Result<()> {
        let info = registration.into_info();
        let req = AgentOperation {
            implementation: info.implementation.clone(),
            agent: Some(info),
            ..op(OpType::Update, "")
        };
        self.client.run(AgentCall(req)).await.map(drop)
    }

    /// One registration (`NotFound` when there is none).
    pub async fn get_agent(&self, implementation: &str) -> Result<RegisteredAgent> {
        let resp = self
            .client
            .run(AgentCall(op(OpType::Get, implementation)))
            .await?;
        resp.agent
            .map(RegisteredAgent::from)
            .ok_or_else(|| Error::protocol("agent_op: GET answered no agent"))
    }

    /// Every registration.
    pub async fn list_agents(&self) -> Result<Vec<RegisteredAgent>> {
        let req = AgentOperation {
            filter: Some(AgentFilter::default()),
            ..op(OpType::List, "")
        };
        let resp = self.client.run(AgentCall(req)).await?;
        Ok(resp.agents.into_iter().map(RegisteredAgent::from).collect())
    }

    /// Removes a registration.
    pub async fn delete_agent(&self, implementation: &str) -> Result<()> {
        self.client
            .run(AgentCall(op(OpType::Delete, implementation)))
            .await
            .map(drop)
    }

    /// Launches an agent through its orchestrator profile: answers the id
    /// of the `agent_startup` task.
    pub async fn launch_agent(&self, implementation: &str, launch: AgentLaunch) -> Result<String> {
        let req = AgentOperation {
            launch_params: Some(AgentLaunchParams {
                specifier: launch.specifier,
                workspace: launch.workspace,
                param_overrides: launch.overrides,
            }),
            ..op(OpType::Launch, implementation)
        };
        let resp = self.client.run(AgentCall(req)).await?;
        resp.launch_result
            .map(|r| r.task_id)
            .ok_or_else(|| Error::protocol("agent_op: LAUNCH answered no task"))
    }

    /// The orchestrators connected now.
    pub async fn list_orchestrators(&self) -> Result<Vec<ConnectedOrchestrator>> {
        let resp = self
            .client
            .run(AgentCall(op(OpType::ListOrchestrators, "")))
            .await?;
        Ok(resp
            .orchestrators
            .into_iter()
            .map(|o| ConnectedOrchestrator {
                id: o.orchestrator_id,
                profiles: o.profiles,
                connected_at: o.connected_at,
            })
            .collect())
    }
}
