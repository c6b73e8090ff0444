//! Tasks and orchestration (§5): creation in the three assignment modes,
//! delivery to pool consumers, targets and orchestrators, queries,
//! operations and the status machine, task tokens, idempotency keys, task
//! events and subscriptions.
//!
//! All state lives in memory behind one lock ([`Tasks`]) and is mirrored
//! into `Table::Tasks` (records) and `Table::Meta` (tokens, idempotency
//! keys). A change runs as a [`Txn`]: it mutates memory and submits the
//! matching mutations inside the lock, then (outside it) waits for the
//! commit before the caller answers and before any push leaves the
//! gateway ([`Settle`]). Pushes to sessions that are gone are dropped; the
//! task stays in the store and is delivered again by the rules of
//! [`worker`] and [`assign`].
//!
//! Everything that happens to a task by itself at a given time (a retry's
//! scheduled start, a scheduled wake, a wait timeout, the end of a dropped
//! worker's grace window, a stuck-task TTL, the purge of a finished task)
//! is a timer derived from its record ([`timers`]), kept in a time-ordered
//! index, and fired by one task, the [`clockwork`].

mod assign;
pub(crate) mod clockwork;
#[cfg(test)]
mod clockwork_tests;
mod completion;
mod context;
pub(crate) mod create;
mod hibernation;
mod idempotency;
mod index;
mod lifecycle;
pub(crate) mod model;
pub(crate) mod ops;
pub(crate) mod query;
mod retry;
pub(crate) mod startup;
pub(crate) mod subscribe;
mod subscriptions;
mod table;
#[cfg(test)]
mod testkit;
mod timers;
mod tokens;
pub(crate) mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use aether_protocol::proto::{DownstreamMessage, ProgressUpdate};
use parking_lot::{Mutex, MutexGuard};
use tokio::sync::Notify;
use tonic::Status;

use crate::answer::Answer;
use crate::checkpoint::Checkpoints;
use crate::context::Context;
use crate::push::Pusher;
use crate::store::{Commit, Mutation, Store, StoreError, Table};
use idempotency::Ledger;
use subscriptions::Subscriptions;
use table::TaskTable;
use timers::Timing;
use tokens::Tokens;

/// Everything the task component keeps.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) table: TaskTable,
    pub(crate) tokens: Tokens,
    pub(crate) ledger: Ledger,
    pub(crate) subs: Subscriptions,
}

/// The task component: its state, and what it needs of the rest of the
/// gateway (the live sessions it hands tasks to, the checkpoints that
/// hibernation requires).
pub(crate) struct Tasks {
    state: Mutex<State>,
    store: Store,
    cx: Arc<Context>,
    checkpoints: Arc<Checkpoints>,
    /// Wakes the clockwork when a timer earlier than all others appears.
    wake: Arc<Notify>,
}

impl Tasks {
    /// Loads tasks, tokens and idempotency keys from `store`, which the
    /// component then writes through.
    pub(crate) fn load(
        store: Store,
        cx: Arc<Context>,
        checkpoints: Arc<Checkpoints>,
    ) -> Result<Self, StoreError> {
        let tasks = store.load(Table::Tasks)?;
        let meta = store.load(Table::Meta)?;
        let timing = Timing::from(&cx.config.limits);
        let state = State {
            table: TaskTable::load(tasks, timing)?,
            tokens: Tokens::load(&meta),
            ledger: Ledger::load(&meta),
            subs: Subscriptions::default(),
        };
        cx.stats
            .task_timers_pending
            .store(state.table.timers.len() as u64, Relaxed);
        let tasks = Tasks {
            state: Mutex::new(state),
            store,
            cx,
            checkpoints,
            wake: Arc::new(Notify::new()),
        };
        // Committed in the background: if it does not make it to disk, the
        // next start does it again.
        drop(worker::after_restart(&tasks));
        Ok(tasks)
    }

    /// Checks a task token presented by a worker connecting as `identity`:
    /// the bound task id when it is one this gateway minted for `identity`,
    /// UNAUTHENTICATED for an unknown, expired or revoked token (revoked
    /// when its task ends), PERMISSION_DENIED for another identity's.
    pub(crate) fn check_task_token(&self, token: &str, identity: &str) -> Result<String, Status> {
        self.state
            .lock()
            .tokens
            .check(token, identity, self.cx.clock.now_ms())
    }

    /// The number of tasks of each workspace.
    pub(crate) fn counts_by_workspace(&self) -> HashMap<String, i64> {
        let st = self.state.lock();
        let mut counts = HashMap::new();
        for r in st.table.all() {
            *counts.entry(r.workspace.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// `ConfigSnapshot.task_context` for a connecting agent (§3.8): the
    /// active `agent_startup` task for its identity, if any.
    pub(crate) fn task_context(&self, identity: &str) -> HashMap<String, String> {
        context::task_context(&self.state.lock().table, identity)
    }
}

/// Pushes and progress updates to send once a change is durable.
#[derive(Default)]
pub(crate) struct Effects {
    pushes: Vec<(Pusher, DownstreamMessage)>,
    progress: Vec<ProgressUpdate>,
}

impl Effects {
    /// Queues a push to a session.
    pub(crate) fn push(&mut self, to: &Pusher, msg: DownstreamMessage) {
        self.pushes.push((to.clone(), msg));
    }

    /// Queues pushes returned by the subscription registry.
    pub(crate) fn extend(&mut self, pushes: Vec<(Pusher, DownstreamMessage)>) {
        self.pushes.extend(pushes);
    }

    /// Queues a progress update for routing.
    pub(crate) fn progress(&mut self, update: ProgressUpdate) {
        self.progress.push(update);
    }

    fn deliver(self, cx: &Context) {
        for (to, msg) in self.pushes {
            to.push(msg);
        }
        for u in self.progress {
            crate::context::progress::deliver(cx, u);
        }
    }
}

/// One change to the task state, under the lock.
pub(crate) struct Txn<'a> {
    /// The live sessions.
    pub(crate) cx: &'a Context,
    tasks: &'a Tasks,
    pub(crate) st: MutexGuard<'a, State>,
    /// The time of this change (ms since the epoch).
    pub(crate) now: i64,
    muts: Vec<Mutation>,
    pub(crate) fx: Effects,
    /// The earliest timer when the change began.
    first_timer: Option<i64>,
}

impl<'a> Txn<'a> {
    /// Takes the task lock.
    pub(crate) fn begin(tasks: &'a Tasks) -> Self {
        let st = tasks.state.lock();
        let first_timer = st.table.timers.first();
        Txn {
            st,
            cx: &tasks.cx,
            tasks,
            now: tasks.cx.clock.now_ms(),
            muts: Vec::new(),
            fx: Effects::default(),
            first_timer,
        }
    }

    /// A copy of task `id`.
    pub(crate) fn get(&self, id: &str) -> Option<model::TaskRecord> {
        self.st.table.get(id).cloned()
    }

    /// Stores `r` (memory now, disk at commit).
    pub(crate) fn put(&mut self, r: model::TaskRecord) {
        let m = self.st.table.put(r);
        self.muts.push(m);
    }

    /// Adds a mutation of another table.
    pub(crate) fn write(&mut self, m: Mutation) {
        self.muts.push(m);
    }

    /// The checkpoint store (hibernation checks it).
    pub(crate) fn checkpoints(&self) -> &'a Checkpoints {
        &self.tasks.checkpoints
    }

    /// Submits the mutations and releases the lock; wakes the clockwork
    /// when a timer earlier than every other appeared.
    pub(crate) fn finish(self) -> Settle {
        let commit = self.tasks.store.submit(self.muts);
        let timers = &self.st.table.timers;
        let first = timers.first();
        if first.is_some() && (self.first_timer.is_none() || first < self.first_timer) {
            self.tasks.wake.notify_one();
        }
        self.cx
            .stats
            .task_timers_pending
            .store(timers.len() as u64, Relaxed);
        drop(self.st);
        Settle {
            commit,
            fx: self.fx,
            cx: self.tasks.cx.clone(),
        }
    }
}

/// A submitted change: wait for it with [`Settle::settle`].
#[must_use = "a change is acknowledged only once settled"]
pub(crate) struct Settle {
    commit: Commit,
    fx: Effects,
    /// Where the pushes go.
    cx: Arc<Context>,
}

impl Settle {
    /// The session's answer: `frames(outcome)` once the change is durable
    /// and its pushes are out (at once when nothing had to be written), so
    /// the session reads on while the journal commits.
    pub(crate) fn answer(
        self,
        frames: impl FnOnce(Result<(), StoreError>) -> Vec<DownstreamMessage> + Send + 'static,
    ) -> Answer {
        if self.commit.is_done() {
            self.fx.deliver(&self.cx);
            return Answer::Now(frames(Ok(())));
        }
        Answer::Later(Box::pin(async move {
            let outcome = self.settle().await;
            frames(outcome)
        }))
    }

    /// Waits until the change is durable, then sends its pushes. On a
    /// store failure nothing is pushed and the error is returned.
    pub(crate) async fn settle(self) -> Result<(), StoreError> {
        match self.commit.await {
            Ok(()) => {
                self.fx.deliver(&self.cx);
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "task change not stored");
                Err(e)
            }
        }
    }
}
