//! Counters: cheap relaxed atomics, read as a [`GatewayStats`] snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the gateway's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GatewayStats {
    /// Sessions currently connected (handshake completed).
    pub sessions_active: u64,
    /// Sessions admitted since start.
    pub sessions_total: u64,
    /// `SendMessage`s accepted by the router.
    pub messages_routed: u64,
    /// Messages handed to a session's stream.
    pub messages_delivered: u64,
    /// Accepted messages that had no receiver (`pg::`, `tk::`, empty lanes).
    pub messages_unroutable: u64,
    /// Sends rejected with an `ErrorResponse`.
    pub send_errors: u64,
    /// Messages dropped (oldest first) because a mailbox was full.
    pub mailbox_overflow_drops: u64,
    /// Messages dropped because they outlived the mailbox age limit.
    pub mailbox_expired: u64,
    /// Sessions waiting right now for a congested receiver to drain.
    pub senders_waiting: u64,
    /// Times a sender waited for a congested receiver since start.
    pub backpressure_waits: u64,
    /// Task timers waiting right now (scheduled retries, wait timeouts,
    /// scheduled wakes, grace windows, purges, stuck-task deadlines).
    pub task_timers_pending: u64,
    /// Task timers that fired since start.
    pub task_timers_fired: u64,
    /// Failed attempts for which a retry was scheduled since start.
    pub task_retries_scheduled: u64,
    /// Finished tasks purged after their retention since start.
    pub tasks_purged: u64,
    /// Stuck tasks cancelled by the stuck-task TTL since start.
    pub tasks_expired: u64,
    /// Task completion events published to the workflow engine since start.
    pub task_completion_events: u64,
    /// Agents started by orchestration because a message reached them
    /// offline (§5.5) since start.
    pub message_triggered_starts: u64,
    /// Proxy and tunnel pins held: one wire-id pin plus one
    /// `caller@original` pin per open HTTP request or tunnel.
    pub proxy_pins: u64,
    /// HTTP requests in flight through the gateway.
    pub proxy_requests_active: u64,
    /// Tunnels open.
    pub tunnels_active: u64,
    /// Bytes of proxy and tunnel frames held by the gateway: queued for
    /// recipients' streams or waiting for room.
    pub proxy_queued_bytes: u64,
    /// Sessions whose stream is not being read right now because their
    /// proxy frames wait for recipients that do not read.
    pub proxy_senders_waiting: u64,
    /// Times a session stopped being read for that reason since start.
    pub proxy_backpressure_waits: u64,
}

/// The live counters behind [`GatewayStats`].
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) sessions_active: AtomicU64,
    pub(crate) sessions_total: AtomicU64,
    pub(crate) messages_routed: AtomicU64,
    pub(crate) messages_delivered: AtomicU64,
    pub(crate) messages_unroutable: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    pub(crate) mailbox_overflow_drops: AtomicU64,
    pub(crate) mailbox_expired: AtomicU64,
    pub(crate) senders_waiting: AtomicU64,
    pub(crate) backpressure_waits: AtomicU64,
    pub(crate) task_timers_pending: AtomicU64,
    pub(crate) task_timers_fired: AtomicU64,
    pub(crate) task_retries_scheduled: AtomicU64,
    pub(crate) tasks_purged: AtomicU64,
    pub(crate) tasks_expired: AtomicU64,
    pub(crate) task_completion_events: AtomicU64,
    pub(crate) message_triggered_starts: AtomicU64,
    pub(crate) proxy_pins: AtomicU64,
    pub(crate) proxy_requests_active: AtomicU64,
    pub(crate) tunnels_active: AtomicU64,
    pub(crate) proxy_queued_bytes: AtomicU64,
    pub(crate) proxy_senders_waiting: AtomicU64,
    pub(crate) proxy_backpressure_waits: AtomicU64,
}

impl Stats {
    /// Adds one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Reads every counter.
    pub(crate) fn snapshot(&self) -> GatewayStats {
        GatewayStats {
            sessions_active: self.sessions_active.load(Relaxed),
            sessions_total: self.sessions_total.load(Relaxed),
            messages_routed: self.messages_routed.load(Relaxed),
            messages_delivered: self.messages_delivered.load(Relaxed),
            messages_unroutable: self.messages_unroutable.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
            mailbox_overflow_drops: self.mailbox_overflow_drops.load(Relaxed),
            mailbox_expired: self.mailbox_expired.load(Relaxed),
            senders_waiting: self.senders_waiting.load(Relaxed),
            backpressure_waits: self.backpressure_waits.load(Relaxed),
            task_timers_pending: self.task_timers_pending.load(Relaxed),
            task_timers_fired: self.task_timers_fired.load(Relaxed),
            task_retries_scheduled: self.task_retries_scheduled.load(Relaxed),
            tasks_purged: self.tasks_purged.load(Relaxed),
            tasks_expired: self.tasks_expired.load(Relaxed),
            task_completion_events: self.task_completion_events.load(Relaxed),
            message_triggered_starts: self.message_triggered_starts.load(Relaxed),
            proxy_pins: self.proxy_pins.load(Relaxed),
            proxy_requests_active: self.proxy_requests_active.load(Relaxed),
            tunnels_active: self.tunnels_active.load(Relaxed),
            proxy_queued_bytes: self.proxy_queued_bytes.load(Relaxed),
            proxy_senders_waiting: self.proxy_senders_waiting.load(Relaxed),
            proxy_backpressure_waits: self.proxy_backpressure_waits.load(Relaxed),
        }
    }
}
