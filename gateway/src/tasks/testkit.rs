//! A task component over a memory store with its clockwork running, and
//! live sessions whose pushes a test reads: unit tests of the timers run
//! on tokio's paused clock with it.

use std::sync::Arc;

use aether_protocol::identity::Principal;
use aether_protocol::proto::{
    DownstreamMessage, TaskAssignment, TaskEvent, TaskOperation, TaskOperationResponse,
    TaskSubscriptionOperation, WaitSpec, downstream_message::Payload, task_operation,
    task_subscription_operation,
};
use futures_util::{FutureExt, StreamExt};
use tokio::task::JoinHandle;

use super::model::TaskRecord;
use super::{Tasks, Txn, clockwork, ops, subscribe, worker};
use crate::answer::Answer;
use crate::checkpoint::Checkpoints;
use crate::config::{GatewayConfig, Limits};
use crate::context::Context;
use crate::context::handle::{NewSession, SessionHandle};
use crate::mailbox::MailboxStore;
use crate::outbound::{self, OutboundStream, Outbox};
use crate::push::Pusher;
use crate::store::Store;

/// The component and its running clockwork.
pub(crate) struct Kit {
    pub(crate) tasks: Arc<Tasks>,
    clockwork: JoinHandle<()>,
}

impl Drop for Kit {
    fn drop(&mut self) {
        self.clockwork.abort();
    }
}

/// A connected session.
pub(crate) struct Live {
    pub(crate) handle: Arc<SessionHandle>,
    _tx: Outbox,
    stream: OutboundStream,
}

impl Live {
    /// The next push to this session.
    pub(crate) async fn push(&mut self) -> Payload {
        let m: DownstreamMessage = self
            .stream
            .next()
            .await
            .expect("stream open")
            .expect("no error")
            .into();
        m.payload.expect("payload")
    }

    /// The next push `f` accepts (others are skipped).
    pub(crate) async fn wait_for<T>(&mut self, f: impl Fn(&Payload) -> Option<T>) -> T {
        loop {
            let p = self.push().await;
            if let Some(t) = f(&p) {
                return t;
            }
        }
    }

    /// The next task assignment.
    pub(crate) async fn assignment(&mut self) -> TaskAssignment {
        self.wait_for(|p| match p {
            Payload::TaskAssignment(a) => Some(*a.clone()),
            _ => None,
        })
        .await
    }

    /// The next task event.
    pub(crate) async fn event(&mut self) -> TaskEvent {
        self.wait_for(|p| match p {
            Payload::TaskEvent(e) => Some(*e.clone()),
            _ => None,
        })
        .await
    }

    /// Pushes already queued, without waiting.
    pub(crate) fn queued(&mut self) -> Vec<Payload> {
        let mut out = Vec::new();
        while let Some(Some(Ok(m))) = self.stream.next().now_or_never() {
            out.extend(DownstreamMessage::from(m).payload);
        }
        out
    }
}

/// A kit with `limits`.
pub(crate) fn kit(limits: Limits) -> Kit {
    let store = Store::memory();
    let config = GatewayConfig::dev().with_limits(limits);
    let mailboxes = MailboxStore::restore((&config.limits).into(), &store).unwrap();
    let checkpoints = Checkpoints::load(store.clone(), config.limits.max_checkpoint_bytes).unwrap();
    let audit = crate::audit::Audit::load(store.clone(), 16).unwrap();
    let authz = Arc::new(crate::authz::Authz::load(store.clone()).unwrap());
    let cx = Arc::new(Context::new(config, mailboxes, audit, authz));
    let tasks = Arc::new(Tasks::load(store, cx, Arc::new(checkpoints)).unwrap());
    let clockwork = tokio::spawn(clockwork::run(Arc::downgrade(&tasks)));
    Kit { tasks, clockwork }
}

impl Kit {
    /// Connects `principal` (bound to `worker_task` when given) and hands
    /// it its waiting work.
    pub(crate) async fn connect(&self, principal: Principal, worker_task: Option<&str>) -> Live {
        let cx = &self.tasks.cx;
        let limits = outbound::QueueLimits {
            reply_items: 1024,
            reply_bytes: 1 << 20,
            push_items: 1024,
            push_bytes: 1 << 20,
        };
        let (tx, outlet, stream) = outbound::channel(limits, cx.stats.clone());
        let identity = match &principal {
            Principal::Task {
                unique_specifier: None,
                ..
            } => principal.identity_string_with(Some(&uuid::Uuid::new_v4().to_string())),
            _ => principal.identity_string_with(None),
        };
        let handle = Arc::new(SessionHandle::new(NewSession {
            session_id: uuid::Uuid::new_v4().to_string(),
            identity,
            topic: None,
            principal,
            admin: true,
            administrator: true,
            credential: crate::credential::Credential::Open,
            mailbox: None,
            outlet,
            pusher: Pusher::new(&tx),
            worker_task: worker_task.map(str::to_string),
        }));
        cx.admit(&handle, "", cx.clock.now_ms()).expect("admitted");
        worker::session_started(&self.tasks, &handle).await;
        Live {
            handle,
            _tx: tx,
            stream,
        }
    }

    /// Ends a session the way `how` says.
    pub(crate) async fn disconnect(&self, live: Live, how: worker::Departure) {
        self.tasks.cx.remove(&live.handle);
        worker::session_ended(&self.tasks, &live.handle, how).await;
    }

    /// Stores `r` as it is.
    pub(crate) async fn put(&self, r: TaskRecord) {
        let settle = {
            let mut txn = Txn::begin(&self.tasks);
            txn.put(r);
            txn.finish()
        };
        settle.settle().await.unwrap();
    }

    /// Task `id` now.
    pub(crate) fn get(&self, id: &str) -> Option<TaskRecord> {
        Txn::begin(&self.tasks).get(id)
    }

    /// Runs task operation `op` on `task` as `caller`.
    pub(crate) fn op(
        &self,
        caller: &Live,
        op: task_operation::OpType,
        task: &str,
        reason: &str,
        wait_spec: Option<WaitSpec>,
    ) -> TaskOperationResponse {
        let op = TaskOperation {
            op: op as i32,
            task_id: task.to_string(),
            reason: reason.to_string(),
            request_id: "r".into(),
            wait_spec,
        };
        match ops::task_op(&self.tasks, &caller.handle, "w", op) {
            Answer::Now(frames) => match frames.into_iter().next().and_then(|f| f.payload) {
                Some(Payload::TaskOp(r)) => *r,
                other => panic!("expected a task_op answer, got {other:?}"),
            },
            Answer::Later(_) => panic!("a memory store answers at once"),
        }
    }

    /// Subscribes `caller` to the events of `task`.
    pub(crate) fn subscribe(&self, caller: &Live, task: &str) {
        let op = TaskSubscriptionOperation {
            op: task_subscription_operation::OpType::Subscribe as i32,
            task_id: task.to_string(),
            ..Default::default()
        };
        subscribe::task_subscription_op(&self.tasks, &caller.handle, "w", op);
    }

    /// Stores `r` (pending) and offers it by its mode.
    pub(crate) async fn offer(&self, r: TaskRecord) {
        let settle = {
            let mut txn = Txn::begin(&self.tasks);
            txn.put(r.clone());
            txn.redeliver(r);
            txn.finish()
        };
        settle.settle().await.unwrap();
    }

    /// The gateway clock now.
    pub(crate) fn now(&self) -> i64 {
        self.tasks.cx.clock.now_ms()
    }
}
