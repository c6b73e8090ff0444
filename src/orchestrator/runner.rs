//! [`OrchestratorRunner`]: receives assignments, launches, tracks, stops.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use parking_lot::Mutex;
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;

use super::{Launch, Orchestrator};
use crate::Client;
use crate::clients::principal::PrincipalType;
use crate::connection::ConnectionState;
use crate::connection::{Push, PushFilter, PushReceiver, Slot};
use crate::error::{Error, ErrorKind};
use crate::proto::downstream_message::Payload as Down;

/// How an [`OrchestratorRunner`] treats failures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunnerOptions {
    /// Fail the task when its launch fails (default true), so the gateway
    /// does not wait for an agent that will never come.
    pub fail_on_launch_error: bool,
    /// Fail the task when what was launched ends with an error while the
    /// task is still open (default true).
    pub fail_on_exit_error: bool,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            fail_on_launch_error: true,
            fail_on_exit_error: true,
        }
    }
}

impl RunnerOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a failed launch fails the task.
    pub fn fail_on_launch_error(mut self, yes: bool) -> Self {
        self.fail_on_launch_error = yes;
        self
    }

    /// Whether a failed exit fails the (still open) task.
    pub fn fail_on_exit_error(mut self, yes: bool) -> Self {
        self.fail_on_exit_error = yes;
        self
    }
}

/// What happened to a launch, for observers ([`OrchestratorRunner::events`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunnerEvent {
    /// `launch` succeeded; the launched thing is tracked.
    Launched {
        /// The startup task.
        task_id: String,
    },
    /// `launch` failed (or panicked).
    LaunchFailed {
        /// The startup task.
        task_id: String,
        /// Why.
        error: String,
    },
    /// What was launched ended on its own.
    Exited {
        /// The startup task.
        task_id: String,
        /// Why, if it failed.
        error: Option<String>,
    },
    /// What was launched was stopped (on request or at shutdown).
    Stopped {
        /// The startup task.
        task_id: String,
    },
}

/// Runs an [`Orchestrator`] for a client: every `TaskAssignment` the client
/// receives is launched once (a repeated assignment of a tracked task is
/// ignored), tracked by task id until it ends or is stopped, and stopped at
/// [`shutdown`](Self::shutdown) or when the client closes for good. A
/// launch, wait or stop that fails or panics affects only its own task.
///
/// Start the runner before `connect()`: assignments pushed before it
/// starts are not seen. Dropping the runner stops everything in the
/// background; `shutdown` does it and waits. The client stays yours to close.
pub struct OrchestratorRunner<O: Orchestrator> {
    inner: Arc<Inner<O>>,
    stop: Option<oneshot::Sender<()>>,
    main: Option<JoinHandle<()>>,
}

struct Inner<O: Orchestrator> {
    orchestrator: O,
    client: Client,
    options: RunnerOptions,
    tracked: Mutex<HashMap<String, Tracked>>,
    events: broadcast::Sender<RunnerEvent>,
}

struct Tracked {
    stop: Option<oneshot::Sender<()>>,
    join: Option<JoinHandle<()>>,
}

impl Tracked {
    /// Takes the stop signal and the join handle, leaving the entry in place
    /// (its supervisor removes it).
    fn take(&mut self) -> Tracked {
        Tracked {
            stop: self.stop.take(),
            join: self.join.take(),
        }
    }
}

/// Starts an [`OrchestratorRunner`] with the default options. Call it
/// inside a tokio runtime, before `connect()`.
pub fn run_orchestrator<O: Orchestrator, P: PrincipalType>(
    client: &Client<P>,
    orchestrator: O,
) -> OrchestratorRunner<O> {
    OrchestratorRunner::start(client, orchestrator, RunnerOptions::default())
}

impl<O: Orchestrator> std::fmt::Debug for OrchestratorRunner<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrchestratorRunner")
            .field("launched", &self.launched())
            .finish_non_exhaustive()
    }
}

impl<O: Orchestrator> OrchestratorRunner<O> {
    /// Starts receiving the client's assignments. Call it inside a tokio
    /// runtime, before `connect()`.
    pub fn start<P: PrincipalType>(
        client: &Client<P>,
        orchestrator: O,
        options: RunnerOptions,
    ) -> Self {
        let (events, _) = broadcast::channel(256);
        let inner = Arc::new(Inner {
            orchestrator,
            client: client.erase(),
            options,
            tracked: Mutex::new(HashMap::new()),
            events,
        });
        // Subscribed before connect(): no assignment can slip past it.
        let assignments = client.subscribe(PushFilter::TaskAssignments);
        let state = client.watch_state();
        let (stop, stop_rx) = oneshot::channel();
        let main = tokio::spawn(receive(inner.clone(), assignments, state, stop_rx));
        OrchestratorRunner {
            inner,
            stop: Some(stop),
            main: Some(main),
        }
    }

    /// The orchestrator being run.
    pub fn orchestrator(&self) -> &O {
        &self.inner.orchestrator
    }

    /// Task ids of everything launched and not yet ended or stopped
    /// (including launches in progress).
    pub fn launched(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.inner.tracked.lock().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// How many launches are tracked.
    pub fn len(&self) -> usize {
        self.inner.tracked.lock().len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a task's launch is tracked.
    pub fn is_tracked(&self, task_id: &str) -> bool {
        self.inner.tracked.lock().contains_key(task_id)
    }

    /// A stream of what happens to launches (from now on).
    pub fn events(&self) -> broadcast::Receiver<RunnerEvent> {
        self.inner.events.subscribe()
    }

    /// Stops one launched task and waits until it is stopped; false if it
    /// was not tracked.
    pub async fn stop_task(&self, task_id: &str) -> bool {
        let entry = {
            let mut tracked = self.inner.tracked.lock();
            tracked.get_mut(task_id).map(Tracked::take)
        };
        let Some(Tracked { stop, join }) = entry else {
            return false;
        };
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        if let Some(join) = join {
            let _ = join.await;
        }
        true
    }

    /// Stops receiving assignments, stops everything launched, and waits.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(main) = self.main.take() {
            let _ = main.await;
        }
    }
}

impl<O: Orchestrator> Drop for OrchestratorRunner<O> {
    fn drop(&mut self) {
        // Dropping the stop sender ends the receive loop, which stops
        // everything launched on its way out.
        self.stop.take();
    }
}

async fn receive<O: Orchestrator>(
    inner: Arc<Inner<O>>,
    mut assignments: PushReceiver,
    mut state: watch::Receiver<ConnectionState>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            changed = state.changed() => {
                if changed.is_err() || state.borrow_and_update().is_closed() {
                    break;
                }
            }
            next = assignments.recv() => match next {
                Some(Slot::Item(Push::Frame(Down::TaskAssignment(a)))) => {
                    spawn_launch(&inner, Launch::from_assignment(*a));
                }
                Some(Slot::Item(_)) => {}
                Some(Slot::Lost(n)) => {
                    tracing::error!(lost = n, "orchestrator runner fell behind: assignments were lost");
                }
                None => break,
            },
        }
    }
    stop_all(&inner).await;
}

fn spawn_launch<O: Orchestrator>(inner: &Arc<Inner<O>>, launch: Launch) {
    let task_id = launch.task_id.clone();
    if task_id.is_empty() {
        tracing::warn!("assignment without a task id ignored");
        return;
    }
    let mut tracked = inner.tracked.lock();
    if tracked.contains_key(&task_id) {
        tracing::debug!(%task_id, "repeated assignment of a tracked task ignored");
        return;
    }
    let (stop, stop_rx) = oneshot::channel();
    // The supervisor removes its own entry when it ends; it cannot do so
    // before the entry exists, because the map is locked until then.
    let join = tokio::spawn(supervise(inner.clone(), launch, stop_rx));
    tracked.insert(
        task_id,
        Tracked {
            stop: Some(stop),
            join: Some(join),
        },
    );
}

async fn stop_all<O: Orchestrator>(inner: &Arc<Inner<O>>) {
    let entries: Vec<Tracked> = inner
        .tracked
        .lock()
        .values_mut()
        .map(Tracked::take)
        .collect();
    let mut joins = Vec::new();
    for Tracked { stop, join } in entries {
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        joins.extend(join);
    }
    for join in joins {
        let _ = join.await;
    }
}

/// Removes a task's entry when its supervisor ends, however it ends.
struct Untrack<O: Orchestrator> {
    inner: Arc<Inner<O>>,
    task_id: String,
}

impl<O: Orchestrator> Drop for Untrack<O> {
    fn drop(&mut self) {
        self.inner.tracked.lock().remove(&self.task_id);
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

async fn supervise<O: Orchestrator>(
    inner: Arc<Inner<O>>,
    launch: Launch,
    mut stop: oneshot::Receiver<()>,
) {
    let task_id = launch.task_id.clone();
    let _untrack = Untrack {
        inner: inner.clone(),
        task_id: task_id.clone(),
    };
    let emit = |e: RunnerEvent| {
        let _ = inner.events.send(e);
    };
    let launched = AssertUnwindSafe(inner.orchestrator.launch(launch))
        .catch_unwind()
        .await;
    let mut launched = match launched {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            tracing::warn!(%task_id, error = %e, "launch failed");
            emit(RunnerEvent::LaunchFailed {
                task_id: task_id.clone(),
                error: e.to_string(),
            });
            if inner.options.fail_on_launch_error {
                fail_task(
                    &inner.client,
                    &task_id,
                    &format!("launch failed: {e}"),
                    false,
                )
                .await;
            }
            return;
        }
        Err(panic) => {
            let why = format!("launch panicked: {}", panic_message(&*panic));
            tracing::error!(%task_id, "{why}");
            emit(RunnerEvent::LaunchFailed {
                task_id: task_id.clone(),
                error: why.clone(),
            });
            if inner.options.fail_on_launch_error {
                fail_task(&inner.client, &task_id, &why, false).await;
            }
            return;
        }
    };
    emit(RunnerEvent::Launched {
        task_id: task_id.clone(),
    });
    let exited = {
        let wait = AssertUnwindSafe(inner.orchestrator.wait(&mut launched)).catch_unwind();
        tokio::select! {
            biased;
            _ = &mut stop => None,
            r = wait => Some(r),
        }
    };
    let failure = match exited {
        None => {
            match AssertUnwindSafe(inner.orchestrator.stop(launched))
                .catch_unwind()
                .await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(%task_id, error = %e, "stop failed"),
                Err(panic) => {
                    tracing::error!(%task_id, "stop panicked: {}", panic_message(&*panic))
                }
            }
            emit(RunnerEvent::Stopped {
                task_id: task_id.clone(),
            });
            return;
        }
        Some(Ok(Ok(()))) => None,
        Some(Ok(Err(e))) => Some(e.to_string()),
        Some(Err(panic)) => Some(format!("wait panicked: {}", panic_message(&*panic))),
    };
    emit(RunnerEvent::Exited {
        task_id: task_id.clone(),
        error: failure.clone(),
    });
    if let Some(why) = failure {
        tracing::warn!(%task_id, error = %why, "launched agent ended with an error");
        if inner.options.fail_on_exit_error {
            fail_task(&inner.client, &task_id, &why, true).await;
        }
    }
}

/// Fails a task (best effort, logged); with `only_if_open`, leaves a task
/// that has already ended alone.
async fn fail_task(client: &Client, task_id: &str, reason: &str, only_if_open: bool) {
    if only_if_open {
        match client.get_task(task_id).await {
            Ok(info) if crate::tasks::is_terminal(info.status()) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(%task_id, error = %e, "cannot read the task to fail it");
                return;
            }
        }
    }
    if let Err(e) = client.fail_task(task_id, reason).await {
        log_fail_error(task_id, &e);
    }
}

fn log_fail_error(task_id: &str, e: &Error) {
    tracing::warn!(%task_id, error = %e, "cannot mark the task failed");
}
