//! The workflow engine: a singleton that receives every EVENT.

use super::builder::ClientBuilder;
use super::client::Client;
use super::principal::WorkflowEngine;
use crate::identity::Principal;

/// The workflow engine: receives every EVENT (`send_event` from anyone,
/// task completion events) through [`on_event`](Client::on_event); may
/// send to anyone, including commands (`send_command_to_agent`,
/// `send_command_to_task`) and user broadcasts.
pub type WorkflowEngineClient = Client<WorkflowEngine>;

impl Client<WorkflowEngine> {
    /// A builder for the workflow engine (a singleton per gateway).
    pub fn builder() -> ClientBuilder<Self> {
        ClientBuilder::new(Principal::workflow_engine())
    }
}
