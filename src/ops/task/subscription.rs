//! [`TaskSubscription`]: a task's events as a `Stream` that survives
//! reconnects.
//!
//! The gateway ends every subscription with the session that made it. The
//! subscription's events arrive on a stream of the connection's stream
//! table, keyed by the subscription id; when the connection is lost that
//! stream ends, and the subscription is made again, lazily, on the next
//! poll once the client is back, replaying the gap where the gateway keeps
//! event history.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Stream};

use super::ops::{SubscribeTask, UnsubscribeTask};
use crate::clients::Client;
use crate::connection::{ConnectionState, ReplyStream};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::TaskEvent;
use crate::proto::downstream_message::Payload as Down;
use crate::stack::NoWait;

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
    /// Events buffered for a slow consumer before the connection slows
    /// down (default 256).
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
/// `Stream<Item = Result<TaskEvent>>`.
///
/// * **Survives reconnects.** When the client reconnects, the
///   subscription is made again and the stream goes on. Events emitted
///   while the client was away are replayed when the gateway keeps them
///   (see [`SubscribeOptions::replay_after_reconnect`]); otherwise they are
///   missed. Delivery across a reconnect is at-least-once at best: exact
///   repeats at the boundary are dropped, but expect possible gaps.
/// * **Lossless while connected.** A subscription that is not read holds
///   [`SubscribeOptions::buffer`] events, then slows the connection down.
///   Only past the client's overflow budget (while calls await replies)
///   are events lost, reported as one
///   [`Lagged`](ErrorKind::Lagged) error item where they would have been.
/// * **Ends** when the client closes for good (`None`), or after one
///   error item when subscribing again fails for a reason retrying cannot
///   fix (the task is gone, say).
/// * **Unsubscribes on drop** (a best-effort UNSUBSCRIBE);
///   [`unsubscribe`](Self::unsubscribe) does it and waits for the
///   gateway's answer.
///
/// `on_task_event` handlers keep receiving every task event as well.
///
/// ```no_run
/// # async fn demo(client: aether_client::AgentClient) -> aether_client::Result<()> {
/// use aether_client::tasks::SubscribeOptions;
/// use futures_util::StreamExt;
/// let mut events = client.subscribe_to_task("task-1", SubscribeOptions::new()).await?;
/// while let Some(event) = events.next().await {
///     println!("{:?}", event?.event);
/// }
/// # Ok(()) }
/// ```
pub struct TaskSubscription {
    client: Client,
    task_id: String,
    opts: SubscribeOptions,
    subscription_id: String,
    state: State,
    resubscribes: u64,
    /// Where a replay after a reconnect starts when no event was seen yet.
    resume_from: i64,
    /// Whether the current subscription replays a gap (dedup applies).
    replaying: bool,
    /// The newest `emitted_at_unix_ms` delivered, and the events delivered
    /// at exactly that time (to drop their replayed repeats).
    last_emitted: i64,
    boundary: Vec<TaskEvent>,
    /// Where the drop-time UNSUBSCRIBE runs.
    runtime: tokio::runtime::Handle,
}

type Renewal = BoxFuture<'static, Result<(String, ReplyStream)>>;

enum State {
    Live(ReplyStream),
    Renewing(Renewal),
    Ended,
}

impl std::fmt::Debug for TaskSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSubscription")
            .field("task_id", &self.task_id)
            .field("subscription_id", &self.subscription_id)
            .field("resubscribes", &self.resubscribes)
            .finish_non_exhaustive()
    }
}

impl TaskSubscription {
    /// Subscribes (awaited, so a missing task fails here with `NotFound`).
    pub(crate) async fn start(
        client: Client,
        task_id: &str,
        opts: SubscribeOptions,
    ) -> Result<Self> {
        if task_id.is_empty() {
            return Err(Error::invalid("subscribe_to_task needs a task id"));
        }
        let subscribed_at = now_unix_ms();
        let op = SubscribeTask::new(task_id, &opts, opts.start_timestamp_unix_ms);
        let (id, stream) = client.run(op).await?;
        Ok(TaskSubscription {
            client,
            task_id: task_id.to_string(),
            resume_from: opts.start_timestamp_unix_ms.max(subscribed_at),
            opts,
            subscription_id: id,
            state: State::Live(stream),
            resubscribes: 0,
            replaying: false,
            last_emitted: 0,
            boundary: Vec::new(),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// The task subscribed to.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The gateway's id of the current subscription (it changes after a
    /// reconnect).
    pub fn subscription_id(&self) -> &str {
        &self.subscription_id
    }

    /// How many times the subscription was made again after a reconnect.
    pub fn resubscribes(&self) -> u64 {
        self.resubscribes
    }

    /// Stops the stream and unsubscribes, waiting for the gateway's answer.
    pub async fn unsubscribe(mut self) -> Result<()> {
        self.state = State::Ended;
        let id = std::mem::take(&mut self.subscription_id);
        self.client.run(UnsubscribeTask(id)).await
    }

    /// Whether `event` is not a replayed repeat of one already delivered.
    fn accept(&mut self, event: &TaskEvent) -> bool {
        let at = event.emitted_at_unix_ms;
        if self.replaying {
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

    fn renewal(&self) -> Renewal {
        let start = if self.opts.replay_after_reconnect {
            self.last_emitted.max(self.resume_from)
        } else {
            0
        };
        renew(
            self.client.clone(),
            SubscribeTask::new(&self.task_id, &self.opts, start),
            self.subscription_id.clone(),
        )
        .boxed()
    }
}

/// Waits until the client is connected, ends the old subscription (in case
/// it lives on), and subscribes again, until that works or cannot.
async fn renew(client: Client, op: SubscribeTask, old_id: String) -> Result<(String, ReplyStream)> {
    let mut state = client.watch_state();
    loop {
        loop {
            match &*state.borrow_and_update() {
                ConnectionState::Connected(_) => break,
                ConnectionState::Closed { reason } => {
                    return Err(Error::new(ErrorKind::Closed, reason.clone()));
                }
                _ => {}
            }
            if state.changed().await.is_err() {
                return Err(Error::new(ErrorKind::Closed, "the client is gone"));
            }
        }
        let _ = client.run_nowait(NoWait(UnsubscribeTask(old_id.clone())));
        match client.run(op.clone()).await {
            Ok(renewed) => return Ok(renewed),
            Err(e) if transient(&e) => {
                tracing::debug!(error = %e, "resubscribe failed; waiting for the connection");
                if client.is_connected() {
                    continue;
                }
                if state.changed().await.is_err() {
                    return Err(Error::new(ErrorKind::Closed, "the client is gone"));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

impl Stream for TaskSubscription {
    type Item = Result<TaskEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Ended => return Poll::Ready(None),
                State::Live(stream) => match Pin::new(stream).poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(Down::TaskEvent(event)))) => {
                        if this.accept(&event) {
                            return Poll::Ready(Some(Ok(*event)));
                        }
                    }
                    Poll::Ready(Some(Ok(_))) => {}
                    Poll::Ready(Some(Err(e))) if e.kind() == ErrorKind::Lagged => {
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Some(Err(e))) if e.kind() == ErrorKind::Closed => {
                        this.state = State::Ended;
                    }
                    // The connection was lost (or the stream ended): make
                    // the subscription again once the client is back.
                    Poll::Ready(Some(Err(_))) | Poll::Ready(None) => {
                        this.state = State::Renewing(this.renewal());
                    }
                },
                State::Renewing(renewal) => match renewal.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok((id, stream))) => {
                        tracing::debug!(task_id = %this.task_id, subscription_id = %id, "task subscription renewed after a reconnect");
                        this.replaying = this.opts.replay_after_reconnect;
                        this.subscription_id = id;
                        this.resubscribes += 1;
                        this.state = State::Live(stream);
                    }
                    Poll::Ready(Err(e)) if e.kind() == ErrorKind::Closed => {
                        this.state = State::Ended;
                    }
                    Poll::Ready(Err(e)) => {
                        tracing::warn!(task_id = %this.task_id, error = %e, "task subscription ended: resubscribing failed");
                        this.state = State::Ended;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
            }
        }
    }
}

impl Drop for TaskSubscription {
    fn drop(&mut self) {
        if self.subscription_id.is_empty() {
            return;
        }
        // Best effort, never waiting: the gateway also ends it with the
        // session.
        let _entered = self.runtime.enter();
        let id = std::mem::take(&mut self.subscription_id);
        let _ = self.client.run_nowait(NoWait(UnsubscribeTask(id)));
    }
}

pub(crate) fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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

    fn event(at: i64, to: i32) -> TaskEvent {
        TaskEvent {
            task_id: "t".into(),
            emitted_at_unix_ms: at,
            event: Some(Event::StatusChanged(TaskStatusChangedEvent {
                to_status: to,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn replayed_repeats_are_dropped_after_a_resubscribe() {
        let client = crate::ClientBuilder::for_principal(
            crate::identity::Principal::agent("ws", "i", "s").unwrap(),
        )
        .build();
        let (_opener, stream) = crate::connection::test_stream();
        let mut s = TaskSubscription {
            client,
            task_id: "t".into(),
            opts: SubscribeOptions::new(),
            subscription_id: "a".into(),
            state: State::Live(stream),
            resubscribes: 0,
            resume_from: 0,
            replaying: false,
            last_emitted: 0,
            boundary: Vec::new(),
            runtime: tokio::runtime::Handle::current(),
        };
        assert!(s.accept(&event(10, 2)));
        assert!(s.accept(&event(20, 3)));
        // Resubscribed with a replay from 20.
        s.replaying = true;
        assert!(!s.accept(&event(10, 2)), "older than the resume point");
        assert!(!s.accept(&event(20, 3)), "a repeat at the boundary");
        assert!(s.accept(&event(20, 4)), "new at the boundary");
        assert!(s.accept(&event(30, 5)));
        s.subscription_id.clear();
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
