//! Orchestration: launching agents the gateway asks for.
//!
//! When a TARGETED task names an agent that is offline (or a message is sent
//! to one), the gateway creates an `agent_startup` task and assigns it to an
//! orchestrator serving the agent's profile. The assignment carries the
//! agent's workspace, implementation and specifier, its launch parameters,
//! and a per-task token (`launch_params["auth_token"]`) the agent connects
//! with. Once the agent is connected, the gateway marks the startup task
//! running, delivers its queued tasks, and completes the startup task when
//! the agent disconnects cleanly.
//!
//! * [`Orchestrator`]: what you implement (the reference SDK's
//!   `BaseOrchestrator`): `launch` an agent for a [`Launch`], `stop` it, and
//!   optionally `wait` for it to end on its own.
//! * [`OrchestratorRunner`] ([`run_orchestrator`]): receives the
//!   assignments of a client, launches, tracks what runs by task id,
//!   isolates failures (a failed launch fails the task), and stops
//!   everything on [`shutdown`](OrchestratorRunner::shutdown).
//! * [`ProcessOrchestrator`]: a ready-made orchestrator that runs a command
//!   per assignment (the reference's `MultiprocessOrchestrator`).
//!
//! ```no_run
//! # async fn demo() -> aether_client::Result<()> {
//! use aether_client::OrchestratorClient;
//! use aether_client::orchestrator::{ProcessOrchestrator, run_orchestrator};
//!
//! let gateway = "http://127.0.0.1:50051";
//! let client = OrchestratorClient::builder("local", "o1", vec!["echo".into()])?
//!     .gateway(gateway)
//!     .build();
//! // Each launched agent gets AETHER_GATEWAY, AETHER_WORKSPACE,
//! // AETHER_IMPLEMENTATION, AETHER_SPECIFIER and AETHER_AUTH_TOKEN.
//! let runner = run_orchestrator(&client, ProcessOrchestrator::new("./echo-agent").gateway(gateway));
//! client.connect().await?;
//! tokio::signal::ctrl_c().await.ok();
//! runner.shutdown().await;
//! client.close().await;
//! # Ok(()) }
//! ```

mod launch;
mod process;
mod runner;

use std::future::Future;

pub use launch::Launch;
pub use process::{LaunchedProcess, ProcessOrchestrator};
pub use runner::{OrchestratorRunner, RunnerEvent, RunnerOptions, run_orchestrator};

use crate::error::Result;

/// Launches and stops what the gateway asks an orchestrator to start.
///
/// Implement it with `async fn`s:
///
/// ```
/// use aether_client::orchestrator::{Launch, Orchestrator};
/// use aether_client::{AgentClient, Result};
///
/// /// Runs each requested agent in this process.
/// struct InProcess { gateway: String }
///
/// impl Orchestrator for InProcess {
///     type Launched = AgentClient;
///
///     async fn launch(&self, launch: Launch) -> Result<AgentClient> {
///         let agent = launch.agent_builder()?.gateway(&self.gateway).build();
///         agent.connect().await?;
///         Ok(agent)
///     }
///
///     async fn stop(&self, agent: AgentClient) -> Result<()> {
///         agent.close().await;
///         Ok(())
///     }
///
///     async fn wait(&self, agent: &mut AgentClient) -> Result<()> {
///         agent.wait_until_disconnected().await;
///         Ok(())
///     }
/// }
/// ```
pub trait Orchestrator: Send + Sync + 'static {
    /// What a launch leaves behind, to stop later (a child process, a client...).
    type Launched: Send + 'static;

    /// Starts what `launch` asks for. An error fails the startup task.
    fn launch(&self, launch: Launch) -> impl Future<Output = Result<Self::Launched>> + Send;

    /// Stops something launched (on shutdown, or when asked to).
    fn stop(&self, launched: Self::Launched) -> impl Future<Output = Result<()>> + Send;

    /// Resolves when something launched ends on its own: `Ok` for a clean
    /// end, an error for a failure (which fails its task if it has not
    /// ended). The default never resolves: launched things run until stopped.
    fn wait(&self, launched: &mut Self::Launched) -> impl Future<Output = Result<()>> + Send {
        let _ = launched;
        std::future::pending()
    }
}
