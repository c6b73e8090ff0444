//! Counters: cheap relaxed atomics, read as a [`GatewayStats`] snapshot.

mod hot;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub(crate) use hot::HotCounter;

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
    /// Accepted messages to a broadcast lane nobody was subscribed to.
    pub messages_unroutable: u64,
    /// Sends refused with an `ErrorResponse` (every reason; see `refused`).
    pub send_errors: u64,
    /// Refused sends and deliveries, by reason.
    pub refused: Refusals,
    /// Messages removed because they outlived the mailbox age limit.
    pub mailbox_expired: u64,
    /// Sessions pausing right now for a receiver to drain its mailbox.
    pub senders_waiting: u64,
    /// Pauses for a receiver since start.
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
    /// Pauses that ended because the receiver did not keep up (it is then
    /// marked lagging and paces nobody until it catches up).
    pub receivers_lagging: u64,
    /// Sessions ended because pushes to them (progress, task events,
    /// assignments) backed up beyond their bound.
    pub slow_consumers: u64,
    /// TCP connections open now.
    pub connections_open: u64,
    /// TCP connections accepted since start (within the limit).
    pub connections_total: u64,
    /// Connections closed at once because the connection limit was reached.
    pub connections_refused: u64,
    /// Connections closed because no session handshake completed on them
    /// within the handshake timeout.
    pub connections_timed_out: u64,
    /// `accept` errors that made the listener pause (e.g. out of file
    /// descriptors).
    pub accept_errors: u64,
}

/// Refusals by reason: each was answered with an `ErrorResponse`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusals {
    /// `ERR_MAILBOX_FULL`: the target's mailbox was at a bound (one per
    /// refused delivery; a broadcast may be refused by several mailboxes).
    pub mailbox_full: u64,
    /// `ERR_PAYLOAD_TOO_LARGE`.
    pub payload_too_large: u64,
    /// `ERR_FRAME_TOO_LARGE` (any upstream frame, not only sends).
    pub frame_too_large: u64,
    /// `ERR_INVALID_TOPIC`: malformed, or a topic nobody can receive on.
    pub invalid_topic: u64,
    /// `ERR_PERMISSION_DENIED`.
    pub permission_denied: u64,
    /// `ERR_RATE_LIMITED`.
    pub rate_limited: u64,
    /// `ERR_SV_UNAVAILABLE`: no instance of the service is connected.
    pub unavailable: u64,
    /// Every other reason (metric validation, unimplemented lanes, ...).
    pub other: u64,
}

/// A latency histogram (cumulative buckets, as Prometheus reads them).
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    /// Observations at or below each of [`Histogram::BOUNDS`].
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Upper bounds of the buckets, in seconds.
    pub(crate) const BOUNDS: [f64; 12] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ];

    /// Records one observation.
    pub(crate) fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        for (bound, bucket) in Self::BOUNDS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros().min(u64::MAX as u128) as u64, Relaxed);
    }

    /// `(cumulative count per bound, count, sum in seconds)`.
    pub(crate) fn read(&self) -> ([u64; 12], u64, f64) {
        let mut b = [0; 12];
        for (out, bucket) in b.iter_mut().zip(&self.buckets) {
            *out = bucket.load(Relaxed);
        }
        (
            b,
            self.count.load(Relaxed),
            self.sum_micros.load(Relaxed) as f64 / 1e6,
        )
    }
}

/// Why a send was refused, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    MailboxFull,
    PayloadTooLarge,
    FrameTooLarge,
    InvalidTopic,
    PermissionDenied,
    RateLimited,
    Unavailable,
    Other,
}

impl Reason {
    /// Every reason, in the order of [`Stats::refused`].
    pub(crate) const ALL: [Reason; 8] = [
        Reason::MailboxFull,
        Reason::PayloadTooLarge,
        Reason::FrameTooLarge,
        Reason::InvalidTopic,
        Reason::PermissionDenied,
        Reason::RateLimited,
        Reason::Unavailable,
        Reason::Other,
    ];

    /// The reason of an `ErrorResponse` code.
    pub(crate) fn of_code(code: &str) -> Reason {
        use crate::reply::code;
        match code {
            code::MAILBOX_FULL => Reason::MailboxFull,
            code::PAYLOAD_TOO_LARGE => Reason::PayloadTooLarge,
            code::FRAME_TOO_LARGE => Reason::FrameTooLarge,
            code::INVALID_TOPIC => Reason::InvalidTopic,
            code::PERMISSION_DENIED => Reason::PermissionDenied,
            code::RATE_LIMITED => Reason::RateLimited,
            code::SV_UNAVAILABLE => Reason::Unavailable,
            _ => Reason::Other,
        }
    }

    /// The label of this reason in `/metrics`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Reason::MailboxFull => "mailbox_full",
            Reason::PayloadTooLarge => "payload_too_large",
            Reason::FrameTooLarge => "frame_too_large",
            Reason::InvalidTopic => "invalid_topic",
            Reason::PermissionDenied => "permission_denied",
            Reason::RateLimited => "rate_limited",
            Reason::Unavailable => "unavailable",
            Reason::Other => "other",
        }
    }
}

/// The live counters behind [`GatewayStats`].
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) sessions_active: AtomicU64,
    pub(crate) sessions_total: AtomicU64,
    /// Bumped per message by senders and per delivery by receivers: striped.
    pub(crate) messages_routed: HotCounter,
    pub(crate) messages_delivered: HotCounter,
    pub(crate) messages_unroutable: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    /// Indexed like [`Reason::ALL`].
    refused: [AtomicU64; 8],
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
    pub(crate) receivers_lagging: AtomicU64,
    pub(crate) slow_consumers: AtomicU64,
    pub(crate) connections_open: AtomicU64,
    pub(crate) connections_total: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) connections_timed_out: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
}

impl Stats {
    /// Adds one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Counts `n` refusals for `reason`.
    pub(crate) fn refuse(&self, reason: Reason, n: u64) {
        if let Some(c) = Reason::ALL
            .iter()
            .position(|r| *r == reason)
            .and_then(|i| self.refused.get(i))
        {
            c.fetch_add(n, Relaxed);
        }
    }

    /// Refusals for `reason` since start.
    pub(crate) fn refused(&self, reason: Reason) -> u64 {
        Reason::ALL
            .iter()
            .position(|r| *r == reason)
            .and_then(|i| self.refused.get(i))
            .map_or(0, |c| c.load(Relaxed))
    }

    /// Reads every counter.
    pub(crate) fn snapshot(&self) -> GatewayStats {
        let r = |reason| self.refused(reason);
        GatewayStats {
            sessions_active: self.sessions_active.load(Relaxed),
            sessions_total: self.sessions_total.load(Relaxed),
            messages_routed: self.messages_routed.get(),
            messages_delivered: self.messages_delivered.get(),
            messages_unroutable: self.messages_unroutable.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
            refused: Refusals {
                mailbox_full: r(Reason::MailboxFull),
                payload_too_large: r(Reason::PayloadTooLarge),
                frame_too_large: r(Reason::FrameTooLarge),
                invalid_topic: r(Reason::InvalidTopic),
                permission_denied: r(Reason::PermissionDenied),
                rate_limited: r(Reason::RateLimited),
                unavailable: r(Reason::Unavailable),
                other: r(Reason::Other),
            },
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
            receivers_lagging: self.receivers_lagging.load(Relaxed),
            slow_consumers: self.slow_consumers.load(Relaxed),
            connections_open: self.connections_open.load(Relaxed),
            connections_total: self.connections_total.load(Relaxed),
            connections_refused: self.connections_refused.load(Relaxed),
            connections_timed_out: self.connections_timed_out.load(Relaxed),
            accept_errors: self.accept_errors.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::code;

    #[test]
    fn a_histogram_counts_cumulatively() {
        let h = Histogram::default();
        h.observe(std::time::Duration::from_micros(300));
        h.observe(std::time::Duration::from_millis(7));
        h.observe(std::time::Duration::from_secs(9));
        let (b, count, sum) = h.read();
        assert_eq!(count, 3);
        assert_eq!((b[0], b[3], b[4], b[11]), (1, 1, 2, 2));
        assert!((sum - 9.0073).abs() < 1e-6, "{sum}");
    }

    #[test]
    fn refusals_are_counted_by_the_reason_of_their_code() {
        let s = Stats::default();
        s.refuse(Reason::of_code(code::MAILBOX_FULL), 3);
        s.refuse(Reason::of_code(code::METRIC_EMPTY), 1);
        s.refuse(Reason::of_code(code::FRAME_TOO_LARGE), 1);
        let snap = s.snapshot();
        assert_eq!(snap.refused.mailbox_full, 3);
        assert_eq!(snap.refused.other, 1);
        assert_eq!(snap.refused.frame_too_large, 1);
        let labels: std::collections::BTreeSet<_> = Reason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Reason::ALL.len(), "labels are distinct");
    }
}
