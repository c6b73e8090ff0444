//! Tasks: unique (`tu::{workspace}::{implementation}::{specifier}`) or
//! pooled (`ta::{workspace}::{implementation}::{id}`, the id assigned by the
//! gateway).

use super::builder::ClientBuilder;
use super::client::Client;
use super::principal::Task;
use crate::error::Result;
use crate::identity::Principal;

/// A task client: unique with a specifier of your choosing, or pooled with
/// an instance id the gateway assigns (see
/// [`assigned_id`](Client::assigned_id)).
pub type TaskClient = Client<Task>;

impl Client<Task> {
    /// A builder for a unique task `tu::{workspace}::{implementation}::{specifier}`.
    pub fn builder(
        workspace: &str,
        implementation: &str,
        unique_specifier: &str,
    ) -> Result<ClientBuilder<Self>> {
        Ok(ClientBuilder::new(Principal::unique_task(
            workspace,
            implementation,
            unique_specifier,
        )?))
    }

    /// A builder for a pooled task; the gateway assigns its id at connect.
    pub fn pooled(workspace: &str, implementation: &str) -> Result<ClientBuilder<Self>> {
        Ok(ClientBuilder::new(Principal::pooled_task(
            workspace,
            implementation,
        )?))
    }

    /// The server-assigned instance id of a pooled task (after connect).
    pub fn assigned_id(&self) -> Option<String> {
        self.session()
            .map(|s| s.assigned_id)
            .filter(|s| !s.is_empty())
    }
}
