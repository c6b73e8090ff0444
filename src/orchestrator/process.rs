//! [`ProcessOrchestrator`]: runs a command per launch.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::{Launch, Orchestrator};
use crate::error::{Error, ErrorKind, Result};

type ArgsFn = Arc<dyn Fn(&Launch) -> Vec<OsString> + Send + Sync>;

/// An orchestrator that starts one process per launch, with the agent's
/// identity and token in its environment (`AETHER_GATEWAY`,
/// `AETHER_WORKSPACE`, `AETHER_IMPLEMENTATION`, `AETHER_SPECIFIER`,
/// `AETHER_AUTH_TOKEN`), and kills it when stopped (SIGKILL on Unix:
/// there is no graceful SIGTERM phase; agents that must flush state should
/// be stopped through Aether first, e.g. with a CONTROL message). Its
/// `wait` reports a non-zero exit as an error, so the runner fails the
/// task if the agent never got it going.
///
/// ```
/// use aether_client::orchestrator::ProcessOrchestrator;
/// use std::time::Duration;
/// let orch = ProcessOrchestrator::new("python3")
///     .arg("-m")
///     .arg("my_agent")
///     .env("LOG_LEVEL", "info")
///     .gateway("http://127.0.0.1:50051")
///     .stop_timeout(Duration::from_secs(5));
/// ```
#[derive(Clone)]
#[must_use]
pub struct ProcessOrchestrator {
    program: OsString,
    args: Vec<OsString>,
    launch_args: Option<ArgsFn>,
    envs: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    gateway: String,
    inherit_output: bool,
    stop_timeout: Duration,
}

impl std::fmt::Debug for ProcessOrchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessOrchestrator")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("gateway", &self.gateway)
            .finish_non_exhaustive()
    }
}

impl ProcessOrchestrator {
    /// Runs `program` for every launch.
    pub fn new(program: impl Into<OsString>) -> Self {
        ProcessOrchestrator {
            program: program.into(),
            args: Vec::new(),
            launch_args: None,
            envs: Vec::new(),
            current_dir: None,
            gateway: String::new(),
            inherit_output: true,
            stop_timeout: Duration::from_secs(5),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds arguments computed from each launch (after the fixed ones).
    pub fn launch_args(
        mut self,
        f: impl Fn(&Launch) -> Vec<OsString> + Send + Sync + 'static,
    ) -> Self {
        self.launch_args = Some(Arc::new(f));
        self
    }

    /// Sets an environment variable of the launched processes.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// The working directory of the launched processes.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// The gateway URL the launched agents connect to (`AETHER_GATEWAY`).
    pub fn gateway(mut self, url: impl Into<String>) -> Self {
        self.gateway = url.into();
        self
    }

    /// Whether launched processes write to this process's stdout and
    /// stderr (default) or to nowhere.
    pub fn inherit_output(mut self, yes: bool) -> Self {
        self.inherit_output = yes;
        self
    }

    /// How long `stop` waits for a killed process to be reaped.
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    fn command(&self, launch: &Launch) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        if let Some(f) = &self.launch_args {
            cmd.args(f(launch));
        }
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)));
        cmd.envs(launch.env(&self.gateway));
        if let Some(dir) = &self.current_dir {
            cmd.current_dir(dir);
        }
        cmd.stdin(Stdio::null());
        if !self.inherit_output {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        cmd.kill_on_drop(true);
        cmd
    }
}

/// A process started by [`ProcessOrchestrator`].
#[derive(Debug)]
pub struct LaunchedProcess {
    child: Child,
    task_id: String,
    started_at: Instant,
}

impl LaunchedProcess {
    /// The startup task it was launched for.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The OS process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// When it was started.
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// The child process, for anything else.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Orchestrator for ProcessOrchestrator {
    type Launched = LaunchedProcess;

    async fn launch(&self, launch: Launch) -> Result<LaunchedProcess> {
        let child = self.command(&launch).spawn().map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("cannot start {:?}: {e}", self.program),
            )
            .with_source(e)
        })?;
        tracing::info!(task_id = %launch.task_id, pid = ?child.id(), identity = %launch.identity(), "launched");
        Ok(LaunchedProcess {
            child,
            task_id: launch.task_id,
            started_at: Instant::now(),
        })
    }

    async fn stop(&self, mut launched: LaunchedProcess) -> Result<()> {
        if let Err(e) = launched.child.start_kill() {
            // Already reaped or gone: nothing left to stop.
            tracing::debug!(task_id = %launched.task_id, error = %e, "kill");
        }
        match tokio::time::timeout(self.stop_timeout, launched.child.wait()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Error::new(
                ErrorKind::Closed,
                format!("cannot reap the process: {e}"),
            )
            .with_source(e)),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                "the killed process was not reaped in time",
            )),
        }
    }

    async fn wait(&self, launched: &mut LaunchedProcess) -> Result<()> {
        let status = launched.child.wait().await.map_err(|e| {
            Error::new(
                ErrorKind::Closed,
                format!("cannot wait for the process: {e}"),
            )
            .with_source(e)
        })?;
        exit_result(status)
    }
}

fn exit_result(status: ExitStatus) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Rejected,
            format!("the launched process exited with {status}"),
        ))
    }
}
