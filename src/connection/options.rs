//! How a client connects: gateway address, credentials, TLS, reconnect
//! policy, queue sizes and timeouts.

use std::time::Duration;

use aether_middleware::backoff::Backoff;

use super::credentials::Credentials;
use super::tls::TlsOptions;
use crate::proto;

/// Automatic reconnection after the stream to the gateway is lost.
///
/// Delays: the first attempt after a loss is immediate (a gateway that
/// rotates connections is back at once); attempt `n >= 2` waits
/// [`backoff.delay(n - 1)`](Backoff::delay): `initial * multiplier^(n-2)`,
/// with +/- jitter applied before the cap, so no delay exceeds the
/// backoff's `max`. Statuses that cannot succeed (unauthenticated,
/// permission denied, duplicate identity, invalid argument, not found,
/// unimplemented) stop reconnecting, as does a forced disconnect.
///
/// ```
/// use std::time::Duration;
/// use aether_client::ReconnectPolicy;
/// let p = ReconnectPolicy::default()
///     .backoff(Duration::from_secs(1), Duration::from_secs(10))
///     .jitter(0.0);
/// assert_eq!(p.delay(1, 0.5), Duration::ZERO);
/// assert_eq!(p.delay(3, 0.5), Duration::from_secs(2));
/// assert_eq!(p.delay(9, 0.5), Duration::from_secs(10));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// Reconnect at all.
    pub enabled: bool,
    /// Give up after this many failed attempts in a row; 0 = never give up.
    pub max_retries: u32,
    /// Delays between attempts (1 s doubling to 30 s, 25% jitter by
    /// default).
    pub backoff: Backoff,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            max_retries: 5,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(30))
                .with_jitter(0.25),
        }
    }
}

impl ReconnectPolicy {
    /// No automatic reconnection.
    pub fn disabled() -> Self {
        ReconnectPolicy {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets `max_retries` (0 = forever).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the initial and maximum backoff.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff = Backoff::new(initial, max).with_jitter(self.backoff.jitter);
        self
    }

    /// Sets the jitter fraction.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.backoff = self.backoff.with_jitter(jitter);
        self
    }

    /// The delay before reconnect attempt `attempt` (1-based), given a
    /// uniform random number in `0.0..=1.0`.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        self.backoff.delay_with(attempt - 1, random)
    }
}

/// Everything about how a client connects, shared by every principal client.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Gateway URL, e.g. `http://127.0.0.1:50051` (or `https://` with TLS).
    /// A bare `host:port` means `http://host:port`.
    pub gateway: String,
    /// Handshake credentials.
    pub credentials: Credentials,
    /// TLS settings; `None` means plaintext unless the URL is `https://`.
    pub tls: Option<TlsOptions>,
    /// Reconnection policy.
    pub reconnect: ReconnectPolicy,
    /// How long `connect()` may take, up to the `ConnectionAck`.
    pub connect_timeout: Duration,
    /// Default timeout of awaited operations.
    pub request_timeout: Duration,
    /// Capacity of the outbound frame queue (backpressure beyond it).
    pub outbound_queue: usize,
    /// Pushes queued for handlers before the reader slows down. When the
    /// queue is full the reader waits for room (backpressure to the
    /// gateway, nothing is lost); while calls await replies it borrows
    /// room from `overflow_budget` instead, so a handler waiting for a
    /// reply cannot deadlock the connection.
    pub dispatch_queue: usize,
    /// How long the reader waits for a full consumer while calls await
    /// replies and the overflow budget is spent, before it gives up on one
    /// item and reports the loss to that consumer.
    pub dispatch_stall: Duration,
    /// Items each message or frame stream holds before the reader slows
    /// down.
    pub stream_capacity: usize,
    /// Bytes each push queue (handlers, message and frame streams) holds
    /// before the reader slows down.
    pub max_inbox_bytes: usize,
    /// Bytes all of this client's queues together may hold beyond their
    /// own bounds while calls await replies.
    pub overflow_budget: usize,
    /// HTTP/2 keepalive interval (the gateway refuses pings under 10 s).
    pub keepalive: Option<Duration>,
    /// Largest frame accepted from the gateway.
    pub max_inbound_frame: usize,
    /// Extensions declared in the handshake.
    pub extensions: Vec<proto::ExtensionDeclaration>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            gateway: "http://127.0.0.1:50051".into(),
            credentials: Credentials::default(),
            tls: None,
            reconnect: ReconnectPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            outbound_queue: 8192,
            dispatch_queue: 16384,
            dispatch_stall: Duration::from_secs(2),
            stream_capacity: 1024,
            max_inbox_bytes: 16 * 1024 * 1024,
            overflow_budget: 64 * 1024 * 1024,
            keepalive: Some(Duration::from_secs(30)),
            max_inbound_frame: 16 * 1024 * 1024,
            extensions: Vec::new(),
        }
    }
}

impl ConnectOptions {
    pub(crate) fn normalized_url(&self) -> String {
        if self.gateway.contains("://") {
            self.gateway.clone()
        } else if self.tls.is_some() {
            format!("https://{}", self.gateway)
        } else {
            format!("http://{}", self.gateway)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_grow_and_are_capped() {
        let p = ReconnectPolicy::default()
            .backoff(Duration::from_secs(1), Duration::from_secs(10))
            .jitter(0.0);
        assert_eq!(p.delay(1, 0.5), Duration::ZERO);
        assert_eq!(p.delay(2, 0.5), Duration::from_secs(1));
        assert_eq!(p.delay(3, 0.5), Duration::from_secs(2));
        assert_eq!(p.delay(5, 0.5), Duration::from_secs(8));
        assert_eq!(p.delay(9, 0.5), Duration::from_secs(10));
        let j = p.jitter(0.25);
        assert!(j.delay(9, 0.999) <= Duration::from_secs(10));
        assert!(j.delay(3, 0.0) >= Duration::from_millis(1500));
    }
}
