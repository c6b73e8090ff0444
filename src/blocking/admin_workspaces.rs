//! Blocking twins of the workspaces methods (see the async `AdminClient`).

use super::AdminClient;
use crate::admin::{Workspace, WorkspaceSpec};
use crate::error::Result;

impl AdminClient {
    /// Lists the workspaces the caller may see (all of them with READ on
    /// `admin/workspaces`): the created ones, those with live sessions and
    /// those with tasks. `limit` 0 means the gateway's default page (100).
    pub fn list_workspaces(&self, limit: u32, offset: u32) -> Result<Vec<Workspace>> {
        self.block_on(self.as_async().list_workspaces(limit, offset))
    }

    /// One workspace (a workspace never created is reported with its live
    /// counts and `created_at` 0).
    pub fn get_workspace(&self, workspace_id: &str) -> Result<Workspace> {
        self.block_on(self.as_async().get_workspace(workspace_id))
    }

    /// Creates a workspace; fails (`Rejected`) if it exists.
    pub fn create_workspace(&self, spec: WorkspaceSpec) -> Result<Workspace> {
        self.block_on(self.as_async().create_workspace(spec))
    }

    /// Updates a created workspace: the fields `spec` sets replace the
    /// stored ones, metadata entries are merged.
    pub fn update_workspace(&self, spec: WorkspaceSpec) -> Result<Workspace> {
        self.block_on(self.as_async().update_workspace(spec))
    }

    /// Deletes a created workspace's metadata (its sessions, tasks and KV
    /// are untouched).
    pub fn delete_workspace(&self, workspace_id: &str) -> Result<()> {
        self.block_on(self.as_async().delete_workspace(workspace_id))
    }
}
