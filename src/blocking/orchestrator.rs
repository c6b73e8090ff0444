//! Running an [`Orchestrator`] over a blocking client.

use tokio::sync::broadcast;

use super::Client;
use crate::clients::principal::PrincipalType;
use crate::orchestrator::{self, Orchestrator, RunnerEvent, RunnerOptions};

/// Blocking twin of [`crate::orchestrator::OrchestratorRunner`]: the
/// runner works on the client's own runtime; these methods block.
///
/// ```no_run
/// # fn demo() -> aether_client::Result<()> {
/// use aether_client::blocking::{OrchestratorClient, OrchestratorRunner};
/// use aether_client::orchestrator::ProcessOrchestrator;
///
/// let gateway = "http://127.0.0.1:50051";
/// let client = OrchestratorClient::builder("local", "o1", vec!["echo".into()])?
///     .gateway(gateway)
///     .build()?;
/// let runner = OrchestratorRunner::start(&client, ProcessOrchestrator::new("./echo-agent").gateway(gateway));
/// client.connect()?;
/// // ... until it is time to stop:
/// runner.shutdown();
/// client.close();
/// # Ok(()) }
/// ```
pub struct OrchestratorRunner<O: Orchestrator> {
    inner: orchestrator::OrchestratorRunner<O>,
    client: Client,
}

impl<O: Orchestrator> std::fmt::Debug for OrchestratorRunner<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<O: Orchestrator> OrchestratorRunner<O> {
    /// Starts receiving the client's assignments (before `connect()`),
    /// with the default options.
    pub fn start<P: PrincipalType>(client: &Client<P>, orchestrator: O) -> Self {
        Self::with_options(client, orchestrator, RunnerOptions::default())
    }

    /// Starts receiving the client's assignments with `options`.
    pub fn with_options<P: PrincipalType>(
        client: &Client<P>,
        orchestrator: O,
        options: RunnerOptions,
    ) -> Self {
        let inner = client.block_on(async {
            orchestrator::OrchestratorRunner::start(client.as_async(), orchestrator, options)
        });
        OrchestratorRunner {
            inner,
            client: client.erase(),
        }
    }

    /// The orchestrator being run.
    pub fn orchestrator(&self) -> &O {
        self.inner.orchestrator()
    }

    /// Task ids of everything launched and not yet ended or stopped.
    pub fn launched(&self) -> Vec<String> {
        self.inner.launched()
    }

    /// How many launches are tracked.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Whether a task's launch is tracked.
    pub fn is_tracked(&self, task_id: &str) -> bool {
        self.inner.is_tracked(task_id)
    }

    /// What happens to launches from now on (`blocking_recv()` to wait).
    pub fn events(&self) -> broadcast::Receiver<RunnerEvent> {
        self.inner.events()
    }

    /// Stops one launched task and waits; false if it was not tracked.
    pub fn stop_task(&self, task_id: &str) -> bool {
        self.client.block_on(self.inner.stop_task(task_id))
    }

    /// Stops receiving, stops everything launched, and waits.
    pub fn shutdown(self) {
        let OrchestratorRunner { inner, client } = self;
        client.block_on(inner.shutdown());
    }
}
