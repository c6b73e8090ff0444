//! Blocking twins of the agents methods (see the async `AdminClient`).

use super::AdminClient;
use crate::admin::{AgentLaunch, AgentRegistration, ConnectedOrchestrator, RegisteredAgent};
use crate::error::Result;

impl AdminClient {
    /// Registers (or replaces) an implementation. A resource type prefix
    /// another implementation owns is refused (`Rejected`, the gateway's
    /// `ERR_PREFIX_CONFLICT`).
    pub fn register_agent(&self, registration: AgentRegistration) -> Result<()> {
        self.block_on(self.as_async().register_agent(registration))
    }

    /// Replaces the registration of an implementation.
    pub fn update_agent(&self, registration: AgentRegistration) -> Result<()> {
        self.block_on(self.as_async().update_agent(registration))
    }

    /// One registration (`NotFound` when there is none).
    pub fn get_agent(&self, implementation: &str) -> Result<RegisteredAgent> {
        self.block_on(self.as_async().get_agent(implementation))
    }

    /// Every registration.
    pub fn list_agents(&self) -> Result<Vec<RegisteredAgent>> {
        self.block_on(self.as_async().list_agents())
    }

    /// Removes a registration.
    pub fn delete_agent(&self, implementation: &str) -> Result<()> {
        self.block_on(self.as_async().delete_agent(implementation))
    }

    /// Launches an agent through its orchestrator profile: answers the id
    /// of the `agent_startup` task.
    pub fn launch_agent(&self, implementation: &str, launch: AgentLaunch) -> Result<String> {
        self.block_on(self.as_async().launch_agent(implementation, launch))
    }

    /// The orchestrators connected now.
    pub fn list_orchestrators(&self) -> Result<Vec<ConnectedOrchestrator>> {
        self.block_on(self.as_async().list_orchestrators())
    }
}
