//! Orchestrators: launch agents for the profiles they serve.

use super::builder::ClientBuilder;
use super::client::Client;
use super::principal::Orchestrator;
use crate::error::Result;
use crate::identity::Principal;

/// An orchestrator: launches agents for the profiles it serves. It has no
/// topic; the gateway reaches it with task assignments (`agent_startup`
/// tasks, see [`on_task_assignment`](Client::on_task_assignment)). Run an
/// [`Orchestrator`](crate::orchestrator::Orchestrator) over it with
/// [`run_orchestrator`](crate::orchestrator::run_orchestrator). It may
/// send only to agents and tasks.
pub type OrchestratorClient = Client<Orchestrator>;

impl Client<Orchestrator> {
    /// A builder for an orchestrator serving `supported_profiles` (at least one).
    pub fn builder(
        implementation: &str,
        specifier: &str,
        supported_profiles: Vec<String>,
    ) -> Result<ClientBuilder<Self>> {
        Ok(ClientBuilder::new(Principal::orchestrator(
            implementation,
            specifier,
            supported_profiles,
        )?))
    }
}
