//! [`TaskSubscription`]: a task's events as a `Stream` that survives reconnects.
//!
//! The gateway ends every subscription with the session that made it. A
//! subscription's worker task watches the connection: when the client comes
//! back on a new session it subscribes again and follows the new
//! subscription id. Events are picked out of [`Client::frames`] by
//! subscription id.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_util::Stream;
use parking_lot::Mutex;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::Client;
use crate::connection::ConnectionState;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::downstream_message::Payload as Down;
use crate::proto::{TaskEvent, task_subscription_operation::OpType};

/// How to subscribe to a task's events.
///
/// ```
/// use aether_client::tasks::SubscribeOptions;
/// let opts = SubscribeOptions::new().recursive(true).start_timestamp_unix_ms(0);
/// assert!(opts.recursive);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscribeOptions {
    /// Also deliver the events of the task's descendants (those existing
    /// when the subscription is made).
    pub recursive: bool,
    /// Replay events from this time (unix ms); 0 = live events only.
    pub start_timestamp_unix_ms: i64,
    /// After a reconnect, ask the gateway to replay what was emitted while
    /// the client was away (from the last event seen), dropping exact
    /// repeats. On by default; a gateway that keeps no event history
    /// replays nothing, and the gap remains.
    pub replay_after_reconnect: bool,
    /// Events buffered for a slow consumer before the worker waits
    /// (default 256).
    pub buffer: usize,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            recursive: false,
            start_timestamp_unix_ms: 0,
            replay_after_reconnect: true,
            buffer: 256,
        }
    }
}

impl SubscribeOptions {
    /// Live events of the task itself.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also the events of its descendants.
    pub fn recursive(mut self, yes: bool) -> Self {
        self.recursive = yes;
        self
    }

    /// Replays events from this time (unix ms).
    pub fn start_timestamp_unix_ms(mut self, ts: i64) -> Self {
        self.start_timestamp_unix_ms = ts;
        self
    }

    /// Whether to ask for a replay of the reconnect gap (default true).
    pub fn replay_after_reconnect(mut self, yes: bool) -> Self {
        self.replay_after_reconnect = yes;
        self
    }

    /// Events buffered for a slow consumer.
    pub fn buffer(mut self, n: usize) -> Self {
        self.buffer = n.max(1);
        self
    }
}

/// The events of one task (and with `recursive`, of its descendants), as a
/// `Stream<Item = TaskEvent>`.
///
/// * **Survives reconnects.** When the client reconnects on a new session,
///   the subscription is made again and the stream goes on. Events emitted
///   while the client was away are replayed when the gateway keeps them
///   (see [`SubscribeOptions::replay_after_reconnect`]); otherwise they are
///   missed. Delivery across a reconnect is at-least-once at best: exact
///   repeats at the boundary are dropped, but expect possible gaps.
/// * **Ends** when the client closes for good, or when subscribing again
///   fails for a reason retrying cannot fix (see [`error`](Self::error)).
/// * **Unsubscribes on drop** (a best-effort UNSUBSCRIBE in the
///   background); [`unsubscribe`](Self::unsubscribe) does it and waits for
///   the gateway's answer.
///
/// Events are picked out of [`Client::frames`]; a consumer that lags
/// behind that broadcast skips events, counted by [`missed`](Self::missed).
/// `on_task_event` handlers keep receiving every task event as well.
///
/// ```no_run
/// # async fn demo(client: aether_client::Client) -> aether_client::Result<()> {
/// use aether_client::tasks::SubscribeOptions;
/// use futures_util::StreamExt;
/// let mut events = client.subscribe_to_task("task-1", SubscribeOptions::new()).await?;
/// while let Some(event) = events.next().await {
///     println!("{:?}", event.event);
/// }
/// # Ok(()) }
/// ```
pub struct TaskSubscription {
    task_id: String,
    rx: mpsc::Receiver<TaskEvent>,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    worker: Option<tokio::task::JoinHandle<()>>,
    client: Client,
}

#[derive(Default)]
struct Shared {
    subscription_id: Mutex<String>,
    error: Mutex<Option<Error>>,
    missed: AtomicU64,
    resubscribes: AtomicU64,
}

impl std::fmt::Debug for TaskSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSubscription")
            .field("task_id", &self.task_id)
            .field("subscription_id", &*self.shared.subscription_id.lock())
            .finish_non_exhaustive()
    }
}

impl TaskSubscription {
    /// Subscribes (the first SUBSCRIBE is awaited, so a missing task fails
    /// here with `NotFound`) and starts the worker.
    pub(crate) async fn start(
        client: &Client,
        task_id: &str,
        opts: SubscribeOptions,
    ) -> Result<Self> {
        if task_id.is_empty() {
            return Err(Error::invalid("subscribe_to_task needs a task id"));
        }
        // Tap the frames and the state before subscribing, so nothing
        // emitted between the reply and the worker's start is lost.
        let frames = client.frames();
        let mut state = client.watch_state();
        let session = match &*state.borrow_and_update() {
            ConnectionState::Connected(info) => info.session_id.clone(),
            _ => String::new(),
        };
        let subscribed_at = now_unix_ms();
        let id = subscribe(client, task_id, &opts, opts.start_timestamp_unix_ms).await?;
        let shared = Arc::new(Shared::default());
        *shared.subscription_id.lock() = id.clone();
        let (tx, rx) = mpsc::channel(opts.buffer.max(1));
        let (stop_tx, stop_rx) = oneshot::channel();
        let worker = Worker {
            client: client.clone(),
            task_id: task_id.to_string(),
            resume_from: opts.start_timestamp_unix_ms.max(subscribed_at),
            opts,
            frames,
            state,
            session,
            tx,
            shared: shared.clone(),
            ids: VecDeque::from([id]),
            replaying: false,
            last_emitted: 0,
            boundary: Vec::new(),
        };
        let worker = tokio::spawn(worker.run(stop_rx));
        Ok(TaskSubscription {
            task_id: task_id.to_string(),
            rx,
            shared,
            stop: Some(stop_tx),
            worker: Some(worker),
            client: client.clone(),
        })
    }

    /// The task subscribed to.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The gateway's id of the current subscription (it changes after a
    /// reconnect).
    pub fn subscription_id(&self) -> String {
        self.shared.subscription_id.lock().clone()
    }

    /// How many times the subscription was made again after a reconnect.
    pub fn resubscribes(&self) -> u64 {
        self.shared.resubscribes.load(Ordering::Relaxed)
    }

    /// Frames skipped because this subscription lagged behind the client's
    /// frame broadcast (some may have been this task's events).
    pub fn missed(&self) -> u64 {
        self.shared.missed.load(Ordering::Relaxed)
    }

    /// Why the stream ended early, if it did (subscribing again after a
    /// reconnect failed, e.g. the task is gone).
    pub fn error(&self) -> Option<Error> {
        self.shared.error.lock().as_ref().map(clone_error)
    }

    /// Stops the stream and unsubscribes, waiting for the gateway's answer.
    pub async fn unsubscribe(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(worker) = self.worker.take() {
            let _ = worker.await;
        }
        let id = self.subscription_id();
        let resp = self.client.reply(unsubscribe_request(&id, true)).await?;
        match resp {
            Down::TaskSubscriptionResponse(r) if r.success => Ok(()),
            Down::TaskSubscriptionResponse(r) => {
                Err(super::refused("task_subscription_op", &r.error))
            }
            other => Err(crate::clients::core::unexpected(
                "task_subscription_op",
                &other,
            )),
        }
    }
}

impl Stream for TaskSubscription {
    type Item = TaskEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TaskEvent>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for TaskSubscription {
    fn drop(&mut self) {
        // Dropping the stop sender tells the worker to unsubscribe (best
        // effort) and exit; no runtime is needed here.
        self.stop.take();
    }
}

fn clone_error(e: &Error) -> Error {
    let mut out = Error::new(e.kind(), e.message());
    if let Some(code) = e.code() {
        out = out.with_code(code.to_string());
    }
    out
}

pub(crate) fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn subscribe_request(task_id: &str, opts: &SubscribeOptions, start: i64) -> crate::ops::OpRequest {
    use crate::proto::upstream_message::Payload as Up;
    crate::ops::OpRequest::awaited(
        "task_subscription_op",
        Up::TaskSubscriptionOp(Box::new(crate::proto::TaskSubscriptionOperation {
            op: OpType::Subscribe as i32,
            task_id: task_id.to_string(),
            recursive: opts.recursive,
            start_timestamp_unix_ms: start,
            ..Default::default()
        })),
    )
}

fn unsubscribe_request(subscription_id: &str, awaited: bool) -> crate::ops::OpRequest {
    use crate::proto::upstream_message::Payload as Up;
    let payload = Up::TaskSubscriptionOp(Box::new(crate::proto::TaskSubscriptionOperation {
        op: OpType::Unsubscribe as i32,
        subscription_id: subscription_id.to_string(),
        ..Default::default()
    }));
    if awaited {
        crate::ops::OpRequest::awaited("task_subscription_op", payload)
    } else {
        crate::ops::OpRequest::fire_and_forget("task_subscription_op", payload)
    }
}

async fn subscribe(
    client: &Client,
    task_id: &str,
    opts: &SubscribeOptions,
    start: i64,
) -> Result<String> {
    match client
        .reply(subscribe_request(task_id, opts, start))
        .await?
    {
        Down::TaskSubscriptionResponse(r) if r.success && !r.subscription_id.is_empty() => {
            Ok(r.subscription_id)
        }
        Down::TaskSubscriptionResponse(r) if r.success => Err(Error::new(
            ErrorKind::Protocol,
            "task_subscription_op: the gateway returned no subscription id",
        )),
        Down::TaskSubscriptionResponse(r) => Err(super::refused("task_subscription_op", &r.error)),
        other => Err(crate::clients::core::unexpected(
            "task_subscription_op",
            &other,
        )),
    }
}

/// How the worker ended.
enum Exit {
    /// The stream was dropped: unsubscribe in the background.
    Dropped,
    /// `unsubscribe()` takes over.
    Explicit,
    /// The client closed, or subscribing again failed for good.
    Ended,
}

/// Ids of earlier subscriptions of this stream that are still accepted
/// (their events may still sit in the frame buffer).
const KEEP_IDS: usize = 8;

struct Worker {
    client: Client,
    task_id: String,
    opts: SubscribeOptions,
    frames: broadcast::Receiver<Arc<Down>>,
    state: watch::Receiver<ConnectionState>,
    /// The session the current subscription lives on.
    session: String,
    tx: mpsc::Sender<TaskEvent>,
    shared: Arc<Shared>,
    /// Subscription ids of this stream, newest last.
    ids: VecDeque<String>,
    /// Whether the current subscription replays a gap (dedup applies).
    replaying: bool,
    /// Where a replay after a reconnect starts when no event was seen yet.
    resume_from: i64,
    /// The newest `emitted_at_unix_ms` delivered, and the events delivered
    /// at exactly that time (to drop their replayed repeats).
    last_emitted: i64,
    boundary: Vec<TaskEvent>,
}

impl Worker {
    async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let exit = self.serve(&mut stop).await;
        match exit {
            Exit::Dropped => {
                let id = self.current_id();
                let _ = self.client.call(unsubscribe_request(&id, false)).await;
            }
            Exit::Explicit | Exit::Ended => {}
        }
    }

    fn current_id(&self) -> String {
        self.ids.back().cloned().unwrap_or_default()
    }

    async fn serve(&mut self, stop: &mut oneshot::Receiver<()>) -> Exit {
        loop {
            tokio::select! {
                biased;
                r = &mut *stop => return stop_kind(r),
                changed = self.state.changed() => {
                    if changed.is_err() {
                        return Exit::Ended;
                    }
                    let state = self.state.borrow_and_update().clone();
                    match state {
                        ConnectionState::Connected(info) if info.session_id != self.session => {
                            if let Some(exit) = self.resubscribe(stop).await {
                                return exit;
                            }
                        }
                        ConnectionState::Closed { .. } => return Exit::Ended,
                        _ => {}
                    }
                }
                frame = self.frames.recv() => match frame {
                    Ok(frame) => {
                        if let Down::TaskEvent(event) = &*frame
                            && self.accept(event)
                        {
                            tokio::select! {
                                biased;
                                r = &mut *stop => return stop_kind(r),
                                sent = self.tx.send(*event.clone()) => {
                                    if sent.is_err() {
                                        return Exit::Dropped;
                                    }
                                }
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(task_id = %self.task_id, skipped = n, "task subscription lagged");
                        self.shared.missed.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(broadcast::error::RecvError::Closed) => return Exit::Ended,
                },
            }
        }
    }

    /// Whether `event` belongs to this stream and is not a replayed repeat.
    fn accept(&mut self, event: &TaskEvent) -> bool {
        if !self.ids.iter().any(|id| *id == event.subscription_id) {
            return false;
        }
        let at = event.emitted_at_unix_ms;
        let is_current = self.ids.back() == Some(&event.subscription_id);
        if self.replaying && is_current {
            if at < self.last_emitted {
                return false;
            }
            if at == self.last_emitted && self.boundary.iter().any(|e| same_event(e, event)) {
                return false;
            }
        }
        if at > self.last_emitted {
            self.last_emitted = at;
            self.boundary.clear();
        }
        if at == self.last_emitted {
            self.boundary.push(event.clone());
        }
        true
    }

    /// Subscribes again on the current session. `Some(exit)` ends the worker.
    async fn resubscribe(&mut self, stop: &mut oneshot::Receiver<()>) -> Option<Exit> {
        loop {
            let session = match &*self.state.borrow_and_update() {
                ConnectionState::Connected(info) => info.session_id.clone(),
                ConnectionState::Closed { .. } => return Some(Exit::Ended),
                _ => String::new(),
            };
            if session.is_empty() {
                tokio::select! {
                    biased;
                    r = &mut *stop => return Some(stop_kind(r)),
                    changed = self.state.changed() => {
                        if changed.is_err() {
                            return Some(Exit::Ended);
                        }
                        continue;
                    }
                }
            }
            // If the old subscription somehow lives on this session, end it
            // (unknown ids are ignored by the gateway).
            let old = self.current_id();
            let _ = self.client.call(unsubscribe_request(&old, false)).await;
            let start = if self.opts.replay_after_reconnect {
                self.last_emitted.max(self.resume_from)
            } else {
                0
            };
            let attempt = subscribe(&self.client, &self.task_id, &self.opts, start);
            let result = tokio::select! {
                biased;
                r = &mut *stop => return Some(stop_kind(r)),
                result = attempt => result,
            };
            match result {
                Ok(id) => {
                    tracing::debug!(task_id = %self.task_id, subscription_id = %id, "task subscription renewed after a reconnect");
                    *self.shared.subscription_id.lock() = id.clone();
                    self.shared.resubscribes.fetch_add(1, Ordering::Relaxed);
                    self.ids.push_back(id);
                    while self.ids.len() > KEEP_IDS {
                        self.ids.pop_front();
                    }
                    self.session = session;
                    self.replaying = start > 0;
                    return None;
                }
                Err(e) if transient(&e) => {
                    tracing::debug!(task_id = %self.task_id, error = %e, "resubscribe failed; waiting for the connection");
                    // Wait for the next state change unless still connected
                    // on the same session (then try again at once: the
                    // failure was a timeout).
                    if !self.state.borrow().is_connected() {
                        let changed = tokio::select! {
                            biased;
                            r = &mut *stop => return Some(stop_kind(r)),
                            changed = self.state.changed() => changed,
                        };
                        if changed.is_err() {
                            return Some(Exit::Ended);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(task_id = %self.task_id, error = %e, "task subscription ended: resubscribing failed");
                    *self.shared.error.lock() = Some(e);
                    return Some(Exit::Ended);
                }
            }
        }
    }
}

fn stop_kind(r: std::result::Result<(), oneshot::error::RecvError>) -> Exit {
    match r {
        Ok(()) => Exit::Explicit,
        Err(_) => Exit::Dropped,
    }
}

fn transient(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionLost { .. }
            | ErrorKind::Timeout
            | ErrorKind::NotConnected
            | ErrorKind::Unreachable
            | ErrorKind::QueueFull
    )
}

/// Two events are the same if everything but the subscription id matches.
fn same_event(a: &TaskEvent, b: &TaskEvent) -> bool {
    a.task_id == b.task_id
        && a.emitted_at_unix_ms == b.emitted_at_unix_ms
        && a.parent_task_id == b.parent_task_id
        && a.event == b.event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{TaskStatusChangedEvent, task_event::Event};

    fn event(sub: &str, at: i64, to: i32) -> TaskEvent {
        TaskEvent {
            task_id: "t".into(),
            emitted_at_unix_ms: at,
            subscription_id: sub.into(),
            event: Some(Event::StatusChanged(TaskStatusChangedEvent {
                to_status: to,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn worker() -> (Worker, mpsc::Receiver<TaskEvent>) {
        let rt_client = crate::ClientBuilder::for_principal(
            crate::identity::Principal::agent("ws", "i", "s").unwrap(),
        )
        .build();
        let (tx, rx) = mpsc::channel(8);
        let w = Worker {
            frames: rt_client.frames(),
            state: rt_client.watch_state(),
            client: rt_client,
            task_id: "t".into(),
            opts: SubscribeOptions::new(),
            session: "s1".into(),
            tx,
            shared: Arc::default(),
            ids: VecDeque::from(["a".to_string()]),
            replaying: false,
            resume_from: 0,
            last_emitted: 0,
            boundary: Vec::new(),
        };
        (w, rx)
    }

    #[tokio::test]
    async fn accepts_only_its_own_ids_and_drops_replayed_repeats() {
        let (mut w, _rx) = worker();
        assert!(w.accept(&event("a", 10, 2)));
        assert!(!w.accept(&event("other", 11, 2)));
        assert!(w.accept(&event("a", 20, 3)));
        // Resubscribed with a replay from 20: "b" is the new id.
        w.ids.push_back("b".into());
        w.replaying = true;
        assert!(!w.accept(&event("b", 10, 2)), "older than the resume point");
        assert!(!w.accept(&event("b", 20, 3)), "a repeat at the boundary");
        assert!(w.accept(&event("b", 20, 4)), "new at the boundary");
        assert!(w.accept(&event("b", 30, 5)));
        // A late event of the old subscription still counts.
        assert!(w.accept(&event("a", 31, 6)));
    }

    #[test]
    fn options_default_to_live_events_with_gap_replay() {
        let o = SubscribeOptions::default();
        assert!(!o.recursive);
        assert_eq!(o.start_timestamp_unix_ms, 0);
        assert!(o.replay_after_reconnect);
        assert_eq!(SubscribeOptions::new().buffer(0).buffer, 1);
    }
}
