//! Workspaces: list, look up, create, update and delete their metadata
//! (`WorkspaceOperation`). Workspaces need no creating before use; a
//! created one is listed even before anyone connects to it.

use std::collections::HashMap;

use super::AdminClient;
use crate::error::{Error, Result};
use crate::identity::Segment;
use crate::proto::downstream_message::Payload as Down;
use crate::proto::upstream_message::Payload as Up;
use crate::proto::workspace_operation::OpType;
use crate::proto::{WorkspaceFilter, WorkspaceInfo, WorkspaceOperation, WorkspaceResponse};
use crate::stack::{OpRequest, Operation, Reply};

/// A workspace as the gateway reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Workspace {
    /// Its id (the name principals use).
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// Free text.
    pub description: String,
    /// Tenant it belongs to.
    pub tenant_id: String,
    /// Unix seconds; 0 for a workspace that was never created.
    pub created_at: i64,
    /// Unix seconds of the last update.
    pub updated_at: i64,
    /// Free key-value metadata.
    pub metadata: HashMap<String, String>,
    /// Agents connected in it now.
    pub active_agents: i32,
    /// Task sessions connected in it now.
    pub active_tasks: i32,
    /// User windows on it now.
    pub active_users: i32,
    /// Its number of tasks (upstream's `total_messages`).
    pub task_count: i64,
}

impl Workspace {
    /// Whether it was created (has stored metadata), rather than only
    /// seen on a session or a task.
    pub fn is_created(&self) -> bool {
        self.created_at > 0
    }
}

impl From<WorkspaceInfo> for Workspace {
    fn from(w: WorkspaceInfo) -> Self {
        Workspace {
            id: w.workspace_id,
            display_name: w.display_name,
            description: w.description,
            tenant_id: w.tenant_id,
            created_at: w.created_at,
            updated_at: w.updated_at,
            metadata: w.metadata,
            active_agents: w.active_agents,
            active_tasks: w.active_tasks,
            active_users: w.active_users,
            task_count: w.total_messages,
        }
    }
}

/// What to create a workspace with, or change in one (UPDATE merges the
/// fields that are set).
///
/// ```
/// use aether_client::admin::WorkspaceSpec;
/// let spec = WorkspaceSpec::new("research")?
///     .display_name("Research")
///     .metadata("owner", "lab-3");
/// # Ok::<(), aether_client::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkspaceSpec {
    info: WorkspaceInfo,
}

impl WorkspaceSpec {
    /// A workspace named `id` (a valid identity segment).
    pub fn new(id: &str) -> Result<Self> {
        Segment::non_empty("workspace", id)?;
        Ok(WorkspaceSpec {
            info: WorkspaceInfo {
                workspace_id: id.to_string(),
                ..Default::default()
            },
        })
    }

    /// Sets the display name.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.info.display_name = name.into();
        self
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.info.description = text.into();
        self
    }

    /// Sets the tenant.
    pub fn tenant_id(mut self, tenant: impl Into<String>) -> Self {
        self.info.tenant_id = tenant.into();
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.info.metadata.insert(key.into(), value.into());
        self
    }
}

/// One `WorkspaceOperation`; reads are safe to repeat.
pub(crate) struct WorkspaceCall(pub(crate) WorkspaceOperation);

impl Operation for WorkspaceCall {
    const NAME: &'static str = "workspace_op";
    type Output = WorkspaceResponse;

    fn into_request(self) -> OpRequest {
        let read = matches!(OpType::try_from(self.0.op), Ok(OpType::List | OpType::Get));
        OpRequest::awaited(Self::NAME, Up::WorkspaceOp(Box::new(self.0))).idempotent(read)
    }

    fn decode(reply: Reply) -> Result<WorkspaceResponse> {
        match reply.into_frame(Self::NAME)? {
            Down::Workspace(r) if r.success => Ok(*r),
            Down::Workspace(r) => Err(Error::refused(Self::NAME, "workspace", &r.error)),
            other => Err(Error::unexpected(Self::NAME, &other)),
        }
    }
}

fn op(kind: OpType) -> WorkspaceOperation {
    WorkspaceOperation {
        op: kind as i32,
        ..Default::default()
    }
}

impl AdminClient {
    /// Lists the workspaces the caller may see (all of them with READ on
    /// `admin/workspaces`): the created ones, those with live sessions and
    /// those with tasks. `limit` 0 means the gateway's default page (100).
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// for ws in admin.list_workspaces(0, 0).await? {
    ///     println!("{} ({} agents online)", ws.id, ws.active_agents);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_workspaces(&self, limit: u32, offset: u32) -> Result<Vec<Workspace>> {
        let req = WorkspaceOperation {
            filter: Some(WorkspaceFilter {
                tenant_id: String::new(),
                limit: i32::try_from(limit).unwrap_or(i32::MAX),
                offset: i32::try_from(offset).unwrap_or(i32::MAX),
            }),
            ..op(OpType::List)
        };
        let resp = self.client.run(WorkspaceCall(req)).await?;
        Ok(resp.workspaces.into_iter().map(Workspace::from).collect())
    }

    /// One workspace (a workspace never created is reported with its live
    /// counts and `created_at` 0).
    pub async fn get_workspace(&self, workspace_id: &str) -> Result<Workspace> {
        Segment::non_empty("workspace", workspace_id)?;
        let req = WorkspaceOperation {
            workspace_id: workspace_id.to_string(),
            ..op(OpType::Get)
        };
        let resp = self.client.run(WorkspaceCall(req)).await?;
        resp.workspace
            .map(Workspace::from)
            .ok_or_else(|| Error::protocol("workspace_op: GET answered no workspace"))
    }

    /// Creates a workspace; fails (`Rejected`) if it exists.
    ///
    /// ```no_run
    /// # async fn demo(admin: aether_client::admin::AdminClient) -> aether_client::Result<()> {
    /// use aether_client::admin::WorkspaceSpec;
    /// let ws = admin.create_workspace(WorkspaceSpec::new("research")?.display_name("Research")).await?;
    /// assert!(ws.is_created());
    /// # Ok(()) }
    /// ```
    pub async fn create_workspace(&self, spec: WorkspaceSpec) -> Result<Workspace> {
        let req = WorkspaceOperation {
            workspace_id: spec.info.workspace_id.clone(),
            workspace: Some(spec.info),
            ..op(OpType::Create)
        };
        self.changed(req).await
    }

    /// Updates a created workspace: the fields `spec` sets replace the
    /// stored ones, metadata entries are merged.
    pub async fn update_workspace(&self, spec: WorkspaceSpec) -> Result<Workspace> {
        let req = WorkspaceOperation {
            workspace_id: spec.info.workspace_id.clone(),
            workspace: Some(spec.info),
            ..op(OpType::Update)
        };
        self.changed(req).await
    }

    /// Deletes a created workspace's metadata (its sessions, tasks and KV
    /// are untouched).
    pub async fn delete_workspace(&self, workspace_id: &str) -> Result<()> {
        Segment::non_empty("workspace", workspace_id)?;
        let req = WorkspaceOperation {
            workspace_id: workspace_id.to_string(),
            ..op(OpType::Delete)
        };
        self.client.run(WorkspaceCall(req)).await.map(drop)
    }

    async fn changed(&self, req: WorkspaceOperation) -> Result<Workspace> {
        let id = req.workspace_id.clone();
        let resp = self.client.run(WorkspaceCall(req)).await?;
        // Upstream answers a change without the record: report what was sent.
        Ok(resp.workspace.map(Workspace::from).unwrap_or(Workspace {
            id,
            ..Default::default()
        }))
    }
}
